// A discovery that never succeeded reaches a person, and its first success clears it: the stale
// ticket through the real Prometheus and Alertmanager, then the real discovery function (its AWS
// APIs stood in for, its S3 the rehearsal's) writing the status the nodes report.
import { S3Client } from "@aws-sdk/client-s3";
import { discoverySources, runDiscovery } from "../components/functions/discovery";
import { RECEIVERS } from "../components/render/alertmanagerConfig";
import { DISCOVERY_PREFIX, DISCOVERY_STATUS_PREFIX } from "../components/render/prometheusConfig";
import { ecsAccount, unaskedCloudMap } from "./lib/awsStandIns";
import { Received } from "./changes";
import { epochSeconds, now, observe, request } from "./lib/wait";

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
    const about = (r: Received, status: string) => r.body.includes(ALERT) && r.body.includes(`"region":"${first.region}"`) && r.body.includes(`"status":"${status}"`);
    /** Where notifications about the region went, for a check's detail. */
    const seen = (status: string) => ctx.received.filter((r) => about(r, status)).map((r) => r.receiver).join(", ") || "nowhere";
    const ticketFor = (status: string) => ctx.received.find((r) => r.receiver === RECEIVERS.ticket && about(r, status));
    const firing = await observe(`the ${ALERT} ticket for ${first.region}`, async () => ticketFor("firing"), 60000);
    ctx.check(`a discovery region that never succeeded (${first.region}, ${first.source}) is a ticket through Alertmanager`, firing !== undefined,
        `firing notifications went to: ${seen("firing")}`);

    const ran = now();
    const ranAt = Math.floor(epochSeconds());
    const results = await runDiscovery(
        { bucket: ctx.bucket, prefix: DISCOVERY_PREFIX, statusPrefix: DISCOVERY_STATUS_PREFIX, regions: ctx.regions, namespaces: ctx.namespaces },
        { ecs: () => ecsAccount(0, 0, {}).client, serviceDiscovery: unaskedCloudMap, s3: ctx.s3 },
        () => undefined);
    const failed = results.filter((r) => r.error);
    if (failed.length > 0) {
        throw new Error(`the discovery function failed against the local S3: ${failed.map((r) => `${r.region} ${r.source}: ${r.error}`).join("; ")}`);
    }
    const metric = new RegExp(`^platform_discovery_last_success_timestamp_seconds\\{region="${first.region}",source="${first.source}"\\} (\\S+)$`, "m");
    // The status object this run wrote, not an older one: S3 keeps whole seconds.
    const reported = await observe("the discovery status in node_exporter, from this run", async () => {
        const value = metric.exec((await request({ ...ctx.nodeExporter, path: "/metrics" })).body)?.[1];
        return value !== undefined && Number(value) >= ranAt ? Number(value) : undefined;
    }, 60000);
    ctx.check("node_exporter reports the discovery's last success from the status object the run wrote", reported !== undefined,
        reported ? `${new Date(reported * 1000).toISOString()}, the run from ${new Date(ranAt * 1000).toISOString()}` : "no success of this run within 60 s");
    const resolved = await observe(`the ${ALERT} ticket resolved`, async () => ticketFor("resolved"), 60000);
    ctx.figures.discoveryStaleResolvedSeconds = Number(((now() - ran) / 1000).toFixed(2));
    ctx.check("the discovery's first success resolves the ticket", resolved !== undefined,
        `resolved notifications went to: ${seen("resolved")}${resolved ? `, ${ctx.figures.discoveryStaleResolvedSeconds} s after the run` : ""}`);
}
