// Changing a running platform, on loopback: rules and passwords reach the nodes as data and are
// reloaded without a restart; a new Alertmanager configuration rolls one member at a time.
// Called by the loopback rehearsal once its platform runs.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import { NodeConfigSource } from "../components/nodeConfigBucket";
import { TENANT_RULE_FILE_PREFIX } from "../components/render/configSync";
import { memberReadyCommand } from "../components/render/alertmanagerTask";
import { basicAuthHeader, Credential, htpasswdOf } from "./lib/credentials";
import { instantQuery, ruleGroups as prometheusRuleGroups } from "./lib/prometheusApi";
import { now, observe, request, sleep, waitFor } from "./lib/wait";
import { ALERTMANAGER_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";

export interface LoopbackNode {
    name: string;
    /** Its place among every shard's nodes (1-based): its loopback address. */
    index: number;
    shard: number;
    host: string;
    dir: string;
    rulesDir: string;
    targetsDir: string;
    textfileDir: string;
    htpasswdFile: string;
}

export interface Received {
    receiver: string;
    at: number;
    body: string;
}

/** One run of a node's configuration sync, as the rehearsal's timer started it. */
export interface ConfigSyncRun {
    started: number;
    ended?: number;
    /** The revision the node's metrics reported when the run exited. */
    appliedRevision?: string;
}

export interface ChangeContext {
    nodes: LoopbackNode[];
    /** What the nodes' sets are rendered from now; each change returns the next. */
    sources: NodeConfigSource[];
    /** Renders, remaps and uploads the sets (MANIFEST last); gives the revision. */
    publish(sources: NodeConfigSource[]): Promise<string>;
    /** Every configuration sync run of the node so far, in the order they started. */
    configSyncRuns(node: LoopbackNode): ConfigSyncRun[];
    /** The configuration sync interval, scaled, in ms. */
    configSyncMs: number;
    /** The scrape interval, scaled, in ms. */
    scrapeMs: number;
    received: Received[];
    check(name: string, ok: boolean, detail: string): void;
    figures: Record<string, number | string>;
    /** A request through the node's nginx from a non-office address. */
    throughNginx(authorization?: string): Promise<number>;
}

const CHANGE_FILE = "rehearsal-change.yml";
const CHANGE_GROUP = "rehearsal-change";
const CHANGE_RULES = `groups:
  - name: ${CHANGE_GROUP}
    rules:
      - record: rehearsal:up:sum
        expr: sum(up)
`;
const INVALID_FILE = "rehearsal-invalid.yml";
const INVALID_RULES = `groups:
  - name: rehearsal-invalid
    rules:
      - alert: RehearsalInvalid
        expr: sum(up{job="prometheus"}
`;
function textfileMetrics(node: LoopbackNode): string {
    try {
        return fs.readFileSync(`${node.textfileDir}/platform_node_config.prom`, "utf8");
    } catch {
        return "";
    }
}

export const appliedRevision = (node: LoopbackNode) => /^platform_node_config_applied_info\{revision="([^"]+)"\} 1$/m.exec(textfileMetrics(node))?.[1];
const applySuccessful = (node: LoopbackNode) => /^platform_node_config_apply_successful (\d)$/m.exec(textfileMetrics(node))?.[1];
const heldFiles = (node: LoopbackNode) => [...textfileMetrics(node).matchAll(/^platform_node_config_rule_file_held\{file="([^"]+)"\} 1$/gm)].map((m) => m[1]);
const refused = (node: LoopbackNode) => /^platform_node_config_refused_info\{revision="([^"]+)",stage="([^"]+)"\} 1$/m.exec(textfileMetrics(node));

async function startTime(node: LoopbackNode): Promise<number> {
    const metrics = (await request({ host: node.host, port: PROMETHEUS_PORT, path: "/metrics" })).body;
    return Number(/^process_start_time_seconds (\S+)$/m.exec(metrics)![1]);
}

const ruleGroups = (node: LoopbackNode) => prometheusRuleGroups({ host: node.host, port: PROMETHEUS_PORT });

async function untilEveryNode(ctx: ChangeContext, what: string, probe: (node: LoopbackNode) => boolean, timeoutMs = 60000): Promise<number> {
    return waitFor(what, async () => ctx.nodes.every(probe) ? now() : undefined, timeoutMs, 100);
}

/**
 * A rule added by rendering is applied by each node's first sync run that starts after the
 * publish, then evaluated; no restart, no gap. Counted in sync runs, not seconds: the seconds are
 * figures, whatever else the machine is doing.
 */
export async function rehearseRuleChange(ctx: ChangeContext): Promise<void> {
    const started = await Promise.all(ctx.nodes.map(startTime));
    const changed = ctx.sources.map((s) => ({ ...s, ruleFiles: { ...s.ruleFiles, [CHANGE_FILE]: CHANGE_RULES } }));
    const published = now();
    const revision = await ctx.publish(changed);
    const publishedAt = now();
    const firstRuns = await Promise.all(ctx.nodes.map((node) => waitFor(`${node.name}: a configuration sync run started after the publish, and ended`,
        async () => ctx.configSyncRuns(node).find((run) => run.started >= publishedAt && run.ended !== undefined), 120000, 100)));
    ctx.check("each node applies a rule added by rendering in its first configuration sync run that starts after the publish",
        firstRuns.every((run) => run.appliedRevision === revision),
        `published ${revision}; that run left ${firstRuns.map((run, i) => `${ctx.nodes[i].name} at ${run.appliedRevision ?? "none"}`).join(", ")}`);
    const evaluated = await Promise.all(ctx.nodes.map((node) => waitFor(`${node.name} evaluating the added rule`, async () => {
        const group = (await ruleGroups(node)).find((g) => g.name === CHANGE_GROUP);
        return group && group.rules.every((r) => r.health === "ok") && !group.lastEvaluation.startsWith("0001")
            ? { at: now(), health: group.rules.map((r) => r.health) } : undefined;
    }, 120000, 100)));
    ctx.check("all three Prometheus servers then evaluate the added rule, healthy",
        evaluated.every((e) => e.health.length === 1 && e.health[0] === "ok"), evaluated.map((e, i) => `${ctx.nodes[i].name} ${e.health.join(",")}`).join("; "));
    const lastMs = Math.max(...evaluated.map((e) => e.at)) - published;
    ctx.figures.ruleChangeToActiveOnLastNodeSeconds = Number((lastMs / 1000).toFixed(2));
    ctx.figures.ruleChangeSyncRunSeconds = Number((Math.max(...firstRuns.map((run) => run.ended! - run.started)) / 1000).toFixed(2));
    // Asked of each node's node_exporter, which reads the sync's textfile.
    const reported = await Promise.all(ctx.nodes.map(async (node) => {
        let last: string | undefined;
        await observe(`${node.name}'s revision in node_exporter`, async () => {
            const metrics = (await request({ host: node.host, port: NODE_EXPORTER_PORT, path: "/metrics" })).body;
            last = /^platform_node_config_applied_info\{revision="([^"]+)"\} 1$/m.exec(metrics)?.[1];
            return last === revision || undefined;
        }, 60000, 100);
        return last;
    }));
    ctx.check("every node reports the revision it applied through node_exporter's textfile collector", reported.every((r) => r === revision),
        `published ${revision}; reported ${reported.map((r, i) => `${ctx.nodes[i].name} ${r ?? "none"}`).join(", ")}`);

    // Two more scrapes, then the node's own samples around the change.
    await sleep(ctx.scrapeMs * 3);
    const window = Math.ceil((now() - published) / 1000) + 10;
    const gaps = await Promise.all(ctx.nodes.map(async (node) => {
        const [series] = await instantQuery({ host: node.host, port: PROMETHEUS_PORT }, `up{job="prometheus", instance="${node.name}"}[${window}s]`);
        const stamps = (series?.values ?? []).map(([t]) => t * 1000);
        return stamps.length < 2 ? Infinity : Math.max(...stamps.slice(1).map((t, i) => t - stamps[i]));
    }));
    const after = await Promise.all(ctx.nodes.map(startTime));
    const restarts = after.filter((t, i) => t !== started[i]).length;
    ctx.figures.prometheusRestartsForRuleChange = restarts;
    ctx.figures.largestSampleGapAroundChangeMs = Math.round(Math.max(...gaps));
    ctx.check("the change restarts no Prometheus: process_start_time_seconds is unchanged on all three", restarts === 0,
        `${restarts} restarted`);
    ctx.check("samples are continuous across the reload: no gap longer than two scrape intervals", gaps.every((g) => g <= 2 * ctx.scrapeMs),
        `largest gap ${gaps.map((g) => Math.round(g)).join(", ")} ms at a ${ctx.scrapeMs} ms scrape interval`);
    ctx.sources = changed;
}

/** A rule set promtool rejects is refused by every node; the last good rules keep running; the refusal alerts. */
export async function rehearseInvalidRules(ctx: ChangeContext): Promise<void> {
    const good = appliedRevision(ctx.nodes[0]);
    const invalid = ctx.sources.map((s) => ({ ...s, ruleFiles: { ...s.ruleFiles, [INVALID_FILE]: INVALID_RULES } }));
    const published = now();
    const badRevision = await ctx.publish(invalid);
    await untilEveryNode(ctx, "every node to refuse the invalid rules", (node) => refused(node)?.[1] === badRevision);
    const stages = ctx.nodes.map((node) => refused(node)?.[2]);
    ctx.check("an invalid rule file is refused by every node, by promtool check rules, and the last good revision stays",
        stages.every((s) => s === "rules") && ctx.nodes.every((n) => appliedRevision(n) === good && applySuccessful(n) === "0"),
        `refused at ${stages.join(", ")}; applied ${ctx.nodes.map(appliedRevision).join(", ")}`);
    const evaluating = await Promise.all(ctx.nodes.map(async (node) => {
        await sleep(ctx.scrapeMs * 2);
        const groups = await ruleGroups(node);
        const kept = groups.find((g) => g.name === CHANGE_GROUP);
        return kept !== undefined && Date.parse(kept.lastEvaluation) > Date.now() - (now() - published) && !groups.some((g) => g.name === "rehearsal-invalid");
    }));
    ctx.check("the old rules keep evaluating on every node, and nothing of the invalid file is loaded", evaluating.every((e) => e), evaluating.join(", "));

    const ticket = () => ctx.received.find((r) => r.receiver === "ticket" && r.body.includes("RE_Observe_Prometheus_Config_Refused"));
    const refusedTicket = await waitFor("the config-refused ticket", async () => ticket(), 90000);
    ctx.figures.configRefusedTicketSeconds = Number(((refusedTicket.at - published) / 1000).toFixed(2));
    ctx.check("the refusal raises RE_Observe_Prometheus_Config_Refused through Alertmanager", refusedTicket.body.includes('"status":"firing"'),
        `ticket to ${refusedTicket.receiver} ${ctx.figures.configRefusedTicketSeconds} s after the invalid set was published`);

    // Put the good set back: the nodes clear the refusal without reloading anything.
    await ctx.publish(ctx.sources);
    await untilEveryNode(ctx, "every node back to a successful state", (node) => applySuccessful(node) === "1");
}

const groupsOf = (ruleFile: string) => (yaml.load(ruleFile) as { groups: { name: string }[] }).groups.map((g) => g.name);

/**
 * One tenant's rule file that promtool refuses (an unknown function, which parses) waits alone: in
 * the same set, a platform rule and another tenant's rule are applied and evaluated, the refused
 * tenant keeps its last good rules, and the platform is ticketed. Then the good file returns.
 */
export async function rehearseHeldTenantRules(ctx: ChangeContext): Promise<void> {
    const tenantFiles = Object.keys(ctx.sources[0].ruleFiles).filter((f) => f.startsWith(TENANT_RULE_FILE_PREFIX)).sort();
    ctx.check("the stack has two tenants' rule files to keep apart", tenantFiles.length >= 2, tenantFiles.join(", ") || "none");
    if (tenantFiles.length < 2) {
        return;
    }
    const [brokenFile, otherFile] = tenantFiles;
    const keptGroups = groupsOf(ctx.sources[0].ruleFiles[brokenFile]);
    const otherAdded = `${otherFile}/rehearsal-added`;
    const platformAdded = "rehearsal-platform-added";
    // Only the nodes running both tenants (shard 1's) get the change; other shards' sets stay as they are.
    const changed = ctx.sources.map((s) => s.ruleFiles[brokenFile] === undefined || s.ruleFiles[otherFile] === undefined ? s : ({
        ...s,
        ruleFiles: {
            ...s.ruleFiles,
            [brokenFile]: "groups:\n  - name: rehearsal-broken\n    rules:\n      - record: rehearsal:broken\n        expr: no_such_function(up)\n",
            [otherFile]: `${s.ruleFiles[otherFile]}  - name: ${otherAdded}\n    rules:\n      - record: rehearsal:other_tenant:up\n        expr: sum(up)\n`,
            [`${platformAdded}.yml`]: `groups:\n  - name: ${platformAdded}\n    rules:\n      - record: rehearsal:platform:up\n        expr: sum(up)\n`,
        },
    }));
    const publishedWall = Date.now();
    const published = now();
    const revision = await ctx.publish(changed);
    await untilEveryNode(ctx, "every node to apply the set holding the broken tenant file", (node) => appliedRevision(node) === revision, 120000);
    const held = ctx.nodes.map(heldFiles);
    ctx.check("a tenant rule file promtool refuses is held back alone: every node applies the rest of the set and reports that file held",
        ctx.nodes.every((n, i) => applySuccessful(n) === "1" && held[i].join() === brokenFile),
        `published ${revision}; ${ctx.nodes.map((n, i) => `${n.name} applied ${appliedRevision(n)}, held ${held[i].join(", ") || "nothing"}`).join("; ")}`);

    const evaluatedSince = (groups: { name: string; lastEvaluation: string }[], name: string) =>
        groups.some((g) => g.name === name && Date.parse(g.lastEvaluation) >= publishedWall);
    const seen = await Promise.all(ctx.nodes.map((node) => observe(`${node.name} evaluating the new platform and tenant rules`, async () => {
        const groups = await ruleGroups(node);
        const names = groups.map((g) => g.name);
        return evaluatedSince(groups, platformAdded) && evaluatedSince(groups, otherAdded) && keptGroups.every((g) => evaluatedSince(groups, g))
            ? names : undefined;
    }, 120000, 100)));
    ctx.check("the platform's new rule and the other tenant's new rule evaluate on every node, and the held tenant's last good rules keep evaluating",
        seen.every((names) => names !== undefined && !names.includes("rehearsal-broken")),
        seen.map((names, i) => `${ctx.nodes[i].name}: ${names === undefined ? "not all evaluated" : `${names.length} groups, rehearsal-broken ${names.includes("rehearsal-broken") ? "loaded" : "not loaded"}`}`).join("; "));

    const ticket = await observe("the held-rules ticket", async () => ctx.received.find((r) => r.receiver === "ticket"
        && r.body.includes("RE_Observe_Tenant_Rules_Held") && r.body.includes(brokenFile)), 90000);
    ctx.figures.tenantRulesHeldTicketSeconds = ticket ? Number(((ticket.at - published) / 1000).toFixed(2)) : "none";
    ctx.check("the held file raises RE_Observe_Tenant_Rules_Held to the platform's ticket receiver, naming the file",
        ticket?.body.includes('"status":"firing"') === true, ticket ? `ticket ${ctx.figures.tenantRulesHeldTicketSeconds} s after the publish` : "no ticket");

    // The tenant's fixed file (here: its good one) is accepted again and nothing is held.
    const restored = await ctx.publish(ctx.sources);
    await untilEveryNode(ctx, "every node to apply the restored set, holding nothing", (node) => appliedRevision(node) === restored && heldFiles(node).length === 0, 120000);
}

/** Two credentials valid together until every node has both; then only the new one. */
export async function rehearseRotation(ctx: ChangeContext, current: Credential): Promise<Credential> {
    const next = { user: `${current.user}-next`, password: crypto.randomBytes(18).toString("base64url") };
    const started = now();
    const both = await ctx.publish(ctx.sources.map((s) => ({ ...s, htpasswd: htpasswdOf([next, current]) })));
    await untilEveryNode(ctx, "both credentials on every node", (node) => appliedRevision(node) === both);
    const during = [await ctx.throughNginx(basicAuthHeader(current)), await ctx.throughNginx(basicAuthHeader(next))];
    ctx.check("during a rotation both the old and the new credentials pass", during.every((s) => s === 200), `old ${during[0]}, new ${during[1]}`);

    const onlyNew = ctx.sources.map((s) => ({ ...s, htpasswd: htpasswdOf([next]) }));
    const finished = await ctx.publish(onlyNew);
    await untilEveryNode(ctx, "only the new credential on every node", (node) => appliedRevision(node) === finished);
    const after = [await ctx.throughNginx(basicAuthHeader(current)), await ctx.throughNginx(basicAuthHeader(next))];
    ctx.figures.passwordRotationSeconds = Number(((now() - started) / 1000).toFixed(2));
    ctx.check("after the rotation only the new credential passes", after[0] === 401 && after[1] === 200, `old ${after[0]}, new ${after[1]}`);
    ctx.sources = onlyNew;
    return next;
}

export interface AlertmanagerRollout {
    /** Member numbers in the order the plan says an update restarts them. */
    order: number[];
    host(member: number): string;
    /** The new alertmanager.yml, remapped, and a string only its notifications carry (the new routing key). */
    config: string;
    marker: string;
    stop(member: number): Promise<void>;
    start(member: number, config: string): Promise<void>;
    resendMs: number;
    received: Received[];
    check(name: string, ok: boolean, detail: string): void;
    figures: Record<string, number | string>;
}

export const amRequest = (host: string, path: string, method = "GET", body?: unknown) => request({
    host, port: ALERTMANAGER_PORT, path, method,
    ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
});

/** The hash of the configuration an Alertmanager runs, from its own metrics. */
export const alertmanagerConfigHash = async (host: string) => /^alertmanager_config_hash (\S+)$/m.exec((await amRequest(host, "/metrics")).body)?.[1];

export const memberReady = (host: string) => spawnSync("sh", ["-c", memberReadyCommand(`${host}:${ALERTMANAGER_PORT}`)]).status === 0;

/** A new configuration rolled one member at a time: silences survive, a page during it arrives once. */
export async function rehearseAlertmanagerRollout(r: AlertmanagerRollout): Promise<void> {
    const members = r.order;
    const configHash = (member: number) => alertmanagerConfigHash(r.host(member));
    const hashBefore = await configHash(members[0]);
    const startsAt = new Date().toISOString();
    const silence = JSON.parse((await amRequest(r.host(members[0]), "/api/v2/silences", "POST", {
        matchers: [{ name: "alertname", value: "RehearsalSilenced", isRegex: false, isEqual: true }],
        startsAt, endsAt: new Date(Date.now() + 3600_000).toISOString(), createdBy: "rehearsal", comment: "must survive the rollout",
    })).body).silenceID as string;
    const holds = async (member: number) => {
        const list = JSON.parse((await amRequest(r.host(member), "/api/v2/silences")).body) as { id: string; status: { state: string } }[];
        return list.some((s) => s.id === silence && s.status.state === "active");
    };
    await waitFor("the silence on every member", async () => (await Promise.all(members.map(holds))).every((h) => h) || undefined, 30000);

    // What Prometheus does meanwhile: resend its firing alerts to every member DNS answers with (the healthy ones).
    const alerts = (names: string[]) => names.map((alertname) => ({
        labels: { alertname, severity: "page" },
        annotations: { summary: `${alertname} rehearsal`, runbook_url: "https://runbooks.invalid/#rehearsal" },
        startsAt,
    }));
    let sending = true;
    const sender = (async () => {
        while (sending) {
            await Promise.all(members.filter((m) => memberReady(r.host(m)))
                .map((m) => amRequest(r.host(m), "/api/v2/alerts", "POST", alerts(["RehearsalPageDuringRollout", "RehearsalSilenced"])).catch(() => undefined)));
            await sleep(r.resendMs);
        }
    })();
    const pages = (alert: string) => r.received.filter((x) => x.receiver === "pagerduty" && x.body.includes(alert));
    await waitFor("the page sent before the rollout", async () => pages("RehearsalPageDuringRollout")[0], 30000);

    const rolloutStarted = now();
    const held: string[] = [];
    for (const member of members) {
        await r.stop(member);
        await r.start(member, r.config);
        const restarted = now();
        await waitFor(`alertmanager-${member} healthy (meshed and settled)`, async () => memberReady(r.host(member)) || undefined, 60000, 100);
        const holding = await holds(member);
        held.push(`alertmanager-${member} ${holding ? "holds" : "lost"} the silence, healthy ${((now() - restarted) / 1000).toFixed(1)} s after its start`);
        if (!holding) {
            break;
        }
    }
    r.figures.alertmanagerRolloutSeconds = Number(((now() - rolloutStarted) / 1000).toFixed(2));
    r.figures.alertmanagerRestarts = members.length;
    await sleep(r.resendMs * 3);
    sending = false;
    await sender;
    r.check(`the rollout restarts one member at a time (${members.map((m) => `alertmanager-${m}`).join(", then ")}), each holding the silence before the next stops`,
        held.length === members.length && held.every((h) => h.includes(" holds ")), held.join("; "));
    const duringRollout = pages("RehearsalPageDuringRollout").length;
    r.figures.notificationsDuringRollout = duringRollout;
    r.check("a page firing throughout the rollout is notified exactly once", duringRollout === 1, `${duringRollout} notification(s)`);
    const silenced = r.received.filter((x) => x.body.includes("RehearsalSilenced")).length;
    r.check("the silenced alert, sent throughout, notified nobody", silenced === 0, `${silenced} notification(s)`);

    const hashes = await Promise.all(members.map(configHash));
    r.check("every member runs the new configuration", hashes.every((h) => h === hashes[0] && h !== hashBefore),
        `config hashes ${hashes.join(", ")}; before the rollout ${hashBefore}`);
    await Promise.all(members.map((m) => amRequest(r.host(m), "/api/v2/alerts", "POST", alerts(["RehearsalPageAfterRollout"]))));
    await waitFor("a page through the new receiver settings", async () => pages("RehearsalPageAfterRollout")[0], 30000);
    await sleep(r.resendMs * 2);
    const after = pages("RehearsalPageAfterRollout");
    r.check("a page after the rollout arrives once, sent with the new routing key", after.length === 1 && after[0].body.includes(r.marker),
        `${after.length} notification(s), ${after[0].body.includes(r.marker) ? "new" : "old"} key`);
}
