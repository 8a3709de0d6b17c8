// The nodes' journal shipper, run for real (Debian's python3 with python3-systemd and
// python3-botocore) on journal files written by systemd-journal-remote, against the stand-in
// CloudWatch Logs endpoint that holds PutLogEvents to AWS's limits.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { JOURNAL_SHIPPER, JOURNAL_SHIPPER_SOURCE_FILE, JOURNAL_SHIPPER_STOP_SECONDS } from "../components/render/journalShipper";
import { prometheusNodeFiles } from "../components/render/cloudInit";
import { CloudWatchLogsStandIn, PUT_LIMITS } from "../rehearsals/lib/cloudWatchLogs";
import { Processes } from "../rehearsals/lib/processes";
import { waitFor } from "../rehearsals/lib/wait";
import { previewNodeSpec } from "../scripts/lib/plan";
import { plannedStack } from "./helpers/stacks";
import { BOOT, DAY_MS, PYTHON, requireShipperTools, writeJournal } from "./helpers/journal";
import { expectSuccess, requireTool, run } from "./helpers/tools";
import { LOG_FLUSH_SECONDS, NODE_LOG_UNITS } from "../infra/rendering";

const GROUP = "/ec2/test/prometheus-nodes";

describe("the nodes' journal shipper", function () {
    this.timeout(180000);
    let work: string;
    let journalDir: string;
    let endpoint: CloudWatchLogsStandIn;
    let port: number;
    let processes: Processes;

    beforeEach(async function () {
        requireShipperTools(this);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "journal-shipper-"));
        journalDir = path.join(work, "journal");
        fs.mkdirSync(journalDir);
        endpoint = new CloudWatchLogsStandIn(30, { SHIPPERTEST: "shipper-test" });
        endpoint.createLogGroup(GROUP);
        port = await endpoint.listen("127.0.0.1");
        processes = new Processes(work);
    });

    afterEach(async () => {
        processes?.stopAll();
        await endpoint?.close();
        if (work) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    function configFile(overrides: Record<string, unknown> = {}): string {
        const file = path.join(work, "journal-shipper.json");
        fs.writeFileSync(file, JSON.stringify({
            logGroup: GROUP, region: "eu-west-1", node: "prom-1", units: NODE_LOG_UNITS,
            stateDir: path.join(work, "state"), textfile: path.join(work, JOURNAL_SHIPPER.textfileName), flushSeconds: 1,
            endpointUrl: `http://127.0.0.1:${port}`, journalDirectory: journalDir, instanceIdFile: path.join(work, "instance-id"),
            ...overrides,
        }));
        fs.writeFileSync(path.join(work, "instance-id"), "i-0123456789abcdef0\n");
        return file;
    }

    /**
     * The shipper, run by the rehearsals' process runner; stop() sends SIGTERM, as systemd stops it,
     * and kills it after the unit's own TimeoutStopSec, as systemd would; it resolves with the exit code.
     */
    async function start(file = configFile()): Promise<{ stop: () => Promise<number | string | null>; readonly output: string }> {
        await processes.start("shipper", PYTHON, [JOURNAL_SHIPPER_SOURCE_FILE, "--config", file], {
            env: { AWS_ACCESS_KEY_ID: "SHIPPERTEST", AWS_SECRET_ACCESS_KEY: "shipper-test", AWS_EC2_METADATA_DISABLED: "true" },
        });
        return { stop: () => processes.stop("shipper", JOURNAL_SHIPPER_STOP_SECONDS * 1000), get output() { return processes.log("shipper"); } };
    }

    function metrics(): Record<string, number> {
        const text = fs.existsSync(path.join(work, JOURNAL_SHIPPER.textfileName)) ? fs.readFileSync(path.join(work, JOURNAL_SHIPPER.textfileName), "utf8") : "";
        return Object.fromEntries([...text.matchAll(/^platform_log_shipper_(\w+) (\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
    }

    const caughtUpAfter = (since: number) => waitFor("the shipper to catch up", async () =>
        (metrics().last_success_timestamp_seconds ?? 0) * 1000 > since || undefined, 60000);

    it("accepts the configuration a stack renders, with --check, as the unit's ExecStartPre runs it", async function () {
        const { platform } = await plannedStack("dev");
        const files = prometheusNodeFiles({ ...(await previewNodeSpec(platform, platform.nodes[0])), volumeId: "vol-0abc123def4567890" });
        const rendered = files.find((f) => f.path === JOURNAL_SHIPPER.configFile)!;
        assert.deepEqual(JSON.parse(rendered.content).units, NODE_LOG_UNITS);
        assert.equal(JSON.parse(rendered.content).logGroup, "/ec2/prometheus-platform-dev/prometheus-nodes");
        assert.equal(files.find((f) => f.path === JOURNAL_SHIPPER.binary)!.content, fs.readFileSync(JOURNAL_SHIPPER_SOURCE_FILE, "utf8"));
        const file = path.join(work, "rendered.json");
        // The rendered file, pointed at this test's journal files instead of the host's journal.
        fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(rendered.content), journalDirectory: journalDir }));
        const out = expectSuccess(run(PYTHON, [JOURNAL_SHIPPER_SOURCE_FILE, "--check", "--config", file]), "--check of dev's configuration");
        assert.match(out, new RegExp(`valid: ${NODE_LOG_UNITS.length} units to /ec2/prometheus-platform-dev/prometheus-nodes in eu-west-1`));
    });

    it("refuses a bad configuration with one message naming the file and every bad key", function () {
        const file = configFile({ units: ["prometheus.service", "bad unit"], flushSeconds: 0, logGroups: "typo" });
        const { region: _, ...withoutRegion } = JSON.parse(fs.readFileSync(file, "utf8"));
        fs.writeFileSync(file, JSON.stringify(withoutRegion));
        const result = run(PYTHON, [JOURNAL_SHIPPER_SOURCE_FILE, "--check", "--config", file]);
        assert.equal(result.status, 2, result.stderr);
        const message = result.stderr.trim();
        assert.equal(message.split("\n").length, 1, message);
        for (const part of [file, "logGroups: unknown key", "region: missing", "units: not a service unit name: bad unit", "flushSeconds: must be between 1 and 60"]) {
            assert.ok(message.includes(part), `${part} in: ${message}`);
        }
    });

    it("ships each unit's entries, and systemd's messages about it, to <node>/<unit> as JSON; other units stay", async () => {
        const at = Date.now() - 60000;
        writeJournal(journalDir, [
            { unit: "prometheus.service", message: "Server is ready to receive web requests.", atMs: at },
            { unit: "sshd.service", message: "Accepted publickey for admin", atMs: at + 1 },
            { about: "prometheus.service", message: "prometheus.service: Main process exited, code=killed, status=9/KILL", atMs: at + 2, priority: 4 },
            { unit: "cloud-init-main.service", message: "data volume vol-0abc (/dev/nvme1n1) mounted at /mnt", atMs: at + 3 },
            { unit: "nginx.service", message: "nginx: configuration file /etc/nginx/nginx.conf test is successful", atMs: at + 4 },
        ]);
        const started = Date.now();
        const shipper = await start();
        await caughtUpAfter(started);
        assert.deepEqual(endpoint.streams(GROUP), ["prom-1/cloud-init-main.service", "prom-1/nginx.service", "prom-1/prometheus.service"]);
        const prometheus = endpoint.events(GROUP, "prom-1/prometheus.service").map((e) => ({ timestamp: e.timestamp, ...JSON.parse(e.message) }));
        assert.deepEqual(prometheus, [
            { timestamp: at, message: "Server is ready to receive web requests.", priority: 6, identifier: "prometheus", pid: 4242, boot: BOOT, instance: "i-0123456789abcdef0" },
            { timestamp: at + 2, message: "prometheus.service: Main process exited, code=killed, status=9/KILL", priority: 4, identifier: "systemd", pid: 1, boot: BOOT, instance: "i-0123456789abcdef0" },
        ]);
        assert.ok(!JSON.stringify(endpoint.streams(GROUP)).includes("sshd"));
        assert.deepEqual([...endpoint.accessKeys], ["SHIPPERTEST"], "requests signed with the instance's credentials");
        assert.equal(await shipper.stop(), 0, shipper.output);
        assert.deepEqual(endpoint.problems, []);
        assert.deepEqual(metrics().events_shipped_total, 4);
    });

    it("keeps to PutLogEvents' limits: 10,000 events, 1 MiB, 24 hours, 256 KiB an event; what AWS refuses as too old is counted", async () => {
        const now = Date.now();
        const many = Array.from({ length: 23000 }, (_, i) => ({ unit: "prometheus.service", message: `level=info msg="sample ${i}" ${"x".repeat(40)}`, atMs: now - 3600000 + i }));
        const wide = Array.from({ length: 6 }, (_, i) => ({ unit: "nginx.service", message: `${"y".repeat(200 * 1024)} ${i}`, atMs: now - 1800000 + i }));
        writeJournal(journalDir, [
            { unit: "node_exporter.service", message: "twenty days ago: older than AWS accepts", atMs: now - 20 * DAY_MS },
            { unit: "node_exporter.service", message: "two days ago", atMs: now - 2 * DAY_MS },
            { unit: "node_exporter.service", message: "now", atMs: now - 1000 },
            ...many, ...wide,
            { unit: "nginx.service", message: "z".repeat(300 * 1024), atMs: now - 500 },
        ]);
        const started = Date.now();
        const shipper = await start();
        await caughtUpAfter(started);
        assert.equal(await shipper.stop(), 0, shipper.output);
        assert.deepEqual(endpoint.problems, [], "every batch within AWS's limits");
        const prometheus = endpoint.events(GROUP, "prom-1/prometheus.service");
        assert.equal(prometheus.length, many.length);
        assert.ok(prometheus.every((e, i) => JSON.parse(e.message).message === many[i].message), "all delivered, in order");
        assert.ok(endpoint.puts.filter((p) => p.stream === "prom-1/prometheus.service").length >= 3, "23,000 events take three batches or more");
        assert.ok(endpoint.puts.every((p) => p.events <= PUT_LIMITS.maxEvents && p.bytes <= PUT_LIMITS.maxBatchBytes));
        const nginx = endpoint.events(GROUP, "prom-1/nginx.service").map((e) => JSON.parse(e.message).message as string);
        assert.equal(nginx.length, 7);
        assert.ok(endpoint.puts.filter((p) => p.stream === "prom-1/nginx.service").length >= 2, "1.2 MiB of nginx entries take two batches");
        assert.ok(nginx[6].endsWith(" [truncated]") && Buffer.byteLength(nginx[6]) < 256 * 1024, "the 300 KiB entry is cut to fit");
        const nodeExporter = endpoint.events(GROUP, "prom-1/node_exporter.service").map((e) => JSON.parse(e.message).message);
        assert.deepEqual(nodeExporter, ["two days ago", "now"], "each in a batch of its own day; twenty days ago is refused");
        assert.equal(metrics().events_rejected_total, 1);
    });

    it("resumes after its last delivery when restarted: nothing lost, nothing twice", async () => {
        const at = Date.now() - 10000;
        writeJournal(journalDir, [1, 2, 3].map((i) => ({ unit: "prometheus-config-sync.service", message: `applied revision r${i}`, atMs: at + i })));
        let started = Date.now();
        let shipper = await start();
        await caughtUpAfter(started);
        assert.equal(await shipper.stop(), 0, shipper.output);
        // While it was stopped (a restart, or an instance rebooting): more entries.
        writeJournal(journalDir, [4, 5].map((i) => ({ unit: "prometheus-config-sync.service", message: `applied revision r${i}`, atMs: at + i })));
        started = Date.now();
        shipper = await start();
        await caughtUpAfter(started);
        // And while it runs.
        writeJournal(journalDir, [6].map((i) => ({ unit: "prometheus-config-sync.service", message: `applied revision r${i}`, atMs: Date.now() })));
        await waitFor("the entry written while it runs", async () => endpoint.events(GROUP, "prom-1/prometheus-config-sync.service").length >= 6 || undefined,
            LOG_FLUSH_SECONDS * 1000 + 20000);
        assert.equal(await shipper.stop(), 0, shipper.output);
        assert.deepEqual(endpoint.events(GROUP, "prom-1/prometheus-config-sync.service").map((e) => JSON.parse(e.message).message),
            [1, 2, 3, 4, 5, 6].map((i) => `applied revision r${i}`));
    });

    it("keeps the entries through an outage of CloudWatch Logs and reports it, then delivers them", async function () {
        endpoint.failNext(4);
        const at = Date.now() - 5000;
        writeJournal(journalDir, [{ unit: "prometheus-targets-sync.service", message: "fatal error: An error occurred (AccessDenied)", atMs: at, priority: 3 }]);
        const started = Date.now();
        const shipper = await start();
        await caughtUpAfter(started);
        assert.equal(await shipper.stop(), 0, shipper.output);
        assert.equal(endpoint.events(GROUP, "prom-1/prometheus-targets-sync.service").length, 1);
        const m = metrics();
        assert.ok(m.delivery_failures_total >= 1, `failures reported: ${JSON.stringify(m)}`);
        assert.match(shipper.output, /delivery to \/ec2\/test\/prometheus-nodes\/prom-1\/prometheus-targets-sync.service failed/);
        // The metrics file is well-formed exposition, as node_exporter's textfile collector reads it.
        const promtool = requireTool(this, "promtool");
        const checked = spawnSync(promtool, ["check", "metrics"], { input: fs.readFileSync(path.join(work, JOURNAL_SHIPPER.textfileName), "utf8"), encoding: "utf8" });
        assert.equal(checked.status, 0, checked.stdout + checked.stderr);
    });

    it("does not report success while it cannot deliver", async () => {
        endpoint.failNext(1000);
        writeJournal(journalDir, [{ unit: "prometheus.service", message: "never delivered", atMs: Date.now() - 1000 }]);
        const shipper = await start();
        await waitFor("a failed delivery", async () => (metrics().delivery_failures_total ?? 0) >= 2 || undefined, 30000);
        assert.equal(metrics().last_success_timestamp_seconds, undefined, "no success time while the entry waits");
        const failuresBeforeStop = metrics().delivery_failures_total;
        assert.equal(await shipper.stop(), 0, shipper.output);
        // Stopped mid-delivery, its final flush tries the waiting entry again, and still reports no success.
        assert.ok(metrics().delivery_failures_total > failuresBeforeStop, `the final flush retried: ${JSON.stringify(metrics())}`);
        assert.equal(metrics().last_success_timestamp_seconds, undefined, "no success time after the stop either");
        assert.equal(fs.existsSync(path.join(work, "state", "cursor")), false, "the cursor did not move past the undelivered entry");
    });
});
