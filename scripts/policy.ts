// Offline policy check: the stack's resources, registered under mocks in preview mode, analysed
// by the policy pack served by @pulumi/policy through the engine's Analyzer RPCs.
//
//   npm run policy -- --stack dev [--config FILE] [--program PATH] [--json]
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { PolicyPackServer, readPolicyConfig, Violation } from "./lib/analyzer";
import { CapturedResource } from "./lib/offline";
import { runStackOffline } from "./lib/stackRun";
import { exitWhenFlushed } from "./lib/exit";
import { policyConfigFile } from "./policyConfig";

export interface PolicyResult {
    violations: Violation[];
    resources: number;
    configFile?: string;
}

/**
 * Checks captured resources with the pack; `configFile` defaults to the stack's own, when it has
 * one. A running `server` is reused (and reconfigured); otherwise one is started for this check.
 */
export async function checkResources(resources: CapturedResource[], stack: string, configFile?: string, server?: PolicyPackServer): Promise<PolicyResult> {
    const file = configFile ?? (fs.existsSync(policyConfigFile(stack)) ? policyConfigFile(stack) : undefined);
    const pack = server ?? await PolicyPackServer.start();
    try {
        // A stack without a config runs with every rule's defaults, also on a reused server.
        await pack.configure(file ? readPolicyConfig(file) : {});
        return { violations: await pack.check(resources), resources: resources.length, configFile: file };
    } finally {
        if (!server) {
            pack.close();
        }
    }
}

export function mandatory(violations: Violation[]): Violation[] {
    return violations.filter((v) => v.level === "mandatory");
}

export function formatViolations(violations: Violation[]): string[] {
    if (violations.length === 0) {
        return ["no policy violations"];
    }
    return violations.map((v) => `${v.level.padEnd(9)} ${v.policy}: ${v.urn ? `${v.urn.split("::").pop()}: ` : ""}${v.message}`);
}

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
