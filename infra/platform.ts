// Composes the platform's components for one stack.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Network } from "../components/network";
import { NodeRole } from "../components/nodeRole";
import { PrometheusNode } from "../components/prometheusNode";
import { NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/render/cloudInit";
import { NODE_PATHS } from "../components/render/nodeScripts";
import { AlertmanagerTargets, renderPrometheusConfig } from "../components/render/prometheusConfig";
import { SecurityGroups } from "../components/securityGroups";
import { TargetsBucket } from "../components/targetsBucket";
import { EnvironmentError, LoadedEnvironment } from "./environment";

/** How long a booting node waits for its data volume before failing the boot. */
export const VOLUME_WAIT_SECONDS = 300;

export interface Platform {
    env: LoadedEnvironment;
    network: Network;
    securityGroups: SecurityGroups;
    targets: TargetsBucket;
    nodeRole: NodeRole;
    nodes: PrometheusNode[];
}

export function prometheusHost(env: LoadedEnvironment, index: number): string {
    return `prom-${index}.${env.domain}`;
}

/** Checks what only the cloud knows (region, zones) before any resource is registered. */
async function checkAgainstCloud(env: LoadedEnvironment): Promise<void> {
    const stackFile = `Pulumi.${env.stack}.yaml`;
    const region = new pulumi.Config("aws").get("region");
    if (region === undefined) {
        throw new EnvironmentError(stackFile, [`aws:region: missing; set it to ${env.region} (pulumi config set aws:region ${env.region})`]);
    }
    if (region !== env.region) {
        throw new EnvironmentError(env.file, [`region: ${env.region} differs from aws:region ${region} in ${stackFile}`]);
    }
    const zones = await aws.getAvailabilityZones({ state: "available" });
    const problems = env.availabilityZones
        .map((zone, i) => zones.names.includes(zone) ? undefined : `availabilityZones[${i}]: ${zone} is not an available zone of ${env.region} (available: ${zones.names.join(", ")})`)
        .filter((p): p is string => p !== undefined);
    if (problems.length > 0) {
        throw new EnvironmentError(env.file, problems);
    }
}

export async function createPlatform(env: LoadedEnvironment, alertmanagers: AlertmanagerTargets): Promise<Platform> {
    await checkAgainstCloud(env);
    const identity = await aws.getCallerIdentity({});
    const partition = (await aws.getPartition({})).partition;
    const ami = await aws.ec2.getAmi({
        owners: [env.ami.owner],
        mostRecent: true,
        filters: [
            { name: "name", values: [env.ami.namePattern] },
            { name: "architecture", values: ["x86_64"] },
            { name: "root-device-type", values: ["ebs"] },
            { name: "virtualization-type", values: ["hvm"] },
        ],
    });
    const tags = { ...env.tags, stack: env.stack, project: pulumi.getProject() };

    const network = new Network("platform", {
        vpcCidr: env.vpcCidr,
        zones: env.zones,
        natGateways: env.natGateways,
        tags,
    });
    const securityGroups = new SecurityGroups("platform", {
        vpcId: network.vpcId,
        prometheusPort: PROMETHEUS_PORT,
        nodeExporterPort: NODE_EXPORTER_PORT,
        tags,
    });
    const writerPrincipals = env.targets.writerPrincipals.length > 0
        ? env.targets.writerPrincipals
        : [`arn:${partition}:iam::${identity.accountId}:root`];
    const targets = new TargetsBucket("targets", {
        noncurrentVersionDays: env.targets.noncurrentVersionDays,
        writerPrincipals,
        protect: env.protectData,
        partition,
        tags,
    });
    const nodeRole = new NodeRole("prometheus-node", { policyArns: [targets.readPolicyArn], partition, tags });

    const scrapeNodes = env.zones.map((zone) => ({
        name: `prom-${zone.index}`,
        privateIp: zone.prometheusPrivateIp,
        availabilityZone: zone.availabilityZone,
    }));
    const nodes = env.zones.map((zone, i) => {
        const name = scrapeNodes[i].name;
        const prometheusYml = renderPrometheusConfig({
            stack: env.stack,
            replica: name,
            scrapeInterval: env.prometheus.scrapeInterval,
            evaluationInterval: env.prometheus.evaluationInterval,
            nodes: scrapeNodes,
            alertmanagers,
            targetsDir: NODE_PATHS.targetsDir,
            targetsRegions: env.targets.regions,
            rulesDir: NODE_PATHS.rulesDir,
            prometheusPort: PROMETHEUS_PORT,
            nodeExporterPort: NODE_EXPORTER_PORT,
        });
        return new PrometheusNode(name, {
            index: zone.index,
            availabilityZone: zone.availabilityZone,
            subnetId: network.privateSubnetIds[i],
            privateIp: zone.prometheusPrivateIp,
            securityGroupIds: [securityGroups.nodeSecurityGroupId],
            instanceProfileName: nodeRole.instanceProfileName,
            amiId: ami.id,
            instanceType: env.prometheus.instanceType,
            rootVolumeGiB: env.prometheus.rootVolumeGiB,
            dataVolume: env.prometheus.dataVolume,
            protectData: env.protectData,
            applyUpdates: env.prometheus.rolloutNode === zone.index,
            spec: {
                name,
                region: env.region,
                targetsBucket: targets.bucketName,
                arch: "amd64",
                prometheusVersion: env.prometheus.version,
                prometheusSha256: env.prometheus.sha256,
                nodeExporterVersion: env.nodeExporter.version,
                nodeExporterSha256: env.nodeExporter.sha256,
                packages: { nginx: env.packages.nginx, awscli: env.packages.awscli },
                retentionTime: env.prometheus.retentionTime,
                retentionSize: env.prometheus.retentionSize,
                externalUrl: `https://${prometheusHost(env, zone.index)}/`,
                prometheusYml,
                ruleFiles: {},
                syncIntervalSeconds: env.targets.syncIntervalSeconds,
                volumeWaitSeconds: VOLUME_WAIT_SECONDS,
            },
            tags,
        });
    });

    return { env, network, securityGroups, targets, nodeRole, nodes };
}

/** The stack outputs: what operators and the service broker need, no secrets. */
export function platformOutputs(platform: Platform): Record<string, unknown> {
    return {
        vpcId: platform.network.vpcId,
        prometheusNodes: platform.nodes.map((node) => ({
            name: node.name,
            availabilityZone: node.availabilityZone,
            instanceId: node.instanceId,
            privateIp: node.privateIp,
            dataVolumeId: node.dataVolumeId,
        })),
        targetsBucketName: platform.targets.bucketName,
        targetsWriterRoleArn: platform.targets.writerRoleArn,
        targetsWritePolicyArn: platform.targets.writePolicyArn,
    };
}
