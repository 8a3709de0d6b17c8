// Runs a command with the machine kept busy: N processes each spinning one core beside it, as a
// busy CI host or a developer's other work would. They stop when the command ends, on a signal,
// or by themselves after an hour at the latest.
//
//   npm run under-load -- [--busy 2] -- npm run rehearse -- --stack dev
import { ChildProcess, spawn } from "child_process";
import { performance } from "perf_hooks";

const SPIN_LIMIT_MS = 60 * 60 * 1000;

function main(): void {
    const args = process.argv.slice(2);
    const separator = args.indexOf("--");
    const options = separator >= 0 ? args.slice(0, separator) : [];
    const command = separator >= 0 ? args.slice(separator + 1) : args;
    const busyAt = options.indexOf("--busy");
    const busy = busyAt >= 0 ? Number(options[busyAt + 1]) : 2;
    if (command.length === 0 || !Number.isInteger(busy) || busy < 0) {
        throw new Error("usage: npm run under-load -- [--busy N] -- <command> [args...]");
    }
    const spinners: ChildProcess[] = Array.from({ length: busy }, () => spawn(process.execPath,
        ["-e", `const end = Date.now() + ${SPIN_LIMIT_MS}; while (Date.now() < end) { /* spin */ }`], { stdio: "ignore" }));
    const stopSpinners = () => spinners.forEach((spinner) => spinner.kill("SIGKILL"));
    process.on("exit", stopSpinners);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.on(signal, () => { stopSpinners(); process.exit(130); });
    }
    const started = performance.now();
    console.error(`under load: ${busy} CPU-bound processes beside: ${command.join(" ")}`);
    const child = spawn(command[0], command.slice(1), { stdio: "inherit" });
    child.on("exit", (code, signal) => {
        stopSpinners();
        console.error(`under load: the command ended (${signal ?? `exit ${code}`}) after ${((performance.now() - started) / 1000).toFixed(1)} s`);
        process.exit(code ?? 1);
    });
}

main();
