// One run at a time of a rehearsal that owns machine-wide names (a network namespace, ports).
import * as fs from "fs";
import * as path from "path";

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Takes the lock file, or names the live process holding it; a dead holder's lock is taken over. */
export function acquireLock(file: string, what: string): () => void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (;;) {
        try {
            fs.writeFileSync(file, String(process.pid), { flag: "wx" });
            return () => fs.rmSync(file, { force: true });
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
                throw err;
            }
            const holder = Number(fs.readFileSync(file, "utf8"));
            if (holder > 0 && alive(holder)) {
                throw new Error(`another ${what} is running (pid ${holder}, lock ${file}); wait for it, it owns the names this one needs`);
            }
            fs.rmSync(file, { force: true });
        }
    }
}
