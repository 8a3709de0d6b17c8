// The processes a rehearsal starts: each checked before it starts (its binary there, its address
// free), checked after (alive, and the owner of that address), and all stopped at the end.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

export const INSTALL_HINT = "run scripts/install-tools.sh (as root) first";

/** host:port a process is given, which it must end up listening on. */
export interface Address {
    host: string;
    port: number;
}

/** The path a command resolves to, or undefined when it is nowhere on PATH. */
export function resolveCommand(command: string): string | undefined {
    if (command.includes("/")) {
        return fs.existsSync(command) ? command : undefined;
    }
    for (const dir of (process.env.PATH ?? "").split(":")) {
        const candidate = path.join(dir, command);
        if (dir && fs.existsSync(candidate)) {
            return candidate;
        }
    }
    return undefined;
}

/** Fails, naming the address, when something already listens there (a leftover of an earlier run?). */
export function assertFree(address: Address, owner: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.once("error", (err: NodeJS.ErrnoException) => reject(new Error(err.code === "EADDRINUSE"
            ? `${address.host}:${address.port}, which ${owner} is to listen on, is already in use (a process left from an earlier run?): `
                + `stop it, e.g. fuser -k ${address.port}/tcp`
            : `${address.host}:${address.port} cannot be used by ${owner}: ${err.message}`)));
        probe.listen(address.port, address.host, () => probe.close(() => resolve()));
    });
}

/** PIDs listening on a TCP address, from ss. */
function listeners(address: Address): number[] {
    const result = spawnSync("ss", ["-Hltnp", `src = ${address.host}:${address.port}`], { encoding: "utf8" });
    return [...(result.stdout ?? "").matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

function processGroupOf(pid: number): number | undefined {
    try {
        // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ')'.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    } catch {
        return undefined;
    }
}

const everyGroup = new Set<Processes>();

/** A rehearsal interrupted (Ctrl-C, a CI timeout) stops what it started before it exits. */
export function stopAllOnSignals(): void {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(signal, () => {
            everyGroup.forEach((group) => group.stopAll());
            process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
        });
    }
}

export class Processes {
    private readonly running = new Map<string, { child: ChildProcess; address?: Address; error?: Error }>();

    constructor(private readonly logDir: string) {
        everyGroup.add(this);
    }

    /** Starts `command` in its own process group, logging to <logDir>/<name>.log. */
    async start(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; address?: Address } = {}): Promise<void> {
        if (resolveCommand(command) === undefined) {
            throw new Error(`${name}: ${command} is not installed; ${INSTALL_HINT}`);
        }
        if (options.address) {
            await assertFree(options.address, name);
        }
        const log = fs.openSync(path.join(this.logDir, `${name}.log`), "a");
        // Its own process group, so that stopping it stops its children too (nginx's workers).
        const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ["ignore", log, log], detached: true });
        fs.closeSync(log);
        const entry: { child: ChildProcess; address?: Address; error?: Error } = { child, address: options.address };
        child.on("error", (err) => { entry.error = err; });
        this.running.set(name, entry);
    }

    /** Each process still runs, and whatever listens on its address belongs to it. */
    verify(): string[] {
        const problems: string[] = [];
        for (const [name, { child, address, error }] of this.running) {
            if (error || child.exitCode !== null || child.signalCode !== null) {
                problems.push(`${name} is not running (${error?.message ?? `exit ${child.exitCode ?? child.signalCode}`}):\n${this.log(name)}`);
                continue;
            }
            if (address) {
                const owners = listeners(address);
                const strangers = owners.filter((pid) => processGroupOf(pid) !== child.pid);
                if (owners.length === 0 || strangers.length > 0) {
                    problems.push(`${name} does not own ${address.host}:${address.port} `
                        + `(listening: ${owners.length ? owners.map((pid) => `pid ${pid}`).join(", ") : "nobody"}; ${name} is process group ${child.pid})`);
                }
            }
        }
        return problems;
    }

    /** The process's ID (its group's too): what a reload signal goes to. */
    pid(name: string): number {
        const pid = this.running.get(name)?.child.pid;
        if (pid === undefined) {
            throw new Error(`${name} is not running`);
        }
        return pid;
    }

    /** SIGTERM, as ECS and systemd stop a service, then SIGKILL if it has not exited in time; resolves with its exit code or signal. */
    async stop(name: string, timeoutMs = 10000): Promise<number | NodeJS.Signals | null> {
        const child = this.running.get(name)?.child;
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
            process.kill(-child.pid!, "SIGTERM");
            const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeoutMs));
            if (await Promise.race([exited, timer]) === "timeout") {
                this.kill(name);
                await exited;
            }
        }
        this.running.delete(name);
        return child ? child.exitCode ?? child.signalCode : null;
    }

    kill(name: string, signal: NodeJS.Signals = "SIGKILL"): void {
        const child = this.running.get(name)?.child;
        if (child?.pid !== undefined && child.exitCode === null) {
            try {
                process.kill(-child.pid, signal);
            } catch {
                // already gone
            }
        }
        this.running.delete(name);
    }

    stopAll(): void {
        for (const name of [...this.running.keys()]) {
            this.kill(name, "SIGKILL");
        }
        everyGroup.delete(this);
    }

    log(name: string): string {
        const file = path.join(this.logDir, `${name}.log`);
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").slice(-20).join("\n") : "";
    }
}
