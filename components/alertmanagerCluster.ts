import * as crypto from "crypto";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { assertPinnedImage, SINGLE_TASK_SERVICE, ssmParameterArn, taskExecution } from "./ecsTask";
import { alertmanagerContainer } from "./render/alertmanagerTask";
import { ALERTMANAGER_PORT } from "./ports";

export interface AlertmanagerMemberArgs {
    readonly availabilityZone: string;
    readonly subnetId: pulumi.Input<string>;
    readonly externalUrl: string;
}

export interface AlertmanagerClusterArgs {
    readonly vpcId: pulumi.Input<string>;
    /** Exactly three members, one per zone: member N runs one task in zone N's private subnet. */
    readonly members: AlertmanagerMemberArgs[];
    readonly securityGroupId: pulumi.Input<string>;
    /** The ALB target groups (type ip, port 9093) of each member and of all members. */
    readonly memberTargetGroupArns: pulumi.Input<string>[];
    readonly allTargetGroupArn: pulumi.Input<string>;
    /** Image with a pinned tag (never latest), e.g. quay.io/prometheus/alertmanager:v0.33.1. */
    readonly image: string;
    /** alertmanager.yml; holds receiver secrets, so it is stored as an SSM SecureString. */
    readonly config: pulumi.Input<string>;
    /**
     * SSM parameter names, one per member, e.g. /dev/alertmanager/member-1/config. Member N's is
     * written only once member N-1 runs the new configuration, so a member that has not been rolled
     * reads what it was rolled with, whatever restarts it.
     */
    readonly configParameterNames: readonly string[];
    /** Standard (up to 4 KB, no charge) unless the configuration needs Advanced (8 KB). */
    readonly configParameterTier: SsmTier;
    /** Prefix of the names that must be unique in the account and region, e.g. <project>-<stack>. */
    readonly physicalNamePrefix: string;
    readonly accountId: string;
    /** Cloud Map private DNS namespace, e.g. dev.monitoring.internal. */
    readonly namespace: string;
    readonly region: string;
    readonly cpu: number;
    readonly memory: number;
    readonly logRetentionDays: number;
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

/** The Cloud Map service the members register in: <name>.<namespace> answers with every healthy member. */
export const ALERTMANAGER_SERVICE_NAME = "alertmanager";

export type SsmTier = "Standard" | "Advanced";
/** The largest value (bytes) each SSM parameter tier stores. */
export const SSM_TIER_LIMIT_BYTES: Record<SsmTier, number> = { Standard: 4096, Advanced: 8192 };
/** A configuration this close to its tier's limit fails the plan, before a new receiver breaks a deploy. */
export const SSM_HEADROOM = 0.9;

/**
 * Three Alertmanagers on ECS Fargate, one service with one task per zone. They find each other
 * through a Cloud Map A record per task and mesh on 9094 (TCP and UDP), so a notification
 * group goes out once. Each member's config comes from its own SSM SecureString through the task's
 * `secrets`.
 */
export class AlertmanagerCluster extends pulumi.ComponentResource {
    /** The DNS name that resolves to every member: peers for the mesh, targets for Prometheus. */
    readonly peerName: string;
    readonly clusterName: pulumi.Output<string>;
    /** The ECS cluster and the Cloud Map namespace, which Grafana shares. */
    readonly clusterArn: pulumi.Output<string>;
    readonly namespaceId: pulumi.Output<string>;
    readonly serviceNames: pulumi.Output<string>[];
    readonly configParameterNames: readonly string[];
    /** The members in the order an update restarts them, one after the other. */
    readonly rolloutOrder: string[];
    /** What the task definitions carry of the configuration: a new HMAC restarts every member, in rolloutOrder. */
    readonly configHmac: pulumi.Output<string>;

    constructor(name: string, args: AlertmanagerClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:alerting:AlertmanagerCluster", name, {}, opts);
        if (args.members.length !== 3 || args.configParameterNames.length !== 3) {
            throw new Error(`AlertmanagerCluster ${name}: exactly three members and three parameter names are needed, `
                + `got ${args.members.length} and ${args.configParameterNames.length}`);
        }
        assertPinnedImage(`AlertmanagerCluster ${name}`, args.image);
        const parent = { parent: this };
        const partition = args.partition ?? "aws";
        const tags = { ...args.tags };

        const cluster = new aws.ecs.Cluster(name, {
            settings: [{ name: "containerInsights", value: "enabled" }],
            tags,
        }, parent);
        const namespace = new aws.servicediscovery.PrivateDnsNamespace(name, {
            name: args.namespace,
            vpc: args.vpcId,
            description: "Alertmanager mesh discovery",
            tags,
        }, parent);
        const discovery = new aws.servicediscovery.Service(name, {
            name: ALERTMANAGER_SERVICE_NAME,
            namespaceId: namespace.id,
            dnsConfig: {
                namespaceId: namespace.id,
                dnsRecords: [{ type: "A", ttl: 10 }],
                routingPolicy: "MULTIVALUE",
            },
            // ECS reports each task's container health here: the name resolves to settled members only.
            healthCheckCustomConfig: {},
            forceDestroy: true,
            tags,
        }, parent);
        this.peerName = `${ALERTMANAGER_SERVICE_NAME}.${args.namespace}`;

        // SecureStrings named up front: the task definitions refer to them by name, so they are fully
        // known in a preview and can be checked before anything exists.
        const parameterArns = args.configParameterNames.map((parameterName) => ssmParameterArn(partition, args.region, args.accountId, parameterName));
        const { logGroupName, executionRole } = taskExecution(name, {
            description: "ECS pulls the Alertmanager image, reads its members' config parameters, writes its logs",
            physicalNamePrefix: args.physicalNamePrefix,
            logRetentionDays: args.logRetentionDays,
            parameterArns,
            readPolicyName: `${name}-read-config`,
            partition,
            tags,
        }, this);

        // Keyed with the stack's own random secret: the configuration holds secrets, and a plain hash of
        // it would let anyone who reads a task definition test guesses of them offline.
        const hashKey = new random.RandomPassword(`${name}-config-hash-key`, { length: 64, special: false }, { parent: this });
        const configHmac = pulumi.unsecret(pulumi.all([args.config, hashKey.result])
            .apply(([config, key]) => crypto.createHmac("sha256", key).update(config, "utf8").digest("hex")));
        let previous: aws.ecs.Service | undefined;
        const services = args.members.map((member, i) => {
            const memberName = `${name}-${i + 1}`;
            // Written only after the member before runs the new configuration and is healthy.
            const parameter = new aws.ssm.Parameter(`${memberName}-config`, {
                name: args.configParameterNames[i],
                description: `alertmanager.yml of member ${i + 1} (receiver keys and URLs)`,
                type: "SecureString",
                tier: args.configParameterTier,
                value: pulumi.secret(args.config),
                tags,
            }, { parent: this, dependsOn: previous ? [previous] : [] });
            const taskDefinition = new aws.ecs.TaskDefinition(memberName, {
                family: `${args.physicalNamePrefix}-${memberName}`,
                cpu: String(args.cpu),
                memory: String(args.memory),
                networkMode: "awsvpc",
                requiresCompatibilities: ["FARGATE"],
                runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
                executionRoleArn: executionRole.arn,
                containerDefinitions: configHmac.apply((hmac) => JSON.stringify([alertmanagerContainer({
                    name: ALERTMANAGER_SERVICE_NAME,
                    image: args.image,
                    externalUrl: member.externalUrl,
                    peerName: this.peerName,
                    configParameterArn: parameterArns[i],
                    configHmac: hmac,
                    logGroup: logGroupName,
                    region: args.region,
                })])),
                tags,
            }, { parent: this, dependsOn: [parameter] });
            const service = new aws.ecs.Service(memberName, {
                cluster: cluster.arn,
                taskDefinition: taskDefinition.arn,
                // One task per member, healthy (meshed and settled) before the update goes on; the
                // next member depends on this one, so members restart one at a time, in order, and
                // a task that never becomes healthy stops the update with the other two left alone.
                ...SINGLE_TASK_SERVICE,
                healthCheckGracePeriodSeconds: 60,
                networkConfiguration: {
                    subnets: [member.subnetId],
                    securityGroups: [args.securityGroupId],
                    assignPublicIp: false,
                },
                serviceRegistries: { registryArn: discovery.arn },
                loadBalancers: [args.memberTargetGroupArns[i], args.allTargetGroupArn].map((targetGroupArn) => ({
                    targetGroupArn,
                    containerName: ALERTMANAGER_SERVICE_NAME,
                    containerPort: ALERTMANAGER_PORT,
                })),
                tags: { ...tags, "alertmanager-member": String(i + 1), "availability-zone": member.availabilityZone },
            }, { parent: this, dependsOn: previous ? [previous] : [] });
            previous = service;
            return service;
        });
        this.serviceNames = services.map((service) => service.name);
        this.rolloutOrder = args.members.map((_, i) => `${name}-${i + 1}`);
        this.configHmac = configHmac;

        this.clusterName = cluster.name;
        this.clusterArn = cluster.arn;
        this.namespaceId = namespace.id;
        this.configParameterNames = args.configParameterNames;
        this.registerOutputs({
            peerName: this.peerName,
            clusterName: this.clusterName,
            serviceNames: this.serviceNames,
            configParameterNames: this.configParameterNames,
        });
    }
}
