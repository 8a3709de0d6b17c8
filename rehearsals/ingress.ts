// The ingress on loopback: prom-1's generated nginx lets the office through, asks everyone else
// for basic auth, trusts X-Forwarded-For only from the ALB, and refuses the lifecycle and admin APIs.
import { PROMETHEUS_PORT } from "../components/ports";
import { basicAuthHeader } from "./lib/credentials";
import { ADDRESSES, Loopback, throughNginx } from "./lib/loopbackPlatform";
import { request } from "./lib/wait";

export async function rehearseIngress(lb: Loopback): Promise<void> {
    const get = throughNginx;
    const basic = { authorization: basicAuthHeader(lb.credential) };
    const ingress: [string, Promise<{ status: number }>, number][] = [
        ["office address, no credentials", get(ADDRESSES.officeClient), 200],
        ["other address, no credentials", get(ADDRESSES.outsider), 401],
        ["other address, basic auth", get(ADDRESSES.outsider, basic), 200],
        ["other address, wrong password", get(ADDRESSES.outsider, { authorization: `Basic ${Buffer.from("grafana:wrong").toString("base64")}` }), 401],
        ["other address forging X-Forwarded-For: office", get(ADDRESSES.outsider, { "x-forwarded-for": ADDRESSES.officeClient }), 401],
        ["the ALB forwarding an office client", get(ADDRESSES.albClient, { "x-forwarded-for": ADDRESSES.officeClient }), 200],
        ["the ALB forwarding an office address forged before another client", get(ADDRESSES.albClient, { "x-forwarded-for": `${ADDRESSES.officeClient}, ${ADDRESSES.outsider}` }), 401],
        ["the ALB's health check", get(ADDRESSES.albClient, {}, "/health"), 200],
        ["a health check from elsewhere", get(ADDRESSES.outsider, {}, "/health"), 403],
        ["office address, POST /-/quit", get(ADDRESSES.officeClient, {}, "/-/quit", "POST"), 403],
        ["office address, POST /-/reload", get(ADDRESSES.officeClient, {}, "/-/reload", "POST"), 403],
        ["other address with basic auth, POST /-/reload", get(ADDRESSES.outsider, basic, "/-/reload", "POST"), 403],
        ["office address, admin API", get(ADDRESSES.officeClient, {}, "/api/v1/admin/tsdb/snapshot", "POST"), 403],
    ];
    for (const [what, response, expected] of ingress) {
        const { status } = await response;
        lb.check(`ingress: ${what} gets ${expected}`, status === expected, `got ${status}`);
    }
    // Even on the node, Prometheus has no lifecycle API to quit through: it reloads by SIGHUP.
    const quit = await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/-/quit", method: "POST" });
    const stillUp = await request({ host: ADDRESSES.prometheus(1), port: PROMETHEUS_PORT, path: "/-/healthy" });
    lb.check("Prometheus refuses /-/quit itself and keeps running", quit.status !== 200 && stillUp.status === 200, `quit answered ${quit.status}, /-/healthy ${stillUp.status}`);
}
