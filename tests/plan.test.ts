import { strict as assert } from "assert";
import { EXPECTED_RULE_FILE } from "../components/render/alertRules";
import { loadTenants } from "../infra/tenants";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { loadEnvironment } from "../infra/environment";
import { STACKS } from "./helpers/stacks";
import { shapedPlaceholder } from "../infra/secrets";
import { tenantsOfShard } from "../infra/shards";

const ROOT = path.resolve(__dirname, "..");

/** The plan as `npm run plan` runs it: through the tsx command, its output read from a pipe. */
function plan(args: string[]) {
    return spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/plan.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120000 });
}

describe("offline plan (npm run plan)", function () {
    this.timeout(180000);
    let out: string;
    before(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), "plan-")); });
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    for (const stack of STACKS) {
        it(`plans ${stack} as JSON and writes each node's rendered files`, () => {
            const result = plan(["--stack", stack, "--json", "--out", path.join(out, stack)]);
            assert.equal(result.status, 0, result.stderr);
            const report = JSON.parse(result.stdout);
            const env = loadEnvironment(stack);
            assert.equal(report.stack, stack);
            assert.equal(report.summary.total, report.resources.length);
            assert.equal(report.summary.byType["aws:ec2/instance:Instance"], 3 * env.prometheus.shards);
            const nodes = report.resources.filter((r: any) => r.type === "platform:prometheus:PrometheusNode");
            for (const instance of report.resources.filter((r: any) => r.type === "aws:ec2/instance:Instance")) {
                assert.ok(nodes.some((n: any) => n.urn === instance.parent), `${instance.name} is parented by its component`);
            }
            assert.deepEqual(report.rendered.map((n: any) => n.node), [...env.nodes.map((n) => n.name), "grafana", "alertmanager"]);
            // Grafana, its database, its data sources and its dashboards by folder, as the plan shows them and writes them.
            const reach = env.grafana.access === "sso" ? `from anywhere, signed in with ${env.grafana.sso!.issuer} at the ALB and in Grafana; ` : "office CIDRs only";
            assert.ok(report.grafana[0].startsWith(`https://grafana.${env.domain}/ (${reach}`), report.grafana[0]);
            assert.ok(report.grafana[0].includes("), docker.io/grafana/grafana:13.1.2, one Fargate task"), report.grafana[0]);
            assert.equal(report.grafana[1], `database: PostgreSQL 17 on RDS db.t4g.micro, 20 GiB encrypted, TLS only, backups kept 7 days, `
                + `${env.protectData ? "Multi-AZ, deletion-protected" : "one zone"}`);
            const sharded = env.prometheus.shards > 1;
            assert.deepEqual(report.grafana.filter((l: string) => l.startsWith("data source")).map((l: string) => l.split(":")[0]),
                [...env.nodes.map((n, i) => `data source ${n.name}${i === 0 && !sharded ? " (default)" : ""}`),
                    ...(env.remoteWrite.enabled ? [`data source amp${sharded ? " (default)" : ""}`] : [])]);
            const tenantDashboards = stack === "dev" ? ["dashboard checkout-web: targets and alerts (folder checkout-web)", "dashboard Checkout web: requests (folder checkout-web)",
                "dashboard orders-queue: targets and alerts (folder orders-queue)"] : [];
            assert.deepEqual(report.grafana.filter((l: string) => l.startsWith("dashboard")).map((l: string) => l.replace(/: \d+ panels, \d+ queries$/, "")),
                ["dashboard Platform SLI (folder Platform)", "dashboard Prometheus servers (folder Platform)", "dashboard Prometheus nodes (folder Platform)", ...tenantDashboards]);
            // Where the logs are kept, each for the stack's retention.
            const nodeLogs = report.logs.find((l: string) => l.startsWith(`/ec2/prometheus-platform-${stack}/prometheus-nodes: `));
            assert.ok(nodeLogs?.startsWith(`/ec2/prometheus-platform-${stack}/prometheus-nodes: ${env.prometheus.logRetentionDays} days (the nodes' journals, streams prom-N/<unit> of prometheus.service,`), nodeLogs);
            assert.ok(report.logs.includes(`/ecs/prometheus-platform-${stack}/alertmanager: ${env.alertmanager.logRetentionDays} days`), report.logs.join("\n"));
            assert.equal(report.logs[report.logs.length - 1], `ALB access logs: the access-log bucket under alb/, ${env.ingress.accessLogRetentionDays} days`);
            // Each tenant on the stack with its rule counts and receivers, secrets shown as placeholders only.
            const tenants = loadTenants(stack);
            if (tenants.length === 0) {
                assert.deepEqual(report.tenants, ["none on this stack"]);
            }
            for (const [i, tenant] of tenants.entries()) {
                const rules = tenant.rules.groups.flatMap((g) => g.rules);
                const alerts = rules.filter((r) => r.alert).length;
                assert.ok(report.tenants[i].startsWith(`${tenant.name}: ${alerts} alerts, ${rules.length - alerts} recording rules, ${tenant.tests.length} tests;`), report.tenants[i]);
                for (const receiver of Object.keys(tenant.receivers)) {
                    assert.ok(report.tenants[i].includes(`secret tenant-${tenant.name}-${receiver}: placeholder`), report.tenants[i]);
                }
                assert.doesNotMatch(report.tenants[i], /placeholder\.invalid/, "no secret value is printed");
            }
            const grafanaFiles = report.rendered.find((n: any) => n.node === "grafana").files;
            assert.deepEqual(grafanaFiles.filter((f: string) => f.endsWith(".json")).sort(), [
                ...(stack === "dev" ? ["folder-checkout-web/checkout-web-requests.json", "folder-checkout-web/tenant-checkout-web.json", "folder-orders-queue/tenant-orders-queue.json"] : []),
                "platform-sli.json", "prometheus-nodes.json", "prometheus-servers.json",
            ].map((file) => `var/lib/grafana/dashboards/${file}`));
            assert.ok(grafanaFiles.includes("settings.env"), "Grafana's settings as the task starts with them");
            assert.ok(report.placeholderSecrets.includes("prometheus-platform:pagerdutyRoutingKey"));
            assert.deepEqual(report.backup, {
                policy: `daily at ${env.backup.snapshotTime} UTC, kept ${env.backup.retainDays} days: volumes tagged platform:backup=prometheus-platform-${stack}-prometheus-data`,
                volumes: env.nodes.map((n) => `${n.name}-data`),
            });
            assert.deepEqual(report.rollout.alertmanager.order, ["alertmanager-1", "alertmanager-2", "alertmanager-3"]);
            assert.match(report.rollout.alertmanager.configHash, /^[0-9a-f]{64}$/);
            const alertmanager = fs.readFileSync(path.join(report.rendered.find((n: any) => n.node === "alertmanager").dir, "alertmanager.yml"), "utf8");
            assert.ok(alertmanager.includes(`routing_key: ${shapedPlaceholder("pagerdutyRoutingKey", stack)}\n`), "the routing key's placeholder, of a routing key's shape");
            for (const node of report.rendered.slice(0, 3)) {
                // Shard 1's configuration set, as the config bucket holds it, MANIFEST included.
                const config = yaml.load(fs.readFileSync(path.join(node.dir, "config/prometheus.yml"), "utf8")) as any;
                assert.equal(config.global.external_labels.__replica__, node.node);
                const manifest = fs.readFileSync(path.join(node.dir, "config/MANIFEST"), "utf8").trim().split("\n");
                assert.equal(manifest[0], `revision ${report.rollout.nodeConfigRevision}`);
                const tenantRules = tenantsOfShard(env, loadTenants(stack), 1).map((t) => `rules/tenant-${t.name}.yml`);
                assert.deepEqual(manifest.slice(1).map((line) => line.split("  ")[1]), ["prometheus.yml", `rules/${EXPECTED_RULE_FILE}`, "rules/platform.yml", ...tenantRules, "htpasswd"]);
                // The volume ID is in the system set (the mount script); the user data pins that set's sha256.
                const mount = fs.readFileSync(path.join(node.dir, "files/usr/local/sbin/mount-prometheus-data.sh"), "utf8");
                assert.match(mount, /vol-00000000000000000/);
                const cloudConfig = fs.readFileSync(path.join(node.dir, "cloud-config.yaml"), "utf8");
                assert.match(cloudConfig, new RegExp(`s3://[^/]+/system/${node.node}/[0-9a-f]{64}\\.json`));
            }
        });
    }

    it("hands its whole JSON to a reader slower than the pipe (over 64 KiB), and exits with its verdict", () => {
        const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
        const piped = spawnSync("sh", ["-c", `"${tsx}" scripts/plan.ts --stack staging --json --out "${path.join(out, "piped")}" | (sleep 1; cat)`],
            { cwd: ROOT, encoding: "utf8", timeout: 120000, maxBuffer: 16 * 1024 * 1024 });
        assert.ok(piped.stdout.length > 64 * 1024, `${piped.stdout.length} bytes: the case this is about`);
        const report = JSON.parse(piped.stdout);
        assert.equal(report.resources.length, report.summary.total);
        assert.deepEqual(report.policy.violations, []);
    });

    it("prints the tree and summary for people", () => {
        const result = plan(["--stack", "dev", "--out", path.join(out, "human")]);
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, /^Offline plan of stack dev/);
        assert.match(result.stdout, /^\+ platform:prometheus:PrometheusNode prom-1$/m);
        // dev's data is not protected: its volumes go with the stack (after a final snapshot).
        assert.match(result.stdout, /^ {2}\+ aws:ebs\/volume:Volume prom-1-data$/m);
        assert.match(result.stdout, /^rendered prom-1: \d+ files in .*; user data \d+ bytes gzipped, \d+% of EC2's 16384$/m);
        assert.match(result.stdout, /^ +6 {2}aws:ec2\/instance:Instance$/m);
        // dev's two shards: the platform's jobs and checkout-web's 20000 series on shard 1, orders-queue's 5000 on shard 2.
        assert.match(result.stdout, new RegExp("^Sizing: 2 shards of three nodes \\(steady-state figures of Prometheus 3\\.5\\.\\d+\\S*, measured \\d{4}-\\d\\d-\\d\\d: "
            + "a full head under churn, remote write and dashboard queries; warns from 70%, refuses from 100%\\)\n"
            + " {2}shard 1 \\(the platform's jobs, checkout-web\\): 70000 series, 2333 samples/s\n {4}memory per node: [\\d.]+ GiB of 4\\.0 GiB \\(\\d+%\\)\n {4}disk per node for the retention: [\\d.]+ GiB of 50\\.0 GiB \\(\\d+%\\)\n"
            + " {2}shard 2 \\(orders-queue\\): 5000 series, 167 samples/s\n {4}memory per node: [\\d.]+ GiB of 4\\.0 GiB \\(\\d+%\\)\n {4}disk per node for the retention: [\\d.]+ GiB of 50\\.0 GiB \\(\\d+%\\)$", "m"));
        assert.match(result.stdout, /^Backups: snapshots daily at 03:00 UTC, kept 3 days: volumes tagged platform:backup=prometheus-platform-dev-prometheus-data\n {2}backed up: prom-1-data, prom-2-data, prom-3-data, prom-s2-1-data, prom-s2-2-data, prom-s2-3-data$/m);
    });

    it("says what a change restarts, against an earlier plan (--compare)", () => {
        const earlier = path.join(out, "compare");
        assert.equal(plan(["--stack", "dev", "--out", earlier]).status, 0);
        const same = plan(["--stack", "dev", "--out", path.join(out, "compare-again"), "--compare", earlier]);
        assert.equal(same.status, 0, same.stderr);
        assert.match(same.stdout, new RegExp(`^Changes against ${earlier}:\n {2}nothing restarts or is replaced$`, "m"));
        assert.match(same.stdout, /^Rollout:\n {2}Alertmanager: a new alertmanager.yml restarts alertmanager-1 -> alertmanager-2 -> alertmanager-3, one at a time$/m);
        const missing = plan(["--stack", "dev", "--compare", path.join(out, "nowhere")]);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /--compare .*nowhere: no rollout\.json there; plan the earlier version with --out/);
    });

    it("plans and checks every stack in one process with --all", () => {
        const result = plan(["--all", "--out", path.join(out, "all")]);
        assert.equal(result.status, 0, result.stderr);
        for (const stack of STACKS) {
            assert.match(result.stdout, new RegExp(`^stack ${stack}: \\d+ resources, 0 policy violations \\(0 mandatory\\); backups daily at`, "m"));
            assert.ok(fs.existsSync(path.join(out, "all", stack, "prom-1", "cloud-config.yaml")));
        }
        assert.match(result.stdout, /^planned and checked 3 stacks in \d+\.\d\d s$/m);
    });

    it("fails with one clear message for a stack without an environment", () => {
        const result = plan(["--stack", "qa"]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /plan failed: .*Pulumi\.qa\.yaml: no such stack file|environments\/qa\.yaml/);
    });

    it("never replaces a folder it did not write: --out on a folder with other files is refused before planning, and they stay", () => {
        const mine = path.join(out, "mine");
        fs.mkdirSync(path.join(mine, "prom-1"), { recursive: true });
        fs.writeFileSync(path.join(mine, "prom-1", "notes.txt"), "keep me");
        const result = plan(["--stack", "dev", "--out", mine]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^plan failed: --out \S+mine: holds files no plan wrote \(prom-1\), which a plan would replace; name an empty or new folder\n$/);
        assert.equal(fs.readFileSync(path.join(mine, "prom-1", "notes.txt"), "utf8"), "keep me");
        assert.equal(result.stdout, "", "nothing was planned");
    });

    it("refuses a folder it cannot write to at once, instead of hanging", () => {
        const result = plan(["--stack", "dev", "--out", "/proc/x"]);
        assert.equal(result.status, 1, `exit ${result.status}, signal ${result.signal}`);
        assert.match(result.stderr, /^plan failed: --out \/proc\/x: cannot write there \(ENOENT\)\n$/);
    });

    it("names a --compare that holds no plan", () => {
        const notAPlan = path.join(out, "not-a-plan.json");
        fs.writeFileSync(notAPlan, "{ this is not json");
        const result = plan(["--stack", "dev", "--compare", notAPlan]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^plan failed: --compare \S+not-a-plan\.json: \S+ is not the rollout\.json of a plan; name the folder an earlier plan wrote with --out\n$/);
    });

    it("refuses flags that contradict --all", () => {
        const result = plan(["--all", "--json", "--stack", "dev"]);
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^plan failed: --all plans every stack and prints a summary; --stack, --json go with one stack \(--stack\) instead\n$/);
    });
});
