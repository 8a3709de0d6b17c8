// Failures on loopback: with one Alertmanager gone a page still arrives once; with one Prometheus
// gone the others still alert and nothing is below threshold; with two gone the last one pages.
// The "nothing is below threshold" check counts the survivors' own rule evaluations, not seconds.
import { PROMETHEUS_PORT } from "../components/ports";
import { SHARD_TARGET_LABEL } from "../components/render/scrapeJobs";
import { LoopbackNode } from "./changes";
import { Loopback, pageOnce, receivedBy } from "./lib/loopbackPlatform";
import { instantQuery, RuleGroup, ruleGroups } from "./lib/prometheusApi";
import { now, observe, waitFor } from "./lib/wait";

const AVAILABILITY_GROUP = "platform-availability";
const BELOW_THRESHOLD = "RE_Observe_Prometheus_Below_Threshold";

async function availabilityGroup(node: LoopbackNode): Promise<RuleGroup | undefined> {
    return (await ruleGroups({ host: node.host, port: PROMETHEUS_PORT })).find((g) => g.name === AVAILABILITY_GROUP);
}

/**
 * Waits until `node` scrapes only two Prometheus servers of its shard (shard 1) as up, then until it has evaluated the
 * availability group twice more; returns the below-threshold rule's state then.
 */
async function stateAfterTwoEvaluations(node: LoopbackNode): Promise<string> {
    await waitFor(`${node.name} to scrape two Prometheus servers as up`, async () => {
        const [sum] = await instantQuery({ host: node.host, port: PROMETHEUS_PORT }, `sum(up{job="prometheus", ${SHARD_TARGET_LABEL}="1"})`);
        return sum?.value?.[1] === "2" || undefined;
    }, 60000, 100);
    const seen = new Set<string>();
    const start = (await availabilityGroup(node))?.lastEvaluation;
    const group = await waitFor(`${node.name} to evaluate ${AVAILABILITY_GROUP} twice more`, async () => {
        const current = await availabilityGroup(node);
        if (current && current.lastEvaluation !== start) {
            seen.add(current.lastEvaluation);
        }
        return seen.size >= 2 ? current : undefined;
    }, 60000, 100);
    return group.rules.find((r) => r.name === BELOW_THRESHOLD)?.state ?? "missing";
}

export async function rehearseFailures(lb: Loopback): Promise<void> {
    lb.processes.kill("alertmanager-3");
    const afterKill = await pageOnce(lb, "RehearsalPageOneAlertmanagerDown", [1, 2]);
    lb.check("with one Alertmanager killed, a page still arrives once", afterKill.count === 1, `${afterKill.count} notification(s)`);

    const belowThreshold = () => receivedBy(lb, "pagerduty").filter((r) => r.body.includes(BELOW_THRESHOLD));
    lb.processes.kill("prom-3");
    const killedOne = now();
    const survivors = lb.nodes.filter((n) => n.name !== "prom-3");
    const states = await Promise.all(survivors.map(stateAfterTwoEvaluations));
    const beat = await observe("a heartbeat after the kill", async () => receivedBy(lb, "heartbeat").find((r) => r.at > killedOne), 60000);
    lb.check("with one Prometheus killed the others still alert, and two of three is not below threshold",
        beat !== undefined && states.every((s) => s === "inactive") && belowThreshold().length === 0,
        `${BELOW_THRESHOLD} ${survivors.map((n, i) => `${states[i]} on ${n.name}`).join(", ")} after two evaluations with prom-3 down; `
        + `heartbeat ${beat ? `${((beat.at - killedOne) / 1000).toFixed(1)} s` : "not within 60 s"} after the kill; ${belowThreshold().length} below-threshold pages`);
    lb.processes.kill("prom-2");
    const killedTwo = now();
    const page = await observe("the Prometheus below-threshold page", async () => belowThreshold()[0], 60000);
    lb.figures.belowThresholdPageSeconds = page ? Number(((page.at - killedTwo) / 1000).toFixed(2)) : -1;
    lb.check("with two Prometheus killed the last one pages Prometheus below threshold", page?.body.includes('"event_action":"trigger"') === true,
        page ? `${lb.figures.belowThresholdPageSeconds} s after the second kill` : "no page within 60 s of the second kill");
}
