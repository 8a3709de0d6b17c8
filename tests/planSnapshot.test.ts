import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { compareSnapshots, planSnapshot, readSnapshot, REFRESH_COMMAND, reviewable, SECRET_MARK, snapshotDir, UNKNOWN_MARK, writeSnapshot } from "../scripts/lib/snapshot";
import { SECRET_SIG, SPECIAL_KEY, UNKNOWN } from "../scripts/lib/offline";
import { STACKS } from "./helpers/stacks";

describe("plan snapshot (tests/snapshots/<stack>/)", function () {
    this.timeout(180000);

    for (const stack of STACKS) {
        it(`${stack}: the plan is the committed snapshot (refresh with ${REFRESH_COMMAND} and review the diff)`, async () => {
            const committed = readSnapshot(snapshotDir(stack));
            assert.ok(committed["resources.yaml"], `no snapshot of ${stack}: run ${REFRESH_COMMAND}`);
            const differences = compareSnapshots(committed, await planSnapshot(stack));
            assert.deepEqual(differences, [], `the plan of ${stack} differs from its snapshot; if the change is meant, run `
                + `${REFRESH_COMMAND} and review the diff as a preview:\n  ${differences.join("\n  ")}`);
        });
    }

    it("masks secrets, marks unknowns, and shows JSON and gzipped base64 by content", () => {
        const secret = { [SPECIAL_KEY]: SECRET_SIG, value: "hunter2" };
        const cloudConfig = `#cloud-config\n${crypto.randomBytes(600).toString("hex")}\n`;
        const userData = zlib.gzipSync(cloudConfig).toString("base64");
        const shown = reviewable({ password: secret, arn: UNKNOWN, policy: '{"Version":"2012-10-17"}', userData }) as Record<string, unknown>;
        assert.equal(shown.password, SECRET_MARK);
        assert.equal(shown.arn, UNKNOWN_MARK);
        assert.deepEqual(shown.policy, { "(json)": { Version: "2012-10-17" } });
        const decoded = (shown.userData as Record<string, { gzip: boolean; bytes: number }>)["(base64)"];
        assert.equal(decoded?.gzip, true, JSON.stringify(shown.userData));
        assert.equal(decoded.bytes, cloudConfig.length);
        assert.equal((shown.userData as Record<string, { sha256: string }>)["(base64)"].sha256, crypto.createHash("sha256").update(cloudConfig).digest("hex"));
        assert.ok(!JSON.stringify(shown).includes("hunter2"));
    });

    it("names every file that differs, and a refresh leaves no stale file", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-"));
        try {
            writeSnapshot(path.join(dir, "dev"), { "resources.yaml": "a\nb\n", "files/old": "x" });
            writeSnapshot(path.join(dir, "dev"), { "resources.yaml": "a\nc\n", "files/new": "y" });
            const written = readSnapshot(path.join(dir, "dev"));
            assert.deepEqual(Object.keys(written).sort(), ["files/new", "resources.yaml"]);
            assert.deepEqual(compareSnapshots({ "resources.yaml": "a\nb\n", "files/old": "x" }, written),
                ["+ files/new (new)", "- files/old (gone)", '~ resources.yaml line 2: was "b", now "c"']);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
