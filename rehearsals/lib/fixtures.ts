// What a rehearsal renders: the stack's environment and tenants, plus a fixture for each
// prerequisite of a scenario the stack lacks (two tenants, target discovery, remote write), so that
// no scenario is skipped. Every fixture added is named in the report.
import * as path from "path";
import { LoadedEnvironment, loadEnvironment } from "../../infra/environment";
import { loadTenants, Tenant } from "../../infra/tenants";
import { planNodes } from "../../infra/environmentChecks";
import { tenantShard, tenantsOfShard } from "../../infra/shards";

/** Tenant files the rehearsal may add; loaded and validated as tenants/ is. Never deployed. */
export const FIXTURE_TENANTS_DIR = path.join(__dirname, "..", "fixtures", "tenants");
/** The tenant scenarios need two tenants on shard 1: one to rehearse with, one more to keep apart from it. */
export const TENANTS_NEEDED = 2;
/** The series a fixture gives a tenant that declares none, where the rehearsal shards its stack. */
const FIXTURE_TENANT_SERIES = 1000;

/** What a scenario may need that a stack can lack. */
export type Prerequisite = "discovery" | "remote write" | "tenants" | "alertmanager tier" | "shards";

export interface Fixture {
    readonly prerequisite: Prerequisite;
    /** What the stack lacked and what the rehearsal added, for the report. */
    readonly says: string;
}

export interface RehearsalSource {
    readonly env: LoadedEnvironment;
    readonly tenants: Tenant[];
    readonly fixtures: Fixture[];
}

/** Whether the rehearsal added a fixture for `prerequisite`. */
export function addedFor(source: RehearsalSource, prerequisite: Prerequisite): boolean {
    return source.fixtures.some((f) => f.prerequisite === prerequisite);
}

/** The stack as rendered for a rehearsal: its own files, and a fixture for what it lacks. */
export function rehearsalSource(env: LoadedEnvironment, stackTenants: Tenant[]): RehearsalSource {
    let tenants = stackTenants;
    const fixtures: Fixture[] = [];
    let rendered = env;
    if (!env.discovery.enabled) {
        const regions = env.discovery.regions.length > 0 ? env.discovery.regions : [env.region];
        rendered = { ...env, discovery: { ...env.discovery, enabled: true, regions } };
        fixtures.push({ prerequisite: "discovery", says: `${env.file} has discovery.enabled: false; the rehearsal turns discovery on for ${regions.join(", ")}` });
    }
    if (!env.remoteWrite.enabled) {
        rendered = { ...rendered, remoteWrite: { ...rendered.remoteWrite, enabled: true } };
        fixtures.push({ prerequisite: "remote write", says: `${env.file} has remoteWrite.enabled: false; the rehearsal turns remote write to a managed Prometheus workspace on` });
    }
    if (env.prometheus.shards < 2) {
        // Every tenant of a sharded stack is placed and declares its series: the stack's own stay on shard 1.
        rendered = { ...rendered, prometheus: { ...rendered.prometheus, shards: 2, tenantShards: Object.fromEntries(tenants.map((t) => [t.name, 1])) } };
        rendered = { ...rendered, nodes: planNodes(2, rendered.zones) };
        fixtures.push({ prerequisite: "shards", says: `${env.file} has prometheus.shards: ${env.prometheus.shards}; the rehearsal adds a second shard of three nodes` });
        tenants = tenants.map((t) => {
            if (t.expectedSeries !== undefined) {
                return t;
            }
            fixtures.push({ prerequisite: "shards", says: `${t.file} declares no expectedSeries; the rehearsal gives it ${FIXTURE_TENANT_SERIES}` });
            return { ...t, expectedSeries: FIXTURE_TENANT_SERIES };
        });
    }
    const available = loadTenants(env.stack, FIXTURE_TENANTS_DIR).filter((fixture) => !tenants.some((t) => t.name === fixture.name));
    const onFirst = tenantsOfShard(rendered, tenants, 1).length;
    const addedFirst = available.slice(0, Math.max(0, TENANTS_NEEDED - onFirst));
    const beyond = tenants.some((t) => tenantShard(rendered, t.name) > 1) ? [] : available.slice(addedFirst.length, addedFirst.length + 1);
    const added = [...addedFirst, ...beyond];
    for (const fixture of addedFirst) {
        fixtures.push({ prerequisite: "tenants", says: `the stack has ${onFirst} tenant(s) on shard 1; the rehearsal adds fixture tenant ${fixture.name} (${fixture.file})` });
    }
    for (const fixture of beyond) {
        fixtures.push({ prerequisite: "tenants", says: `the stack has no tenant beyond shard 1; the rehearsal adds fixture tenant ${fixture.name} (${fixture.file}) on shard 2` });
    }
    rendered = { ...rendered, prometheus: { ...rendered.prometheus, tenantShards: {
        ...rendered.prometheus.tenantShards,
        ...Object.fromEntries(addedFirst.map((t) => [t.name, 1])),
        ...Object.fromEntries(beyond.map((t) => [t.name, 2])),
    } } };
    if (added.length > 0 && rendered.alertmanager.configParameterTier !== "Advanced") {
        // More tenants' receivers and routes need room, as dev's two tenants do.
        rendered = { ...rendered, alertmanager: { ...rendered.alertmanager, configParameterTier: "Advanced" } };
        fixtures.push({ prerequisite: "alertmanager tier",
            says: `${env.file} has alertmanager.configParameterTier: ${env.alertmanager.configParameterTier}; with the fixture tenants the rehearsal uses Advanced` });
    }
    return { env: rendered, tenants: [...tenants, ...added], fixtures };
}

/** The stack's own environment and tenants, with fixtures where it lacks a prerequisite. */
export function loadRehearsalSource(stack: string): RehearsalSource {
    const env = loadEnvironment(stack);
    return rehearsalSource(env, loadTenants(stack));
}
