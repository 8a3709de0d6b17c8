// Shards on loopback: each tenant's target is scraped by its own shard's three nodes only, every
// shard's samples meet at the remote-write receiver with their shard label, and a tenant's rule on
// a further shard pages its receiver once. Absence is read after an event that came later than what
// is absent (a target put after it scraped, the revision holding it applied), not after a wait.
import * as fs from "fs";
import * as path from "path";
import { PROMETHEUS_PORT } from "../components/ports";
import { SHARD_LABEL } from "../components/render/scrapeJobs";
import { tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { tenantShard } from "../infra/shards";
import { renderTenantRules, Tenant, tenantRegions, tenantRuleFileName } from "../infra/tenants";
import { appliedRevision, LoopbackNode } from "./changes";
import { duplicateWindowMs, Loopback } from "./lib/loopbackPlatform";
import { instantQuery, ruleGroups } from "./lib/prometheusApi";
import { now, observe, request, sleep } from "./lib/wait";
import { putTargets, rehearsedTenant } from "./targets";

const TARGET_FILE = "shard-rehearsal.json";
/** Put after the near tenant's file: once the far shard scrapes it, the near file has been in its targets as long. */
const MARKER_FILE = "shard-rehearsal-after.json";
/** The marker target's own shard label, which remote write must keep rather than overwrite. */
const OWN_SHARD_LABEL = "tenant-own";
const SHARD_PAGE = "RehearsalShardPage";

async function activeApps(node: LoopbackNode): Promise<{ app: string; health: string; tenant?: string }[]> {
    const body = JSON.parse((await request({ host: node.host, port: PROMETHEUS_PORT, path: "/api/v1/targets?state=active" })).body);
    return (body.data.activeTargets as { labels: Record<string, string>; health: string }[])
        .map((t) => ({ app: t.labels.app, health: t.health, tenant: t.labels.tenant }));
}

const prefixOf = (lb: Loopback, tenant: Tenant) => tenantTargetsPrefix(tenant.name, tenantRegions(tenant, lb.env)[0]);

export async function rehearseShards(lb: Loopback): Promise<void> {
    const near = rehearsedTenant(lb);
    const far = lb.platform.tenants.find((t) => tenantShard(lb.env, t.name) > 1);
    const all = [...lb.nodes, ...lb.shardNodes];
    lb.check("the stack has two shards with a tenant on each", near !== undefined && far !== undefined && tenantShard(lb.env, near.name) === 1,
        `${lb.env.prometheus.shards} shards; ${lb.platform.tenants.map((t) => `${t.name} on shard ${tenantShard(lb.env, t.name)}`).join(", ")}`);
    if (!near || !far) {
        return;
    }
    const farShard = tenantShard(lb.env, far.name);
    const nodesOf = (shard: number) => all.filter((n) => n.shard === shard);
    const apps = { [near.name]: "shard-near", [far.name]: "shard-far" };
    const marker = "shard-far-after";
    // Absence is read after an event that followed the other shard's file, never right after a sync:
    // the far file goes first, so the near target up on shard 1 means the far file was there as long;
    // the marker goes last, so the marker up on the far shard means the near file was there as long.
    await putTargets(lb, `${prefixOf(lb, far)}/${TARGET_FILE}`, { app: apps[far.name] });
    await putTargets(lb, `${prefixOf(lb, near)}/${TARGET_FILE}`, { app: apps[near.name] });
    await putTargets(lb, `${prefixOf(lb, far)}/${MARKER_FILE}`, { app: marker, [SHARD_LABEL]: OWN_SHARD_LABEL });
    const scrapedBy = async (app: string, nodes: LoopbackNode[]) => Promise.all(nodes.map((node) => observe(`${node.name} scraping ${app}`,
        async () => (await activeApps(node)).find((t) => t.app === app && t.health === "up"), 90000)));
    const nearUp = await scrapedBy(apps[near.name], nodesOf(1));
    const farUp = await scrapedBy(apps[far.name], nodesOf(farShard));
    const markerUp = await scrapedBy(marker, nodesOf(farShard));
    const hasFile = (node: LoopbackNode, tenant: Tenant) => fs.existsSync(path.join(node.targetsDir, prefixOf(lb, tenant), TARGET_FILE));
    const crossed = await Promise.all(all.map(async (node) => {
        const other = node.shard === 1 ? far : near;
        return { node, synced: hasFile(node, other), scraped: (await activeApps(node)).some((t) => t.app === apps[other.name]) };
    }));
    lb.check("each tenant's target is scraped only by its shard's three nodes",
        nearUp.every((t) => t?.tenant === near.name) && farUp.every((t) => t?.tenant === far.name) && markerUp.every((t) => t !== undefined)
            && crossed.every((c) => c.synced && !c.scraped),
        `${near.name}'s target up on ${nodesOf(1).filter((_, i) => nearUp[i]).map((n) => n.name).join(", ")}; `
        + `${far.name}'s on ${nodesOf(farShard).filter((_, i) => farUp[i]).map((n) => n.name).join(", ")}; `
        + crossed.map((c) => `${c.node.name} holds the other shard's file: ${c.synced ? "yes" : "no"}, scrapes it: ${c.scraped ? "yes" : "no"}`).join("; "));

    const globalView = await lb.startGlobalView();
    try {
        await checkGlobalView(lb, globalView, [near, far], apps, marker);
    } finally {
        globalView.stop();
    }

    await rehearseFarPage(lb, far, nodesOf(farShard), nodesOf(1), apps[far.name]);
    await Promise.all([`${prefixOf(lb, near)}/${TARGET_FILE}`, `${prefixOf(lb, far)}/${TARGET_FILE}`, `${prefixOf(lb, far)}/${MARKER_FILE}`]
        .map((key) => lb.aws(["s3", "rm", `s3://${lb.targetsBucket}/${key}`])));
}

/** Every shard's samples meet at the receiver, each tenant's with its shard's label, from its three replicas. */
async function checkGlobalView(lb: Loopback, globalView: { host: string; port: number }, tenants: Tenant[], apps: Record<string, string>,
    marker: string): Promise<void> {
    const query = `count by (app, tenant, ${SHARD_LABEL}) (up{app=~"${[...tenants.map((t) => apps[t.name]), marker].join("|")}"})`;
    const far = tenants.find((t) => tenantShard(lb.env, t.name) > 1)!;
    const expected = (series: { metric: Record<string, string>; value?: [number, string] }[]) =>
        tenants.every((t) => series.some((s) => s.metric.app === apps[t.name] && s.metric.tenant === t.name
            && s.metric[SHARD_LABEL] === String(tenantShard(lb.env, t.name)) && s.value?.[1] === "3"))
        && series.some((s) => s.metric.app === marker && s.metric.tenant === far.name && s.metric[SHARD_LABEL] === OWN_SHARD_LABEL && s.value?.[1] === "3");
    const global = await observe("both tenants' targets at the remote-write receiver", async () => {
        const series = await instantQuery(globalView, query);
        return expected(series) ? series : undefined;
    }, 90000);
    const seen = global ?? await instantQuery(globalView, query);
    lb.check("a global query at the remote-write receiver sees every shard's targets, each with its shard label (a series' own kept), from its three nodes",
        global !== undefined,
        `${query}: ${seen.map((s) => `${s.metric.app} of ${s.metric.tenant}, shard ${s.metric[SHARD_LABEL]}: ${s.value?.[1]}`).join(", ") || "nothing"}`);
}

/** A page from a rule of the far tenant, evaluated by its shard's nodes alone, reaches its receiver once. */
async function rehearseFarPage(lb: Loopback, far: Tenant, farNodes: LoopbackNode[], nearNodes: LoopbackNode[], app: string): Promise<void> {
    const paging: Tenant = { ...far, rules: { groups: [...far.rules.groups,
        { name: "rehearsal-shard", rules: [{ alert: SHARD_PAGE, expr: `up{app="${app}"} == 1`, labels: { severity: far.routing.page.severities[0] } }] }] } };
    const file = tenantRuleFileName(far.name);
    const changed = lb.configSources.map((s) => s.ruleFiles[file] === undefined ? s : { ...s, ruleFiles: { ...s.ruleFiles, [file]: renderTenantRules(paging) } });
    const sent = now();
    const revision = await lb.publish(changed);
    const first = await observe("the far tenant's page", async () => lb.received.find((r) => r.body.includes(SHARD_PAGE)), 120000);
    await sleep(duplicateWindowMs(first ? first.at - sent : 0));
    // Where the rule is not loaded, it is so on a node that applied the revision holding it, not one behind.
    const applied = await Promise.all([...farNodes, ...nearNodes].map((node) => observe(`${node.name} applying ${revision}`,
        async () => appliedRevision(node) === revision || undefined, 120000)));
    const got = lb.received.filter((r) => r.body.includes(SHARD_PAGE)).map((r) => r.receiver);
    const receiver = `tenant-${far.name}-${far.routing.page.receiver}`;
    const evaluatedBy = await Promise.all([...farNodes, ...nearNodes].map(async (node) =>
        (await ruleGroups({ host: node.host, port: PROMETHEUS_PORT })).some((g) => g.rules.some((r) => r.name === SHARD_PAGE))));
    lb.check(`a page from ${far.name}'s rule, evaluated on its shard's nodes alone, reaches ${receiver} once`,
        got.length === 1 && got[0] === receiver && applied.every((a) => a === true) && evaluatedBy.every((loaded, i) => loaded === i < farNodes.length),
        `received by ${got.join(", ") || "nobody"}${first ? ` ${((first.at - sent) / 1000).toFixed(1)} s after the publish` : ""}; `
        + `rule loaded on ${[...farNodes, ...nearNodes].filter((_, i) => evaluatedBy[i]).map((n) => n.name).join(", ") || "no node"} `
        + `of the ${applied.filter((a) => a === true).length} nodes that applied ${revision}`);
    await lb.publish(lb.configSources);
}
