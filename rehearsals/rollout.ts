// The next `pulumi up` with a rotated PagerDuty key: its plan says which members it restarts, in
// order, and the rollout restarts them one at a time, each back in the mesh before the next.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { durationMs } from "../components/duration";
import { ALERT_RESEND_DELAY } from "../components/render/cloudInit";
import { previewAlertmanagerYml, writeRendered } from "../scripts/lib/plan";
import { describeRollout } from "../scripts/lib/rollout";
import { runStackOffline } from "../scripts/lib/stackRun";
import { alertmanagerConfigHash, amRequest, memberReady, rehearseAlertmanagerRollout } from "./changes";
import { ADDRESSES, FACTOR, Loopback, loopbackAlertmanagerYml } from "./lib/loopbackPlatform";
import { observe } from "./lib/wait";
import { CapturedResource, ProgramRun, unwrapSecrets } from "../scripts/lib/offline";

const SERVICE = "aws:ecs/service:Service";

/** Each Alertmanager member as planned: its service, and the SSM parameter its task definition reads. */
function plannedMembers(run: ProgramRun): { member: number; service: CapturedResource; parameterName: string }[] {
    const byName = (type: string, name: string) => run.resources.find((r) => r.type === type && r.name === name);
    return run.resources.filter((r) => r.type === SERVICE && /^alertmanager-\d$/.test(r.name)).map((service) => {
        const taskDefinition = byName("aws:ecs/taskDefinition:TaskDefinition", service.name)!;
        const [container] = JSON.parse(String(unwrapSecrets(taskDefinition.inputs).containerDefinitions));
        return { member: Number(service.name.split("-")[1]), service, parameterName: String(container.secrets[0].valueFrom).split(":parameter")[1] };
    }).sort((a, b) => a.member - b.member);
}

const amStatus = async (member: number) => JSON.parse((await amRequest(ADDRESSES.alertmanager(member), "/api/v2/status")).body);
const configHash = (member: number) => alertmanagerConfigHash(ADDRESSES.alertmanager(member));

/**
 * An update whose new alertmanager.yml member 1 never runs healthy, played in the order the plan's
 * dependencies give Pulumi: a parameter is written once every service it depends on is updated, a
 * member restarts with the parameter its task definition names, and the update stops at the first
 * member that is not healthy. Then members 2 and 3 restart (as a Fargate retirement would): they
 * must come back on the configuration they were rolled with, and mesh.
 */
export async function rehearseFailedRollout(lb: Loopback): Promise<void> {
    const good = loopbackAlertmanagerYml(fs.readFileSync(path.join(lb.work, "rendered", "alertmanager", "alertmanager.yml"), "utf8"), lb.recorderUrl);
    const bad = `${good}not_a_setting: true\n`;
    const members = plannedMembers(lb.run);
    const parameters = lb.run.resources.filter((r) => r.type === "aws:ssm/parameter:Parameter" && r.parent.endsWith("::alertmanager"));
    const ssm = new Map(parameters.map((p) => [String(p.inputs.name), good]));
    const goodHash = await configHash(2);
    const written = new Set<string>();
    const updated = new Set<string>();
    const exited = (member: number) => lb.processes.verify().some((p) => p.startsWith(`alertmanager-${member} is not running`));
    const healthy = (member: number) => observe(`alertmanager-${member} healthy, or exited`, async () =>
        exited(member) ? false : memberReady(ADDRESSES.alertmanager(member)) || undefined, 60000, 100);
    const restart = async (member: number) => {
        await lb.processes.stop(`alertmanager-${member}`);
        await lb.startAlertmanager(member, ssm.get(members[member - 1].parameterName)!);
        return (await healthy(member)) === true;
    };
    let failedAt: number | undefined;
    for (const { member, service } of members) {
        for (const parameter of parameters.filter((p) => !written.has(p.urn))) {
            if (parameter.dependencies.filter((d) => d.includes(SERVICE)).every((d) => updated.has(d))) {
                ssm.set(String(parameter.inputs.name), bad);
                written.add(parameter.urn);
            }
        }
        if (!(await restart(member))) {
            failedAt = member;
            break;
        }
        updated.add(service.urn);
    }
    lb.check("an update whose new configuration member 1 never runs healthy stops at member 1", failedAt === 1, `stopped at ${failedAt ?? "no member"}`);

    const back = [await restart(2), await restart(3)];
    const hashes = [await configHash(2), await configHash(3)];
    const peers = await Promise.all([2, 3].map(async (m) => (await amStatus(m)).cluster.peers.length as number));
    lb.check("members 2 and 3, restarted after it, run the configuration they were rolled with and mesh with each other",
        back.every((b) => b) && hashes.every((h) => h === goodHash) && peers.every((p) => p === 2),
        `healthy ${back.join(", ")}; config hash ${hashes.join(", ")} (rolled with ${goodHash}); peers ${peers.join(", ")}`);

    // The failed member back on the good configuration, as the next good update would leave it.
    ssm.set(members[0].parameterName, good);
    const recovered = await restart(1);
    const meshed = await observe("three members meshed again", async () => (await amStatus(1)).cluster.peers.length === 3 || undefined, 60000, 100);
    lb.check("member 1 on the good configuration rejoins the mesh of three", recovered && meshed === true, `healthy ${recovered}, meshed ${meshed ?? false}`);
}

export async function rehearsePlannedRollout(lb: Loopback): Promise<void> {
    const rotatedKey = crypto.randomBytes(16).toString("hex");
    const next = await runStackOffline(lb.stack, { source: lb.source, secrets: { [`${lb.run.project}:pagerdutyRoutingKey`]: rotatedKey } });
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
        config: loopbackAlertmanagerYml(config, lb.recorderUrl),
        marker: rotatedKey,
        stop: async (member) => { await lb.processes.stop(`alertmanager-${member}`); },
        start: lb.startAlertmanager,
        resendMs: durationMs(ALERT_RESEND_DELAY) / FACTOR,
        received: lb.received, check: lb.check, figures: lb.figures,
    });
}
