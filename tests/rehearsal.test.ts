import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { requireTool } from "./helpers/tools";

const ROOT = path.resolve(__dirname, "..");

describe("local rehearsal on the real binaries (npm run rehearse -- --stack dev)", function () {
    this.timeout(420000);

    it("delivers alerts once through the mesh, survives failures, syncs targets and guards the ingress", function () {
        for (const tool of ["prometheus", "alertmanager", "nginx", "htpasswd", "aws", "rsync", "wget"]) {
            requireTool(this, tool);
        }
        const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/rehearse.ts", "--stack", "dev", "--json"],
            { cwd: ROOT, encoding: "utf8", timeout: 400000 });
        const report = JSON.parse(result.stdout);
        const failed = report.checks.filter((c: { ok: boolean }) => !c.ok);
        assert.deepEqual(failed, [], JSON.stringify(report, null, 2));
        assert.equal(result.status, 0);
        const names = report.checks.map((c: { name: string }) => c.name).join("\n");
        for (const expected of [/mesh/, /heartbeat reaches/, /at most one heartbeat per group interval/, /no-file_sd-targets/,
            /page sent to all three Alertmanagers arrives once/, /scraped within 60 s/, /removes the target/,
            /forging X-Forwarded-For/, /one Alertmanager killed/, /two Prometheus killed/]) {
            assert.match(names, expected);
        }
        for (const figure of ["heartbeatFirstDeliverySeconds", "heartbeatsPerGroupInterval", "pageDeliverySeconds", "targetDiscoverySeconds", "totalSeconds"]) {
            assert.equal(typeof report.figures[figure], "number", figure);
        }
        assert.ok(report.figures.totalSeconds < 300, `the rehearsal took ${report.figures.totalSeconds} s`);
        assert.equal(report.factor, 20);
    });
});
