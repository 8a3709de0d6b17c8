// The alert path on loopback: the Alertmanagers mesh, the heartbeat arrives once per group
// interval although three Prometheus send to three Alertmanagers, the empty bucket tickets, and a
// page sent to every member arrives once.
import { ALERTMANAGER_PORT } from "../components/ports";
import { ADDRESSES, FACTOR, Loopback, NODES, pageOnce, receivedBy } from "./lib/loopbackPlatform";
import { scaleDuration } from "./lib/remap";
import { now, observe, request, waitFor } from "./lib/wait";

/** Heartbeats counted after the first: enough that three unmeshed members would show. */
const BEATS = 6;

export async function rehearseAlertPath(lb: Loopback): Promise<void> {
    let peers: string[] = [];
    await observe("a mesh of three", async () => {
        const status = JSON.parse((await request({ host: ADDRESSES.alertmanager(1), port: ALERTMANAGER_PORT, path: "/api/v2/status" })).body);
        peers = status.cluster.peers.map((p: { address: string }) => p.address);
        return peers.length === 3 || undefined;
    }, 30000);
    lb.check("the Alertmanagers mesh through their generated cluster settings", peers.length === 3, `peers ${peers.join(", ") || "none"}`);
    const notOwned = lb.processes.verify();
    lb.check("every process started is alive and owns the address it was given", notOwned.length === 0,
        notOwned.join("; ") || `${NODES.length} Alertmanagers, ${lb.nodes.length + lb.shardNodes.length} Prometheus servers and nginx, each listening where it was told`);

    // The heartbeat: first arrival, then one notification per interval despite 3 x 3 senders.
    const heartbeats = () => receivedBy(lb, "heartbeat");
    const first = await observe("the first heartbeat", async () => heartbeats()[0], 30000);
    const firstHeartbeat = first ? (first.at - lb.startedAt) / 1000 : -1;
    lb.figures.heartbeatFirstDeliverySeconds = Number(firstHeartbeat.toFixed(2));
    lb.check("the heartbeat reaches its receiver", first?.body.includes('"alertname":"RE_Observe_Heartbeat"') === true,
        first ? `first ${firstHeartbeat.toFixed(1)} s after start (group_wait 0s, evaluation every ${scaleDuration("30s", FACTOR)})` : "none within 30 s");
    // Counted in notifications, not seconds: the next BEATS after the first, however long they take.
    const windowStart = first?.at ?? now();
    const interval = 60000 / FACTOR;
    const beats = (await waitFor(`${BEATS} heartbeats`, async () => {
        const since = heartbeats().filter((r) => r.at > windowStart);
        return since.length >= BEATS ? since.slice(0, BEATS) : undefined;
    }, BEATS * interval * 10, 100)).map((r) => r.at);
    const times = [windowStart, ...beats];
    const gaps = beats.map((at, i) => at - times[i]);
    const span = beats[beats.length - 1] - windowStart;
    const duplicates = gaps.filter((gap) => gap < interval / 2).length;
    lb.figures.heartbeatIntervalMs = interval;
    lb.figures.heartbeatMeanGapMs = Math.round(span / BEATS);
    lb.figures.heartbeatDuplicates = duplicates;
    lb.figures.heartbeatsPerGroupInterval = Number((BEATS / (span / interval)).toFixed(2));
    // A member re-sends when repeat_interval (= group_interval) has passed at one of its group
    // ticks: every one or two intervals. Without the mesh, three members would each do so, and
    // most gaps would be shorter than half an interval.
    lb.check("at most one heartbeat per group interval although three Prometheus send to three Alertmanagers",
        duplicates <= 1 && BEATS - duplicates <= span / interval + 1,
        `${BEATS} heartbeats over ${(span / 1000).toFixed(1)} s at a ${interval} ms group interval, ${duplicates} sent twice by racing members`);

    // An empty bucket: the no-file_sd-targets ticket.
    const ticket = await observe("the no-file_sd-targets ticket", async () =>
        receivedBy(lb, "ticket").find((r) => r.body.includes("RE_Observe_No_FileSd_Targets")), 60000);
    lb.check("the no-file_sd-targets alert fires while the bucket is empty", ticket?.body.includes('"status":"firing"') === true,
        ticket ? `ticket to ${ticket.receiver}` : "no ticket within 60 s");

    const page = await pageOnce(lb, "RehearsalPage", NODES);
    lb.figures.pageDeliverySeconds = Number(page.latency.toFixed(2));
    lb.check("a page sent to all three Alertmanagers arrives once", page.count === 1, `${page.count} notification(s), ${page.latency.toFixed(1)} s`);
}
