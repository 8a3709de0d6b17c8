// The outside-in probes on the real blackbox exporter: with the ingress stopped, its probe fails
// from every node's exporter and RE_Observe_Endpoint_Down pages; started again, the probe passes.
import { RECEIVERS } from "../components/render/alertmanagerConfig";
import { Received } from "./changes";
import { PROBE_JOB } from "../components/render/blackbox";
import { instantQuery } from "./lib/prometheusApi";
import { now, observe } from "./lib/wait";

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
    const allSucceed = () => observe(`the ingress probed successfully from ${ctx.exporters} nodes`,
        async () => (await succeeding(1)) === ctx.exporters || undefined, 60000);
    const before = await allSucceed();
    ctx.check(`the blackbox exporter of each of the ${ctx.exporters} nodes probes the ingress successfully (401 without credentials)`,
        before === true, `${await succeeding(1)} of ${ctx.exporters} nodes succeed at ${ctx.url}`);

    await ctx.stopIngress();
    const stopped = now();
    // A page from before the stop (a probe that failed on a busy machine) is not this one.
    const page = await observe(`the ${ALERT} page`, async () =>
        ctx.received.find((r) => r.at >= stopped && r.receiver === RECEIVERS.page && r.body.includes(ALERT) && r.body.includes(ctx.url)
            && r.body.includes('"event_action":"trigger"')), 90000);
    ctx.figures.endpointDownPageSeconds = Number(((now() - stopped) / 1000).toFixed(2));
    const failing = await succeeding(0);
    ctx.check("with the ingress stopped its probe fails from every node, and the endpoint-down page arrives",
        failing === ctx.exporters && page !== undefined, `${failing} nodes failing, ${page ? `paged ${ctx.figures.endpointDownPageSeconds} s after the stop` : "no page within 90 s"}`);

    await ctx.startIngress();
    const after = await allSucceed();
    ctx.check("the ingress started again passes its probe from every node", after === true, `${await succeeding(1)} of ${ctx.exporters} nodes succeed at ${ctx.url}`);
}
