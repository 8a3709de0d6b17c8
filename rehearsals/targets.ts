// The targets path on loopback: a file put into the bucket is synced by the generated sync and
// scraped, and removed again; a tenant's target carries its tenant's name whatever its file
// forges, and a tenant's page reaches only its own receiver.
import * as fs from "fs";
import * as path from "path";
import { ALERTMANAGER_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { Tenant, tenantRegions } from "../infra/tenants";
import { ADDRESSES, duplicateWindowMs, Loopback, NODES } from "./lib/loopbackPlatform";
import { epochSeconds, now, observe, request, sleep } from "./lib/wait";

type ActiveTarget = { labels: Record<string, string>; health: string };

async function activeTarget(app: string): Promise<ActiveTarget | undefined> {
    const targets = JSON.parse((await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/api/v1/targets?state=active" })).body);
    return (targets.data.activeTargets as ActiveTarget[]).find((t) => t.labels.app === app);
}

/** Puts a file_sd file with one target, the target app, into the targets bucket under `key`. */
export async function putTargets(lb: Loopback, key: string, labels: Record<string, string>): Promise<void> {
    const file = path.join(lb.work, `${labels.app}.json`);
    fs.writeFileSync(file, JSON.stringify([{ targets: [lb.targetApp], labels }]));
    const copy = await lb.aws(["s3", "cp", file, `s3://${lb.targetsBucket}/${key}`]);
    if (copy.status !== 0) {
        throw new Error(`aws s3 cp to s3://${lb.targetsBucket}/${key} failed: ${copy.stderr}`);
    }
}

export async function rehearseTargets(lb: Loopback): Promise<void> {
    const put = now();
    await putTargets(lb, "rehearsal-app.json", { app: "rehearsal" });
    const scraped = await observe("the new target to be scraped", async () => {
        const target = await activeTarget("rehearsal");
        return target?.health === "up" ? target : undefined;
    }, 60000);
    lb.figures.targetDiscoverySeconds = Number(((now() - put) / 1000).toFixed(2));
    lb.check("a target put into the bucket is scraped", scraped?.health === "up",
        scraped ? `up ${lb.figures.targetDiscoverySeconds} s after the put, job ${scraped.labels.job}` : "never up within 60 s");
    const removed = now();
    await lb.aws(["s3", "rm", `s3://${lb.targetsBucket}/rehearsal-app.json`]);
    const gone = await observe("the removed target to disappear", async () => (await activeTarget("rehearsal")) === undefined || undefined, 60000);
    lb.figures.targetRemovalSeconds = Number(((now() - removed) / 1000).toFixed(2));
    lb.check("removing the target file removes the target", gone === true,
        gone ? `gone ${lb.figures.targetRemovalSeconds} s after the delete` : "still a target 60 s after the delete");
}

/** The tenant the rehearsal gives a target: the stack's first. */
export function rehearsedTenant(lb: Loopback): Tenant | undefined {
    return lb.platform.tenants[0];
}

/** The rehearsed tenant: its target's labels, its newest-file metric and its page's receiver. */
export async function rehearseTenant(lb: Loopback): Promise<void> {
    const tenant = rehearsedTenant(lb);
    lb.check("the stack has a tenant to rehearse with", tenant !== undefined, tenant ? tenant.name : `no tenant in tenants/ lists stack ${lb.stack}`);
    if (!tenant) {
        return;
    }
    const prefix = tenantTargetsPrefix(tenant.name, tenantRegions(tenant, lb.env)[0]);
    // S3 keeps whole seconds: the file's time is no earlier than the second the put began in.
    const putAt = Math.floor(epochSeconds());
    await putTargets(lb, `${prefix}/app.json`, { app: "tenant-app", tenant: "someone-else" });
    const scraped = await observe("the tenant's target to be scraped", async () => {
        const target = await activeTarget("tenant-app");
        return target?.health === "up" ? target : undefined;
    }, 60000);
    lb.check(`a target under ${prefix}/ is scraped with tenant="${tenant.name}", not the tenant label its file forges`,
        scraped?.labels.tenant === tenant.name, scraped ? `job ${scraped.labels.job}, tenant ${scraped.labels.tenant}` : "never up within 60 s");
    const newest = await observe("the tenant prefix's newest file in node_exporter", async () => {
        const metrics = (await request({ host: ADDRESSES.prometheus(1), port: NODE_EXPORTER_PORT, path: "/metrics" })).body;
        const value = new RegExp(`^platform_targets_newest_file_timestamp_seconds\\{prefix="${prefix}"\\} (\\S+)$`, "m").exec(metrics)?.[1];
        return value === undefined ? undefined : Number(value);
    }, 30000);
    lb.check(`node_exporter reports when the newest target file under ${prefix} was written: the file this rehearsal put`, newest !== undefined && newest >= putAt,
        newest === undefined ? "no such metric within 30 s" : `${new Date(newest * 1000).toISOString()}, put from ${new Date(putAt * 1000).toISOString()}`);
    await lb.aws(["s3", "rm", `s3://${lb.targetsBucket}/${prefix}/app.json`]);

    const pageReceiver = `tenant-${tenant.name}-${tenant.routing.page.receiver}`;
    const alert = "RehearsalTenantPage";
    const body = JSON.stringify([{ labels: { alertname: alert, severity: tenant.routing.page.severities[0], tenant: tenant.name },
        annotations: { summary: "tenant rehearsal page" }, startsAt: new Date().toISOString() }]);
    const sent = now();
    for (const i of NODES) {
        await request({ host: ADDRESSES.alertmanager(i), port: ALERTMANAGER_PORT, path: "/api/v2/alerts", method: "POST", headers: { "content-type": "application/json" }, body });
    }
    const first = await observe("the tenant's page", async () => lb.received.find((r) => r.body.includes(alert)), 20000);
    await sleep(duplicateWindowMs(first ? first.at - sent : 0));
    const got = lb.received.filter((r) => r.body.includes(alert)).map((r) => r.receiver);
    lb.check(`a tenant alert reaches ${pageReceiver} once and no other receiver`, got.length === 1 && got[0] === pageReceiver, got.join(", "));
}
