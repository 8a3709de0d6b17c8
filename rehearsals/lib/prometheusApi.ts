// Asking a rehearsal's real Prometheus through its HTTP API: instant and range queries, rule groups.
import { request } from "./wait";

export interface Series {
    metric: Record<string, string>;
    value?: [number, string];
    values?: [number, string][];
}

export async function instantQuery(prometheus: { host: string; port: number }, promql: string): Promise<Series[]> {
    const body = JSON.parse((await request({ ...prometheus, path: `/api/v1/query?query=${encodeURIComponent(promql)}` })).body);
    if (body.status !== "success") {
        throw new Error(`Prometheus refused ${promql}: ${body.error}`);
    }
    return body.data.result;
}

/** A range query as a dashboard panel asks it; Prometheus's refusal is returned as the answer's error, not thrown. */
export async function rangeQuery(prometheus: { host: string; port: number }, promql: string, range: { start: number; end: number; step: number },
    timeoutMs?: number): Promise<{ error?: string; series: Series[] }> {
    const params = new URLSearchParams({ query: promql, start: String(range.start), end: String(range.end), step: String(range.step) });
    const body = JSON.parse((await request({ ...prometheus, path: `/api/v1/query_range?${params}`, ...(timeoutMs ? { timeout: timeoutMs } : {}) })).body) as
        { status: string; error?: string; data?: { result: Series[] } };
    return body.status === "success" ? { series: body.data?.result ?? [] } : { error: body.error ?? body.status, series: [] };
}

/** A rule group as Prometheus's rules API reports it: when it last ran, and each rule's health and (alerts) state. */
export interface RuleGroup {
    name: string;
    lastEvaluation: string;
    rules: { name: string; health: string; state?: string }[];
}

export async function ruleGroups(prometheus: { host: string; port: number }): Promise<RuleGroup[]> {
    return JSON.parse((await request({ ...prometheus, path: "/api/v1/rules" })).body).data.groups;
}
