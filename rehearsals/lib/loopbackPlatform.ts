// The loopback rehearsal's one shared setup: what a stack renders, started on the real binaries
// on loopback (a recorder for every receiver, s3rver for the buckets, three Alertmanagers, three
// Prometheus nodes per shard fed by the generated syncs, nginx; on demand a Prometheus receiving
// the remote writes as AMP would), for the scenarios to run against.
//
// Addresses, ports and paths are remapped to loopback and a temp dir, and every interval and
// `for:` is divided by FACTOR so a run takes minutes, not hours.
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { S3Client } from "@aws-sdk/client-s3";
import { durationMs } from "../../components/duration";
import { NodeConfigSource } from "../../components/nodeConfigBucket";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, MESH_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../../components/ports";
import { MESH_TIMING, renderEntrypoint } from "../../components/render/alertmanagerTask";
import { BLACKBOX_CONFIG_FILE } from "../../components/render/blackbox";
import { ALERT_RESEND_DELAY, CONFIG_SYNC_SCRIPT } from "../../components/render/cloudInit";
import { NGINX_DEFAULTS } from "../../components/render/nginxConfig";
import { NODE_PATHS, S3_ENDPOINT_OVERRIDE } from "../../components/render/nodeScripts";
import { LoadedEnvironment } from "../../infra/environment";
import { Platform } from "../../infra/platform";
import { grafanaScrapeName, publicUrls } from "../../infra/rendering";
import { ProgramRun, previewValue } from "../../scripts/lib/offline";
import { previewNodeConfigSources, RenderedNode, writeRendered } from "../../scripts/lib/plan";
import { RolloutFacts } from "../../scripts/lib/rollout";
import { runStackOffline } from "../../scripts/lib/stackRun";
import { appliedRevision, ConfigSyncRun, LoopbackNode, Received } from "../changes";
import { loopbackSets, publishSets } from "./configBucket";
import { Credential, htpasswdOf } from "./credentials";
import { RehearsalSource } from "./fixtures";
import { listen } from "./net";
import { INSTALL_HINT, Processes, resolveCommand } from "./processes";
import { remapAlertmanagerConfig, remapBlackboxConfig, remapNginxPaths, replaceAll, scaleDuration } from "./remap";
import { RemoteWriteStandIn } from "./remoteWriteReceiver";
import { RehearsalCheck } from "./report";
import { Teardown } from "./teardown";
import { now, request, sleep, waitFor } from "./wait";

export const FACTOR = 20;
/**
 * The syncs' timers are divided less than the rest: each run starts the awscli (about half a CPU
 * second), and two loops per node at a twentieth of 30 s kept a 2-core machine busy with syncs
 * alone, which delayed the Alertmanagers' gossip past their scaled peer timeout. Shard 1's run at a
 * tenth (3 s), the further shards' at a fifth (6 s); the scenarios wait for sync runs, not a time.
 */
const SYNC_TIMER_FACTOR = FACTOR / 2;
const FURTHER_SHARD_SYNC_TIMER_FACTOR = FACTOR / 4;
const TOOLS = path.resolve(__dirname, "..", "..", "tools", "debian", "usr", "bin");
export const NODES = [1, 2, 3];
export const ADDRESSES = {
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
    managedPrometheus: "127.0.10.1",
    /** The real Prometheus receiving what the stand-in accepts: the global view across shards. */
    globalView: "127.0.10.2",
};
export const NGINX_PORT = 18080;
const PAAS_PROXY_PORT = 18081;

/** The report a run writes: every check with what it observed, and the measured figures. */
export interface Report {
    readonly checks: RehearsalCheck[];
    readonly figures: Record<string, number | string>;
    check(name: string, ok: boolean, detail: string): void;
}

/** The running platform, as every scenario sees it. */
export interface Loopback extends Report {
    readonly stack: string;
    readonly work: string;
    /** The stand-in for the stack's AMP workspace, which every node remote-writes to. */
    readonly managedPrometheus: RemoteWriteStandIn;
    /**
     * Starts a Prometheus with its remote-write receiver, AMP's query side, and has the stand-in
     * hand it every write it accepts from then on; stopped (and the stand-in answering alone) by the returned stop.
     */
    startGlobalView(): Promise<{ host: string; port: number; stop: () => void }>;
    /** The environment and tenants rendered: the stack's, with fixtures where it lacks a prerequisite. */
    readonly source: RehearsalSource;
    readonly run: ProgramRun;
    readonly platform: Platform;
    readonly env: LoadedEnvironment;
    readonly written: { nodes: RenderedNode[]; rollout: RolloutFacts };
    readonly processes: Processes;
    /** Every notification the recorder received, in order. */
    readonly received: Received[];
    readonly recorderUrl: string;
    /** host:port of a scrape target that answers one metric. */
    readonly targetApp: string;
    readonly targetsBucket: string;
    readonly s3Client: S3Client;
    /** Runs the awscli against the local S3 (asynchronous: s3rver answers from this process). */
    aws(args: string[]): Promise<{ status: number | null; stderr: string }>;
    /** Shard 1's three nodes: the platform's own jobs and rules. */
    readonly nodes: LoopbackNode[];
    /** The nodes of the further shards, which scrape their tenants only. */
    readonly shardNodes: LoopbackNode[];
    /** What the nodes' configuration sets are rendered from now. */
    readonly configSources: NodeConfigSource[];
    /** Renders, remaps and uploads the sets (MANIFEST last); gives the revision. */
    publish(sources: NodeConfigSource[]): Promise<string>;
    configSyncRuns(node: LoopbackNode): ConfigSyncRun[];
    startAlertmanager(member: number, config: string): Promise<void>;
    startNginx(): Promise<void>;
    /** The basic-auth credential the nodes' htpasswd holds. */
    readonly credential: Credential;
    /** prom-1's nginx, standing for prom-1's public URL. */
    readonly probeUrl: string;
    /** When the rehearsal began (seconds), and when every process had been started (ms). */
    readonly rehearsalStart: number;
    readonly startedAt: number;
}

export function assertToolsPresent(): void {
    const missing = [path.join(TOOLS, "prometheus"), path.join(TOOLS, "promtool"), path.join(TOOLS, "prometheus-alertmanager"),
        path.join(TOOLS, "prometheus-node-exporter"), "prometheus-blackbox-exporter", "nginx", "aws", "rsync", "wget"]
        .filter((tool) => resolveCommand(tool) === undefined);
    if (missing.length > 0) {
        throw new Error(`missing ${missing.join(", ")}: ${INSTALL_HINT}`);
    }
}

/** An HTTP server on a loopback address, closed at teardown; gives its port. */
async function serve(teardown: Teardown, host: string, handler: http.RequestListener): Promise<number> {
    const server = http.createServer(handler);
    teardown.add(() => server.close());
    return listen(server, host);
}

/** The recorder stands for PagerDuty, the ticket webhook, the heartbeat and Slack, and answers the ECS task metadata endpoint. */
async function startRecorder(teardown: Teardown, received: Received[]): Promise<string> {
    const port = await serve(teardown, ADDRESSES.recorder, (req, res) => {
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
    return `http://${ADDRESSES.recorder}:${port}`;
}

/** s3rver with the two buckets the program named; the awscli environment that reaches it. */
async function startS3(teardown: Teardown, work: string, platform: Platform) {
    const [targetsBucket, configBucket] = await Promise.all([previewValue(platform.targets.bucketName), previewValue(platform.nodeConfig.bucketName)]);
    if (!targetsBucket || !configBucket) {
        throw new Error("the buckets' names are not known in a preview");
    }
    const S3rver = require("s3rver");
    const server = new S3rver({ address: ADDRESSES.s3, port: 0, silent: true, directory: path.join(work, "s3"),
        configureBuckets: [{ name: targetsBucket }, { name: configBucket }] });
    const { port } = await server.run();
    teardown.add(() => server.close());
    const endpoint = `http://${ADDRESSES.s3}:${port}`;
    const awsEnv = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_DEFAULT_REGION: platform.env.region, AWS_EC2_METADATA_DISABLED: "true" };
    const s3Client = new S3Client({ endpoint, region: platform.env.region, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    const aws = (args: string[]) => new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn("aws", ["--endpoint-url", endpoint, ...args], { env: { ...process.env, ...awsEnv }, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk) => { stderr += chunk; });
        child.on("exit", (status) => resolve({ status, stderr }));
    });
    return { targetsBucket, configBucket, endpoint, syncEnv: { ...awsEnv, [S3_ENDPOINT_OVERRIDE]: endpoint }, signingEnv: awsEnv, s3Client, aws };
}

/** alertmanager.yml as the rehearsal runs it: receivers to the recorder, timings scaled, the platform's hours always on. */
export function loopbackAlertmanagerYml(text: string, recorderUrl: string): string {
    return remapAlertmanagerConfig(text, FACTOR, recorderUrl, { platformHoursAlways: true });
}

/** Starts member i by the generated entrypoint; a task's storage is ephemeral, so each start gets a new directory. */
function alertmanagerStarter(work: string, processes: Processes, env: LoadedEnvironment, recorderUrl: string) {
    const starts = new Map<number, number>();
    return async (i: number, config: string) => {
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
            env: { ALERTMANAGER_CONFIG: config, ECS_CONTAINER_METADATA_URI_V4: `${recorderUrl}/metadata/${i}` },
            address: { host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT },
        });
    };
}

/** Runs a script on a loop standing for its systemd timer (its interval divided by `factor`), one run at a time; stopped at teardown. */
function timerLoop(teardown: Teardown, seconds: number, factor: number, run: () => Promise<unknown>): void {
    let busy = false;
    const loop = setInterval(() => {
        if (!busy) {
            busy = true;
            run().finally(() => { busy = false; });
        }
    }, Math.round(seconds * 1000 / factor));
    teardown.add(() => clearInterval(loop));
}

/** Scripts run as their timers would, detached so that teardown can kill a running one with whatever it started. */
class ScriptRunner {
    private readonly running = new Set<ChildProcess>();
    constructor(teardown: Teardown) {
        teardown.add(() => this.running.forEach((child) => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ } }));
    }
    run(script: string, env: NodeJS.ProcessEnv, stderr: "ignore" | number): Promise<number | null> {
        return new Promise((resolve) => {
            const child = spawn("bash", [script], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", stderr], detached: true });
            this.running.add(child);
            child.on("exit", (code) => { this.running.delete(child); resolve(code); });
        });
    }
}

export interface NodeSetup {
    readonly nodes: LoopbackNode[];
    readonly shardNodes: LoopbackNode[];
    readonly configSources: NodeConfigSource[];
    publish(sources: NodeConfigSource[]): Promise<string>;
    configSyncRuns(node: LoopbackNode): ConfigSyncRun[];
    readonly credential: Credential;
    readonly nginxDir: string;
}

/**
 * Every shard's Prometheus nodes configured as a node is: the program's configuration sets, remapped, go
 * into the config bucket; the generated sync fetches, checks and applies them once before
 * Prometheus starts (as the bootstrap does), then on its timer. node_exporter reports what it applied.
 */
async function startNodes(setup: { work: string; logs: string; platform: Platform; rendered: string; processes: Processes; teardown: Teardown;
    s3: Awaited<ReturnType<typeof startS3>>; dnsTargets: Record<string, string[]>; probeUrls: Record<string, string>; remoteWriteUrl: string }): Promise<NodeSetup> {
    const { work, logs, platform, processes, teardown, s3 } = setup;
    const env = platform.env;
    const read = (node: string, file: string) => fs.readFileSync(path.join(setup.rendered, node, "files", file), "utf8");
    const addresses = Object.fromEntries(env.nodes.map((n, i) => [n.privateIp, ADDRESSES.prometheus(i + 1)]));
    const alertmanagerTargets = NODES.map((i) => `${ADDRESSES.alertmanager(i)}:${ALERTMANAGER_PORT}`);
    const credential = { user: env.ingress.basicAuthUsers[0], password: crypto.randomBytes(18).toString("base64url") };
    const nginxDir = path.join(work, "nginx");
    fs.mkdirSync(nginxDir, { mode: 0o755 });
    const nodes: LoopbackNode[] = env.nodes.map((plan, position) => {
        const i = position + 1;
        const dir = path.join(work, plan.name);
        const node = { name: plan.name, index: i, shard: plan.shard, host: ADDRESSES.prometheus(i), dir, rulesDir: path.join(dir, "rules"), targetsDir: path.join(dir, "targets"),
            textfileDir: path.join(dir, "textfile"), htpasswdFile: i === 1 ? path.join(nginxDir, "htpasswd") : path.join(dir, "htpasswd") };
        [node.rulesDir, node.targetsDir, node.textfileDir].forEach((d) => fs.mkdirSync(d, { recursive: true }));
        return node;
    });
    const configSources = (await previewNodeConfigSources(platform)).map((source) => ({ ...source, htpasswd: htpasswdOf([credential]) }));
    const publish = async (sources: NodeConfigSource[]) => {
        const sets = loopbackSets(sources, (name) => {
            const node = nodes.find((n) => n.name === name)!;
            return { factor: FACTOR, addresses, alertmanagers: alertmanagerTargets, dnsTargets: setup.dnsTargets, probeUrls: setup.probeUrls,
                remoteWriteUrl: setup.remoteWriteUrl, rulesDir: node.rulesDir, targetsDir: node.targetsDir };
        });
        await publishSets(s3.s3Client, s3.configBucket, sets);
        return sets.revision;
    };
    await publish(configSources);
    const scripts = new ScriptRunner(teardown);
    const runs = new Map<string, ConfigSyncRun[]>();
    const runConfigSync = async (node: LoopbackNode) => {
        const record: ConfigSyncRun = { started: now() };
        runs.set(node.name, [...(runs.get(node.name) ?? []), record]);
        const code = await scripts.run(path.join(node.dir, "config-sync.sh"), s3.syncEnv, fs.openSync(path.join(logs, `${node.name}-config-sync.log`), "a"));
        Object.assign(record, { ended: now(), appliedRevision: appliedRevision(node) });
        return code;
    };
    for (const node of nodes) {
        const pidFile = path.join(node.dir, "prometheus.pid");
        fs.writeFileSync(path.join(node.dir, "config-sync.sh"), replaceAll(read(node.name, `usr/local/sbin/${CONFIG_SYNC_SCRIPT}`), [
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
        ]), { mode: 0o755 });
        if (await runConfigSync(node) !== 0) {
            throw new Error(`${node.name}: the first configuration sync failed:\n${fs.readFileSync(path.join(logs, `${node.name}-config-sync.log`), "utf8")}`);
        }
        await startNodeServices(node, read, processes, pidFile, s3.signingEnv);
        const timerFactor = node.shard === 1 ? SYNC_TIMER_FACTOR : FURTHER_SHARD_SYNC_TIMER_FACTOR;
        timerLoop(teardown, env.prometheus.configSyncIntervalSeconds, timerFactor, () => runConfigSync(node));
        // The generated targets sync, on a loop standing for its timer.
        const syncScript = path.join(node.dir, "sync.sh");
        fs.writeFileSync(syncScript, replaceAll(read(node.name, "usr/local/sbin/sync-prometheus-targets.sh"), [
            ["/etc/prometheus/targets", node.targetsDir],
            ["/var/lib/prometheus-targets", path.join(node.dir, "targets-staging")],
            [NODE_PATHS.textfileDir, node.textfileDir],
        ]), { mode: 0o755 });
        timerLoop(teardown, env.targets.syncIntervalSeconds, timerFactor, () => scripts.run(syncScript, s3.syncEnv, "ignore"));
    }
    return { nodes: nodes.filter((n) => n.shard === 1), shardNodes: nodes.filter((n) => n.shard !== 1), configSources, publish,
        configSyncRuns: (node) => runs.get(node.name) ?? [], credential, nginxDir };
}

/** A node's Prometheus, node_exporter and blackbox exporter, started from its rendered units. */
async function startNodeServices(node: LoopbackNode, read: (node: string, file: string) => string, processes: Processes, pidFile: string,
    signingEnv: NodeJS.ProcessEnv): Promise<void> {
    const unit = replaceAll(read(node.name, "etc/systemd/system/prometheus.service"), [
        ["/etc/prometheus/prometheus.yml", path.join(node.dir, "prometheus.yml")],
        ["/mnt/prometheus", path.join(node.dir, "data")],
        [`0.0.0.0:${PROMETHEUS_PORT}`, `${node.host}:${PROMETHEUS_PORT}`],
        ["/usr/local/bin/prometheus", path.join(TOOLS, "prometheus")],
        [`--rules.alert.resend-delay=${ALERT_RESEND_DELAY}`, `--rules.alert.resend-delay=${scaleDuration(ALERT_RESEND_DELAY, FACTOR)}`],
    ]);
    const execStart = /^ExecStart=([\s\S]*?)\n(?=\S)/m.exec(unit)![1].replace(/\\\n\s*/g, " ").trim().split(/\s+/);
    // The instance role's credentials, as the SDK in Prometheus finds them: for remote write's SigV4.
    await processes.start(node.name, execStart[0], execStart.slice(1), { env: signingEnv, address: { host: node.host, port: PROMETHEUS_PORT } });
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
}

/** nginx with the generated auth-proxy: office = 127.0.4.0/24, the ALB = 127.0.5.0/24; its htpasswd is prom-1's, applied by the configuration sync. */
function nginxStarter(env: LoadedEnvironment, rendered: string, nginxDir: string, processes: Processes): () => Promise<void> {
    const nginxConf = remapNginxPaths(replaceAll(fs.readFileSync(path.join(rendered, "prom-1", "files", "etc/nginx/nginx.conf"), "utf8"), [
        ...env.officeCidrs.map((c): [string, string] => [` ${c};`, ` ${ADDRESSES.officeCidr};`]),
        ...env.zones.map((z): [string, string] => [` ${z.publicSubnetCidr};`, ` ${ADDRESSES.albCidr};`]),
        ["listen 80 default_server;", `listen ${ADDRESSES.nginx}:${NGINX_PORT} default_server;`],
        ["listen 127.0.0.1:8080;", `listen ${ADDRESSES.nginx}:${PAAS_PROXY_PORT};`],
        [`http://127.0.0.1:${PROMETHEUS_PORT}`, `http://${ADDRESSES.prometheus(1)}:${PROMETHEUS_PORT}`],
    ]), nginxDir, process.getuid?.() === 0);
    fs.writeFileSync(path.join(nginxDir, "nginx.conf"), nginxConf, { mode: 0o644 });
    return async () => {
        await processes.start("nginx", "nginx", ["-p", nginxDir, "-e", path.join(nginxDir, "error.log"), "-c", path.join(nginxDir, "nginx.conf"), "-g", "daemon off;"],
            { address: { host: ADDRESSES.nginx, port: NGINX_PORT } });
    };
}

/** Waits until every Alertmanager and Prometheus answers ready. */
async function waitUntilReady(processes: Processes, nodes: LoopbackNode[]): Promise<void> {
    for (const i of NODES) {
        await waitFor(`alertmanager-${i} ready`, async () => (await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/-/ready" })).status === 200 || undefined, 30000)
            .catch((err) => { throw new Error(`${err.message}\n${processes.log(`alertmanager-${i}`)}`); });
    }
    for (const node of nodes) {
        await waitFor(`${node.name} ready`, async () => (await request({ host: node.host, port: PROMETHEUS_PORT, path: "/-/ready" })).status === 200 || undefined, 30000)
            .catch((err) => { throw new Error(`${err.message}\n${processes.log(node.name)}`); });
    }
}

/** A Prometheus with its remote-write receiver on, standing for AMP's query side, fed by the stand-in while it runs. */
function globalViewStarter(work: string, processes: Processes, standIn: RemoteWriteStandIn) {
    return async () => {
        const dir = path.join(work, "global-view");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "prometheus.yml"), "global: {}\n");
        await processes.start("global-view", path.join(TOOLS, "prometheus"), [
            `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`,
            `--web.listen-address=${ADDRESSES.globalView}:${PROMETHEUS_PORT}`, "--web.enable-remote-write-receiver",
        ], { address: { host: ADDRESSES.globalView, port: PROMETHEUS_PORT } });
        await waitFor("the global view ready", async () => (await request({ host: ADDRESSES.globalView, port: PROMETHEUS_PORT, path: "/-/ready" })).status === 200 || undefined, 30000);
        standIn.passOnTo(`http://${ADDRESSES.globalView}:${PROMETHEUS_PORT}/api/v1/write`);
        return {
            host: ADDRESSES.globalView, port: PROMETHEUS_PORT,
            stop: () => { standIn.passOnTo(undefined); processes.kill("global-view"); },
        };
    };
}

/** Renders the stack as the plan does, remaps it, and starts it all; what it started is stopped by `teardown`. */
export async function startLoopback(stack: string, source: RehearsalSource, work: string, logs: string, processes: Processes, teardown: Teardown, report: Report): Promise<Loopback> {
    const rehearsalStart = Math.floor(Date.now() / 1000);
    assertToolsPresent();
    const { run, platform } = await runStackOffline(stack, { source });
    if (!platform) {
        throw new Error("the program built no platform");
    }
    const env = platform.env;
    const rendered = path.join(work, "rendered");
    const written = await writeRendered(platform, rendered, run.placeholderSecrets);
    const received: Received[] = [];
    const recorderUrl = await startRecorder(teardown, received);
    const targetPort = await serve(teardown, ADDRESSES.targetApp, (_, res) => {
        res.setHeader("content-type", "text/plain; version=0.0.4");
        res.end("rehearsal_target_up 1\n");
    });
    const targetApp = `${ADDRESSES.targetApp}:${targetPort}`;
    const s3 = await startS3(teardown, work, platform);
    const managedPrometheus = new RemoteWriteStandIn(env.region, { [String(s3.signingEnv.AWS_ACCESS_KEY_ID)]: String(s3.signingEnv.AWS_SECRET_ACCESS_KEY) });
    const remoteWriteUrl = await managedPrometheus.start(ADDRESSES.managedPrometheus);
    teardown.add(() => managedPrometheus.stop());

    const alertmanagerConfig = loopbackAlertmanagerYml(fs.readFileSync(path.join(rendered, "alertmanager", "alertmanager.yml"), "utf8"), recorderUrl);
    const startAlertmanager = alertmanagerStarter(work, processes, env, recorderUrl);
    for (const i of NODES) {
        await startAlertmanager(i, alertmanagerConfig);
    }
    // The ALB is not here: prom-1's nginx stands for prom-1's public URL; office-only URLs are not probed.
    const probeUrl = `http://${ADDRESSES.nginx}:${NGINX_PORT}/`;
    // Grafana does not run here (Debian has no package of it): the target app stands in for its metrics.
    const dnsTargets = {
        [platform.alertmanagers.peerName]: NODES.map((i) => `${ADDRESSES.alertmanager(i)}:${ALERTMANAGER_PORT}`),
        [grafanaScrapeName(env)]: [targetApp],
    };
    const nodeSetup = await startNodes({ work, logs, platform, rendered, processes, teardown, s3, dnsTargets, probeUrls: { [publicUrls(env)[0].url]: probeUrl }, remoteWriteUrl });
    const startNginx = nginxStarter(env, rendered, nodeSetup.nginxDir, processes);
    await startNginx();
    const startedAt = now();
    await waitUntilReady(processes, [...nodeSetup.nodes, ...nodeSetup.shardNodes]);
    return {
        ...report, check: report.check,
        stack, source, work, run, platform, env, written, managedPrometheus, startGlobalView: globalViewStarter(work, processes, managedPrometheus), processes, received, recorderUrl, targetApp,
        targetsBucket: s3.targetsBucket, s3Client: s3.s3Client, aws: s3.aws,
        ...nodeSetup, startAlertmanager, startNginx, probeUrl, rehearsalStart, startedAt,
    };
}

/** The notifications the recorder received for one receiver. */
export function receivedBy(lb: Pick<Loopback, "received">, receiver: string): Received[] {
    return lb.received.filter((r) => r.receiver === receiver);
}

/** A request through prom-1's nginx from one of the rehearsal's addresses. */
export function throughNginx(from: string, headers: Record<string, string> = {}, urlPath = "/api/v1/status/buildinfo", method = "GET") {
    return request({ host: ADDRESSES.nginx, port: NGINX_PORT, path: urlPath, localAddress: from, headers, method });
}

/** Sends one page, three times to each of `members` as three Prometheus would, and counts what arrives. */
export async function pageOnce(lb: Loopback, alert: string, members: number[]): Promise<{ count: number; latency: number }> {
    const sent = now();
    const body = JSON.stringify([{
        labels: { alertname: alert, severity: "page", stack: lb.stack },
        annotations: { summary: `${alert} rehearsal page`, runbook_url: "https://runbooks.invalid/#rehearsal" },
        startsAt: new Date().toISOString(),
    }]);
    for (const i of members) {
        for (let copy = 0; copy < 3; copy++) {
            await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/api/v2/alerts", method: "POST", headers: { "content-type": "application/json" }, body });
        }
    }
    const pages = () => receivedBy(lb, "pagerduty").filter((r) => r.body.includes(alert));
    await waitFor(`page ${alert}`, async () => pages()[0], 20000);
    const latency = pages()[0].at - sent;
    await sleep(duplicateWindowMs(latency));
    return { count: pages().length, latency: latency / 1000 };
}

/**
 * How long to keep counting after the first notification of an alert sent to every member: the
 * members after the first flush at group_wait plus their position times peer_timeout, so a
 * duplicate would come at most a few first-delivery times later. Three times the delivery this
 * machine just took, and never less than 8 s: a busy machine widens the window instead of hiding one.
 */
export function duplicateWindowMs(firstDeliveryMs: number): number {
    return Math.max(8000, 3 * firstDeliveryMs);
}

/** The scaled scrape interval, in ms. */
export function scrapeMs(env: LoadedEnvironment): number {
    return durationMs(env.prometheus.scrapeInterval) / FACTOR;
}
