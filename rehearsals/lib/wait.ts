// Time and HTTP for rehearsals: polling until a condition holds, and one plain request.
import * as http from "http";
import { performance } from "perf_hooks";

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `intervalMs` until it gives a value; a probe that throws counts as not yet. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
    const deadline = now() + timeoutMs;
    for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) {
            return value;
        }
        if (now() > deadline) {
            throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`);
        }
        await sleep(intervalMs);
    }
}

/**
 * What `probe` gave once it gave anything, or undefined when nothing came before the timeout:
 * for a check that records what it saw, and fails with that, rather than ending the run.
 */
export function observe<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T | undefined> {
    return waitFor(what, probe, timeoutMs, intervalMs).catch(() => undefined);
}

/** Seconds since the epoch, as S3, node_exporter's textfiles and the journal count time. */
export const epochSeconds = () => Date.now() / 1000;

export function request(options: http.RequestOptions & { body?: string }): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request({ timeout: 5000, ...options }, (res) => {
            let body = "";
            res.on("data", (chunk) => { body += chunk; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error("request timed out")));
        req.end(options.body);
    });
}
