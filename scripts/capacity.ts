// Capacity of one node at steady state, measured on the real Prometheus at the deployed version
// with a node's generated prometheus.yml and rules (remapped as the loopback rehearsal remaps
// them), scraping synthetic targets on loopback. Each load point starts from an empty TSDB and runs
// until the head holds as many samples per series as a node's does at steady state (two hours of
// scrapes: 240 at 30 s), with the scrape interval shortened to one second to get there in minutes;
// meanwhile series churn, the node remote-writes everything to a local stand-in of AMP, and a viewer
// refreshes the platform's dashboards at a team's rate (every 30 s of the node's time). Memory is the
// highest resident size seen over the last quarter of the run. A benchmark, not a test.
//
//   npm run capacity [-- --stack production] [--steps 10000,50000,100000,200000] [--json] [--write]
//
// --write stores the table in infra/capacity.json, the figures the plan sizes stacks with.
// It runs with Node's OpenSSL legacy provider: s3rver signs list continuation tokens (over 1,000
// keys) with DES, which Node 24's OpenSSL keeps there.
import { spawn } from "child_process";
import * as fs from "fs";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { renderAlertRules } from "../components/render/alertRules";
import { loadEnvironment } from "../infra/environment";
import { CAPACITY_FILE, CapacityFigures, CapacityStep, readCapacityFigures } from "../infra/sizing";
import { Processes, INSTALL_HINT, resolveCommand } from "../rehearsals/lib/processes";
import { remapPrometheusConfig, remapRules, replaceAll } from "../rehearsals/lib/remap";
import { prometheusNodeFiles } from "../components/render/cloudInit";
import { now, request, sleep, waitFor } from "../rehearsals/lib/wait";
import { runDiscovery } from "../components/functions/discovery";
import { DISCOVERY_PREFIX, DISCOVERY_STATUS_PREFIX } from "../components/render/prometheusConfig";
import { ecsAccount, memoryS3, unaskedCloudMap } from "../rehearsals/lib/awsStandIns";
import { previewNodeConfigs, previewNodeSpec } from "./lib/plan";
import { CONFIG_FILE } from "../components/render/configSync";
import { NODE_PATHS, S3_ENDPOINT_OVERRIDE } from "../components/render/nodeScripts";
import { runProgram } from "./lib/offline";
import { placeholderSecretOptions } from "./lib/stackRun";
import { createPlatform, Platform } from "../infra/platform";
import { durationMs } from "../components/duration";
import { NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { DASHBOARDS, dashboardQueries, renderDashboard } from "../components/dashboards";
import { RemoteWriteStandIn } from "../rehearsals/lib/remoteWriteReceiver";
import { rangeQuery } from "../rehearsals/lib/prometheusApi";
import { rehearsalQuery } from "../rehearsals/dashboards";

const TOOLS = path.resolve(__dirname, "..", "tools", "debian", "usr", "bin");
const SERIES_PER_TARGET = 2500;
const PROMETHEUS = { host: "127.0.11.1", port: PROMETHEUS_PORT };
const EXPORTER = { host: "127.0.11.2", port: NODE_EXPORTER_PORT };
const RECEIVER_HOST = "127.0.11.4";
/** The scrape interval a load point runs at: the stack's is divided down to this. */
const MEASURED_SCRAPE_SECONDS = 1;
/** What a node's head holds at steady state: two hours of samples (the head's block range). */
const HEAD_SECONDS = 2 * 3600;
/** How often a team's open dashboards refresh, in the node's time. */
const DASHBOARD_REFRESH_SECONDS = 30;
/** Every this many scrapes a tenth of the counters change their pod label: a rolling deploy. */
const CHURN_SCRAPES = 20;
/** The target path runs at the stack's intervals divided by this (a 10 s scrape): 5,000 targets every second would measure the exporter here, not the sync. */
const TARGET_PATH_FACTOR = 3;

/**
 * A target's exposition: counters (a tenth of them with a pod label that churns), a histogram
 * and gauges, SERIES_PER_TARGET series in all, values moving with every scrape.
 */
function exposition(target: number, scrape: number): string {
    const lines: string[] = [];
    const pod = `pod-${target}-${Math.floor(scrape / CHURN_SCRAPES)}`;
    const counters = SERIES_PER_TARGET / 2;
    lines.push("# TYPE app_requests_total counter");
    for (let i = 0; i < counters; i++) {
        const churn = i % 10 === 0 ? `,pod="${pod}"` : "";
        lines.push(`app_requests_total{path="/p${Math.floor(i / 10)}",code="${200 + (i % 5)}",method="m${Math.floor(i / 5) % 2}"${churn}} ${scrape * (i % 7 + 1) + target}`);
    }
    const histogramPaths = Math.floor((SERIES_PER_TARGET * 0.3) / 13);
    const buckets = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"];
    lines.push("# TYPE app_request_duration_seconds histogram");
    for (let p = 0; p < histogramPaths; p++) {
        buckets.forEach((le, b) => lines.push(`app_request_duration_seconds_bucket{path="/h${p}",le="${le}"} ${scrape * (b + 1)}`));
        lines.push(`app_request_duration_seconds_sum{path="/h${p}"} ${scrape * 0.37}`);
        lines.push(`app_request_duration_seconds_count{path="/h${p}"} ${scrape * 11}`);
    }
    const gauges = SERIES_PER_TARGET - counters - histogramPaths * 13;
    lines.push("# TYPE app_queue_depth gauge");
    for (let i = 0; i < gauges; i++) {
        lines.push(`app_queue_depth{queue="q${i}"} ${(scrape * 31 + i * 17) % 1000}`);
    }
    return `${lines.join("\n")}\n`;
}

const SYNC_FILES = 5000;

/** Puts SYNC_FILES target files into a local bucket, runs the node's generated sync, waits for Prometheus to scrape them all. */
async function measureTargetSync(work: string, region: string, spec: Awaited<ReturnType<typeof previewNodeSpec>>, targetsDir: string) {
    const S3rver = require("s3rver");
    const s3rver = new S3rver({ address: "127.0.11.3", port: 0, silent: true, directory: path.join(work, "s3"), configureBuckets: [{ name: spec.targetsBucket }] });
    const { port } = await s3rver.run();
    const endpoint = `http://127.0.11.3:${port}`;
    try {
        const s3 = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
        for (let i = 0; i < SYNC_FILES; i += 50) {
            await Promise.all(Array.from({ length: Math.min(50, SYNC_FILES - i) }, (_, k) => i + k).map((n) => s3.send(new PutObjectCommand({
                Bucket: spec.targetsBucket, Key: `app-${n}.json`, ContentType: "application/json",
                Body: JSON.stringify([{ targets: [`${EXPORTER.host}:${EXPORTER.port}`], labels: { __metrics_path__: `/small/${n}`, app: `app-${n}` } }]),
            }))));
        }
        const sync = prometheusNodeFiles({ ...spec, volumeId: "vol-capacity" }).find((f) => f.path.endsWith("sync-prometheus-targets.sh"))!.content;
        const script = path.join(work, "sync.sh");
        fs.writeFileSync(script, replaceAll(sync, [["/etc/prometheus/targets", targetsDir], ["/var/lib/prometheus-targets", path.join(work, "targets-staging")],
            [NODE_PATHS.textfileDir, path.join(work, "textfile")]]), { mode: 0o755 });
        const started = now();
        let stderr = "";
        const status = await new Promise<number | null>((resolve) => {
            const child = spawn("bash", [script], {
                env: { ...process.env, [S3_ENDPOINT_OVERRIDE]: endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_EC2_METADATA_DISABLED: "true" },
                stdio: ["ignore", "ignore", "pipe"],
            });
            child.stderr.on("data", (chunk) => { stderr += chunk; });
            child.on("exit", resolve);
        });
        const syncSeconds = (now() - started) / 1000;
        if (status !== 0) {
            throw new Error(`the generated sync exited ${status}: ${stderr.slice(-1000)}`);
        }
        const filesInFileSd = fs.readdirSync(targetsDir).filter((f) => f.endsWith(".json")).length;
        const targetsUp = await waitFor(`${SYNC_FILES} targets up`, async () => {
            const up = await scalar('count(up{job="file_sd"} == 1)');
            return up >= SYNC_FILES ? up : undefined;
        }, 300000, 2000).catch(async () => scalar('count(up{job="file_sd"} == 1)'));
        return { files: SYNC_FILES, syncSeconds: Number(syncSeconds.toFixed(1)), filesInFileSd, targetsUp, secondsToAllUp: Number(((now() - started) / 1000).toFixed(1)) };
    } finally {
        await s3rver.close();
    }
}

/** The discovery function over 1,000 tasks in 20 clusters in 3 regions, with paging as ECS pages. */
async function measureDiscovery() {
    const regions = ["eu-west-1", "eu-west-2", "us-east-1"];
    const clusters = [7, 7, 6];
    const accounts = new Map(regions.map((region, i) => [region, ecsAccount(clusters[i], 50, { PROMETHEUS_EXPORTER_PORT: "9102" })]));
    const started = now();
    const results = await runDiscovery({ bucket: "targets", prefix: DISCOVERY_PREFIX, statusPrefix: DISCOVERY_STATUS_PREFIX, regions, namespaces: {} }, {
        ecs: (region) => accounts.get(region)!.client,
        serviceDiscovery: unaskedCloudMap,
        s3: memoryS3().client,
    }, () => undefined);
    return {
        tasks: 1000,
        clusters: 20,
        regions: regions.length,
        targetsWritten: results.reduce((sum, r) => sum + r.targets, 0),
        apiCalls: [...accounts.values()].reduce((sum, account) => sum + account.mock.calls().length, 0),
        seconds: Number(((now() - started) / 1000).toFixed(3)),
    };
}

async function scalar(query: string): Promise<number> {
    const body = JSON.parse((await request({ ...PROMETHEUS, path: `/api/v1/query?query=${encodeURIComponent(query)}` })).body);
    return Number(body.data.result[0]?.value[1] ?? NaN);
}

function dirBytes(dir: string): number {
    return fs.readdirSync(dir, { withFileTypes: true }).reduce((total, entry) => {
        const full = path.join(dir, entry.name);
        return total + (entry.isDirectory() ? dirBytes(full) : fs.statSync(full).size);
    }, 0);
}

interface LoadPointContext {
    work: string;
    processes: Processes;
    /** The node's prometheus.yml, remapped; its remote write goes to the stand-in. */
    configFile: string;
    /** The same, at the target path's intervals. */
    targetPathConfigFile: string;
    targetsDir: string;
    /** Scrapes served per synthetic target, across load points. */
    scrapes: Map<number, number>;
    /** Samples per series a node's head holds at steady state at the stack's interval. */
    samplesPerSeries: number;
    factor: number;
    signingEnv: NodeJS.ProcessEnv;
    receiver: RemoteWriteStandIn;
}

/** A fresh Prometheus: an empty TSDB, the node's configuration, AWS credentials the stand-in knows. */
async function startPrometheus(ctx: LoadPointContext, data: string, configFile = ctx.configFile): Promise<void> {
    await ctx.processes.start("prometheus", path.join(TOOLS, "prometheus"), [
        `--config.file=${configFile}`, `--storage.tsdb.path=${data}`,
        `--web.listen-address=${PROMETHEUS.host}:${PROMETHEUS.port}`, "--web.enable-admin-api",
    ], { address: PROMETHEUS, env: ctx.signingEnv });
    await waitFor("prometheus ready", async () => (await request({ ...PROMETHEUS, path: "/-/ready" }).catch(() => ({ status: 0 }))).status === 200 || undefined, 60000);
}

/** One refresh of every platform dashboard over the run so far, as Grafana asks: its seconds, and queries that failed. */
async function refreshDashboards(since: number): Promise<{ seconds: number; queries: number; failed: string[] }> {
    const started = now();
    const end = Math.floor(Date.now() / 1000);
    const failed: string[] = [];
    let queries = 0;
    for (const spec of DASHBOARDS) {
        for (const { panel, expr } of dashboardQueries(renderDashboard(spec))) {
            const { error } = await rangeQuery(PROMETHEUS, rehearsalQuery(expr, `${4 * MEASURED_SCRAPE_SECONDS}s`),
                { start: Math.min(since, end - 1), end, step: MEASURED_SCRAPE_SECONDS }, 60000);
            queries += 1;
            if (error !== undefined) {
                failed.push(`${spec.title} / ${panel}: ${error}`);
            }
        }
    }
    return { seconds: (now() - started) / 1000, queries, failed };
}

/** One load point: from an empty TSDB until every target was scraped samplesPerSeries times, under churn, remote write and dashboards. */
async function measureLoadPoint(ctx: LoadPointContext, series: number): Promise<CapacityStep> {
    const targets = Math.ceil(series / SERIES_PER_TARGET);
    await ctx.processes.stop("prometheus").catch(() => undefined);
    const data = path.join(ctx.work, `data-${series}`);
    fs.writeFileSync(path.join(ctx.targetsDir, "capacity.json"), JSON.stringify(Array.from({ length: targets }, (_, i) =>
        ({ targets: [`${EXPORTER.host}:${EXPORTER.port}`], labels: { __metrics_path__: `/metrics/${i}`, shard: String(i) } }))));
    await startPrometheus(ctx, data);
    await waitFor(`${targets} targets`, async () => (await scalar('count(up{job="file_sd"} == 1)')) >= targets || undefined, 120000, 1000);
    const startScrapes = new Map([...Array(targets).keys()].map((t) => [t, ctx.scrapes.get(t) ?? 0]));
    const scraped = () => Math.min(...[...startScrapes].map(([t, first]) => (ctx.scrapes.get(t) ?? 0) - first));
    const since = Math.floor(Date.now() / 1000);
    const refreshMs = DASHBOARD_REFRESH_SECONDS / ctx.factor * 1000;
    const refreshes: { seconds: number; queries: number; failed: string[] }[] = [];
    let half: { cpu: number; samples: number; wal: number; at: number } | undefined;
    const reading = async () => ({
        cpu: await scalar('process_cpu_seconds_total{job="prometheus",instance="prom-1"}'),
        samples: await scalar('prometheus_tsdb_head_samples_appended_total{job="prometheus",instance="prom-1"}'),
        wal: dirBytes(path.join(data, "wal")),
        at: now(),
    });
    // The viewer refreshes on its own clock; the run ends in the node's cycles: scrapes served.
    while (scraped() < ctx.samplesPerSeries) {
        const next = now() + refreshMs;
        refreshes.push(await refreshDashboards(since));
        if (!half && scraped() >= ctx.samplesPerSeries / 2) {
            half = await reading();
        }
        await sleep(Math.max(0, next - now()));
    }
    const end = await reading();
    const start = half ?? end;
    const lastQuarter = `${Math.max(4, Math.round(ctx.samplesPerSeries * MEASURED_SCRAPE_SECONDS / 4))}s`;
    const residentBytes = await scalar(`max_over_time(process_resident_memory_bytes{job="prometheus",instance="prom-1"}[${lastQuarter}])`);
    const headSeries = await scalar('prometheus_tsdb_head_series{instance="prom-1"}');
    const appended = end.samples - start.samples;
    const failedQueries = refreshes.flatMap((r) => r.failed);
    if (failedQueries.length > 0) {
        throw new Error(`${series} series: dashboard queries failed: ${[...new Set(failedQueries)].slice(0, 5).join("; ")}`);
    }
    const remoteWrite = {
        samplesSent: await scalar('sum(prometheus_remote_storage_samples_total{job="prometheus",instance="prom-1"})'),
        samplesFailed: await scalar('sum(prometheus_remote_storage_samples_failed_total{job="prometheus",instance="prom-1"})'),
        samplesPending: await scalar('sum(prometheus_remote_storage_samples_pending{job="prometheus",instance="prom-1"})'),
        writesRefused: ctx.receiver.refused.length,
    };
    if (!(remoteWrite.samplesSent > 0) || remoteWrite.samplesFailed > 0 || remoteWrite.writesRefused > 0) {
        throw new Error(`${series} series: remote write did not keep up: ${JSON.stringify(remoteWrite)}`);
    }
    const refreshSeconds = refreshes.map((r) => r.seconds).sort((a, b) => a - b);
    return {
        targetSeries: series,
        headSeries,
        samplesPerSeries: scraped(),
        residentBytes,
        residentBytesPerSeries: Math.round(residentBytes / headSeries),
        residentBytesPerActiveSeries: Math.round(residentBytes / series),
        cpuSecondsPerMillionSamples: Number(((end.cpu - start.cpu) / appended * 1e6).toFixed(3)),
        walBytesPerSample: Number(((end.wal - start.wal) / appended).toFixed(2)),
        scrapeDurationSeconds: Number((await scalar('avg(scrape_duration_seconds{job="file_sd"})')).toFixed(4)),
        ruleEvaluationSeconds: Number((await scalar("sum(prometheus_rule_group_last_duration_seconds)")).toFixed(4)),
        dashboardRefreshes: refreshes.length,
        dashboardRefreshSecondsMedian: Number(refreshSeconds[Math.floor(refreshSeconds.length / 2)].toFixed(3)),
        remoteWriteSamplesSent: remoteWrite.samplesSent,
        remoteWriteSamplesPending: remoteWrite.samplesPending,
    };
}

export async function measureCapacity(stack: string, steps: number[]): Promise<CapacityFigures> {
    const missing = [path.join(TOOLS, "prometheus")].filter((tool) => resolveCommand(tool) === undefined);
    if (missing.length > 0) {
        throw new Error(`missing ${missing.join(", ")}: ${INSTALL_HINT}`);
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "capacity-"));
    const processes = new Processes(work);
    const scrapes = new Map<number, number>();
    const exporter = http.createServer((req, res) => {
        if (req.url?.startsWith("/small/")) {
            res.setHeader("content-type", "text/plain; version=0.0.4");
            res.end("app_up 1\n");
            return;
        }
        const target = Number(/^\/metrics\/(\d+)$/.exec(req.url ?? "")?.[1] ?? -1);
        const scrape = (scrapes.get(target) ?? 0) + 1;
        scrapes.set(target, scrape);
        res.setHeader("content-type", "text/plain; version=0.0.4");
        res.end(exposition(target, scrape));
    });
    const signingEnv = { AWS_ACCESS_KEY_ID: "CAPACITY", AWS_SECRET_ACCESS_KEY: "capacity-stand-in", AWS_EC2_METADATA_DISABLED: "true" };
    const env = loadEnvironment(stack);
    const receiver = new RemoteWriteStandIn(env.region, { [signingEnv.AWS_ACCESS_KEY_ID]: signingEnv.AWS_SECRET_ACCESS_KEY });
    try {
        if (!env.remoteWrite.enabled) {
            throw new Error(`--stack ${stack}: remote write is off there; measure a stack that writes to AMP (staging, production)`);
        }
        const stackScrapeSeconds = durationMs(env.prometheus.scrapeInterval) / 1000;
        const factor = stackScrapeSeconds / MEASURED_SCRAPE_SECONDS;
        const remoteWriteUrl = await receiver.start(RECEIVER_HOST);
        // The platform as built, without sizing: these figures are what sizing is computed from.
        let platform: Platform | undefined;
        await runProgram({ stack, program: async () => { platform = await createPlatform(env); }, ...placeholderSecretOptions(stack) });
        const spec = await previewNodeSpec(platform!, platform!.nodes[0]);
        const rulesDir = path.join(work, "rules");
        const targetsDir = path.join(work, "targets");
        fs.mkdirSync(rulesDir);
        fs.mkdirSync(targetsDir);
        fs.writeFileSync(path.join(rulesDir, "platform.yml"), remapRules(renderAlertRules(env.runbookBaseUrl), factor));
        const addresses = Object.fromEntries(env.zones.map((z) => [z.prometheusPrivateIp, PROMETHEUS.host]));
        const configs = await previewNodeConfigs(platform!);
        const remapped = (at: number, file: string) => {
            fs.writeFileSync(file, remapPrometheusConfig(configs.sets[platform!.nodes[0].name][CONFIG_FILE], {
                factor: at, addresses, alertmanagers: [], dnsTargets: {}, probeUrls: {}, rulesDir, targetsDir, remoteWriteUrl,
            }));
            return file;
        };
        const configFile = remapped(factor, path.join(work, "prometheus.yml"));
        const targetPathConfigFile = remapped(TARGET_PATH_FACTOR, path.join(work, "prometheus-target-path.yml"));
        await new Promise<void>((resolve) => exporter.listen(EXPORTER.port, EXPORTER.host, resolve));
        const samplesPerSeries = HEAD_SECONDS / stackScrapeSeconds;
        const ctx: LoadPointContext = { work, processes, configFile, targetPathConfigFile, targetsDir, scrapes, samplesPerSeries, factor, signingEnv, receiver };

        const results: CapacityStep[] = [];
        for (const series of steps) {
            results.push(await measureLoadPoint(ctx, series));
            console.error(`capacity: ${series} series measured: ${JSON.stringify(results[results.length - 1])}`);
        }
        const data = path.join(work, `data-${steps[steps.length - 1]}`);

        // The last load point's head as a compacted block: its chunks' bytes per sample.
        let blockBytes = 0;
        let blockSamples = 0;
        if (results.length > 0) {
            const snapshot = JSON.parse((await request({ ...PROMETHEUS, method: "POST", path: "/api/v1/admin/tsdb/snapshot", timeout: 300000 })).body).data.name;
            const snapshotDir = path.join(data, "snapshots", snapshot);
            for (const block of fs.readdirSync(snapshotDir)) {
                const meta = JSON.parse(fs.readFileSync(path.join(snapshotDir, block, "meta.json"), "utf8"));
                blockSamples += meta.stats.numSamples;
                blockBytes += dirBytes(path.join(snapshotDir, block, "chunks"));
            }
        }
        // The target path at scale: 5,000 files through the generated sync into file_sd, on a fresh Prometheus.
        fs.rmSync(path.join(targetsDir, "capacity.json"), { force: true });
        await processes.stop("prometheus").catch(() => undefined);
        await startPrometheus(ctx, path.join(work, "data-target-path"), targetPathConfigFile);
        const version = JSON.parse((await request({ ...PROMETHEUS, path: "/api/v1/status/buildinfo" })).body).data.version;
        const sync = await measureTargetSync(work, env.region, spec, targetsDir);
        return {
            targetPath: { sync, discovery: await measureDiscovery() },
            prometheusVersion: version,
            measuredOn: new Date().toISOString().slice(0, 10),
            machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
            scrapeIntervalSeconds: MEASURED_SCRAPE_SECONDS,
            conditions: {
                stack,
                steadyState: `each load point from an empty TSDB until every target was scraped ${samplesPerSeries} times: `
                    + `the ${HEAD_SECONDS / 3600} h a node's head holds at its ${stackScrapeSeconds} s interval, scraped every ${MEASURED_SCRAPE_SECONDS} s`,
                churn: `a tenth of the counters change their pod label every ${CHURN_SCRAPES} scrapes`,
                remoteWrite: "every sample remote-written as the stack's configuration says, to a local stand-in of AMP that checks SigV4",
                dashboards: `the platform's ${DASHBOARDS.length} dashboards refreshed every ${DASHBOARD_REFRESH_SECONDS} s of the node's time, over the run so far`,
                memory: "the highest resident size over the last quarter of each run",
            },
            steps: results,
            blockBytesPerSample: Number((blockBytes / blockSamples).toFixed(3)),
        } as CapacityFigures;
    } finally {
        processes.stopAll();
        exporter.close();
        await receiver.stop();
        fs.rmSync(work, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        stack: { type: "string", default: "production" },
        steps: { type: "string", default: "10000,50000,100000,200000" },
        json: { type: "boolean", default: false },
        write: { type: "boolean", default: false },
    } });
    // --steps "" measures the target path alone, keeping the committed series figures.
    const steps = values.steps!.split(",").filter((v) => v).map(Number);
    const measured = await measureCapacity(values.stack!, steps);
    const figures = steps.length > 0 ? measured : { ...readCapacityFigures(), targetPath: measured.targetPath };
    if (values.json) {
        process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    } else {
        console.log(`Prometheus ${figures.prometheusVersion} on ${figures.machine}, scraping every ${figures.scrapeIntervalSeconds} s:`);
        Object.entries(figures.conditions ?? {}).forEach(([what, how]) => console.log(`  ${what}: ${how}`));
        console.log("  series   head series  RSS MiB  RSS B/active series  CPU s/1M samples  WAL B/sample  scrape s  rules s  dashboards s");
        for (const s of figures.steps) {
            console.log(`  ${String(s.targetSeries).padStart(7)}  ${String(s.headSeries).padStart(11)}  ${(s.residentBytes / 2 ** 20).toFixed(0).padStart(7)}`
                + `  ${String(s.residentBytesPerActiveSeries).padStart(19)}  ${s.cpuSecondsPerMillionSamples.toFixed(3).padStart(16)}`
                + `  ${s.walBytesPerSample.toFixed(2).padStart(12)}  ${s.scrapeDurationSeconds.toFixed(4).padStart(8)}  ${s.ruleEvaluationSeconds.toFixed(4).padStart(7)}`
                + `  ${s.dashboardRefreshSecondsMedian.toFixed(3).padStart(12)}`);
        }
        console.log(`  compacted block: ${figures.blockBytesPerSample} bytes per sample`);
        const { targetPath } = figures;
        if (targetPath) {
            console.log(`  target sync: ${targetPath.sync.files} files synced in ${targetPath.sync.syncSeconds} s, ${targetPath.sync.filesInFileSd} in file_sd, `
                + `${targetPath.sync.targetsUp} targets up ${targetPath.sync.secondsToAllUp} s after the sync started`);
            console.log(`  discovery: ${targetPath.discovery.tasks} tasks in ${targetPath.discovery.clusters} clusters, ${targetPath.discovery.regions} regions: `
                + `${targetPath.discovery.apiCalls} ECS API calls, ${targetPath.discovery.targetsWritten} targets written, ${targetPath.discovery.seconds} s`);
        }
    }
    if (values.write) {
        fs.writeFileSync(CAPACITY_FILE, `${JSON.stringify(figures, null, 2)}\n`);
        console.log(`wrote ${path.relative(process.cwd(), CAPACITY_FILE)}`);
    }
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`capacity failed: ${err.message}`);
        process.exit(1);
    });
}
