// A discovery that never succeeded reaches a person, and its first success clears it: the stale
// ticket through the real Prometheus and Alertmanager, then the real discovery function (its AWS
// APIs stood in for, its S3 the rehearsal's) writing the status the nodes report.
import { S3Client } from "@aws-sdk/client-s3";
import { discoverySources, runDiscovery } from "../components/functions/discovery";
import { RECEIVERS } from "../components/render/alertmanagerConfig";
import { DISCOVERY_PREFIX, DISCOVERY_STATUS_PREFIX } from "../components/render/prometheusConfig";
import { ecsAccount, unaskedCloudMap } from "./lib/awsStandIns";
import { Received } from "./changes";
import { now, request, waitFor } from "./lib/wait";

const ALERT = "RE_Observe_Discovery_Stale";

export interface DiscoveryContext {
    bucket: string;
    s3: S3Client;
    regions: string[];
    namespaces: Record<string, string[]>;
    /** A node's node_exporter, which reports the status the targets sync brought. */
    nodeExporter: { host: string; port: number };
    received: Received[];
    check: (name: string, ok: boolean, detail: string) => void;
    figures: Record<string, number | string>;
}

export async function rehearseDiscoveryStaleness(ctx: DiscoveryContext): Promise<void> {
    const [first] = discoverySources(ctx.regions, ctx.namespaces);
    const about = (r: Received) => r.receiver === RECEIVERS.ticket && r.body.includes(ALERT) && r.body.includes(`"region":"${first.region}"`);
    const firing = await waitFor(`the ${ALERT} ticket for ${first.region}`, async () => ctx.received.find((r) => about(r) && r.body.includes('"status":"firing"')), 60000);
    ctx.check(`a discovery region that never succeeded (${first.region}, ${first.source}) is a ticket through Alertmanager`, firing.receiver === RECEIVERS.ticket && firing.body.includes('"status":"firing"'), `${firing.receiver}, firing`);

    const ran = now();
    const results = await runDiscovery(
        { bucket: ctx.bucket, prefix: DISCOVERY_PREFIX, statusPrefix: DISCOVERY_STATUS_PREFIX, regions: ctx.regions, namespaces: ctx.namespaces },
        { ecs: () => ecsAccount(0, 0, {}).client, serviceDiscovery: unaskedCloudMap, s3: ctx.s3 },
        () => undefined);
    const failed = results.filter((r) => r.error);
    if (failed.length > 0) {
        throw new Error(`the discovery function failed against the local S3: ${failed.map((r) => `${r.region} ${r.source}: ${r.error}`).join("; ")}`);
    }
    const metric = new RegExp(`^platform_discovery_last_success_timestamp_seconds\\{region="${first.region}",source="${first.source}"\\} (\\S+)$`, "m");
    const reported = await waitFor("the discovery status in node_exporter", async () =>
        metric.exec((await request({ ...ctx.nodeExporter, path: "/metrics" })).body)?.[1], 60000);
    ctx.check("node_exporter reports the discovery's last success from its status object", Math.abs(Number(reported) - Date.now() / 1000) < 120,
        new Date(Number(reported) * 1000).toISOString());
    const resolved = await waitFor(`the ${ALERT} ticket resolved`, async () => ctx.received.find((r) => about(r) && r.body.includes('"status":"resolved"')), 60000);
    ctx.figures.discoveryStaleResolvedSeconds = Number(((now() - ran) / 1000).toFixed(2));
    ctx.check("the discovery's first success resolves the ticket", resolved.receiver === RECEIVERS.ticket,
        `resolved to ${resolved.receiver} ${ctx.figures.discoveryStaleResolvedSeconds} s after the run`);
}
