// Runs this project's program for a stack (or another program, for fixtures) offline.
import { loadEnvironment } from "../../infra/environment";
import { Platform } from "../../infra/platform";
import { requiredSecretKeys, SHAPED_PLACEHOLDERS } from "../../infra/secrets";
import { loadTenants, tenantSecretKey } from "../../infra/tenants";
import { runStack } from "../../infra/stack";
import { genericPlaceholder, ProgramRun, RunOptions, runProgram } from "./offline";

export interface StackRun {
    run: ProgramRun;
    /** The components built, when the program was this project's own. */
    platform?: Platform;
}

/** The stack's secrets that the stack file does not set, as placeholders of the shape each must have. */
export function placeholderSecretOptions(stack: string): Pick<RunOptions, "placeholderSecrets" | "secretPlaceholder"> {
    // Tenant receivers' secrets are URLs, but for PagerDuty's routing keys.
    const tenantUrls = new Set(loadTenants(stack).flatMap((tenant) => Object.entries(tenant.receivers)
        .filter(([, r]) => r.kind !== "pagerduty").map(([receiver]) => tenantSecretKey(tenant.name, receiver))));
    return {
        placeholderSecrets: requiredSecretKeys(loadEnvironment(stack)),
        secretPlaceholder: (key, name) => SHAPED_PLACEHOLDERS[key]
            ?? (tenantUrls.has(key) ? `https://placeholder.invalid/${name}/${key}` : genericPlaceholder(key, name)),
    };
}

/**
 * Missing secrets of this project's stacks get placeholders; another program runs as it is.
 * `config` sets stack settings over the stack file's (e.g. a rotated secret).
 */
export async function runStackOffline(stack: string, options: { program?: string; config?: Record<string, string> } = {}): Promise<StackRun> {
    let platform: Platform | undefined;
    const { program, config } = options;
    const run = await runProgram({
        stack,
        program: program ?? (() => runStack((p) => { platform = p; })),
        ...(program ? {} : placeholderSecretOptions(stack)),
        config,
    });
    return { run, platform };
}
