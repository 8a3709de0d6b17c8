// Offline policy check: the stack's resources, registered under mocks in preview mode, analysed
// by the policy pack served by @pulumi/policy through the engine's Analyzer RPCs.
//
//   npm run policy -- --stack dev [--config FILE] [--program PATH] [--json]
import * as path from "path";
import { parseArgs } from "util";
import { runStackOffline } from "./lib/stackRun";
import { exitWhenFlushed } from "./lib/exit";
import { checkResources, formatViolations, mandatory } from "./lib/policyCheck";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            config: { type: "string" },
            program: { type: "string" },
            json: { type: "boolean", default: false },
        },
    });
    if (!values.stack) {
        throw new Error("usage: npm run policy -- --stack <dev|staging|production> [--config FILE] [--program PATH] [--json]");
    }
    const { run } = await runStackOffline(values.stack, { program: values.program });
    const result = await checkResources(run.resources, values.stack, values.config);
    if (values.json) {
        process.stdout.write(`${JSON.stringify({ stack: values.stack, ...result }, null, 2)}\n`);
    } else {
        const config = result.configFile ? path.relative(process.cwd(), result.configFile) : "no policy config";
        console.log(`Policy check of stack ${values.stack}: ${result.resources} resources through the Analyzer RPCs (${config})`);
        formatViolations(result.violations).forEach((line) => console.log(`  ${line}`));
    }
    exitWhenFlushed(mandatory(result.violations).length > 0 ? 1 : 0);
}

if (require.main === module) {
    const fail = (err: unknown) => {
        console.error(`policy check failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(2);
    };
    process.on("unhandledRejection", fail);
    main().catch(fail);
}
