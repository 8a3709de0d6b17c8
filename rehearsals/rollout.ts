// The next `pulumi up` with a rotated PagerDuty key: its plan says which members it restarts, in
// order, and the rollout restarts them one at a time, each back in the mesh before the next.
import * as crypto from "crypto";
import * as path from "path";
import { durationMs } from "../components/duration";
import { ALERT_RESEND_DELAY } from "../components/render/cloudInit";
import { previewAlertmanagerYml, writeRendered } from "../scripts/lib/plan";
import { describeRollout } from "../scripts/lib/rollout";
import { runStackOffline } from "../scripts/lib/stackRun";
import { rehearseAlertmanagerRollout } from "./changes";
import { ADDRESSES, FACTOR, Loopback } from "./lib/loopbackPlatform";
import { remapAlertmanagerConfig } from "./lib/remap";

export async function rehearsePlannedRollout(lb: Loopback): Promise<void> {
    const rotatedKey = crypto.randomBytes(16).toString("hex");
    const next = await runStackOffline(lb.stack, { secrets: { [`${lb.run.project}:pagerdutyRoutingKey`]: rotatedKey } });
    const nextWritten = await writeRendered(next.platform!, path.join(lb.work, "rendered-next"), next.run.placeholderSecrets);
    const planned = describeRollout(lb.written.rollout, nextWritten.rollout);
    lb.check("the plan of the change says which members it restarts, in order, and that nothing else restarts",
        planned.length === 1 && planned[0].startsWith(`alertmanager.yml changed: restarts alertmanager-1, then alertmanager-2, then alertmanager-3`), planned.join("; "));
    const config = await previewAlertmanagerYml(next.platform!);
    if (config === undefined) {
        throw new Error("the next alertmanager.yml is not known offline");
    }
    await rehearseAlertmanagerRollout({
        order: nextWritten.rollout.alertmanager.order.map((member) => Number(member.split("-").pop())),
        host: ADDRESSES.alertmanager,
        config: remapAlertmanagerConfig(config, FACTOR, lb.recorderUrl),
        marker: rotatedKey,
        stop: async (member) => { await lb.processes.stop(`alertmanager-${member}`); },
        start: lb.startAlertmanager,
        resendMs: durationMs(ALERT_RESEND_DELAY) / FACTOR,
        received: lb.received, check: lb.check, figures: lb.figures,
    });
}
