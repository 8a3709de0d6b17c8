// Failures on loopback: with one Alertmanager gone a page still arrives once; with one Prometheus
// gone the others still alert and nothing is below threshold; with two gone the last one pages.
import { durationMs } from "../components/duration";
import { FACTOR, Loopback, pageOnce, receivedBy } from "./lib/loopbackPlatform";
import { now, observe, sleep } from "./lib/wait";

export async function rehearseFailures(lb: Loopback): Promise<void> {
    lb.processes.kill("alertmanager-3");
    const afterKill = await pageOnce(lb, "RehearsalPageOneAlertmanagerDown", [1, 2]);
    lb.check("with one Alertmanager killed, a page still arrives once", afterKill.count === 1, `${afterKill.count} notification(s)`);

    const belowThreshold = () => receivedBy(lb, "pagerduty").filter((r) => r.body.includes("RE_Observe_Prometheus_Below_Threshold"));
    lb.processes.kill("prom-3");
    const killedOne = now();
    await sleep(durationMs("5m") / FACTOR + 8000);
    const beatsAfterOne = receivedBy(lb, "heartbeat").filter((r) => r.at > killedOne).length;
    lb.check("with one Prometheus killed the others still alert, and two of three is not below threshold",
        beatsAfterOne > 0 && belowThreshold().length === 0, `${beatsAfterOne} heartbeats since, ${belowThreshold().length} below-threshold pages`);
    lb.processes.kill("prom-2");
    const killedTwo = now();
    const page = await observe("the Prometheus below-threshold page", async () => belowThreshold()[0], 60000);
    lb.figures.belowThresholdPageSeconds = page ? Number(((page.at - killedTwo) / 1000).toFixed(2)) : -1;
    lb.check("with two Prometheus killed the last one pages Prometheus below threshold", page?.body.includes('"event_action":"trigger"') === true,
        page ? `${lb.figures.belowThresholdPageSeconds} s after the second kill` : "no page within 60 s of the second kill");
}
