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
import { rehearseRemoteWrite } from "./remoteWrite";
import { rehearseIngress } from "./ingress";
import { ADDRESSES, FACTOR, Loopback, NODES, Report, scrapeMs, startLoopback, throughNginx } from "./lib/loopbackPlatform";
import { addedFor, loadRehearsalSource } from "./lib/fixtures";
import { Teardown } from "./lib/teardown";
import { Processes, stopAllOnSignals } from "./lib/processes";
import { DeclaredCheck, printReport, RehearsalCheck, Scenario } from "./lib/report";
import { now } from "./lib/wait";
import { rehearseEndpointDown } from "./probes";
import { rehearseFailedRollout, rehearsePlannedRollout } from "./rollout";
import { rehearsedTenant, rehearseTargets, rehearseTenant } from "./targets";
import { rehearseShards } from "./shards";
import { DASHBOARDS } from "../components/dashboards";

/** The checks the shared setup makes before any scenario: none (a setup that fails ends the run, reported as such). */
export const SETUP_CHECKS: readonly DeclaredCheck[] = [];

function changeContext(lb: Loopback): ChangeContext {
    return {
        nodes: lb.nodes, sources: lb.configSources, publish: lb.publish, configSyncRuns: lb.configSyncRuns,
        received: lb.received, check: lb.check, figures: lb.figures,
        configSyncMs: lb.env.prometheus.configSyncIntervalSeconds * 1000 / FACTOR,
        scrapeMs: scrapeMs(lb.env),
        throughNginx: async (authorization) => (await throughNginx(ADDRESSES.outsider, authorization ? { authorization } : {})).status,
    };
}

/** The scenarios, in the order they run, on one platform. */
export const SCENARIOS: readonly Scenario<Loopback>[] = [
    {
        name: "alert path", proves: "the mesh forms, the heartbeat and a page arrive once, the empty bucket tickets",
        checks: [
            "the Alertmanagers mesh through their generated cluster settings",
            "every process started is alive and owns the address it was given",
            "the heartbeat reaches its receiver",
            "at most one heartbeat per group interval although three Prometheus send to three Alertmanagers",
            "the no-file_sd-targets alert fires while the bucket is empty",
            "a page sent to all three Alertmanagers arrives once",
        ],
        run: rehearseAlertPath,
    },
    {
        name: "remote write", proves: "every node remote-writes to the stack's AMP workspace, signed with SigV4 for aps",
        checks: [
            "the stack writes to a managed Prometheus workspace",
            /^every node remote-writes its samples to the workspace, each request signed for aps in [a-z0-9-]+, none refused or failed$/,
        ],
        run: rehearseRemoteWrite,
    },
    {
        name: "targets", proves: "a target file in the bucket is synced, scraped, and removed again",
        checks: ["a target put into the bucket is scraped", "removing the target file removes the target"],
        run: rehearseTargets,
    },
    {
        name: "tenant", proves: "a tenant's target carries its own name, and its page reaches only its receiver",
        checks: [
            "the stack has a tenant to rehearse with",
            /^a target under tenants\/[a-z0-9-]+\/[a-z0-9-]+\/ is scraped with tenant="[a-z0-9-]+", not the tenant label its file forges$/,
            /^node_exporter reports when the newest target file under tenants\/[a-z0-9-]+\/[a-z0-9-]+ was written: the file this rehearsal put$/,
            /^a tenant alert reaches tenant-[a-z0-9-]+ once and no other receiver$/,
        ],
        run: rehearseTenant,
    },
    {
        name: "shards", proves: "each shard scrapes its own tenants, the shards meet at the remote-write receiver, and a further shard's tenant pages once",
        checks: [
            "the stack has two shards with a tenant on each",
            "each tenant's target is scraped only by its shard's three nodes",
            "a global query at the remote-write receiver sees every shard's targets, each with its shard label (a series' own kept), from its three nodes",
            /^a page from [a-z0-9-]+'s rule, evaluated on its shard's nodes alone, reaches tenant-[a-z0-9-]+ once$/,
        ],
        run: rehearseShards,
    },
    {
        name: "discovery", proves: "a discovery that never succeeded tickets, and its first success resolves it",
        checks: [
            "the stack runs target discovery",
            /^a discovery region that never succeeded \([a-z0-9-]+, [a-z]+\) is a ticket through Alertmanager$/,
            "node_exporter reports the discovery's last success from the status object the run wrote",
            "the discovery's first success resolves the ticket",
        ],
        run: async (lb) => {
            lb.check("the stack runs target discovery", lb.env.discovery.enabled,
                `discovery.enabled: ${lb.env.discovery.enabled}${addedFor(lb.source, "discovery") ? " (a fixture)" : ` in ${lb.env.file}`}`);
            await rehearseDiscoveryStaleness({
                bucket: lb.targetsBucket, s3: lb.s3Client, regions: lb.env.discovery.regions, namespaces: lb.env.discovery.cloudMapNamespaces,
                nodeExporter: { host: ADDRESSES.prometheus(1), port: NODE_EXPORTER_PORT }, received: lb.received, check: lb.check, figures: lb.figures,
            });
        },
    },
    {
        name: "ingress", proves: "the auth proxy's office, basic-auth, forwarding and lifecycle rules",
        checks: [
            "ingress: office address, no credentials gets 200",
            "ingress: other address, no credentials gets 401",
            "ingress: other address, basic auth gets 200",
            "ingress: other address, wrong password gets 401",
            "ingress: other address forging X-Forwarded-For: office gets 401",
            "ingress: the ALB forwarding an office client gets 200",
            "ingress: the ALB forwarding an office address forged before another client gets 401",
            "ingress: the ALB's health check gets 200",
            "ingress: a health check from elsewhere gets 403",
            "ingress: office address, POST /-/quit gets 403",
            "ingress: office address, POST /-/reload gets 403",
            "ingress: other address with basic auth, POST /-/reload gets 403",
            "ingress: office address, admin API gets 403",
            "Prometheus refuses /-/quit itself and keeps running",
        ],
        run: rehearseIngress,
    },
    {
        name: "changes",
        proves: "a rule, an invalid rule set, a tenant's refused file held back alone and a password rotation reach the running nodes without a restart",
        checks: [
            "each node applies a rule added by rendering in its first configuration sync run that starts after the publish",
            "all three Prometheus servers then evaluate the added rule, healthy",
            "every node reports the revision it applied through node_exporter's textfile collector",
            "the change restarts no Prometheus: process_start_time_seconds is unchanged on all three",
            "samples are continuous across the reload: no gap longer than two scrape intervals",
            "an invalid rule file is refused by every node, by promtool check rules, and the last good revision stays",
            "the old rules keep evaluating on every node, and nothing of the invalid file is loaded",
            "the refusal raises RE_Observe_Prometheus_Config_Refused through Alertmanager",
            "the stack has two tenants' rule files to keep apart",
            "a tenant rule file promtool refuses is held back alone: every node applies the rest of the set and reports that file held",
            "the platform's new rule and the other tenant's new rule evaluate on every node, and the held tenant's last good rules keep evaluating",
            "the held file raises RE_Observe_Tenant_Rules_Held to the platform's ticket receiver, naming the file",
            "during a rotation both the old and the new credentials pass",
            "after the rotation only the new credential passes",
        ],
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
        checks: [
            "an update whose new configuration member 1 never runs healthy stops at member 1",
            "members 2 and 3, restarted after it, run the configuration they were rolled with and mesh with each other",
            "member 1 on the good configuration rejoins the mesh of three",
            "the plan of the change says which members it restarts, in order, and that nothing else restarts",
            /^the rollout restarts one member at a time \(alertmanager-1, then alertmanager-2, then alertmanager-3\), each holding the silence before the next stops$/,
            "a page firing throughout the rollout is notified exactly once",
            "the silenced alert, sent throughout, notified nobody",
            "every member runs the new configuration",
            "a page after the rollout arrives once, sent with the new routing key",
        ],
        run: async (lb) => {
            await rehearseFailedRollout(lb);
            await rehearsePlannedRollout(lb);
        },
    },
    {
        name: "dashboards", proves: "every dashboard query runs, and returns data from what ran",
        checks: [
            ...DASHBOARDS.map((d) => new RegExp(`^dashboard ${d.title}: each of its \\d+ queries parses and returns data$`)),
            /^dashboard [a-z0-9-]+: targets and alerts: each of its \d+ queries parses and returns data$/,
            /^the tenants' other \d+ dashboards: each of their \d+ queries parses and runs$/,
        ],
        run: (lb) => checkDashboardQueries({
            prometheus: { host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT },
            since: lb.rehearsalStart,
            rateInterval: `${4 * scrapeMs(lb.env)}ms`,
            stepSeconds: scrapeMs(lb.env) / 1000,
            dataDir: path.join(lb.nodes[0].dir, "data"),
            tenants: lb.platform.tenants,
            scrapedTenant: rehearsedTenant(lb)?.name,
            check: lb.check, figures: lb.figures,
        }),
    },
    {
        name: "probes", proves: "the outside-in probe pages when the ingress is down",
        checks: [
            /^the blackbox exporter of each of the \d+ nodes probes the ingress successfully \(401 without credentials\)$/,
            "with the ingress stopped its probe fails from every node, and the endpoint-down page arrives",
            "the ingress started again passes its probe from every node",
        ],
        run: (lb) => rehearseEndpointDown({
            prometheus: { host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT },
            url: lb.probeUrl, exporters: NODES.length,
            stopIngress: async () => { await lb.processes.stop("nginx"); }, startIngress: lb.startNginx,
            received: lb.received, check: lb.check, figures: lb.figures,
        }),
    },
    {
        name: "failures", proves: "alerting survives one Alertmanager and one Prometheus killed; two killed page",
        checks: [
            "with one Alertmanager killed, a page still arrives once",
            "with one Prometheus killed the others still alert, and two of three is not below threshold",
            "with two Prometheus killed the last one pages Prometheus below threshold",
        ],
        run: rehearseFailures,
    },
];

export interface RehearsalReport {
    stack: string;
    factor: number;
    /** What the rehearsal added to the stack's files so that every scenario runs. */
    fixtures: string[];
    /** Each declared scenario, and whether it ran to its end. */
    scenarios: { name: string; completed: boolean }[];
    /** Every check, with the scenario it ran in ("setup" before the first). */
    checks: (RehearsalCheck & { scenario: string })[];
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
    const checks: (RehearsalCheck & { scenario: string })[] = [];
    let current = "setup";
    const report: Report = {
        checks,
        figures: { factor: `every interval and for: divided by ${FACTOR}` },
        check: (name, ok, detail) => { checks.push({ name, ok, detail, scenario: current }); },
    };
    const scenarios = SCENARIOS.map((s) => ({ name: s.name, completed: false }));
    let fixtures: string[] = [];
    try {
        const source = loadRehearsalSource(stack);
        fixtures = source.fixtures.map((f) => f.says);
        const lb = await startLoopback(stack, source, work, logs, processes, teardown, report);
        for (const [i, scenario] of SCENARIOS.entries()) {
            current = scenario.name;
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
    return { stack, factor: FACTOR, fixtures, scenarios, checks, figures: report.figures, ok: checks.every((c) => c.ok) && scenarios.every((s) => s.completed) };
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
