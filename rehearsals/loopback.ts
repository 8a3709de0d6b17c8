// Local rehearsal: runs what a stack renders on the real binaries, on loopback, and checks it works
// as a system: the alert path, the mesh, the targets sync and the ingress rules.
//
//   npm run rehearse -- --stack dev [--json] [--keep]
//
// Addresses, ports and paths are remapped to loopback and a temp dir, and every interval and
// `for:` is divided by FACTOR so the run takes minutes, not hours.
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { ALERTMANAGER_PORT, MESH_PORT, MESH_TIMING, renderEntrypoint } from "../components/render/alertmanagerTask";
import { ALERT_RESEND_DELAY } from "../components/render/cloudInit";
import { htpasswdLine } from "../components/render/nginxConfig";
import { previewValue } from "../scripts/lib/offline";
import { runStackOffline } from "../scripts/lib/stackRun";
import { randomStyleBcryptHash } from "../scripts/lib/bcrypt";
import { INSTALL_HINT, Processes, resolveCommand, stopAllOnSignals } from "./lib/processes";
import { printReport } from "./lib/report";
import { now, request, sleep, waitFor } from "./lib/wait";
import { durationMs, remapAlertmanagerConfig, remapNginxPaths, remapPrometheusConfig, remapRules, replaceAll, scaleDuration } from "./lib/remap";
import { writeRendered } from "../scripts/plan";

export const FACTOR = 20;
const TOOLS = path.resolve(__dirname, "..", "tools", "debian", "usr", "bin");
const NODES = [1, 2, 3];
const ADDRESSES = {
    alertmanager: (i: number) => `127.0.1.${i}`,
    prometheus: (i: number) => `127.0.2.${i}`,
    nginx: "127.0.3.1",
    officeClient: "127.0.4.10",
    officeCidr: "127.0.4.0/24",
    albClient: "127.0.5.10",
    albCidr: "127.0.5.0/24",
    outsider: "127.0.6.10",
    recorder: "127.0.7.1",
    s3: "127.0.8.1",
    targetApp: "127.0.9.1",
};
const NGINX_PORT = 18080;
const PAAS_PROXY_PORT = 18081;

interface Received {
    receiver: string;
    at: number;
    body: string;
}

interface Check {
    name: string;
    ok: boolean;
    detail: string;
}

export interface RehearsalReport {
    stack: string;
    factor: number;
    checks: Check[];
    figures: Record<string, number | string>;
    ok: boolean;
}




function listen(server: http.Server, host: string): Promise<number> {
    return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
}

export async function rehearse(stack: string, keep = false): Promise<RehearsalReport> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `rehearsal-${stack}-`));
    fs.chmodSync(work, 0o755);
    const logs = path.join(work, "logs");
    fs.mkdirSync(logs);
    const processes = new Processes(logs);
    const checks: Check[] = [];
    const figures: Record<string, number | string> = { factor: `every interval and for: divided by ${FACTOR}` };
    const check = (name: string, ok: boolean, detail: string) => { checks.push({ name, ok, detail }); };
    const received: Received[] = [];
    const servers: http.Server[] = [];
    const syncLoops: NodeJS.Timeout[] = [];
    const syncRuns = new Set<ChildProcess>();
    let s3: { close(): Promise<void> } | undefined;

    try {
        // 0. Every binary it runs, before anything starts.
        const missing = [path.join(TOOLS, "prometheus"), path.join(TOOLS, "prometheus-alertmanager"), "nginx", "aws", "rsync"]
            .filter((tool) => resolveCommand(tool) === undefined);
        if (missing.length > 0) {
            throw new Error(`missing ${missing.join(", ")}: ${INSTALL_HINT}`);
        }
        // 1. Render the stack as the plan does, then remap it.
        const { run, platform } = await runStackOffline(stack);
        if (!platform) {
            throw new Error("the program built no platform");
        }
        const rendered = path.join(work, "rendered");
        await writeRendered(platform, rendered, run.placeholderSecrets);
        const env = platform.env;
        const read = (node: string, file: string) => fs.readFileSync(path.join(rendered, node, "files", file), "utf8");

        // 2. A recorder standing for PagerDuty, the ticket webhook, the heartbeat and Slack; it also
        //    answers the ECS task metadata endpoint. And a scrape target for the targets path.
        const recorder = http.createServer((req, res) => {
            let body = "";
            req.on("data", (chunk) => { body += chunk; });
            req.on("end", () => {
                const metadata = /^\/metadata\/(\d)$/.exec(req.url ?? "");
                if (metadata) {
                    res.end(JSON.stringify({ Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: [ADDRESSES.alertmanager(Number(metadata[1]))] }] }));
                    return;
                }
                received.push({ receiver: (req.url ?? "").slice(1), at: now(), body });
                res.end("ok");
            });
        });
        servers.push(recorder);
        const recorderPort = await listen(recorder, ADDRESSES.recorder);
        const targetApp = http.createServer((_, res) => {
            res.setHeader("content-type", "text/plain; version=0.0.4");
            res.end("rehearsal_target_up 1\n");
        });
        servers.push(targetApp);
        const targetPort = await listen(targetApp, ADDRESSES.targetApp);

        // 3. The targets bucket: s3rver with the bucket the program named.
        const bucket = await previewValue(platform.targets.bucketName);
        if (!bucket) {
            throw new Error("the targets bucket's name is not known in a preview");
        }
        const S3rver = require("s3rver");
        const s3Server = new S3rver({ address: ADDRESSES.s3, port: 0, silent: true, directory: path.join(work, "s3"), configureBuckets: [{ name: bucket }] });
        const s3Address = await s3Server.run();
        s3 = s3Server;
        const s3Endpoint = `http://${ADDRESSES.s3}:${s3Address.port}`;
        const awsEnv = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_DEFAULT_REGION: env.region, AWS_EC2_METADATA_DISABLED: "true" };
        // Asynchronous: s3rver answers from this very process.
        const aws = (args: string[]) => new Promise<{ status: number | null; stderr: string }>((resolve) => {
            const child = spawn("aws", ["--endpoint-url", s3Endpoint, ...args], { env: { ...process.env, ...awsEnv }, stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (chunk) => { stderr += chunk; });
            child.on("exit", (status) => resolve({ status, stderr }));
        });

        // 4. Three Alertmanagers, each started by the generated entrypoint, meshed on 127.0.1.x.
        const alertmanagerConfig = remapAlertmanagerConfig(
            fs.readFileSync(path.join(rendered, "alertmanager", "alertmanager.yml"), "utf8"), FACTOR, `http://${ADDRESSES.recorder}:${recorderPort}`);
        const alertmanagerTargets = NODES.map((i) => `${ADDRESSES.alertmanager(i)}:${ALERTMANAGER_PORT}`);
        for (const i of NODES) {
            const dir = path.join(work, `alertmanager-${i}`);
            fs.mkdirSync(dir);
            const entrypoint = renderEntrypoint({
                binary: path.join(TOOLS, "prometheus-alertmanager"),
                configFile: path.join(dir, "alertmanager.yml"),
                storagePath: dir,
                listenAddress: `${ADDRESSES.alertmanager(i)}:${ALERTMANAGER_PORT}`,
                meshListenAddress: `${ADDRESSES.alertmanager(i)}:${MESH_PORT}`,
                meshPort: MESH_PORT,
                peers: NODES.filter((j) => j !== i).map((j) => `${ADDRESSES.alertmanager(j)}:${MESH_PORT}`),
                peerTimeout: scaleDuration(MESH_TIMING.peerTimeout, FACTOR),
                gossipInterval: scaleDuration(MESH_TIMING.gossipInterval, FACTOR),
                pushPullInterval: scaleDuration(MESH_TIMING.pushPullInterval, FACTOR),
                externalUrl: `https://alerts-${i}.${env.domain}/`,
            });
            await processes.start(`alertmanager-${i}`, "sh", ["-c", entrypoint], {
                env: {
                    ALERTMANAGER_CONFIG: alertmanagerConfig,
                    ECS_CONTAINER_METADATA_URI_V4: `http://${ADDRESSES.recorder}:${recorderPort}/metadata/${i}`,
                },
                address: { host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT },
            });
        }

        // 5. Three Prometheus servers with the generated config, rules and unit flags.
        const addresses = Object.fromEntries(env.zones.map((z) => [z.prometheusPrivateIp, ADDRESSES.prometheus(z.index)]));
        for (const i of NODES) {
            const node = `prom-${i}`;
            const dir = path.join(work, node);
            const rulesDir = path.join(dir, "rules");
            const targetsDir = path.join(dir, "targets");
            fs.mkdirSync(rulesDir, { recursive: true });
            fs.mkdirSync(targetsDir);
            fs.writeFileSync(path.join(rulesDir, "platform.yml"), remapRules(read(node, "etc/prometheus/rules/platform.yml"), FACTOR));
            fs.writeFileSync(path.join(dir, "prometheus.yml"), remapPrometheusConfig(read(node, "etc/prometheus/prometheus.yml"), {
                factor: FACTOR, addresses, alertmanagers: alertmanagerTargets, rulesDir, targetsDir,
            }));
            const unit = replaceAll(read(node, "etc/systemd/system/prometheus.service"), [
                ["/etc/prometheus/prometheus.yml", path.join(dir, "prometheus.yml")],
                ["/mnt/prometheus", path.join(dir, "data")],
                ["0.0.0.0:9090", `${ADDRESSES.prometheus(i)}:9090`],
                ["/usr/local/bin/prometheus", path.join(TOOLS, "prometheus")],
                [`--rules.alert.resend-delay=${ALERT_RESEND_DELAY}`, `--rules.alert.resend-delay=${scaleDuration(ALERT_RESEND_DELAY, FACTOR)}`],
            ]);
            const execStart = /^ExecStart=([\s\S]*?)\n(?=\S)/m.exec(unit)![1].replace(/\\\n\s*/g, " ").trim().split(/\s+/);
            await processes.start(node, execStart[0], execStart.slice(1), { address: { host: ADDRESSES.prometheus(i), port: 9090 } });

            // The generated sync script, on a loop standing for its systemd timer.
            const sync = replaceAll(read(node, "usr/local/sbin/sync-prometheus-targets.sh"), [
                ["/etc/prometheus/targets", targetsDir],
                ["/var/lib/prometheus-targets", path.join(dir, "targets-staging")],
            ]);
            const syncScript = path.join(dir, "sync.sh");
            fs.writeFileSync(syncScript, sync, { mode: 0o755 });
            const intervalMs = Math.round(env.targets.syncIntervalSeconds * 1000 / FACTOR);
            let busy = false;
            syncLoops.push(setInterval(() => {
                if (busy) {
                    return;
                }
                busy = true;
                const child = spawn("bash", [syncScript], { env: { ...process.env, ...awsEnv, TARGETS_S3_ENDPOINT: s3Endpoint }, stdio: "ignore", detached: true });
                syncRuns.add(child);
                child.on("exit", () => { busy = false; syncRuns.delete(child); });
            }, intervalMs));
        }

        // 6. nginx with the generated auth-proxy: office = 127.0.4.0/24, the ALB = 127.0.5.0/24.
        const password = crypto.randomBytes(18).toString("base64url");
        const hash = randomStyleBcryptHash(password);
        const nginxDir = path.join(work, "nginx");
        fs.mkdirSync(nginxDir, { mode: 0o755 });
        fs.writeFileSync(path.join(nginxDir, "htpasswd"), htpasswdLine(env.ingress.basicAuthUser, hash), { mode: 0o644 });
        const nginxConf = remapNginxPaths(replaceAll(read("prom-1", "etc/nginx/nginx.conf"), [
            ...env.officeCidrs.map((c): [string, string] => [` ${c};`, ` ${ADDRESSES.officeCidr};`]),
            ...env.zones.map((z): [string, string] => [` ${z.publicSubnetCidr};`, ` ${ADDRESSES.albCidr};`]),
            ["listen 80 default_server;", `listen ${ADDRESSES.nginx}:${NGINX_PORT} default_server;`],
            ["listen 127.0.0.1:8080;", `listen ${ADDRESSES.nginx}:${PAAS_PROXY_PORT};`],
            ["http://127.0.0.1:9090", `http://${ADDRESSES.prometheus(1)}:9090`],
        ]), nginxDir, process.getuid?.() === 0);
        fs.writeFileSync(path.join(nginxDir, "nginx.conf"), nginxConf, { mode: 0o644 });
        await processes.start("nginx", "nginx", ["-p", nginxDir, "-e", path.join(nginxDir, "error.log"), "-c", path.join(nginxDir, "nginx.conf"), "-g", "daemon off;"],
            { address: { host: ADDRESSES.nginx, port: NGINX_PORT } });

        // 7. Wait for everything, and for the mesh to form.
        const started = now();
        for (const i of NODES) {
            await waitFor(`alertmanager-${i} ready`, async () => (await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/-/ready" })).status === 200 || undefined, 30000)
                .catch((err) => { throw new Error(`${err.message}\n${processes.log(`alertmanager-${i}`)}`); });
            await waitFor(`prom-${i} ready`, async () => (await request({ host: ADDRESSES.prometheus(i), port: 9090, path: "/-/ready" })).status === 200 || undefined, 30000)
                .catch((err) => { throw new Error(`${err.message}\n${processes.log(`prom-${i}`)}`); });
        }
        const peers = await waitFor("a mesh of three", async () => {
            const status = JSON.parse((await request({ host: ADDRESSES.alertmanager(1), port: ALERTMANAGER_PORT, path: "/api/v2/status" })).body);
            return status.cluster.peers.length === 3 ? status.cluster.peers.map((p: { address: string }) => p.address) : undefined;
        }, 30000);
        check("the Alertmanagers mesh through their generated cluster settings", true, `peers ${peers.join(", ")}`);
        const notOwned = processes.verify();
        check("every process started is alive and owns the address it was given", notOwned.length === 0,
            notOwned.join("; ") || "3 Alertmanagers, 3 Prometheus servers and nginx, each listening where it was told");

        // 8. The heartbeat: first arrival, then one notification per interval despite 3 x 3 senders.
        const heartbeats = () => received.filter((r) => r.receiver === "heartbeat");
        await waitFor("the first heartbeat", async () => heartbeats()[0], 30000);
        const firstHeartbeat = (heartbeats()[0].at - started) / 1000;
        figures.heartbeatFirstDeliverySeconds = Number(firstHeartbeat.toFixed(2));
        check("the heartbeat reaches its receiver within group_wait plus a few seconds", firstHeartbeat < 15,
            `${firstHeartbeat.toFixed(1)} s after start (group_wait 0s, evaluation every ${scaleDuration("30s", FACTOR)})`);
        const windowStart = now();
        await sleep(30000);
        const beats = heartbeats().filter((r) => r.at >= windowStart).map((r) => r.at);
        const interval = 60000 / FACTOR;
        const gaps = beats.slice(1).map((at, i) => at - beats[i]);
        const expected = 30000 / interval;
        const duplicates = gaps.filter((gap) => gap < interval / 2).length;
        figures.heartbeatIntervalMs = interval;
        figures.heartbeatsIn30s = beats.length;
        figures.heartbeatMeanGapMs = gaps.length ? Math.round(gaps.reduce((a, b) => a + b, 0) / gaps.length) : 0;
        figures.heartbeatDuplicates = duplicates;
        figures.heartbeatsPerGroupInterval = Number((beats.length / expected).toFixed(2));
        // A member re-sends when repeat_interval (= group_interval) has passed at one of its group
        // ticks: every one or two intervals. Without the mesh, three members would each do so.
        check("at most one heartbeat per group interval although three Prometheus send to three Alertmanagers",
            beats.length >= expected / 2 - 1 && beats.length - duplicates <= expected + 1 && duplicates <= 1,
            `${beats.length} in 30 s at a ${interval} ms group interval, ${duplicates} sent twice by racing members`);

        // 9. An empty bucket: the no-file_sd-targets ticket.
        const ticketFor = (alert: string) => received.find((r) => r.receiver === "ticket" && r.body.includes(alert));
        await waitFor("the no-file_sd-targets ticket", async () => ticketFor("RE_Observe_No_FileSd_Targets"), 60000);
        check("the no-file_sd-targets alert fires while the bucket is empty", true, "ticket received");

        // 10. A page sent by every Prometheus (here: to every Alertmanager) arrives once.
        const pageOnce = async (alert: string, members: number[]) => {
            const sent = now();
            const body = JSON.stringify([{
                labels: { alertname: alert, severity: "page", stack },
                annotations: { summary: `${alert} rehearsal page`, runbook_url: "https://runbooks.invalid/#rehearsal" },
                startsAt: new Date().toISOString(),
            }]);
            for (const i of members) {
                for (let copy = 0; copy < 3; copy++) {
                    await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/api/v2/alerts", method: "POST", headers: { "content-type": "application/json" }, body });
                }
            }
            const pages = () => received.filter((r) => r.receiver === "pagerduty" && r.body.includes(alert));
            await waitFor(`page ${alert}`, async () => pages()[0], 20000);
            const latency = (pages()[0].at - sent) / 1000;
            await sleep(8000);
            return { count: pages().length, latency };
        };
        const page = await pageOnce("RehearsalPage", NODES);
        figures.pageDeliverySeconds = Number(page.latency.toFixed(2));
        check("a page sent to all three Alertmanagers arrives once", page.count === 1, `${page.count} notification(s), ${page.latency.toFixed(1)} s`);

        // 11. The targets path through the generated sync.
        const targetFile = path.join(work, "rehearsal-app.json");
        fs.writeFileSync(targetFile, JSON.stringify([{ targets: [`${ADDRESSES.targetApp}:${targetPort}`], labels: { app: "rehearsal" } }]));
        const put = now();
        const copy = await aws(["s3", "cp", targetFile, `s3://${bucket}/rehearsal-app.json`]);
        if (copy.status !== 0) {
            throw new Error(`aws s3 cp to the local bucket failed: ${copy.stderr}`);
        }
        const activeTarget = async () => {
            const targets = JSON.parse((await request({ host: ADDRESSES.prometheus(1), port: 9090, path: "/api/v1/targets?state=active" })).body);
            return (targets.data.activeTargets as { labels: Record<string, string>; health: string }[]).find((t) => t.labels.app === "rehearsal");
        };
        await waitFor("the new target to be scraped", async () => (await activeTarget())?.health === "up" || undefined, 60000);
        figures.targetDiscoverySeconds = Number(((now() - put) / 1000).toFixed(2));
        check("a target put into the bucket is scraped within 60 s", figures.targetDiscoverySeconds < 60, `${figures.targetDiscoverySeconds} s`);
        const removed = now();
        await aws(["s3", "rm", `s3://${bucket}/rehearsal-app.json`]);
        await waitFor("the removed target to disappear", async () => (await activeTarget()) === undefined || undefined, 60000);
        figures.targetRemovalSeconds = Number(((now() - removed) / 1000).toFixed(2));
        check("removing the target file removes the target", true, `${figures.targetRemovalSeconds} s`);

        // 12. The ingress.
        const get = (from: string, headers: Record<string, string> = {}, urlPath = "/api/v1/status/buildinfo", method = "GET") =>
            request({ host: ADDRESSES.nginx, port: NGINX_PORT, path: urlPath, localAddress: from, headers, method });
        const basic = { authorization: `Basic ${Buffer.from(`${env.ingress.basicAuthUser}:${password}`).toString("base64")}` };
        const ingress: [string, Promise<{ status: number }>, number][] = [
            ["office address, no credentials", get(ADDRESSES.officeClient), 200],
            ["other address, no credentials", get(ADDRESSES.outsider), 401],
            ["other address, basic auth", get(ADDRESSES.outsider, basic), 200],
            ["other address, wrong password", get(ADDRESSES.outsider, { authorization: `Basic ${Buffer.from("grafana:wrong").toString("base64")}` }), 401],
            ["other address forging X-Forwarded-For: office", get(ADDRESSES.outsider, { "x-forwarded-for": ADDRESSES.officeClient }), 401],
            ["the ALB forwarding an office client", get(ADDRESSES.albClient, { "x-forwarded-for": ADDRESSES.officeClient }), 200],
            ["the ALB forwarding an office address forged before another client", get(ADDRESSES.albClient, { "x-forwarded-for": `${ADDRESSES.officeClient}, ${ADDRESSES.outsider}` }), 401],
            ["the ALB's health check", get(ADDRESSES.albClient, {}, "/health"), 200],
            ["a health check from elsewhere", get(ADDRESSES.outsider, {}, "/health"), 403],
            ["office address, POST /-/quit", get(ADDRESSES.officeClient, {}, "/-/quit", "POST"), 403],
            ["office address, POST /-/reload", get(ADDRESSES.officeClient, {}, "/-/reload", "POST"), 403],
            ["other address with basic auth, POST /-/reload", get(ADDRESSES.outsider, basic, "/-/reload", "POST"), 403],
            ["office address, admin API", get(ADDRESSES.officeClient, {}, "/api/v1/admin/tsdb/snapshot", "POST"), 403],
        ];
        for (const [what, response, expected] of ingress) {
            const { status } = await response;
            check(`ingress: ${what} gets ${expected}`, status === expected, `got ${status}`);
        }
        // Even on the node, Prometheus has no lifecycle API to quit through: it reloads by SIGHUP.
        const quit = await request({ host: ADDRESSES.prometheus(1), port: 9090, path: "/-/quit", method: "POST" });
        const stillUp = await request({ host: ADDRESSES.prometheus(1), port: 9090, path: "/-/healthy" });
        check("Prometheus refuses /-/quit itself and keeps running", quit.status !== 200 && stillUp.status === 200, `quit answered ${quit.status}`);

        // 13. Failures: one Alertmanager gone, then Prometheus servers gone.
        processes.kill("alertmanager-3");
        const afterKill = await pageOnce("RehearsalPageOneAlertmanagerDown", [1, 2]);
        check("with one Alertmanager killed, a page still arrives once", afterKill.count === 1, `${afterKill.count} notification(s)`);

        const belowThreshold = () => received.filter((r) => r.receiver === "pagerduty" && r.body.includes("RE_Observe_Prometheus_Below_Threshold"));
        processes.kill("prom-3");
        const killedOne = now();
        await sleep(durationMs("5m") / FACTOR + 8000);
        const beatsAfterOne = heartbeats().filter((r) => r.at > killedOne).length;
        check("with one Prometheus killed the others still alert, and two of three is not below threshold",
            beatsAfterOne > 0 && belowThreshold().length === 0, `${beatsAfterOne} heartbeats since, ${belowThreshold().length} below-threshold pages`);
        processes.kill("prom-2");
        const killedTwo = now();
        await waitFor("the Prometheus below-threshold page", async () => belowThreshold()[0], 60000);
        figures.belowThresholdPageSeconds = Number(((belowThreshold()[0].at - killedTwo) / 1000).toFixed(2));
        check("with two Prometheus killed the last one pages Prometheus below threshold", true, `${figures.belowThresholdPageSeconds} s after the second kill`);
    } catch (err) {
        check("the rehearsal ran to its end", false, (err as Error).message);
    } finally {
        syncLoops.forEach(clearInterval);
        // A sync still running (its aws and rsync too) is stopped with its process group.
        syncRuns.forEach((child) => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ } });
        processes.stopAll();
        await s3?.close().catch(() => undefined);
        servers.forEach((s) => s.close());
        if (!keep) {
            fs.rmSync(work, { recursive: true, force: true });
        } else {
            figures.workDir = work;
        }
    }
    return { stack, factor: FACTOR, checks, figures, ok: checks.every((c) => c.ok) };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { stack: { type: "string" }, json: { type: "boolean", default: false }, keep: { type: "boolean", default: false } } });
    if (!values.stack) {
        throw new Error("usage: npm run rehearse -- --stack <dev|staging> [--json] [--keep]");
    }
    stopAllOnSignals();
    const started = now();
    const report = await rehearse(values.stack, values.keep);
    report.figures.totalSeconds = Number(((now() - started) / 1000).toFixed(1));
    printReport(`Rehearsal of stack ${report.stack} on loopback; intervals and for: durations divided by ${report.factor}`, report, values.json ?? false);
    process.exit(report.ok ? 0 : 1);
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`rehearsal failed: ${err.message}`);
        process.exit(1);
    });
}
