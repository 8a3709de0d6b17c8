// The checks of a stack's settings that a schema cannot state (zones of the region, CIDRs that
// fit and do not overlap, Fargate sizes, settings that need each other), and the zone plan.
import * as fs from "fs";
import * as path from "path";
import { dearmorPublicKey } from "../components/render/openpgp";
import { MAX_OFFICE_SLICES, SOURCE_CIDRS_PER_RULE } from "../components/loadBalancer";
import { durationMs } from "../components/duration";
import { cidrsOverlap, hostOf, parseCidr, subnetOf } from "./addresses";
import { Environment, FARGATE_MEMORY } from "./environmentSchema";
import { NodePlan, ZonePlan } from "./environment";
import { nodeKey, nodeName, parseNodeKey } from "./nodeKeys";
import { PROJECT_ROOT } from "./paths";
import { hoursProblems } from "./hours";

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

/** Shard s's node sits at .(9+s) of its zone's private subnet: shard 1 keeps .10. */
export function planNodes(shards: number, zones: ZonePlan[]): NodePlan[] {
    return Array.from({ length: shards }, (_, i) => i + 1).flatMap((shard) => zones.map((zone) => ({
        name: nodeName(zone.index, shard),
        key: nodeKey(shard, zone.index),
        shard,
        zone,
        privateIp: shard === 1 ? zone.prometheusPrivateIp : hostOf(zone.privateSubnetCidr, 9 + shard),
    })));
}

/** Restores and placements that name a shard the stack lacks, a restore outside the rollout zone, shards without AMP. */
function shardProblems(env: Environment): string[] {
    const problems: string[] = [];
    for (const node of Object.keys(env.prometheus.restoreSnapshots)) {
        // The schema has checked the key's form.
        const { shard, zone } = parseNodeKey(node)!;
        if (shard > env.prometheus.shards) {
            problems.push(`prometheus.restoreSnapshots.${node}: there is no shard ${shard}; prometheus.shards is ${env.prometheus.shards}`);
        } else if (env.prometheus.rolloutNode !== Number(zone)) {
            problems.push(`prometheus.restoreSnapshots.${node}: node ${node}'s volume is recreated, so zone ${zone} must be the rolloutNode `
                + `(set prometheus.rolloutNode: ${zone}); restore one zone at a time`);
        }
    }
    for (const [tenant, shard] of Object.entries(env.prometheus.tenantShards)) {
        if (shard > env.prometheus.shards) {
            problems.push(`prometheus.tenantShards.${tenant}: there is no shard ${shard}; prometheus.shards is ${env.prometheus.shards}`);
        }
    }
    if (env.prometheus.shards > 1 && !env.remoteWrite.enabled) {
        problems.push(`prometheus.shards: ${env.prometheus.shards} shards need remoteWrite.enabled: true; AMP is where their series meet for a global view`);
    }
    return problems;
}

/** AWS's limit of tags on one resource, and the keys the platform sets itself on some. */
const MAX_TAGS = 50;
const PLATFORM_TAG_KEYS = ["stack", "project", "Name", "prometheus-replica", "prometheus-shard", "platform:backup", "platform:access", "alertmanager-member", "availability-zone"];
/** The characters AWS allows in tag keys and values. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Tags AWS would refuse, or the platform would overwrite, each by its key. */
function tagProblems(tags: Record<string, string>): string[] {
    const problems: string[] = [];
    const count = Object.keys(tags).length;
    if (count + PLATFORM_TAG_KEYS.length > MAX_TAGS) {
        problems.push(`tags: ${count} tags and the platform's own ${PLATFORM_TAG_KEYS.length} make ${count + PLATFORM_TAG_KEYS.length}, over AWS's ${MAX_TAGS} on one resource; keep at most ${MAX_TAGS - PLATFORM_TAG_KEYS.length}`);
    }
    for (const [key, value] of Object.entries(tags)) {
        const shown = key.length > 40 ? `${key.slice(0, 40)}...` : key;
        if (/^aws:/i.test(key)) {
            problems.push(`tags.${shown}: the aws: prefix is AWS's own; choose another key`);
        } else if (PLATFORM_TAG_KEYS.includes(key)) {
            problems.push(`tags.${shown}: set by the platform itself; choose another key`);
        } else if (key.length > 128 || !TAG_CHARACTERS.test(key)) {
            problems.push(`tags.${shown}: a tag key is 1 to 128 letters, digits, spaces and _.:/=+-@ (this one is ${key.length} characters)`);
        }
        if (value.length > 256 || !TAG_CHARACTERS.test(value)) {
            problems.push(`tags.${shown}: a tag value is up to 256 letters, digits, spaces and _.:/=+-@ (this one is ${value.length} characters)`);
        }
    }
    return problems;
}

/** Bounds of the durations Prometheus runs with: below, it refuses or cannot keep up; above, alerts come too late. */
const DURATION_BOUNDS: [key: string, of: (env: Environment) => string, min: string, max: string][] = [
    ["prometheus.scrapeInterval", (env) => env.prometheus.scrapeInterval, "1s", "5m"],
    ["prometheus.evaluationInterval", (env) => env.prometheus.evaluationInterval, "1s", "5m"],
    // Prometheus keeps two hours in its head block before the first compaction.
    ["prometheus.retentionTime", (env) => env.prometheus.retentionTime, "2h", "10y"],
];

function durationProblems(env: Environment): string[] {
    return DURATION_BOUNDS.flatMap(([key, of, min, max]) => {
        const value = of(env);
        return durationMs(value) < durationMs(min) || durationMs(value) > durationMs(max) ? [`${key}: ${value} is outside ${min} to ${max}`] : [];
    });
}

/** The versions the platform's configurations are proven with (real binaries in the tests, Grafana's reference): same major, no older. */
const PROVEN_VERSIONS: [key: string, of: (env: Environment) => string, proven: string][] = [
    ["prometheus.version", (env) => env.prometheus.version, "3.5.0"],
    ["alertmanager.version", (env) => env.alertmanager.version, "0.33.0"],
    ["nodeExporter.version", (env) => env.nodeExporter.version, "1.9.0"],
    ["grafana.version", (env) => env.grafana.version, "13.0.0"],
];

function versionProblems(env: Environment): string[] {
    const parts = (version: string) => version.split(".").map(Number);
    return PROVEN_VERSIONS.flatMap(([key, of, proven]) => {
        const [major, minor, patch] = parts(of(env));
        const [provenMajor, provenMinor, provenPatch] = parts(proven);
        if (major !== provenMajor) {
            return [`${key}: ${of(env)} is not a release the configurations are proven with (${provenMajor}.x from ${proven})`];
        }
        const older = minor < provenMinor || (minor === provenMinor && patch < provenPatch);
        return older ? [`${key}: ${of(env)} is older than ${proven}, the oldest the configurations are proven with`] : [];
    });
}

export function semanticProblems(env: Environment): string[] {
    const problems: string[] = [...tagProblems(env.tags), ...durationProblems(env), ...versionProblems(env),
        ...hoursProblems(env.alertmanager.supportHours, "alertmanager.supportHours"),
        ...(env.alertmanager.pageHours ? hoursProblems(env.alertmanager.pageHours, "alertmanager.pageHours") : [])];
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

    const maxOffice = MAX_OFFICE_SLICES * SOURCE_CIDRS_PER_RULE;
    if (env.officeCidrs.length > maxOffice) {
        problems.push(`officeCidrs: ${env.officeCidrs.length} CIDRs; at most ${maxOffice} fit the ALB's rules (${SOURCE_CIDRS_PER_RULE} per rule, `
            + `${MAX_OFFICE_SLICES} rules per host); merge neighbouring ranges`);
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
    problems.push(...shardProblems(env));
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
    if (env.grafana.access === "sso" && env.grafana.sso === undefined) {
        problems.push(`grafana.sso: missing; grafana.access is sso, so the provider's issuer, endpoints and clientId are needed`);
    }
    if (env.grafana.access !== "sso" && env.grafana.sso !== undefined) {
        problems.push(`grafana.sso: only used when grafana.access is sso`);
    }
    if (env.grafana.sso && !env.grafana.sso.scopes.includes("openid")) {
        problems.push(`grafana.sso.scopes: ${env.grafana.sso.scopes.join(", ")} lacks openid, without which the provider answers no OpenID Connect sign-in`);
    }
    const bothRoles = (env.grafana.sso?.adminGroups ?? []).filter((group) => env.grafana.sso?.editorGroups.includes(group));
    if (bothRoles.length > 0) {
        problems.push(`grafana.sso.editorGroups: ${bothRoles.join(", ")} also in adminGroups; name each group once, under the role it gets`);
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
