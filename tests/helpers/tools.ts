// Finds the real binaries the checks run. Missing locally: the test is pending with the install
// hint. Missing in CI (any CI value but empty, 0 or false): the test fails, so a check can never
// pass by not running.
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const TOOLS_DIR = path.resolve(__dirname, "..", "..", "tools", "debian", "usr", "bin");
export const INSTALL_HINT = "install the real tools with: sudo bash scripts/install-tools.sh";

/** Project-local tools (sid's, matching the deployed versions) and the system's. */
const LOCAL: Record<string, string> = {
    promtool: "promtool",
    prometheus: "prometheus",
    amtool: "amtool",
    alertmanager: "prometheus-alertmanager",
};

export function toolPath(name: string): string | undefined {
    if (LOCAL[name]) {
        const candidate = path.join(TOOLS_DIR, LOCAL[name]);
        return fs.existsSync(candidate) ? candidate : undefined;
    }
    const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    return found.status === 0 ? found.stdout.trim() : undefined;
}

/** The tool's path; or, outside CI, marks the running test pending with the install hint. */
export function requireTool(context: Mocha.Context, name: string): string {
    const found = toolPath(name);
    requireReady(context, name, found !== undefined);
    return found!;
}

/** Whether this run is CI's: CI set to anything but nothing, 0 or false, as runners set it (true, 1, yes). */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
    const value = (env.CI ?? "").trim().toLowerCase();
    return value !== "" && value !== "0" && value !== "false";
}

/** Returns when what the test needs is there; otherwise fails in CI, or marks the test pending with the install hint. */
export function requireReady(context: Mocha.Context, what: string, ready: boolean): void {
    if (ready) {
        return;
    }
    if (inCi()) {
        throw new Error(`${what} is missing in CI: ${INSTALL_HINT}`);
    }
    console.warn(`      (pending: ${what} not found; ${INSTALL_HINT})`);
    context.skip();
}

export function run(binary: string, args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
    return spawnSync(binary, args, { encoding: "utf8", timeout: 120000, ...options });
}

/** Asserts a zero exit status, showing what the binary said otherwise. */
export function expectSuccess(result: SpawnSyncReturns<string>, what: string): string {
    if (result.status !== 0) {
        throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
    return `${result.stdout}${result.stderr}`;
}
