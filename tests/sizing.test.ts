// Sizing from the measured capacity figures: projections, the warning at 70%, the refusal at 100%.
import { strict as assert } from "assert";
import { loadEnvironment } from "../infra/environment";
import { sizedPlatform } from "../infra/platform";
import { checkSizing, describeSizing, instanceMemoryBytes, projectSizing, readCapacityFigures, WARN_RATIO } from "../infra/sizing";
import { ProgramError, runProgram } from "../scripts/lib/offline";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { STACKS } from "./helpers/stacks";
import { loadTenants } from "../infra/tenants";
import { planNodes } from "../infra/environmentChecks";
import { EnvironmentError } from "../infra/inputErrors";
import { durationMs } from "../components/duration";

const GIB = 2 ** 30;

describe("sizing from measured figures", () => {
    it("knows the memory of the instance types the stacks use", () => {
        assert.equal(instanceMemoryBytes("t3.medium"), 4 * GIB);
        assert.equal(instanceMemoryBytes("t3.large"), 8 * GIB);
        assert.equal(instanceMemoryBytes("m5.xlarge"), 16 * GIB);
        assert.equal(instanceMemoryBytes("r6i.large"), 16 * GIB);
        assert.equal(instanceMemoryBytes("c7i.2xlarge"), 16 * GIB);
        assert.equal(instanceMemoryBytes("x1e.xlarge"), undefined);
    });

    it("uses figures measured on the deployed Prometheus minor", () => {
        const figures = readCapacityFigures();
        const deployed = loadEnvironment("production").prometheus.version.split(".").slice(0, 2).join(".");
        assert.equal(figures.prometheusVersion.split(".").slice(0, 2).join("."), deployed);
        assert.ok(figures.steps.length >= 4, "at least four load points");
        assert.ok(figures.steps.every((s) => s.residentBytesPerSeries > 0 && s.residentBytesPerActiveSeries >= s.residentBytesPerSeries && s.walBytesPerSample > 0));
        assert.ok(figures.blockBytesPerSample > 0 && figures.blockBytesPerSample < 16);
    });

    it("uses figures measured at steady state: a full head under churn, remote write and dashboard queries", () => {
        const figures = readCapacityFigures();
        const production = loadEnvironment("production").prometheus;
        // Two hours of samples, the head's block range, at the stacks' scrape interval.
        const headSamples = 2 * 3600 / (durationMs(production.scrapeInterval) / 1000);
        for (const step of figures.steps) {
            assert.ok(step.samplesPerSeries >= headSamples, `${step.targetSeries} series: ${step.samplesPerSeries} samples per series`);
            assert.ok(step.headSeries > step.targetSeries, `${step.targetSeries} series: churn leaves series behind in the head`);
            assert.ok(step.remoteWriteSamplesSent >= step.targetSeries * step.samplesPerSeries * 0.9, `${step.targetSeries} series: remote write sent ${step.remoteWriteSamplesSent}`);
            assert.ok(step.dashboardRefreshes >= step.samplesPerSeries * figures.scrapeIntervalSeconds / 2, `${step.targetSeries} series: ${step.dashboardRefreshes} dashboard refreshes`);
        }
        assert.deepEqual(Object.keys(figures.conditions).sort(), ["churn", "dashboards", "memory", "remoteWrite", "stack", "steadyState"]);
    });

    for (const stack of STACKS) {
        it(`${stack}: fits its expected load below the warning level`, () => {
            const env = loadEnvironment(stack);
            const tenants = loadTenants(stack);
            const plan = projectSizing(env, readCapacityFigures(), tenants);
            assert.equal(plan.shards.length, env.prometheus.shards);
            for (const shard of plan.shards) {
                assert.ok(shard.memory.ratio < WARN_RATIO, `shard ${shard.shard} memory ${shard.memory.ratio}`);
                assert.ok(shard.disk.ratio < WARN_RATIO, `shard ${shard.shard} disk ${shard.disk.ratio}`);
            }
            assert.doesNotThrow(() => checkSizing(env, plan, readCapacityFigures(), tenants));
            assert.ok(describeSizing(plan).every((line) => !line.startsWith("WARNING")));
        });
    }

    it("warns from 70% of a node's memory, and refuses from 100%, naming the file and the keys", () => {
        const dev = loadEnvironment("dev");
        const env = { ...dev, prometheus: { ...dev.prometheus, shards: 1, tenantShards: {} }, nodes: planNodes(1, dev.zones) };
        const figures = readCapacityFigures();
        // Loads beyond the measured points are sized with the largest point's figure; disk is made ample here.
        const largest = [...figures.steps].sort((a, b) => b.targetSeries - a.targetSeries)[0];
        const atRatio = (ratio: number) => ({ ...env, prometheus: { ...env.prometheus, retentionTime: "1d",
            dataVolume: { ...env.prometheus.dataVolume, sizeGiB: 4000 }, expectedSeries: Math.round(ratio * 4 * GIB / largest.residentBytesPerActiveSeries) } });
        const warned = projectSizing(atRatio(0.8), figures);
        assert.ok(warned.shards[0].memory.ratio >= WARN_RATIO && warned.shards[0].memory.ratio < 1);
        assert.match(describeSizing(warned)[1], /^WARNING memory per node: .* of 4\.0 GiB \(\d+%\), over 70%/);
        assert.doesNotThrow(() => checkSizing(atRatio(0.8), warned, figures, []));
        const oversized = atRatio(1.2);
        assert.throws(() => checkSizing(oversized, projectSizing(oversized, figures), figures, []), (err: Error) => err instanceof EnvironmentError
            && /^environment file environments\/dev\.yaml is not valid:\n {2}- prometheus\.expectedSeries: \d+ series need about [\d.]+ GiB of memory; prometheus\.instanceType t3\.medium has 4\.0 GiB/.test(err.message));
    });

    it("refuses a shard over capacity, naming the shards where its tenants would fit, before registering any resource", async () => {
        const env = loadEnvironment("dev");
        const tenants = loadTenants("dev").map((t) => t.name === "orders-queue" ? { ...t, expectedSeries: 900_000 } : t);
        const error = await runProgram({ stack: "dev", program: () => sizedPlatform(env, tenants), ...placeholderSecretOptions("dev") })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.match(error.message, /^environment file environments\/dev\.yaml is not valid:\n {2}- prometheus\.tenantShards: shard 2's 900000 series \(orders-queue\) need [\d.]+ GiB of memory of 4\.0 GiB and [\d.]+ GiB of disk of 50\.0 GiB per node; orders-queue \(900000 series\) would fit on no other shard; or add a shard \(prometheus\.shards\)$/);
        assert.deepEqual(error.resources, []);
        // Two tenants on shard 2, over its disk: the small one would fit on shard 1, the large one nowhere, and the error says which.
        const crowded = { ...env, prometheus: { ...env.prometheus, tenantShards: { "checkout-web": 2, "orders-queue": 2 } } };
        const heavy = loadTenants("dev").map((t) => t.name === "orders-queue" ? { ...t, expectedSeries: 470_000 } : t);
        assert.throws(() => checkSizing(crowded, projectSizing(crowded, readCapacityFigures(), heavy), readCapacityFigures(), heavy), (err: Error) =>
            /prometheus\.tenantShards: shard 2's 490000 series \(checkout-web, orders-queue\) need [\d.]+ GiB of disk of 50\.0 GiB per node; checkout-web \(20000 series\) would fit on shard 1; orders-queue \(470000 series\) would fit on no other shard; or add a shard/
                .test(err.message));
    });

    it("refuses a tenant of a sharded stack that is not placed, naming the shards where it fits", async () => {
        const env = loadEnvironment("dev");
        const unplaced = { ...env, prometheus: { ...env.prometheus, tenantShards: { "checkout-web": 1 } } };
        const error = await runProgram({ stack: "dev", program: () => sizedPlatform(unplaced), ...placeholderSecretOptions("dev") })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.match(error.message, /prometheus\.tenantShards\.orders-queue: missing; stack dev has 2 shards, so each tenant is placed on one; its 5000 series fit on shard 1, 2$/m);
        assert.deepEqual(error.resources, []);
    });

    it("refuses an oversized stack before registering any resource", async () => {
        const env = loadEnvironment("dev");
        env.prometheus.expectedSeries = 50_000_000;
        const error = await runProgram({ stack: "dev", program: () => sizedPlatform(env), ...placeholderSecretOptions("dev") })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.match(error.message, /prometheus\.expectedSeries: 50020000 series on shard 1 need about/);
        assert.match(error.message, /prometheus\.dataVolume\.sizeGiB is 50: grow it or shorten prometheus\.retentionTime/);
        assert.deepEqual(error.resources, []);
    });
});
