// The outside-in probes on the real blackbox exporter: with the ingress stopped, its probe fails
// from every node's exporter and RE_Observe_Endpoint_Down pages; started again, the probe passes.
import { RECEIVERS } from "../components/render/alertmanagerConfig";
import { Received } from "./changes";
import { PROBE_JOB } from "../components/render/blackbox";
import { instantQuery } from "./lib/prometheusApi";
import { now, waitFor } from "./lib/wait";

const ALERT = "RE_Observe_Endpoint_Down";

export interface ProbeContext {
    prometheus: { host: string; port: number };
    /** The stand-in URL the ingress is probed at here, and how many nodes probe it. */
    url: string;
    exporters: number;
    stopIngress: () => Promise<void>;
    startIngress: () => Promise<void>;
    received: Received[];
    check: (name: string, ok: boolean, detail: string) => void;
    figures: Record<string, number | string>;
}

export async function rehearseEndpointDown(ctx: ProbeContext): Promise<void> {
    const succeeding = async (value: number) =>
        Number((await instantQuery(ctx.prometheus, `count(probe_success{job="${PROBE_JOB}", url="${ctx.url}"} == ${value})`))[0]?.value?.[1] ?? 0);
    await waitFor(`the ingress probed from ${ctx.exporters} nodes`, async () => (await succeeding(1)) === ctx.exporters || undefined, 60000);
    ctx.check(`the blackbox exporter of each of the ${ctx.exporters} nodes probes the ingress successfully (401 without credentials)`, true, ctx.url);

    await ctx.stopIngress();
    const stopped = now();
    const page = await waitFor(`the ${ALERT} page`, async () =>
        ctx.received.find((r) => r.receiver === RECEIVERS.page && r.body.includes(ALERT) && r.body.includes(ctx.url)), 90000);
    ctx.figures.endpointDownPageSeconds = Number(((now() - stopped) / 1000).toFixed(2));
    const failing = await succeeding(0);
    ctx.check("with the ingress stopped its probe fails from every node, and the endpoint-down page arrives",
        failing === ctx.exporters && page !== undefined, `${failing} nodes failing, paged ${ctx.figures.endpointDownPageSeconds} s after the stop`);

    await ctx.startIngress();
    await waitFor("the probe passing again", async () => (await succeeding(1)) === ctx.exporters || undefined, 60000);
    ctx.check("the ingress started again passes its probe from every node", true, ctx.url);
}
