// The checks of a stack's settings that a schema cannot state (zones of the region, CIDRs that
// fit and do not overlap, Fargate sizes, settings that need each other), and the zone plan.
import * as fs from "fs";
import * as path from "path";
import { dearmorPublicKey } from "../components/render/openpgp";
import { cidrsOverlap, hostOf, parseCidr, subnetOf } from "./addresses";
import { Environment, FARGATE_MEMORY } from "./environmentSchema";
import { ZonePlan } from "./environment";
import { PROJECT_ROOT } from "./paths";

/** Public subnets take the first three /(vpc+4) blocks, private ones blocks 8-10. Nodes sit at .10 of theirs. */
export function planZones(env: Environment): ZonePlan[] {
    const subnetPrefix = parseCidr(env.vpcCidr)[1] + 4;
    return env.availabilityZones.map((zone, i) => {
        const privateSubnetCidr = subnetOf(env.vpcCidr, subnetPrefix, 8 + i);
        return {
            index: i + 1,
            availabilityZone: zone,
            publicSubnetCidr: subnetOf(env.vpcCidr, subnetPrefix, i),
            privateSubnetCidr,
            prometheusPrivateIp: hostOf(privateSubnetCidr, 10),
        };
    });
}

export function semanticProblems(env: Environment): string[] {
    const problems: string[] = [];
    const zones = env.availabilityZones;
    if (zones.length !== 3) {
        problems.push(`availabilityZones: exactly three are needed (one Prometheus and one Alertmanager each), got ${zones.length}`);
    }
    if (new Set(zones).size !== zones.length) {
        problems.push(`availabilityZones: must be distinct, got ${zones.join(", ")}`);
    }
    zones.forEach((zone, i) => {
        if (!new RegExp(`^${env.region}[a-z]$`).test(zone)) {
            problems.push(`availabilityZones[${i}]: ${zone} is not an availability zone of region ${env.region}`);
        }
    });

    try {
        const [vpcAddress, vpcPrefix] = parseCidr(env.vpcCidr);
        if (vpcAddress.kind() !== "ipv4" || vpcPrefix < 16 || vpcPrefix > 22) {
            problems.push(`vpcCidr: ${env.vpcCidr} must be an IPv4 network from /16 to /22`);
        } else if (!["private"].includes(vpcAddress.range())) {
            problems.push(`vpcCidr: ${env.vpcCidr} must be a private (RFC 1918) range`);
        }
    } catch (err) {
        problems.push(`vpcCidr: ${env.vpcCidr} is not a valid CIDR: ${(err as Error).message}`);
    }

    const validOffice: string[] = [];
    env.officeCidrs.forEach((cidr, i) => {
        try {
            const [address, prefix] = parseCidr(cidr);
            const minimum = address.kind() === "ipv4" ? 16 : 40;
            if (prefix < minimum) {
                problems.push(`officeCidrs[${i}]: ${cidr} is wider than /${minimum}, too wide for an office safelist`);
                return;
            }
            validOffice.forEach((other) => {
                if (cidrsOverlap(cidr, other)) {
                    problems.push(`officeCidrs[${i}]: ${cidr} overlaps ${other}`);
                }
            });
            validOffice.push(cidr);
        } catch (err) {
            problems.push(`officeCidrs[${i}]: ${cidr} is not a valid CIDR: ${(err as Error).message}`);
        }
    });

    const volume = env.prometheus.dataVolume;
    if (volume.type !== "gp3" && volume.throughputMiBps !== undefined) {
        problems.push(`prometheus.dataVolume.throughputMiBps: only gp3 volumes take a throughput`);
    }
    if (volume.type === "gp2" && volume.iops !== undefined) {
        problems.push(`prometheus.dataVolume.iops: gp2 volumes take no iops setting`);
    }
    if (volume.type === "io2" && volume.iops === undefined) {
        problems.push(`prometheus.dataVolume.iops: io2 volumes need iops`);
    }
    for (const node of Object.keys(env.prometheus.restoreSnapshots)) {
        if (env.prometheus.rolloutNode !== Number(node)) {
            problems.push(`prometheus.restoreSnapshots.${node}: node ${node}'s volume is recreated, so node ${node} must be the rolloutNode `
                + `(set prometheus.rolloutNode: ${node}); restore one node at a time`);
        }
    }
    try {
        dearmorPublicKey(fs.readFileSync(path.resolve(PROJECT_ROOT, env.ssmAgent.signingKeyFile), "utf8"));
    } catch (err) {
        problems.push(`ssmAgent.signingKeyFile: ${env.ssmAgent.signingKeyFile} is not a usable public key: ${(err as Error).message}`);
    }
    const { cpu, memory } = env.alertmanager;
    if (!FARGATE_MEMORY[cpu].includes(memory)) {
        problems.push(`alertmanager.memory: Fargate does not run ${memory} MiB with cpu ${cpu}; valid for cpu ${cpu}: ${FARGATE_MEMORY[cpu].join(", ")}`);
    }
    if (env.receivers.ticket === "email" && env.receivers.email === undefined) {
        problems.push(`receivers.email: missing; tickets are sent by email, so to, from and smarthost are needed`);
    }
    if (env.receivers.ticket !== "email" && env.receivers.email !== undefined) {
        problems.push(`receivers.email: only used when receivers.ticket is email`);
    }
    if (env.discovery.enabled && env.discovery.regions.length === 0) {
        problems.push(`discovery.regions: discovery is enabled but lists no region`);
    }
    Object.keys(env.discovery.cloudMapNamespaces).forEach((region) => {
        if (!env.discovery.regions.includes(region)) {
            problems.push(`discovery.cloudMapNamespaces.${region}: ${region} is not one of discovery.regions`);
        }
    });
    if (!env.remoteWrite.enabled && env.remoteWrite.producerPrincipals.length > 0) {
        problems.push(`remoteWrite.producerPrincipals: producers need remoteWrite.enabled: true`);
    }
    if (env.targets.regions.includes(env.region)) {
        problems.push(`targets.regions: ${env.region} is the stack's own region, whose targets are read from the bucket root`);
    }
    return problems;
}
