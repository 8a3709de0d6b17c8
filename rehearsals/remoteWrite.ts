// Remote write on loopback: every node sends its samples to the stand-in of the stack's AMP
// workspace, each request signed for aps in the stack's region, and none fails.
import { PROMETHEUS_PORT } from "../components/ports";
import { LoopbackNode } from "./changes";
import { addedFor } from "./lib/fixtures";
import { Loopback } from "./lib/loopbackPlatform";
import { request, waitFor } from "./lib/wait";

/** A node's own count of one remote-storage counter, summed over its queues. */
async function remoteStorage(node: LoopbackNode, counter: string): Promise<number> {
    const metrics = (await request({ host: node.host, port: PROMETHEUS_PORT, path: "/metrics" })).body;
    return [...metrics.matchAll(new RegExp(`^prometheus_remote_storage_${counter}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))]
        .reduce((sum, m) => sum + Number(m[1]), 0);
}

export async function rehearseRemoteWrite(lb: Loopback): Promise<void> {
    lb.check("the stack writes to a managed Prometheus workspace", lb.env.remoteWrite.enabled,
        `remoteWrite.enabled: ${lb.env.remoteWrite.enabled}${addedFor(lb.source, "remote write") ? " (a fixture)" : ` in ${lb.env.file}`}`);
    const sent = await Promise.all(lb.nodes.map((node) => waitFor(`${node.name} to remote-write samples`, async () => {
        const samples = await remoteStorage(node, "samples_total");
        return samples > 0 ? samples : undefined;
    }, 60000, 250)));
    const failed = await Promise.all(lb.nodes.map((node) => remoteStorage(node, "samples_failed_total")));
    const stand = lb.managedPrometheus;
    const keys = [...new Set(stand.accepted.map((a) => `${a.accessKeyId} for ${a.region}`))];
    lb.check(`every node remote-writes its samples to the workspace, each request signed for aps in ${lb.env.region}, none refused or failed`,
        sent.every((n) => n > 0) && failed.every((n) => n === 0) && stand.accepted.length > 0 && stand.refused.length === 0,
        `${lb.nodes.map((n, i) => `${n.name} sent ${sent[i]}, failed ${failed[i]}`).join("; ")}; the workspace accepted ${stand.accepted.length} writes signed by ${keys.join(", ") || "nobody"}`
        + `${stand.refused.length ? `, refused ${stand.refused.length}: ${stand.refused.slice(0, 2).join("; ")}` : ", refused none"}`);
}
