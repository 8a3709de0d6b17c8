import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BOOT_SCENARIOS, BOOT_SETUP_CHECKS } from "../rehearsals/firstBoot";
import { acquireLock } from "../rehearsals/lib/lock";
import { assertDeclaredChecksPassed } from "./helpers/declaredChecks";
import { requireTool } from "./helpers/tools";

const ROOT = path.resolve(__dirname, "..");

describe("first boot of a node on Debian 13 (npm run boot -- --stack dev)", function () {
    this.timeout(1800000);

    it("boots the rendered user data fresh, as a replacement on the same volume, and without a volume", function () {
        for (const tool of ["debootstrap", "systemd-nspawn", "prometheus", "gpg", "aws", "htpasswd"]) {
            requireTool(this, tool);
        }
        const inits = () => spawnSync("pgrep", ["-x", "systemd"], { encoding: "utf8" }).stdout.trim().split("\n").filter((l) => l).length;
        const initsBefore = inits();
        const result = spawnSync(process.execPath, ["--import", "tsx", "rehearsals/firstBoot.ts", "--stack", "dev", "--json"],
            { cwd: ROOT, encoding: "utf8", timeout: 1700000 });
        const report = JSON.parse(result.stdout);
        const failed = report.checks.filter((c: { ok: boolean }) => !c.ok);
        assert.deepEqual(failed, [], JSON.stringify(report, null, 2));
        assert.equal(result.status, 0);
        assertDeclaredChecksPassed(report, BOOT_SETUP_CHECKS, BOOT_SCENARIOS);
        assert.equal(typeof report.figures.bootToReadySeconds, "number");
        const leftovers = spawnSync("pgrep", ["-af", "systemd-nspawn"], { encoding: "utf8" }).stdout.trim();
        assert.equal(leftovers, "", "no node outlives the run");
        assert.equal(inits(), initsBefore, "no node's systemd outlives the run");
        assert.equal(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes("ppboot"), false, "the test host is removed");
        const workDir = String(report.figures.workDir).replace(/ \(removed\)$/, "");
        assert.equal(spawnSync("losetup", ["-a"], { encoding: "utf8" }).stdout.includes(workDir), false, "the data volume's loop device is detached");
    });
});

describe("one first-boot rehearsal at a time", () => {
    it("names the live run holding the lock, and takes over a dead run's lock", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lock-"));
        const file = path.join(dir, "first-boot.lock");
        try {
            const release = acquireLock(file, "first-boot rehearsal");
            assert.equal(fs.readFileSync(file, "utf8"), String(process.pid));
            assert.throws(() => acquireLock(file, "first-boot rehearsal"), new RegExp(`another first-boot rehearsal is running \\(pid ${process.pid}, lock `));
            release();
            assert.equal(fs.existsSync(file), false);
            const dead = spawnSync("true").pid!;
            fs.writeFileSync(file, String(dead));
            acquireLock(file, "first-boot rehearsal")();
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
