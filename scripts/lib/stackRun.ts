// Runs this project's program for a stack (or another program, for fixtures) offline.
import { loadEnvironment } from "../../infra/environment";
import { Platform } from "../../infra/platform";
import { requiredSecretKeys } from "../../infra/secrets";
import { runStack } from "../../infra/stack";
import { ProgramRun, runProgram } from "./offline";

export interface StackRun {
    run: ProgramRun;
    /** The components built, when the program was this project's own. */
    platform?: Platform;
}

/** Missing secrets of this project's stacks get placeholders; another program runs as it is. */
export async function runStackOffline(stack: string, program?: string): Promise<StackRun> {
    let platform: Platform | undefined;
    const run = await runProgram({
        stack,
        program: program ?? (() => runStack((p) => { platform = p; })),
        placeholderSecrets: program ? [] : requiredSecretKeys(loadEnvironment(stack)),
    });
    return { run, platform };
}
