// Every query of every provisioned dashboard, run against a rehearsal's real Prometheus over the
// time the rehearsal has run: each must parse, return at least one series, and carry the labels its
// legend shows. This is what keeps the dashboards true to the metrics the platform really has.
import { spawnSync } from "child_process";
import { DASHBOARDS, dashboardQueries, renderDashboard } from "../components/dashboards";
import { NODE_PATHS } from "../components/render/nodeScripts";
import { request } from "./lib/wait";

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

/** A dashboard's query as this rehearsal runs it: Grafana's variables and the data volume remapped. */
export function rehearsalQuery(expr: string, rateInterval: string, dataMount: string): string {
    return expr.replaceAll("$__rate_interval", rateInterval).replaceAll(`mountpoint="${NODE_PATHS.dataDir}"`, `mountpoint="${dataMount}"`);
}

export async function checkDashboardQueries(ctx: DashboardCheckContext): Promise<void> {
    const dataMount = mountPointOf(ctx.dataDir);
    const end = Math.floor(Date.now() / 1000);
    let total = 0;
    for (const spec of DASHBOARDS) {
        const failed: string[] = [];
        const queries = dashboardQueries(renderDashboard(spec));
        for (const { panel, expr, legendLabels } of queries) {
            const query = rehearsalQuery(expr, ctx.rateInterval, dataMount);
            const params = new URLSearchParams({ query, start: String(ctx.since), end: String(end), step: String(ctx.stepSeconds) });
            const response = await request({ ...ctx.prometheus, path: `/api/v1/query_range?${params}` });
            const body = JSON.parse(response.body) as { status: string; error?: string; data?: { result: { metric: Record<string, string> }[] } };
            const series = body.data?.result ?? [];
            if (body.status !== "success") {
                failed.push(`${panel}: ${body.error}`);
            } else if (series.length === 0) {
                failed.push(`${panel}: no series for ${query}`);
            } else {
                // A legend naming a label no series has would show blanks: the query is not what the panel says.
                const missing = legendLabels.filter((label) => !series.some((s) => s.metric[label]));
                if (missing.length > 0) {
                    failed.push(`${panel}: no series carries ${missing.join(", ")} (its legend shows them) for ${query}`);
                }
            }
        }
        total += queries.length;
        ctx.check(`dashboard ${spec.title}: each of its ${queries.length} queries parses and returns data`, failed.length === 0,
            failed.length === 0 ? `${queries.length} queries` : failed.join("; "));
    }
    ctx.figures.dashboardQueries = total;
}
