// Sizing a stack's nodes from measured figures (infra/capacity.json, written by npm run capacity):
// projected memory against the instance type's, projected disk for the retention against the volume.
import * as fs from "fs";
import * as path from "path";
import { LoadedEnvironment } from "./environment";
import { durationSeconds } from "../components/duration";
import { EnvironmentError } from "./inputErrors";
import { tenantsOfShard } from "./shards";
import { Tenant } from "./tenantSchema";

export const CAPACITY_FILE = path.resolve(__dirname, "capacity.json");
export const WARN_RATIO = 0.7;
/** Hours of samples the write-ahead log holds before they are compacted into a block. */
const WAL_HOURS = 3;

export interface CapacityStep {
    /** Active series: what the targets expose at any one scrape, as a stack's expectedSeries counts them. */
    targetSeries: number;
    /** Series in the head at the end: the active ones and those churn left behind. */
    headSeries: number;
    /** Scrapes of every target in the run: the samples per series the head held. */
    samplesPerSeries: number;
    residentBytes: number;
    residentBytesPerSeries: number;
    /** Resident bytes per active series: what sizing multiplies expectedSeries by. */
    residentBytesPerActiveSeries: number;
    cpuSecondsPerMillionSamples: number;
    walBytesPerSample: number;
    scrapeDurationSeconds: number;
    ruleEvaluationSeconds: number;
    dashboardRefreshes: number;
    /** Seconds one refresh of every platform dashboard took, median over the run. */
    dashboardRefreshSecondsMedian: number;
    remoteWriteSamplesSent: number;
    remoteWriteSamplesPending: number;
}

export interface CapacityFigures {
    prometheusVersion: string;
    measuredOn: string;
    machine: string;
    scrapeIntervalSeconds: number;
    /** Under what the figures were measured: what makes them steady state. */
    conditions: Record<string, string>;
    steps: CapacityStep[];
    /** Bytes per sample of a block compacted from the head. */
    blockBytesPerSample: number;
    /** The target path at scale: the sync of many files into file_sd, and the discovery function with paging. */
    targetPath?: {
        sync: { files: number; syncSeconds: number; filesInFileSd: number; targetsUp: number; secondsToAllUp: number };
        discovery: { tasks: number; clusters: number; regions: number; targetsWritten: number; apiCalls: number; seconds: number };
    };
}

export function readCapacityFigures(file = CAPACITY_FILE): CapacityFigures {
    if (!fs.existsSync(file)) {
        throw new Error(`${path.relative(process.cwd(), file)} is missing: measure the figures with npm run capacity -- --write`);
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as CapacityFigures;
}

const GIB = 2 ** 30;
/** vCPUs of each size; memory per vCPU of each family (GiB). */
const SIZE_VCPUS: Record<string, number> = { large: 2, xlarge: 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64 };
const FAMILY_GIB_PER_VCPU: Record<string, number> = { c: 2, m: 4, r: 8 };
const BURSTABLE_GIB: Record<string, number> = { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, "2xlarge": 32 };

/** An instance type's memory in bytes (t3/t3a/t4g, and the c, m and r families from 5th generation on). */
export function instanceMemoryBytes(instanceType: string): number | undefined {
    const [family, size] = instanceType.split(".");
    if (/^t(3a?|4g)$/.test(family)) {
        return BURSTABLE_GIB[size] !== undefined ? BURSTABLE_GIB[size] * GIB : undefined;
    }
    const kind = /^([cmr])[5-8][a-z]*$/.exec(family)?.[1];
    return kind && SIZE_VCPUS[size] ? SIZE_VCPUS[size] * FAMILY_GIB_PER_VCPU[kind] * GIB : undefined;
}

export interface Projection {
    projectedBytes: number;
    availableBytes: number;
    ratio: number;
}

/** One shard's load and what each of its nodes needs for it. */
export interface ShardSizing {
    shard: number;
    /** The tenants whose jobs it scrapes. */
    tenants: string[];
    expectedSeries: number;
    samplesPerSecond: number;
    memory: Projection;
    disk: Projection;
}

export interface SizingPlan {
    shards: ShardSizing[];
    figures: { prometheusVersion: string; measuredOn: string };
}

function projection(projectedBytes: number, availableBytes: number): Projection {
    return { projectedBytes, availableBytes, ratio: projectedBytes / availableBytes };
}

/** What a node needs for a load: memory per active series measured nearest above it, disk for the retention. */
function loadProjection(env: LoadedEnvironment, figures: CapacityFigures, expectedSeries: number, samplesPerSecond: number) {
    const { instanceType, dataVolume, retentionTime } = env.prometheus;
    const memoryBytes = instanceMemoryBytes(instanceType);
    if (memoryBytes === undefined) {
        throw new EnvironmentError(env.file, [`prometheus.instanceType: ${instanceType} is not one the sizing knows (t3, t3a, t4g, c/m/r 5th generation on)`]);
    }
    // Memory per active series at the measured load nearest above the expected one (the largest
    // measured otherwise: per-series memory falls as the load grows, so that errs large).
    const steps = [...figures.steps].sort((a, b) => a.targetSeries - b.targetSeries);
    const step = steps.find((s) => s.targetSeries >= expectedSeries) ?? steps[steps.length - 1];
    const retentionSeconds = durationSeconds(retentionTime);
    const diskBytes = samplesPerSecond * (retentionSeconds * figures.blockBytesPerSample + WAL_HOURS * 3600 * step.walBytesPerSample);
    return { memory: projection(expectedSeries * step.residentBytesPerActiveSeries, memoryBytes), disk: projection(diskBytes, dataVolume.sizeGiB * GIB) };
}

/** A shard's load: shard 1 carries the platform's own jobs (prometheus.expectedSeries); each its tenants' declared series. */
function shardLoad(env: LoadedEnvironment, tenants: readonly Tenant[], shard: number, extra = 0) {
    const placed = tenantsOfShard(env, tenants, shard);
    const tenantSeries = placed.reduce((sum, t) => sum + (t.expectedSeries ?? 0), 0) + extra;
    const scrapeSeconds = durationSeconds(env.prometheus.scrapeInterval);
    const ownSeries = shard === 1 ? env.prometheus.expectedSeries : 0;
    const ownSamples = shard === 1 ? env.prometheus.samplesPerSecond ?? ownSeries / scrapeSeconds : 0;
    return { tenants: placed.map((t) => t.name), expectedSeries: ownSeries + tenantSeries, samplesPerSecond: ownSamples + tenantSeries / scrapeSeconds };
}

/** The memory and disk each shard's nodes need for their expected load, from the measured figures. */
export function projectSizing(env: LoadedEnvironment, figures: CapacityFigures, tenants: readonly Tenant[] = []): SizingPlan {
    const shards = Array.from({ length: env.prometheus.shards }, (_, i) => i + 1).map((shard) => {
        const load = shardLoad(env, tenants, shard);
        return { shard, ...load, ...loadProjection(env, figures, load.expectedSeries, load.samplesPerSecond) };
    });
    return { shards, figures: { prometheusVersion: figures.prometheusVersion, measuredOn: figures.measuredOn } };
}

/** The shards whose nodes would still hold their load with `series` more. */
export function shardsWithRoom(env: LoadedEnvironment, figures: CapacityFigures, tenants: readonly Tenant[], series: number, except?: number): number[] {
    return Array.from({ length: env.prometheus.shards }, (_, i) => i + 1).filter((shard) => {
        if (shard === except) {
            return false;
        }
        const load = shardLoad(env, tenants, shard, series);
        const { memory, disk } = loadProjection(env, figures, load.expectedSeries, load.samplesPerSecond);
        return memory.ratio < 1 && disk.ratio < 1;
    });
}

/** Refuses a stack whose nodes cannot hold the expected load, naming the file and the keys; beyond shard 1, where its tenants would fit. */
export function checkSizing(env: LoadedEnvironment, plan: SizingPlan, figures: CapacityFigures, tenants: readonly Tenant[]): void {
    const problems: string[] = [];
    const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;
    for (const shard of plan.shards) {
        const over = shard.memory.ratio >= 1 || shard.disk.ratio >= 1;
        const placedHere = tenants.filter((t) => shard.tenants.includes(t.name) && t.expectedSeries !== undefined && env.prometheus.tenantShards[t.name] !== undefined);
        // Moving tenants helps only where the shard's own jobs fit without them.
        const ownFits = () => {
            const own = shardLoad(env, [], shard.shard);
            const bare = loadProjection(env, figures, own.expectedSeries, own.samplesPerSecond);
            return bare.memory.ratio < 1 && bare.disk.ratio < 1;
        };
        if (over && placedHere.length > 0 && ownFits()) {
            const needs = [shard.memory.ratio >= 1 ? `${gib(shard.memory.projectedBytes)} of memory of ${gib(shard.memory.availableBytes)}` : "",
                shard.disk.ratio >= 1 ? `${gib(shard.disk.projectedBytes)} of disk of ${gib(shard.disk.availableBytes)}` : ""].filter(Boolean).join(" and ");
            const moves = placedHere.map((t) => {
                const room = shardsWithRoom(env, figures, tenants.filter((other) => other !== t), t.expectedSeries!, shard.shard);
                return `${t.name} (${t.expectedSeries} series) would fit on ${room.length > 0 ? `shard ${room.join(", ")}` : "no other shard"}`;
            });
            problems.push(`prometheus.tenantShards: shard ${shard.shard}'s ${shard.expectedSeries} series (${shard.tenants.join(", ")}) need ${needs} per node; `
                + `${moves.join("; ")}; or add a shard (prometheus.shards)`);
            continue;
        }
        if (shard.memory.ratio >= 1) {
            problems.push(`prometheus.expectedSeries: ${shard.expectedSeries} series${plan.shards.length > 1 ? ` on shard ${shard.shard}` : ""} need about ${gib(shard.memory.projectedBytes)} of memory; `
                + `prometheus.instanceType ${env.prometheus.instanceType} has ${gib(shard.memory.availableBytes)}: choose a larger type or expect fewer series`);
        }
        if (shard.disk.ratio >= 1) {
            problems.push(`prometheus.expectedSeries: ${Math.round(shard.samplesPerSecond)} samples/s kept ${env.prometheus.retentionTime} need about `
                + `${gib(shard.disk.projectedBytes)} of disk; prometheus.dataVolume.sizeGiB is ${env.prometheus.dataVolume.sizeGiB}: grow it or shorten prometheus.retentionTime`);
        }
    }
    if (problems.length > 0) {
        throw new EnvironmentError(env.file, problems);
    }
}

/** The plan's lines about sizing, shard by shard, with a warning from WARN_RATIO on. */
export function describeSizing(plan: SizingPlan): string[] {
    const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;
    const line = (what: string, p: Projection) => `${p.ratio >= WARN_RATIO ? "WARNING " : ""}${what}: ${gib(p.projectedBytes)} of ${gib(p.availableBytes)} `
        + `(${Math.round(p.ratio * 100)}%)${p.ratio >= WARN_RATIO ? `, over ${WARN_RATIO * 100}%: size up before the load arrives` : ""}`;
    const figures = `steady-state figures of Prometheus ${plan.figures.prometheusVersion}, measured ${plan.figures.measuredOn}: `
        + `a full head under churn, remote write and dashboard queries; warns from ${WARN_RATIO * 100}%, refuses from 100%`;
    const load = (shard: ShardSizing) => `${shard.expectedSeries} series, ${Math.round(shard.samplesPerSecond)} samples/s`;
    const nodeLines = (shard: ShardSizing) => [line("memory per node", shard.memory), line("disk per node for the retention", shard.disk)];
    if (plan.shards.length === 1) {
        return [`${load(plan.shards[0])} (${figures})`, ...nodeLines(plan.shards[0])];
    }
    return [
        `${plan.shards.length} shards of three nodes (${figures})`,
        ...plan.shards.flatMap((shard) => [
            `shard ${shard.shard} (${[...(shard.shard === 1 ? ["the platform's jobs"] : []), ...shard.tenants].join(", ") || "no tenants yet"}): ${load(shard)}`,
            ...nodeLines(shard).map((l) => `  ${l}`),
        ]),
    ];
}
