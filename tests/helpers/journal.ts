// Journal files for the journal shipper's tests, written by systemd-journal-remote as journald
// would have stored them, and the tools the shipper runs with.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireReady } from "./tools";

export const PYTHON = "/usr/bin/python3";
const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
export const BOOT = "0123456789abcdef0123456789abcdef";
export const DAY_MS = 24 * 3600 * 1000;
/** When the entries' boot began: their monotonic clock counts from it, as on a real node. */
const BOOTED_AT_MS = Date.now() - 30 * DAY_MS;

export interface Entry { unit?: string; about?: string; message: string; atMs: number; priority?: number }

/** The shipper's interpreter and libraries, and systemd-journal-remote, or the install hint. */
export function requireShipperTools(context: Mocha.Context): void {
    const modules = spawnSync(PYTHON, ["-c", "import systemd.journal, botocore"], { encoding: "utf8" });
    requireReady(context, "python3-systemd and python3-botocore", modules.status === 0);
    requireReady(context, "systemd-journal-remote", fs.existsSync(JOURNAL_REMOTE));
}

let fileCount = 0;
/** Writes entries as a new journal file in dir, as journald would have stored them. */
export function writeJournal(dir: string, entries: Entry[]): void {
    const exported = entries.map((e, i) => [
        `__REALTIME_TIMESTAMP=${e.atMs * 1000 + (i % 1000)}`,
        `__MONOTONIC_TIMESTAMP=${(e.atMs - BOOTED_AT_MS) * 1000 + (i % 1000)}`,
        `_BOOT_ID=${BOOT}`,
        `MESSAGE=${e.message}`,
        `PRIORITY=${e.priority ?? 6}`,
        ...(e.unit ? [`_SYSTEMD_UNIT=${e.unit}`, `SYSLOG_IDENTIFIER=${e.unit.replace(/\.service$/, "")}`, "_PID=4242"] : []),
        ...(e.about ? ["_SYSTEMD_UNIT=init.scope", `UNIT=${e.about}`, "SYSLOG_IDENTIFIER=systemd", "_PID=1"] : []),
    ].join("\n") + "\n\n").join("");
    fileCount += 1;
    const result = spawnSync(JOURNAL_REMOTE, [`--output=${path.join(dir, `remote-${fileCount}.journal`)}`, "-"], { input: exported, encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
}

