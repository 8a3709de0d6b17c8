// The policy pack's verdicts on a run's resources, through the Analyzer RPCs of @pulumi/policy's
// own server (scripts/policy.ts is its command; the plan checks with it too).
import * as fs from "fs";
import { PolicyPackServer, readPolicyConfig, Violation } from "./analyzer";
import { CapturedResource } from "./offline";
import { policyConfigFile } from "../policyConfig";

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
