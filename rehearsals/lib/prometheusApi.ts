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
