// What a change restarts, and in what order: a stack's rollout facts, and the comparison of two.
import * as crypto from "crypto";
import { previewValue } from "./offline";
import { Platform } from "../../infra/platform";

export interface RolloutFacts {
    stack: string;
    alertmanager: {
        /** Members in the order an update restarts them. */
        order: string[];
        /** The keyed hash of alertmanager.yml the task definitions carry, as the plan sees it; undefined when a preview cannot know it. */
        configHash?: string;
    };
    /** The revision of the nodes' configuration sets (preview: password hashes are placeholders). */
    nodeConfigRevision: string;
    /** The zone whose node, in every shard, applies AMI, instance type and user-data changes; the others hold them back. */
    rolloutNode?: number;
    /** index: the node's zone. */
    nodes: { name: string; index: number; userDataSha256: string; instanceType: string; amiPattern: string }[];
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text, "utf8").digest("hex");

/** The facts of a planned stack; `renderedUserData` is each node's cloud-config as the plan wrote it. */
export async function rolloutFacts(platform: Platform, nodeConfigRevision: string, renderedUserData: Record<string, string>): Promise<RolloutFacts> {
    const env = platform.env;
    return {
        stack: env.stack,
        alertmanager: { order: platform.alertmanagers.rolloutOrder, configHash: await previewValue(platform.alertmanagers.configHmac) },
        nodeConfigRevision,
        rolloutNode: env.prometheus.rolloutNode,
        nodes: platform.nodes.map((node, i) => ({
            name: node.name,
            index: env.nodes[i].zone.index,
            userDataSha256: sha256(renderedUserData[node.name]),
            instanceType: env.prometheus.instanceType,
            amiPattern: `${env.ami.owner}/${env.ami.namePattern}`,
        })),
    };
}

/** What an update from `before` to `after` restarts or replaces, in order, in words. */
export function describeRollout(before: RolloutFacts, after: RolloutFacts): string[] {
    const lines: string[] = [];
    const am = after.alertmanager;
    if (before.alertmanager.configHash === undefined || am.configHash === undefined) {
        lines.push("alertmanager.yml: not known in one of the plans, so whether its members restart cannot be said");
    } else if (before.alertmanager.configHash !== am.configHash) {
        lines.push(`alertmanager.yml changed: restarts ${am.order.join(", then ")}, one at a time; each waits until the one before is `
            + "healthy (meshed and settled, holding the silences), so two members always run");
    }
    if (before.nodeConfigRevision !== after.nodeConfigRevision) {
        lines.push(`node configuration changed (revision ${before.nodeConfigRevision} -> ${after.nodeConfigRevision}): `
            + `${after.nodes.map((n) => n.name).join(", ")} fetch, check and reload it on their timer; no process restarts`);
    }
    for (const node of after.nodes) {
        const old = before.nodes.find((n) => n.name === node.name);
        if (!old) {
            lines.push(`${node.name} is new: created`);
            continue;
        }
        const changed = [
            old.userDataSha256 !== node.userDataSha256 ? "user data (bootstrap)" : undefined,
            old.instanceType !== node.instanceType ? `instance type ${old.instanceType} -> ${node.instanceType}` : undefined,
            old.amiPattern !== node.amiPattern ? `AMI ${old.amiPattern} -> ${node.amiPattern}` : undefined,
        ].filter((c): c is string => c !== undefined);
        if (changed.length === 0) {
            continue;
        }
        // A new AMI or user data replaces the instance; a new type stops and starts it in place.
        const replaced = old.userDataSha256 !== node.userDataSha256 || old.amiPattern !== node.amiPattern;
        lines.push(after.rolloutNode !== node.index
            ? `${node.name}: ${changed.join(", ")} held back; applied when prometheus.rolloutNode is ${node.index}`
            : replaced
                ? `${node.name} is replaced (${changed.join(", ")}): it is the rollout node; its data volume is kept and reattached`
                : `${node.name} is stopped and started again (${changed.join(", ")}): it is the rollout node`);
    }
    return lines.length > 0 ? lines : ["nothing restarts or is replaced"];
}

/** The standing rules, whatever changed. */
export function describeRolloutRules(facts: RolloutFacts): string[] {
    return [
        `Alertmanager: a new alertmanager.yml restarts ${facts.alertmanager.order.join(" -> ")}, one at a time`,
        "Prometheus rules, prometheus.yml and htpasswd: fetched and reloaded by each node, no restart",
        `AMI, instance type and user data: ${facts.rolloutNode
            ? `applied to ${facts.nodes.filter((n) => n.index === facts.rolloutNode).map((n) => n.name).join(", ")} only (prometheus.rolloutNode)`
            : "held back on every node (no prometheus.rolloutNode)"}`,
    ];
}
