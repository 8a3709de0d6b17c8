// Local rehearsal: runs what a stack renders on the real binaries, on loopback, and checks it works
// as a system. One shared setup (lib/loopbackPlatform.ts), then the scenarios below in order,
// each in its own module; the report says which ran and what each check observed.
//
//   npm run rehearse -- --stack dev [--json] [--keep]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { rehearseAlertPath } from "./alertPath";
import { rehearseHeldTenantRules, rehearseInvalidRules, rehearseRotation, rehearseRuleChange, ChangeContext } from "./changes";
import { checkDashboardQueries } from "./dashboards";
import { rehearseDiscoveryStaleness } from "./discovery";
import { rehearseFailures } from "./failures";
import { rehearseIngress } from "./ingress";
import { ADDRESSES, FACTOR, Loopback, NODES, Report, scrapeMs, startLoopback, throughNginx } from "./lib/loopbackPlatform";
import { Teardown } from "./lib/teardown";
import { Processes, stopAllOnSignals } from "./lib/processes";
import { printReport, RehearsalCheck } from "./lib/report";
import { now } from "./lib/wait";
import { rehearseEndpointDown } from "./probes";
import { rehearseFailedRollout, rehearsePlannedRollout } from "./rollout";
import { rehearseTargets, rehearseTenant } from "./targets";

/** A scenario: what it proves, and how. They run in this order, on one platform. */
export interface Scenario {
    readonly name: string;
    readonly proves: string;
    run(lb: Loopback): Promise<void>;
}

function changeContext(lb: Loopback): ChangeContext {
    return {
        nodes: lb.nodes, sources: lb.configSources, publish: lb.publish, configSyncRuns: lb.configSyncRuns,
        received: lb.received, check: lb.check, figures: lb.figures,
        configSyncMs: lb.env.prometheus.configSyncIntervalSeconds * 1000 / FACTOR,
        scrapeMs: scrapeMs(lb.env),
        throughNginx: async (authorization) => (await throughNginx(ADDRESSES.outsider, authorization ? { authorization } : {})).status,
    };
}

export const SCENARIOS: readonly Scenario[] = [
    { name: "alert path", proves: "the mesh forms, the heartbeat and a page arrive once, the empty bucket tickets", run: rehearseAlertPath },
    { name: "targets", proves: "a target file in the bucket is synced, scraped, and removed again", run: rehearseTargets },
    { name: "tenant", proves: "a tenant's target carries its own name, and its page reaches only its receiver", run: rehearseTenant },
    {
        name: "discovery", proves: "a discovery that never succeeded tickets, and its first success resolves it",
        run: async (lb) => {
            lb.check("the stack runs target discovery", lb.env.discovery.enabled, `discovery.enabled: ${lb.env.discovery.enabled} in ${lb.env.file}`);
            if (lb.env.discovery.enabled) {
                await rehearseDiscoveryStaleness({
                    bucket: lb.targetsBucket, s3: lb.s3Client, regions: lb.env.discovery.regions, namespaces: lb.env.discovery.cloudMapNamespaces,
                    nodeExporter: { host: ADDRESSES.prometheus(1), port: NODE_EXPORTER_PORT }, received: lb.received, check: lb.check, figures: lb.figures,
                });
            }
        },
    },
    { name: "ingress", proves: "the auth proxy's office, basic-auth, forwarding and lifecycle rules", run: rehearseIngress },
    {
        name: "changes",
        proves: "a rule, an invalid rule set, a tenant's refused file held back alone and a password rotation reach the running nodes without a restart",
        run: async (lb) => {
            const changes = changeContext(lb);
            await rehearseRuleChange(changes);
            await rehearseInvalidRules(changes);
            await rehearseHeldTenantRules(changes);
            await rehearseRotation(changes, lb.credential);
        },
    },
    {
        name: "rollout",
        proves: "a failed update leaves unrolled members on their configuration whatever restarts them; a new alertmanager.yml restarts the members one at a time, as the plan says",
        run: async (lb) => {
            await rehearseFailedRollout(lb);
            await rehearsePlannedRollout(lb);
        },
    },
    {
        name: "dashboards", proves: "every dashboard query returns data from what ran",
        run: (lb) => checkDashboardQueries({
            prometheus: { host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT },
            since: lb.rehearsalStart,
            rateInterval: `${4 * scrapeMs(lb.env)}ms`,
            stepSeconds: scrapeMs(lb.env) / 1000,
            dataDir: path.join(lb.nodes[0].dir, "data"),
            check: lb.check, figures: lb.figures,
        }),
    },
    {
        name: "probes", proves: "the outside-in probe pages when the ingress is down",
        run: (lb) => rehearseEndpointDown({
            prometheus: { host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT },
            url: lb.probeUrl, exporters: NODES.length,
            stopIngress: async () => { await lb.processes.stop("nginx"); }, startIngress: lb.startNginx,
            received: lb.received, check: lb.check, figures: lb.figures,
        }),
    },
    { name: "failures", proves: "alerting survives one Alertmanager and one Prometheus killed; two killed page", run: rehearseFailures },
];

export interface RehearsalReport {
    stack: string;
    factor: number;
    /** Each declared scenario, and whether it ran to its end. */
    scenarios: { name: string; completed: boolean }[];
    checks: RehearsalCheck[];
    figures: Record<string, number | string>;
    ok: boolean;
}

export async function rehearse(stack: string, keep = false): Promise<RehearsalReport> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `rehearsal-${stack}-`));
    fs.chmodSync(work, 0o755);
    const logs = path.join(work, "logs");
    fs.mkdirSync(logs);
    const processes = new Processes(logs);
    const teardown = new Teardown();
    const checks: RehearsalCheck[] = [];
    const report: Report = {
        checks,
        figures: { factor: `every interval and for: divided by ${FACTOR}` },
        check: (name, ok, detail) => { checks.push({ name, ok, detail }); },
    };
    const scenarios = SCENARIOS.map((s) => ({ name: s.name, completed: false }));
    try {
        const lb = await startLoopback(stack, work, logs, processes, teardown, report);
        for (const [i, scenario] of SCENARIOS.entries()) {
            await scenario.run(lb);
            scenarios[i].completed = true;
        }
    } catch (err) {
        report.check("the rehearsal ran to its end", false, (err as Error).message);
    } finally {
        processes.stopAll();
        await teardown.run();
        if (!keep) {
            fs.rmSync(work, { recursive: true, force: true });
        } else {
            report.figures.workDir = work;
        }
    }
    return { stack, factor: FACTOR, scenarios, checks, figures: report.figures, ok: checks.every((c) => c.ok) && scenarios.every((s) => s.completed) };
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
