import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as net from "net";
import * as path from "path";
import { SCENARIOS, SETUP_CHECKS } from "../rehearsals/loopback";
import { declares } from "../rehearsals/lib/report";
import { addedFor, loadRehearsalSource, rehearsalSource } from "../rehearsals/lib/fixtures";
import { loadEnvironment } from "../infra/environment";
import { loadTenants } from "../infra/tenants";
import { assertDeclaredChecksPassed } from "./helpers/declaredChecks";
import { requireTool } from "./helpers/tools";

const ROOT = path.resolve(__dirname, "..");

/** Runs the rehearsal to its end without blocking this process (a test may serve a port meanwhile). */
function rehearseAsync(env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; report: any; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "rehearsals/loopback.ts", "--stack", "dev", "--json"], { cwd: ROOT, env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => { stdout += chunk; });
        child.stderr.on("data", (chunk) => { stderr += chunk; });
        child.on("exit", (status) => resolve({ status, report: stdout ? JSON.parse(stdout) : undefined, stderr }));
    });
}

/** Processes a rehearsal started (they run from or with its work dir) that are still alive. */
function leftovers(): string {
    return spawnSync("pgrep", ["-af", "rehearsal-(dev|staging|production)-"], { encoding: "utf8" }).stdout.split("\n")
        .filter((line) => line && !line.includes("pgrep")).join("\n");
}

describe("the loopback rehearsal's declarations", () => {
    it("declares every scenario with what it proves and at least one check, each check once", () => {
        const all = [...SETUP_CHECKS, ...SCENARIOS.flatMap((s) => s.checks)].map(String);
        assert.ok(SCENARIOS.every((s) => s.proves.length > 0 && s.checks.length > 0));
        assert.equal(new Set(all).size, all.length);
        assert.ok(declares(/^a tenant alert reaches tenant-[a-z0-9-]+ once and no other receiver$/, "a tenant alert reaches tenant-checkout-web-oncall once and no other receiver"));
        assert.ok(!declares("the heartbeat reaches its receiver", "the heartbeat reaches its receiver twice"));
    });
});

describe("the rehearsal's fixtures", () => {
    it("adds what a stack lacks for a scenario, names each addition, and adds nothing a stack has", () => {
        const dev = loadEnvironment("dev");
        const bare = rehearsalSource({ ...dev, discovery: { ...dev.discovery, enabled: false, regions: [] }, remoteWrite: { ...dev.remoteWrite, enabled: false },
            alertmanager: { ...dev.alertmanager, configParameterTier: "Standard" }, prometheus: { ...dev.prometheus, shards: 1, tenantShards: {} } }, []);
        assert.equal(bare.env.discovery.enabled, true);
        assert.deepEqual(bare.env.discovery.regions, [dev.region]);
        assert.equal(bare.env.remoteWrite.enabled, true);
        assert.equal(bare.env.alertmanager.configParameterTier, "Advanced");
        assert.equal(bare.env.prometheus.shards, 2);
        assert.deepEqual(bare.env.nodes.map((n) => n.name), ["prom-1", "prom-2", "prom-3", "prom-s2-1", "prom-s2-2", "prom-s2-3"]);
        assert.deepEqual(bare.tenants.map((t) => t.name), ["rehearsal-a", "rehearsal-b", "rehearsal-c"]);
        assert.deepEqual(bare.env.prometheus.tenantShards, { "rehearsal-a": 1, "rehearsal-b": 1, "rehearsal-c": 2 });
        assert.deepEqual(bare.fixtures.map((f) => [f.prerequisite, f.says]), [
            ["discovery", `environments/dev.yaml has discovery.enabled: false; the rehearsal turns discovery on for ${dev.region}`],
            ["remote write", "environments/dev.yaml has remoteWrite.enabled: false; the rehearsal turns remote write to a managed Prometheus workspace on"],
            ["shards", "environments/dev.yaml has prometheus.shards: 1; the rehearsal adds a second shard of three nodes"],
            ["tenants", "the stack has 0 tenant(s) on shard 1; the rehearsal adds fixture tenant rehearsal-a (rehearsals/fixtures/tenants/rehearsal-a.yaml)"],
            ["tenants", "the stack has 0 tenant(s) on shard 1; the rehearsal adds fixture tenant rehearsal-b (rehearsals/fixtures/tenants/rehearsal-b.yaml)"],
            ["tenants", "the stack has no tenant beyond shard 1; the rehearsal adds fixture tenant rehearsal-c (rehearsals/fixtures/tenants/rehearsal-c.yaml) on shard 2"],
            ["alertmanager tier", "environments/dev.yaml has alertmanager.configParameterTier: Standard; with the fixture tenants the rehearsal uses Advanced"],
        ]);
        // dev has its two shards and remote write, and a tenant on each shard: one fixture tenant joins checkout-web on shard 1.
        const asIs = rehearsalSource(dev, loadTenants("dev"));
        assert.deepEqual(asIs.tenants.map((t) => t.name), ["checkout-web", "orders-queue", "rehearsal-a"]);
        assert.equal(asIs.env.discovery, dev.discovery);
        assert.equal(asIs.env.nodes, dev.nodes);
        assert.deepEqual(asIs.fixtures.map((f) => f.says),
            ["the stack has 1 tenant(s) on shard 1; the rehearsal adds fixture tenant rehearsal-a (rehearsals/fixtures/tenants/rehearsal-a.yaml)"]);
        const staging = loadRehearsalSource("staging");
        assert.deepEqual(staging.tenants.map((t) => t.name), ["rehearsal-a", "rehearsal-b", "rehearsal-c"]);
        assert.deepEqual([addedFor(staging, "discovery"), addedFor(staging, "remote write"), addedFor(staging, "tenants"), addedFor(staging, "shards")],
            [false, false, true, true]);
    });
});

describe("rehearsal in bad states", function () {
    this.timeout(120000);

    it("names a missing tool with the install hint, and starts nothing", async function () {
        requireTool(this, "prometheus");
        const { status, report } = await rehearseAsync({ ...process.env, PATH: "/usr/bin:/bin" });
        assert.equal(status, 1);
        const failed = report.checks.filter((c: { ok: boolean }) => !c.ok);
        assert.equal(failed.length, 1);
        assert.match(failed[0].detail, /^missing nginx: run scripts\/install-tools\.sh \(as root\) first$/);
        assert.equal(leftovers(), "");
    });

    it("names the address in use and stops everything it had started", async function () {
        for (const tool of ["prometheus", "alertmanager", "nginx", "aws", "rsync"]) {
            requireTool(this, tool);
        }
        const squatter = net.createServer((socket) => socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n"));
        await new Promise<void>((resolve) => squatter.listen(18080, "127.0.3.1", resolve));
        try {
            const { status, report } = await rehearseAsync();
            assert.equal(status, 1);
            const failed = report.checks.filter((c: { ok: boolean }) => !c.ok);
            assert.equal(failed.length, 1, JSON.stringify(failed));
            assert.match(failed[0].detail, /^127\.0\.3\.1:18080, which nginx is to listen on, is already in use/);
        } finally {
            squatter.close();
        }
        assert.equal(leftovers(), "", "the Alertmanagers and Prometheus servers started before nginx are stopped");
    });
});

// dev with one tenant of its own on shard 1 gets a second there; staging gets a second shard and three fixture tenants.
for (const [stack, fixtures] of [["dev", /^the stack has 1 tenant\(s\) on shard 1; the rehearsal adds fixture tenant rehearsal-a /],
    ["staging", /^environments\/staging\.yaml has prometheus\.shards: 1; the rehearsal adds a second shard of three nodes$/]] as const) {
    describe(`local rehearsal on the real binaries (npm run rehearse -- --stack ${stack})`, function () {
        // A readiness bound, not a pass condition: two shards' runs take about 400 s here.
        this.timeout(920000);

        it("delivers alerts once through the mesh, survives failures, syncs targets and guards the ingress", function () {
            for (const tool of ["prometheus", "alertmanager", "nginx", "htpasswd", "aws", "rsync", "wget"]) {
                requireTool(this, tool);
            }
            const result = spawnSync(process.execPath, ["--import", "tsx", "rehearsals/loopback.ts", "--stack", stack, "--json"],
                { cwd: ROOT, encoding: "utf8", timeout: 900000 });
            const report = JSON.parse(result.stdout);
            assert.equal(leftovers(), "", "nothing outlives the run");
            const failed = report.checks.filter((c: { ok: boolean }) => !c.ok);
            assert.deepEqual(failed, [], JSON.stringify(report, null, 2));
            assert.equal(result.status, 0);
            // What the stack lacked was added as a fixture and said so; no scenario was skipped for it.
            assert.ok(report.fixtures.some((f: string) => fixtures.test(f)), report.fixtures.join("; "));
            // Every declared scenario ran to its end; none can be skipped by a stack that lacks what it needs.
            assertDeclaredChecksPassed(report, SETUP_CHECKS, SCENARIOS);
            // Seconds are figures, printed; correctness is in the checks above, counted in the platform's own cycles.
            for (const figure of ["heartbeatFirstDeliverySeconds", "heartbeatsPerGroupInterval", "pageDeliverySeconds", "targetDiscoverySeconds",
                "ruleChangeToActiveOnLastNodeSeconds", "ruleChangeSyncRunSeconds", "totalSeconds"]) {
                assert.equal(typeof report.figures[figure], "number", figure);
            }
            assert.equal(report.factor, 20);
        });
    });
}
