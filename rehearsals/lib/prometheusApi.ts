// Asking a rehearsal's real Prometheus: one instant query through its HTTP API.
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

/** A rule group as Prometheus's rules API reports it: when it last ran, and each rule's health and (alerts) state. */
export interface RuleGroup {
    name: string;
    lastEvaluation: string;
    rules: { name: string; health: string; state?: string }[];
}

export async function ruleGroups(prometheus: { host: string; port: number }): Promise<RuleGroup[]> {
    return JSON.parse((await request({ ...prometheus, path: "/api/v1/rules" })).body).data.groups;
}
