// Every query of every provisioned dashboard, run against a rehearsal's real Prometheus over the
// time the rehearsal has run: each must parse, return at least one series, and carry the labels its
// legend shows. This is what keeps the dashboards true to the metrics the platform really has.
// Tenants' dashboards query their own services' metrics, which no rehearsal has: theirs must parse
// and run, and return data only where the rehearsal gave the tenant a target.
import { spawnSync } from "child_process";
import { DASHBOARDS, dashboardQueries, renderDashboard, tenantOverview } from "../components/dashboards";
import { Tenant } from "../infra/tenants";
import { NODE_PATHS } from "../components/render/nodeScripts";
import { rangeQuery } from "./lib/prometheusApi";

export interface DashboardCheckContext {
    prometheus: { host: string; port: number };
    /** Unix seconds: the range starts here. */
    since: number;
    /** What Grafana's $__rate_interval comes to at the rehearsal's scrape interval (four of them). */
    rateInterval: string;
    /** The range's step, in seconds: the scrape interval, so a series that lived for one scrape has a point. */
    stepSeconds: number;
    /** The node's data directory here, standing for the data volume's mount point. */
    dataDir: string;
    /** The stack's tenants, and the one the rehearsal gave a target (its overview must return data). */
    tenants: Tenant[];
    scrapedTenant?: string;
    check: (name: string, ok: boolean, detail: string) => void;
    figures: Record<string, number | string>;
}

/** The filesystem a directory is on, as node_exporter names its mount point. */
function mountPointOf(dir: string): string {
    const df = spawnSync("df", ["--output=target", dir], { encoding: "utf8" });
    const mount = df.stdout.trim().split("\n")[1]?.trim();
    if (df.status !== 0 || !mount) {
        throw new Error(`df could not name the mount point of ${dir}: ${df.stderr}`);
    }
    return mount;
}

/** A dashboard's query as a rehearsal runs it: Grafana's rate interval filled in, and the data volume remapped where one stands in. */
export function rehearsalQuery(expr: string, rateInterval: string, dataMount?: string): string {
    const query = expr.replaceAll("$__rate_interval", rateInterval);
    return dataMount ? query.replaceAll(`mountpoint="${NODE_PATHS.dataDir}"`, `mountpoint="${dataMount}"`) : query;
}

/** Every provisioned dashboard: the platform's and each tenant's, and whether its queries must return data here. */
function dashboardsToCheck(ctx: DashboardCheckContext): { title: string; json: Record<string, unknown>; needsData: boolean }[] {
    return [
        ...DASHBOARDS.map((spec) => ({ title: spec.title, json: renderDashboard(spec), needsData: true })),
        ...ctx.tenants.flatMap((tenant) => [
            { title: tenantOverview(tenant.name).title, json: renderDashboard(tenantOverview(tenant.name)), needsData: tenant.name === ctx.scrapedTenant },
            ...(tenant.dashboards ?? []).map((d) => ({ title: d.title, json: d.json, needsData: false })),
        ]),
    ];
}

/** What is wrong with one query's answer over the rehearsal's range, if anything. */
async function queryProblem(ctx: DashboardCheckContext, dataMount: string, end: number, needsData: boolean,
    { panel, expr, legendLabels }: ReturnType<typeof dashboardQueries>[number]): Promise<string | undefined> {
    const query = rehearsalQuery(expr, ctx.rateInterval, dataMount);
    const { error, series } = await rangeQuery(ctx.prometheus, query, { start: ctx.since, end, step: ctx.stepSeconds });
    if (error !== undefined) {
        return `${panel}: ${error}`;
    }
    if (!needsData) {
        return undefined;
    }
    if (series.length === 0) {
        return `${panel}: no series for ${query}`;
    }
    // A legend naming a label no series has would show blanks: the query is not what the panel says.
    const missing = legendLabels.filter((label) => !series.some((s) => s.metric[label]));
    return missing.length > 0 ? `${panel}: no series carries ${missing.join(", ")} (its legend shows them) for ${query}` : undefined;
}

/**
 * One check per dashboard whose queries must return data; one for all the tenants' others, whose
 * number differs from stack to stack.
 */
export async function checkDashboardQueries(ctx: DashboardCheckContext): Promise<void> {
    const dataMount = mountPointOf(ctx.dataDir);
    const end = Math.floor(Date.now() / 1000);
    const dashboards = dashboardsToCheck(ctx);
    let total = 0;
    const runOnly: string[] = [];
    let runOnlyQueries = 0;
    for (const dashboard of dashboards) {
        const queries = dashboardQueries(dashboard.json);
        const failed: string[] = [];
        for (const query of queries) {
            const problem = await queryProblem(ctx, dataMount, end, dashboard.needsData, query);
            if (problem) {
                failed.push(dashboard.needsData ? problem : `${dashboard.title}: ${problem}`);
            }
        }
        total += queries.length;
        if (dashboard.needsData) {
            ctx.check(`dashboard ${dashboard.title}: each of its ${queries.length} queries parses and returns data`, failed.length === 0,
                failed.length === 0 ? `${queries.length} queries` : failed.join("; "));
        } else {
            runOnly.push(...failed);
            runOnlyQueries += queries.length;
        }
    }
    const others = dashboards.filter((d) => !d.needsData).length;
    ctx.check(`the tenants' other ${others} dashboards: each of their ${runOnlyQueries} queries parses and runs`, runOnly.length === 0,
        runOnly.length === 0 ? dashboards.filter((d) => !d.needsData).map((d) => d.title).join(", ") || "none" : runOnly.join("; "));
    ctx.figures.dashboardQueries = total;
}
