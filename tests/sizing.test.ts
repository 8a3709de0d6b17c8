// Sizing from the measured capacity figures: projections, the warning at 70%, the refusal at 100%.
import { strict as assert } from "assert";
import { loadEnvironment } from "../infra/environment";
import { sizedPlatform } from "../infra/platform";
import { checkSizing, describeSizing, instanceMemoryBytes, projectSizing, readCapacityFigures, WARN_RATIO } from "../infra/sizing";
import { ProgramError, runProgram } from "../scripts/lib/offline";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { STACKS } from "./helpers/stacks";
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
            const plan = projectSizing(env, readCapacityFigures());
            assert.ok(plan.memory.ratio < WARN_RATIO, `memory ${plan.memory.ratio}`);
            assert.ok(plan.disk.ratio < WARN_RATIO, `disk ${plan.disk.ratio}`);
            assert.doesNotThrow(() => checkSizing(env, plan));
            assert.ok(describeSizing(plan).every((line) => !line.startsWith("WARNING")));
        });
    }

    it("warns from 70% of a node's memory, and refuses from 100%, naming the file and the keys", () => {
        const env = loadEnvironment("dev");
        const figures = readCapacityFigures();
        // Loads beyond the measured points are sized with the largest point's figure; disk is made ample here.
        const largest = [...figures.steps].sort((a, b) => b.targetSeries - a.targetSeries)[0];
        const atRatio = (ratio: number) => ({ ...env, prometheus: { ...env.prometheus, retentionTime: "1d",
            dataVolume: { ...env.prometheus.dataVolume, sizeGiB: 4000 }, expectedSeries: Math.round(ratio * 4 * GIB / largest.residentBytesPerActiveSeries) } });
        const warned = projectSizing(atRatio(0.8), figures);
        assert.ok(warned.memory.ratio >= WARN_RATIO && warned.memory.ratio < 1);
        assert.match(describeSizing(warned)[1], /^WARNING memory per node: .* of 4\.0 GiB \(\d+%\), over 70%/);
        assert.doesNotThrow(() => checkSizing(atRatio(0.8), warned));
        const oversized = atRatio(1.2);
        assert.throws(() => checkSizing(oversized, projectSizing(oversized, figures)), (err: Error) => err instanceof EnvironmentError
            && /^environment file environments\/dev\.yaml is not valid:\n {2}- prometheus\.expectedSeries: \d+ series need about [\d.]+ GiB of memory; prometheus\.instanceType t3\.medium has 4\.0 GiB/.test(err.message));
    });

    it("refuses an oversized stack before registering any resource", async () => {
        const env = loadEnvironment("dev");
        env.prometheus.expectedSeries = 50_000_000;
        const error = await runProgram({ stack: "dev", program: () => sizedPlatform(env), ...placeholderSecretOptions("dev") })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.match(error.message, /prometheus\.expectedSeries: 50000000 series need about/);
        assert.match(error.message, /prometheus\.dataVolume\.sizeGiB is 50: grow it or shorten prometheus\.retentionTime/);
        assert.deepEqual(error.resources, []);
    });
});
