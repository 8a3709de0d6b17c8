// Refreshes the committed plan snapshots (tests/snapshots/<stack>/) from the current program.
//
//   npm run snapshot                  every stack
//   npm run snapshot -- --stack dev   one stack
import * as path from "path";
import { parseArgs } from "util";
import { compareSnapshots, planSnapshot, readSnapshot, snapshotDir, writeSnapshot } from "./lib/snapshot";
import { STACKS } from "./policyConfig";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { stack: { type: "string" } } });
    if (values.stack !== undefined && !(STACKS as readonly string[]).includes(values.stack)) {
        throw new Error(`--stack ${values.stack}: not one of ${STACKS.join(", ")}`);
    }
    for (const stack of values.stack ? [values.stack] : STACKS) {
        const dir = snapshotDir(stack);
        const snapshot = await planSnapshot(stack);
        const changes = compareSnapshots(readSnapshot(dir), snapshot);
        writeSnapshot(dir, snapshot);
        console.log(`${stack}: ${changes.length === 0 ? "unchanged" : `${changes.length} files changed`} in ${path.relative(process.cwd(), dir)}/`);
        changes.forEach((line) => console.log(`  ${line}`));
    }
}

main().catch((err: unknown) => {
    console.error(`snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
});
