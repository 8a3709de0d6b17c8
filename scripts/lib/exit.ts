// Exiting a command without losing its output: process.exit() drops what a slow reader (a pipe
// into another program) has not taken yet, past the pipe's 64 KiB.
export function exitWhenFlushed(code: number): void {
    process.stdout.write("", () => process.exit(code));
}
