// Which shard scrapes what: the platform's own jobs on shard 1, each tenant's jobs and rules on the
// shard its stack's environment places it on (prometheus.tenantShards). Placement is written, not
// computed, so adding a tenant never moves another.
import { LoadedEnvironment, NodePlan } from "./environment";
import { EnvironmentError, TenantFileError } from "./inputErrors";
import { Tenant } from "./tenantSchema";
import { datasourceUids } from "./tenantDashboards";
import { isNodeName } from "./nodeKeys";
import { MANAGED_PROMETHEUS_DATASOURCE } from "../components/render/grafanaConfig";

type Sharded = Pick<LoadedEnvironment, "prometheus">;

/** The shard that scrapes a tenant's jobs and runs its rules. */
export function tenantShard(env: Sharded, tenant: string): number {
    return env.prometheus.tenantShards[tenant] ?? 1;
}

/** The tenants a shard scrapes. */
export function tenantsOfShard<T extends Pick<Tenant, "name">>(env: Sharded, tenants: readonly T[], shard: number): T[] {
    return tenants.filter((t) => tenantShard(env, t.name) === shard);
}

/** The nodes of one shard, zone by zone. */
export function shardNodes(env: Pick<LoadedEnvironment, "nodes">, shard: number): NodePlan[] {
    return env.nodes.filter((n) => n.shard === shard);
}

/**
 * Refuses a placement that does not say where every tenant goes, before anything is created: on a
 * stack of several shards each tenant is placed and declares its expected series; no entry names a
 * tenant that is not on the stack. `wouldFit` names the shards with room for a tenant not yet placed.
 */
export function checkPlacement(env: LoadedEnvironment, tenants: readonly Tenant[], wouldFit?: (tenant: Tenant) => number[]): void {
    const { shards, tenantShards } = env.prometheus;
    for (const tenant of tenants) {
        if (shards > 1 && tenant.expectedSeries === undefined) {
            throw new TenantFileError(tenant.file, [`expectedSeries: missing; stack ${env.stack} has ${shards} shards, which are chosen and sized by their tenants' expected series`]);
        }
    }
    for (const tenant of tenants) {
        checkDashboardSources(env, tenant);
    }
    const problems = Object.keys(tenantShards).filter((name) => !tenants.some((t) => t.name === name))
        .map((name) => `prometheus.tenantShards.${name}: no tenant ${name} is on stack ${env.stack} (tenants/${name}.yaml, stacks)`);
    if (shards > 1) {
        for (const tenant of tenants.filter((t) => tenantShards[t.name] === undefined)) {
            const room = wouldFit?.(tenant);
            problems.push(`prometheus.tenantShards.${tenant.name}: missing; stack ${env.stack} has ${shards} shards, so each tenant is placed on one`
                + (room ? (room.length > 0 ? `; its ${tenant.expectedSeries} series fit on shard ${room.join(", ")}` : `; its ${tenant.expectedSeries} series fit on no shard: add one`) : ""));
        }
    }
    if (problems.length > 0) {
        throw new EnvironmentError(env.file, problems);
    }
}

/** A tenant's dashboard that names a node's data source must name one of its own shard's nodes, which alone scrape it. */
function checkDashboardSources(env: LoadedEnvironment, tenant: Tenant): void {
    const own = shardNodes(env, tenantShard(env, tenant.name)).map((n) => n.name);
    for (const dashboard of tenant.dashboards ?? []) {
        const foreign = [...new Set(datasourceUids(dashboard.json).filter((uid) => isNodeName(uid) && !own.includes(uid)))];
        if (foreign.length > 0) {
            throw new TenantFileError(dashboard.file, [`panels: data source ${foreign.join(", ")} does not scrape ${tenant.name} on stack ${env.stack}; `
                + `its shard's nodes are ${own.join(", ")}; or use ${MANAGED_PROMETHEUS_DATASOURCE} or a data source variable ($datasource)`]);
        }
    }
}
