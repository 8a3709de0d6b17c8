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
import { S3Client } from "@aws-sdk/client-s3";
import { NodeConfigSource } from "../components/nodeConfigBucket";
import { MESH_TIMING, renderEntrypoint } from "../components/render/alertmanagerTask";
import { ALERT_RESEND_DELAY, CONFIG_SYNC_SCRIPT } from "../components/render/cloudInit";
import { NGINX_DEFAULTS } from "../components/render/nginxConfig";
import { NODE_PATHS, S3_ENDPOINT_OVERRIDE } from "../components/render/nodeScripts";
import { tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { tenantRegions } from "../infra/tenants";
import { previewValue } from "../scripts/lib/offline";
import { describeRollout } from "../scripts/lib/rollout";
import { runStackOffline } from "../scripts/lib/stackRun";
import { previewNodeConfigSources, writeRendered } from "../scripts/lib/plan";
import { checkDashboardQueries } from "./dashboards";
import { rehearseDiscoveryStaleness } from "./discovery";
import { appliedRevision, ChangeContext, ConfigSyncRun, LoopbackNode, Received, rehearseAlertmanagerRollout, rehearseInvalidRules, rehearseRotation, rehearseRuleChange } from "./changes";
import { loopbackSets, publishSets } from "./lib/configBucket";
import { basicAuthHeader, htpasswdOf } from "./lib/credentials";
import { listen } from "./lib/net";
import { INSTALL_HINT, Processes, resolveCommand, stopAllOnSignals } from "./lib/processes";
import { printReport } from "./lib/report";
import { now, request, sleep, waitFor } from "./lib/wait";
import { remapAlertmanagerConfig, remapBlackboxConfig, remapNginxPaths, replaceAll, scaleDuration } from "./lib/remap";
import { rehearseEndpointDown } from "./probes";
import { BLACKBOX_CONFIG_FILE } from "../components/render/blackbox";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, MESH_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { durationMs } from "../components/duration";
import { grafanaScrapeName, publicUrls } from "../infra/rendering";

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

    const rehearsalStart = Math.floor(Date.now() / 1000);
    try {
        // 0. Every binary it runs, before anything starts.
        const missing = [path.join(TOOLS, "prometheus"), path.join(TOOLS, "promtool"), path.join(TOOLS, "prometheus-alertmanager"),
            path.join(TOOLS, "prometheus-node-exporter"), "prometheus-blackbox-exporter", "nginx", "aws", "rsync", "wget"]
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
        const written = await writeRendered(platform, rendered, run.placeholderSecrets);
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
        const configBucket = await previewValue(platform.nodeConfig.bucketName);
        if (!configBucket) {
            throw new Error("the config bucket's name is not known in a preview");
        }
        const s3Server = new S3rver({ address: ADDRESSES.s3, port: 0, silent: true, directory: path.join(work, "s3"),
            configureBuckets: [{ name: bucket }, { name: configBucket }] });
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
        // The ALB is not here: prom-1's nginx stands for prom-1's public URL; office-only URLs are not probed.
        const probeUrl = `http://${ADDRESSES.nginx}:${NGINX_PORT}/`;
        const probeUrls = { [publicUrls(env)[0].url]: probeUrl };
        // Grafana does not run here (Debian has no package of it): the target app stands in for its metrics.
        const dnsTargets = {
            [platform.alertmanagers.peerName]: alertmanagerTargets,
            [grafanaScrapeName(env)]: [`${ADDRESSES.targetApp}:${targetPort}`],
        };
        // A task's storage is ephemeral: each start of a member gets a new, empty directory.
        const starts = new Map<number, number>();
        const startAlertmanager = async (i: number, config: string) => {
            starts.set(i, (starts.get(i) ?? 0) + 1);
            const dir = path.join(work, `alertmanager-${i}`, `task-${starts.get(i)}`);
            fs.mkdirSync(dir, { recursive: true });
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
                    ALERTMANAGER_CONFIG: config,
                    ECS_CONTAINER_METADATA_URI_V4: `http://${ADDRESSES.recorder}:${recorderPort}/metadata/${i}`,
                },
                address: { host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT },
            });
        };
        for (const i of NODES) {
            await startAlertmanager(i, alertmanagerConfig);
        }

        // 5. Three Prometheus nodes, configured as a node is: the program's configuration sets,
        //    remapped, go into the config bucket; the generated script fetches, checks and applies
        //    them, once before Prometheus starts (as the bootstrap does) and then on a loop
        //    standing for its timer. node_exporter reports what the script applied.
        const addresses = Object.fromEntries(env.zones.map((z) => [z.prometheusPrivateIp, ADDRESSES.prometheus(z.index)]));
        const password = crypto.randomBytes(18).toString("base64url");
        const credential = { user: env.ingress.basicAuthUsers[0], password };
        const nginxDir = path.join(work, "nginx");
        fs.mkdirSync(nginxDir, { mode: 0o755 });
        const nodes: LoopbackNode[] = NODES.map((i) => {
            const dir = path.join(work, `prom-${i}`);
            const node = { name: `prom-${i}`, index: i, host: ADDRESSES.prometheus(i), dir, rulesDir: path.join(dir, "rules"), targetsDir: path.join(dir, "targets"),
                textfileDir: path.join(dir, "textfile"), htpasswdFile: i === 1 ? path.join(nginxDir, "htpasswd") : path.join(dir, "htpasswd") };
            [node.rulesDir, node.targetsDir, node.textfileDir].forEach((d) => fs.mkdirSync(d, { recursive: true }));
            return node;
        });
        const configSources = (await previewNodeConfigSources(platform)).map((source) => ({ ...source, htpasswd: htpasswdOf([credential]) }));
        const s3Client = new S3Client({ endpoint: s3Endpoint, region: env.region, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
        const publish = async (sources: NodeConfigSource[]) => {
            const sets = loopbackSets(sources, (name) => {
                const node = nodes.find((n) => n.name === name)!;
                return { factor: FACTOR, addresses, alertmanagers: alertmanagerTargets, dnsTargets, probeUrls, rulesDir: node.rulesDir, targetsDir: node.targetsDir };
            });
            await publishSets(s3Client, configBucket, sets);
            return sets.revision;
        };
        await publish(configSources);
        const configSyncRuns = new Map<string, ConfigSyncRun[]>();
        const runConfigSync = (node: LoopbackNode) => new Promise<number | null>((resolve) => {
            const record: ConfigSyncRun = { started: now() };
            configSyncRuns.set(node.name, [...(configSyncRuns.get(node.name) ?? []), record]);
            const child = spawn("bash", [path.join(node.dir, "config-sync.sh")], { env: { ...process.env, ...awsEnv, [S3_ENDPOINT_OVERRIDE]: s3Endpoint },
                stdio: ["ignore", "ignore", fs.openSync(path.join(logs, `${node.name}-config-sync.log`), "a")], detached: true });
            syncRuns.add(child);
            child.on("exit", (code) => {
                syncRuns.delete(child);
                Object.assign(record, { ended: now(), appliedRevision: appliedRevision(node) });
                resolve(code);
            });
        });
        const everyInterval = (seconds: number, run: () => Promise<unknown>) => {
            let busy = false;
            syncLoops.push(setInterval(() => {
                if (!busy) {
                    busy = true;
                    run().finally(() => { busy = false; });
                }
            }, Math.round(seconds * 1000 / FACTOR)));
        };
        for (const node of nodes) {
            const pidFile = path.join(node.dir, "prometheus.pid");
            const configSync = replaceAll(read(node.name, `usr/local/sbin/${CONFIG_SYNC_SCRIPT}`), [
                [NODE_PATHS.configStateDir, path.join(node.dir, "config-state")],
                [NODE_PATHS.textfileDir, node.textfileDir],
                [`${NODE_PATHS.binDir}/promtool`, path.join(TOOLS, "promtool")],
                [`${NODE_PATHS.configDir}/prometheus.yml`, path.join(node.dir, "prometheus.yml")],
                [NODE_PATHS.rulesDir, node.rulesDir],
                [NGINX_DEFAULTS.htpasswdFile, node.htpasswdFile],
                [`http://127.0.0.1:${PROMETHEUS_PORT}`, `http://${node.host}:${PROMETHEUS_PORT}`],
                // systemd's part: the unit's ExecReload is a SIGHUP to the main process.
                ["systemctl is-active --quiet prometheus.service", `kill -0 "$(cat ${pidFile} 2>/dev/null)" 2>/dev/null`],
                ["systemctl reload prometheus.service", `kill -HUP "$(cat ${pidFile})"`],
                ...(process.getuid?.() === 0 ? [] : [["-o root -g \"$htpasswd_group\" ", ""] as [string, string]]),
            ]);
            fs.writeFileSync(path.join(node.dir, "config-sync.sh"), configSync, { mode: 0o755 });
            const first = await runConfigSync(node);
            if (first !== 0) {
                throw new Error(`${node.name}: the first configuration sync failed:\n${fs.readFileSync(path.join(logs, `${node.name}-config-sync.log`), "utf8")}`);
            }

            const unit = replaceAll(read(node.name, "etc/systemd/system/prometheus.service"), [
                ["/etc/prometheus/prometheus.yml", path.join(node.dir, "prometheus.yml")],
                ["/mnt/prometheus", path.join(node.dir, "data")],
                [`0.0.0.0:${PROMETHEUS_PORT}`, `${node.host}:${PROMETHEUS_PORT}`],
                ["/usr/local/bin/prometheus", path.join(TOOLS, "prometheus")],
                [`--rules.alert.resend-delay=${ALERT_RESEND_DELAY}`, `--rules.alert.resend-delay=${scaleDuration(ALERT_RESEND_DELAY, FACTOR)}`],
            ]);
            const execStart = /^ExecStart=([\s\S]*?)\n(?=\S)/m.exec(unit)![1].replace(/\\\n\s*/g, " ").trim().split(/\s+/);
            await processes.start(node.name, execStart[0], execStart.slice(1), { address: { host: node.host, port: PROMETHEUS_PORT } });
            fs.writeFileSync(pidFile, String(processes.pid(node.name)));
            const exporterUnit = replaceAll(read(node.name, "etc/systemd/system/node_exporter.service"), [
                ["/usr/local/bin/node_exporter", path.join(TOOLS, "prometheus-node-exporter")],
                [`0.0.0.0:${NODE_EXPORTER_PORT}`, `${node.host}:${NODE_EXPORTER_PORT}`],
                [NODE_PATHS.textfileDir, node.textfileDir],
            ]);
            const exporterStart = /^ExecStart=(.*)$/m.exec(exporterUnit)![1].trim().split(/\s+/);
            await processes.start(`${node.name}-node-exporter`, exporterStart[0], exporterStart.slice(1), { address: { host: node.host, port: NODE_EXPORTER_PORT } });
            const blackboxConfig = path.join(node.dir, "blackbox.yml");
            fs.writeFileSync(blackboxConfig, remapBlackboxConfig(read(node.name, BLACKBOX_CONFIG_FILE.slice(1))));
            await processes.start(`${node.name}-blackbox-exporter`, "prometheus-blackbox-exporter",
                // Scaled, a scrape times out after 0.5 s: the exporter's default 0.5 s offset would leave the probe none.
                [`--config.file=${blackboxConfig}`, `--web.listen-address=${node.host}:${BLACKBOX_PORT}`, "--timeout-offset=0.1"],
                { address: { host: node.host, port: BLACKBOX_PORT } });
            everyInterval(env.prometheus.configSyncIntervalSeconds, () => runConfigSync(node));

            // The generated targets sync, on a loop standing for its timer.
            const sync = replaceAll(read(node.name, "usr/local/sbin/sync-prometheus-targets.sh"), [
                ["/etc/prometheus/targets", node.targetsDir],
                ["/var/lib/prometheus-targets", path.join(node.dir, "targets-staging")],
                [NODE_PATHS.textfileDir, node.textfileDir],
            ]);
            const syncScript = path.join(node.dir, "sync.sh");
            fs.writeFileSync(syncScript, sync, { mode: 0o755 });
            everyInterval(env.targets.syncIntervalSeconds, () => new Promise<void>((resolve) => {
                const child = spawn("bash", [syncScript], { env: { ...process.env, ...awsEnv, [S3_ENDPOINT_OVERRIDE]: s3Endpoint }, stdio: "ignore", detached: true });
                syncRuns.add(child);
                child.on("exit", () => { syncRuns.delete(child); resolve(); });
            }));
        }

        // 6. nginx with the generated auth-proxy: office = 127.0.4.0/24, the ALB = 127.0.5.0/24; its
        //    htpasswd is prom-1's, applied by the configuration sync.
        const nginxConf = remapNginxPaths(replaceAll(read("prom-1", "etc/nginx/nginx.conf"), [
            ...env.officeCidrs.map((c): [string, string] => [` ${c};`, ` ${ADDRESSES.officeCidr};`]),
            ...env.zones.map((z): [string, string] => [` ${z.publicSubnetCidr};`, ` ${ADDRESSES.albCidr};`]),
            ["listen 80 default_server;", `listen ${ADDRESSES.nginx}:${NGINX_PORT} default_server;`],
            ["listen 127.0.0.1:8080;", `listen ${ADDRESSES.nginx}:${PAAS_PROXY_PORT};`],
            [`http://127.0.0.1:${PROMETHEUS_PORT}`, `http://${ADDRESSES.prometheus(1)}:${PROMETHEUS_PORT}`],
        ]), nginxDir, process.getuid?.() === 0);
        fs.writeFileSync(path.join(nginxDir, "nginx.conf"), nginxConf, { mode: 0o644 });
        const startNginx = () => processes.start("nginx", "nginx", ["-p", nginxDir, "-e", path.join(nginxDir, "error.log"), "-c", path.join(nginxDir, "nginx.conf"), "-g", "daemon off;"],
            { address: { host: ADDRESSES.nginx, port: NGINX_PORT } });
        await startNginx();

        // 7. Wait for everything, and for the mesh to form.
        const started = now();
        for (const i of NODES) {
            await waitFor(`alertmanager-${i} ready`, async () => (await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/-/ready" })).status === 200 || undefined, 30000)
                .catch((err) => { throw new Error(`${err.message}\n${processes.log(`alertmanager-${i}`)}`); });
            await waitFor(`prom-${i} ready`, async () => (await request({ host: ADDRESSES.prometheus(i), port: PROMETHEUS_PORT, path: "/-/ready" })).status === 200 || undefined, 30000)
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
            const targets = JSON.parse((await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/api/v1/targets?state=active" })).body);
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

        // 11b. Tenants: a tenant's target carries its name, whatever its file claims; its alert
        //      reaches its own receiver once and no one else's.
        for (const tenant of platform.tenants.slice(0, 1)) {
            const prefix = tenantTargetsPrefix(tenant.name, tenantRegions(tenant, env)[0]);
            const forged = path.join(work, "tenant-app.json");
            fs.writeFileSync(forged, JSON.stringify([{ targets: [`${ADDRESSES.targetApp}:${targetPort}`], labels: { app: "tenant-app", tenant: "someone-else" } }]));
            const put = await aws(["s3", "cp", forged, `s3://${bucket}/${prefix}/app.json`]);
            if (put.status !== 0) {
                throw new Error(`aws s3 cp to the tenant's prefix failed: ${put.stderr}`);
            }
            const scraped = await waitFor("the tenant's target to be scraped", async () => {
                const targets = JSON.parse((await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/api/v1/targets?state=active" })).body);
                const found = (targets.data.activeTargets as { labels: Record<string, string>; health: string }[]).find((t) => t.labels.app === "tenant-app");
                return found?.health === "up" ? found : undefined;
            }, 60000);
            check(`a target under ${prefix}/ is scraped with tenant="${tenant.name}", not the tenant label its file forges`,
                scraped.labels.tenant === tenant.name, `job ${scraped.labels.job}, tenant ${scraped.labels.tenant}`);
            const stale = await waitFor("the tenant prefix's newest file in node_exporter", async () => {
                const metrics = (await request({ host: ADDRESSES.prometheus(1), port: NODE_EXPORTER_PORT, path: "/metrics" })).body;
                return new RegExp(`^platform_targets_newest_file_timestamp_seconds\\{prefix="${prefix}"\\} (\\S+)$`, "m").exec(metrics)?.[1];
            }, 30000);
            check(`node_exporter reports when the newest target file under ${prefix} was written`, Math.abs(Number(stale) - Date.now() / 1000) < 300,
                `${new Date(Number(stale) * 1000).toISOString()}`);
            await aws(["s3", "rm", `s3://${bucket}/${prefix}/app.json`]);

            const pageReceiver = `tenant-${tenant.name}-${tenant.routing.page.receiver}`;
            const alert = "RehearsalTenantPage";
            const body = JSON.stringify([{ labels: { alertname: alert, severity: tenant.routing.page.severities[0], tenant: tenant.name },
                annotations: { summary: "tenant rehearsal page" }, startsAt: new Date().toISOString() }]);
            for (const i of NODES) {
                await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/api/v2/alerts", method: "POST", headers: { "content-type": "application/json" }, body });
            }
            await waitFor("the tenant's page", async () => received.find((r) => r.body.includes(alert)), 20000);
            await sleep(8000);
            const got = received.filter((r) => r.body.includes(alert)).map((r) => r.receiver);
            check(`a tenant alert reaches ${pageReceiver} once and no other receiver`, got.length === 1 && got[0] === pageReceiver, got.join(", "));
        }

        // 11c. Discovery: a region that never succeeded is a ticket; its first success resolves it.
        if (env.discovery.enabled) {
            await rehearseDiscoveryStaleness({
                bucket, s3: s3Client, regions: env.discovery.regions, namespaces: env.discovery.cloudMapNamespaces,
                nodeExporter: { host: ADDRESSES.prometheus(1), port: NODE_EXPORTER_PORT }, received, check, figures,
            });
        }

        // 12. The ingress.
        const get = (from: string, headers: Record<string, string> = {}, urlPath = "/api/v1/status/buildinfo", method = "GET") =>
            request({ host: ADDRESSES.nginx, port: NGINX_PORT, path: urlPath, localAddress: from, headers, method });
        const basic = { authorization: basicAuthHeader(credential) };
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
        const quit = await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/-/quit", method: "POST" });
        const stillUp = await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/-/healthy" });
        check("Prometheus refuses /-/quit itself and keeps running", quit.status !== 200 && stillUp.status === 200, `quit answered ${quit.status}`);

        // 13. Changes to the running platform: a rule, an invalid rule set, a password rotation,
        //     then a new Alertmanager configuration as the next `pulumi up` would bring it.
        const changes: ChangeContext = {
            nodes, sources: configSources, publish, received, check, figures,
            configSyncRuns: (node) => configSyncRuns.get(node.name) ?? [],
            configSyncMs: env.prometheus.configSyncIntervalSeconds * 1000 / FACTOR,
            scrapeMs: durationMs(env.prometheus.scrapeInterval) / FACTOR,
            throughNginx: async (authorization) => (await get(ADDRESSES.outsider, authorization ? { authorization } : {})).status,
        };
        await rehearseRuleChange(changes);
        await rehearseInvalidRules(changes);
        await rehearseRotation(changes, credential);

        const rotatedKey = crypto.randomBytes(16).toString("hex");
        const next = await runStackOffline(stack, { config: { [`${run.project}:pagerdutyRoutingKey`]: rotatedKey } });
        const nextWritten = await writeRendered(next.platform!, path.join(work, "rendered-next"), next.run.placeholderSecrets);
        const planned = describeRollout(written.rollout, nextWritten.rollout);
        check("the plan of the change says which members it restarts, in order, and that nothing else restarts",
            planned.length === 1 && planned[0].startsWith(`alertmanager.yml changed: restarts alertmanager-1, then alertmanager-2, then alertmanager-3`), planned.join("; "));
        await rehearseAlertmanagerRollout({
            order: nextWritten.rollout.alertmanager.order.map((member) => Number(member.split("-").pop())),
            host: ADDRESSES.alertmanager,
            config: remapAlertmanagerConfig((await previewValue(next.platform!.alertmanagerConfig))!, FACTOR, `http://${ADDRESSES.recorder}:${recorderPort}`),
            marker: rotatedKey,
            stop: async (member) => { await processes.stop(`alertmanager-${member}`); },
            start: startAlertmanager,
            resendMs: durationMs(ALERT_RESEND_DELAY) / FACTOR,
            received, check, figures,
        });

        // 13b. Every dashboard query, over everything the rehearsal has run so far.
        await checkDashboardQueries({
            prometheus: { host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT },
            since: rehearsalStart,
            rateInterval: `${4 * durationMs(env.prometheus.scrapeInterval) / FACTOR}ms`,
            dataDir: path.join(nodes[0].dir, "data"),
            check, figures,
        });

        // 13c. The outside-in probe of the ingress (prom-1's nginx stands for prom-1's URL).
        await rehearseEndpointDown({
            prometheus: { host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT },
            url: probeUrl, exporters: NODES.length,
            stopIngress: async () => { await processes.stop("nginx"); }, startIngress: startNginx,
            received, check, figures,
        });

        // 14. Failures: one Alertmanager gone, then Prometheus servers gone.
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
