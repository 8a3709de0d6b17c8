// Runs this project's program for a stack (or another program, for fixtures) offline.
import { loadEnvironment } from "../../infra/environment";
import { Platform } from "../../infra/platform";
import { requiredSecretKeys, shapedPlaceholder } from "../../infra/secrets";
import { runStack, StackSource } from "../../infra/stack";
import { Tenant } from "../../infra/tenants";
import { genericPlaceholder, ProgramRun, RunOptions, runProgram } from "./offline";

export interface StackRun {
    run: ProgramRun;
    /** The components built, when the program was this project's own. */
    platform?: Platform;
}

/** The stack's secrets that the stack file does not set, as placeholders of the shape each must have; `tenants` as createPlatform's. */
export function placeholderSecretOptions(stack: string, tenants?: Tenant[]): Pick<RunOptions, "placeholderSecrets" | "secretPlaceholder"> {
    return {
        placeholderSecrets: requiredSecretKeys(loadEnvironment(stack), tenants),
        secretPlaceholder: (key, name) => shapedPlaceholder(key, name, tenants) ?? genericPlaceholder(key, name),
    };
}

/**
 * Missing secrets of this project's stacks get placeholders; another program runs as it is.
 * `config` sets stack settings over the stack file's, `secrets` secret ones (e.g. a rotated secret);
 * `source` builds it from a given environment and tenants instead of the stack's files; `preview:
 * false` runs it as an update would, with the computed values made up.
 */
export async function runStackOffline(stack: string, options: { program?: string; config?: Record<string, string>; secrets?: Record<string, string>; source?: StackSource; preview?: boolean } = {}): Promise<StackRun> {
    let platform: Platform | undefined;
    const { program, config, secrets, source, preview } = options;
    const run = await runProgram({
        stack,
        program: program ?? (() => runStack((p) => { platform = p; }, source)),
        ...(program ? {} : placeholderSecretOptions(stack, source?.tenants)),
        config,
        secretConfig: secrets,
        preview,
    });
    return { run, platform };
}
