import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { describe, isAlertmanagerMember, isPrometheusNode, read, sources, TYPES } from "../lib";

const ZONES = 3;
/** The tag naming the shard a Prometheus node serves. */
const SHARD_TAG = "prometheus-shard";

/** The zones of the subnets a property's value came from (a preview knows subnets' zones, not their IDs). */
function subnetZones(resource: PolicyResource, property: string): { zones: string[]; unknown: string[] } {
    const zones: string[] = [];
    const unknown: string[] = [];
    for (const subnet of sources(resource, property, TYPES.subnet)) {
        const zone = read(() => subnet.props.availabilityZone as string | undefined);
        if (zone.known && zone.value) {
            zones.push(zone.value);
        } else {
            unknown.push(subnet.name);
        }
    }
    return { zones: [...new Set(zones)], unknown };
}

/** An instance's zone: its own setting, checked against its subnet's. */
function instanceZone(instance: PolicyResource): { zone?: string; problem?: string } {
    const own = read(() => instance.props.availabilityZone as string | undefined);
    const fromSubnet = subnetZones(instance, "subnetId");
    const ownZone = own.known ? own.value : undefined;
    if (ownZone && fromSubnet.zones.length === 1 && fromSubnet.zones[0] !== ownZone) {
        return { problem: `${describe(instance)} is set to ${ownZone} but its subnet is in ${fromSubnet.zones[0]}` };
    }
    const zone = ownZone ?? (fromSubnet.zones.length === 1 ? fromSubnet.zones[0] : undefined);
    return zone ? { zone } : { problem: `the zone of ${describe(instance)} cannot be determined: set availabilityZone or use a subnet whose zone is set` };
}

function spreadProblems(what: string, zones: string[]): string[] {
    const problems: string[] = [];
    if (zones.length !== ZONES) {
        problems.push(`${ZONES} ${what} are needed, one per availability zone; found ${zones.length}`);
    }
    const counts = new Map<string, number>();
    zones.forEach((z) => counts.set(z, (counts.get(z) ?? 0) + 1));
    for (const [zone, count] of counts) {
        if (count > 1) {
            problems.push(`${count} ${what} are in ${zone}; each zone must hold exactly one`);
        }
    }
    if (zones.length === ZONES && counts.size !== ZONES) {
        problems.push(`the ${what} span ${counts.size} zones (${[...counts.keys()].join(", ")}), not ${ZONES}`);
    }
    return problems;
}

export const threeAzSpread: StackValidationPolicy = {
    name: "three-az-spread",
    description: "The Prometheus nodes of each shard and the Alertmanager services, and the subnets they use, span exactly three "
        + "availability zones with one member in each; every data volume is in its instance's zone.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const remedy = "Spread them one per zone over the three zones of environments/<stack>.yaml.";
        const nodes = args.resources.filter(isPrometheusNode);
        const members = args.resources.filter(isAlertmanagerMember);
        if (nodes.length === 0 && members.length === 0) {
            args.notApplicable("no Prometheus nodes or Alertmanager services in this stack");
        }

        // Each shard is three nodes of its own: their zones are counted shard by shard (untagged: shard 1).
        const shardZones = new Map<string, string[]>();
        for (const node of nodes) {
            const { zone, problem } = instanceZone(node);
            const shard = read(() => (node.props.tags as Record<string, string> | undefined)?.[SHARD_TAG]);
            const key = shard.known && shard.value ? shard.value : "1";
            if (zone) {
                shardZones.set(key, [...(shardZones.get(key) ?? []), zone]);
            } else {
                reportViolation(`Prometheus node: ${problem}.`, node.urn);
            }
        }
        const sharded = shardZones.size > 1;
        for (const [shard, zones] of [...shardZones].sort(([a], [b]) => a.localeCompare(b))) {
            spreadProblems(sharded ? `Prometheus nodes of shard ${shard}` : "Prometheus nodes", zones).forEach((p) => reportViolation(`${p}. ${remedy}`));
        }

        if (members.length > 0) {
            const memberZones: string[] = [];
            for (const member of members) {
                const { zones, unknown } = subnetZones(member, "networkConfiguration");
                if (unknown.length > 0 || zones.length !== 1) {
                    reportViolation(`Alertmanager ${describe(member)} must run in the subnets of exactly one zone; its subnets are in `
                        + `${zones.length} zone(s)${unknown.length ? `, and ${unknown.join(", ")} has no known zone` : ""}. Give it one private subnet.`, member.urn);
                } else {
                    memberZones.push(zones[0]);
                }
            }
            spreadProblems("Alertmanager services", memberZones).forEach((p) => reportViolation(`${p}. ${remedy}`));
        }

        for (const attachment of args.resources.filter((r) => r.type === TYPES.volumeAttachment)) {
            const [volume] = sources(attachment, "volumeId", TYPES.volume);
            const [instance] = sources(attachment, "instanceId", TYPES.instance);
            if (!volume || !instance) {
                continue;
            }
            const volumeZone = read(() => volume.props.availabilityZone as string);
            const { zone } = instanceZone(instance);
            if (!volumeZone.known || volumeZone.value !== zone) {
                reportViolation(`${describe(volume)} is in ${volumeZone.known ? volumeZone.value : "an unknown zone"} but is attached to `
                    + `${describe(instance)} in ${zone ?? "an unknown zone"}. Create the volume in its instance's zone.`, volume.urn);
            }
        }
    },
};
