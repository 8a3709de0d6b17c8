// Helpers shared by the rules: preview-safe reads and walking property dependencies.
import { PolicyResource, UnknownValueError } from "@pulumi/policy";

/** A value read from resource properties, or the note that a preview does not know it yet. */
export type Read<T> = { known: true; value: T } | { known: false; reason: string };

/** Reads through @pulumi/policy's unknown-checking proxy without letting an unknown escape. */
export function read<T>(get: () => T): Read<T> {
    try {
        return { known: true, value: get() };
    } catch (err) {
        if (err instanceof UnknownValueError) {
            return { known: false, reason: (err as Error).message };
        }
        throw err;
    }
}

/** The resources a property's value came from, optionally of one type. */
export function sources(resource: PolicyResource, property: string, type?: string): PolicyResource[] {
    return (resource.propertyDependencies[property] ?? []).filter((r) => type === undefined || r.type === type);
}

export function describe(resource: PolicyResource): string {
    return `${resource.type.split(":").pop()} '${resource.name}'`;
}

/** The stack a URN belongs to. */
export function stackOf(urn: string): string {
    return urn.split("::")[0].replace(/^urn:pulumi:/, "");
}

export function isWorld(cidr: string): boolean {
    return cidr === "0.0.0.0/0" || cidr === "::/0";
}

export const TYPES = {
    instance: "aws:ec2/instance:Instance",
    volume: "aws:ebs/volume:Volume",
    volumeAttachment: "aws:ec2/volumeAttachment:VolumeAttachment",
    launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
    subnet: "aws:ec2/subnet:Subnet",
    securityGroup: "aws:ec2/securityGroup:SecurityGroup",
    securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    loadBalancer: "aws:lb/loadBalancer:LoadBalancer",
    listener: "aws:lb/listener:Listener",
    listenerRule: "aws:lb/listenerRule:ListenerRule",
    targetGroup: "aws:lb/targetGroup:TargetGroup",
    ecsService: "aws:ecs/service:Service",
    taskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
    bucket: "aws:s3/bucket:Bucket",
    bucketPublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    bucketEncryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    bucketAcl: "aws:s3/bucketAcl:BucketAcl",
    rdsInstance: "aws:rds/instance:Instance",
} as const;

/** A resource of `type` built by a component of `parentType`, or carrying the tag `tag`. */
function memberOf(resource: PolicyResource, type: string, parentType: string, tag: string): boolean {
    if (resource.type !== type) {
        return false;
    }
    const tags = read(() => resource.props.tags as Record<string, string> | undefined);
    return resource.parent?.type === parentType || (tags.known && tags.value !== undefined && tag in tags.value);
}

/** The Prometheus nodes: instances built by PrometheusNode, or tagged as a replica. */
export const isPrometheusNode = (resource: PolicyResource) =>
    memberOf(resource, TYPES.instance, "platform:prometheus:PrometheusNode", "prometheus-replica");

/** The Alertmanager members: ECS services built by AlertmanagerCluster, or tagged as a member. */
export const isAlertmanagerMember = (resource: PolicyResource) =>
    memberOf(resource, TYPES.ecsService, "platform:alerting:AlertmanagerCluster", "alertmanager-member");

export interface IngressRule {
    resource: PolicyResource;
    /** The security group the rule opens, when it can be told. */
    group?: PolicyResource;
    protocol: string;
    fromPort?: number;
    toPort?: number;
    cidrs: string[];
}

/** Every ingress rule of the stack, whether a standalone rule resource or inline in a group. */
export function ingressRules(resources: PolicyResource[]): Read<IngressRule>[] {
    const rules: Read<IngressRule>[] = [];
    for (const resource of resources) {
        if (resource.type === TYPES.ingressRule) {
            rules.push(read(() => ({
                resource,
                group: sources(resource, "securityGroupId", TYPES.securityGroup)[0],
                protocol: String(resource.props.ipProtocol),
                fromPort: resource.props.fromPort,
                toPort: resource.props.toPort,
                cidrs: [resource.props.cidrIpv4, resource.props.cidrIpv6].filter((c): c is string => typeof c === "string"),
            })));
        } else if (resource.type === TYPES.securityGroupRule && read(() => resource.props.type).known && resource.props.type === "ingress") {
            rules.push(read(() => ({
                resource,
                group: sources(resource, "securityGroupId", TYPES.securityGroup)[0],
                protocol: String(resource.props.protocol),
                fromPort: resource.props.fromPort,
                toPort: resource.props.toPort,
                cidrs: [...(resource.props.cidrBlocks ?? []), ...(resource.props.ipv6CidrBlocks ?? [])],
            })));
        } else if (resource.type === TYPES.securityGroup) {
            const inline = read(() => (resource.props.ingress ?? []) as Record<string, any>[]);
            if (!inline.known) {
                rules.push(inline);
                continue;
            }
            inline.value.forEach((_, i) => rules.push(read(() => {
                const rule = resource.props.ingress[i];
                return {
                    resource,
                    group: resource,
                    protocol: String(rule.protocol),
                    fromPort: rule.fromPort,
                    toPort: rule.toPort,
                    cidrs: [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? [])],
                };
            })));
        }
    }
    return rules;
}

export function coversPort(rule: IngressRule, port: number): boolean {
    if (["-1", "all"].includes(rule.protocol)) {
        return true;
    }
    if (rule.fromPort === undefined || rule.toPort === undefined) {
        return false;
    }
    return rule.fromPort <= port && port <= rule.toPort;
}

/** Security groups attached to a load balancer. */
export function loadBalancerGroups(resources: PolicyResource[]): Set<string> {
    return new Set(resources
        .filter((r) => r.type === TYPES.loadBalancer)
        .flatMap((lb) => sources(lb, "securityGroups", TYPES.securityGroup))
        .map((group) => group.urn));
}

/** The tag on every target group telling who may reach it, and its values. */
export const ACCESS_TAG = "platform:access";
export const ACCESS = { behindAuthProxy: "basic-auth-proxy", signIn: "sign-in" } as const;

/** Whether a target group carries ACCESS_TAG with this value. */
export function hasAccess(group: PolicyResource, access: string): boolean {
    const tags = read(() => group.props.tags as Record<string, string> | undefined);
    return tags.known && tags.value?.[ACCESS_TAG] === access;
}

/** The source CIDRs of a listener rule's source-ip conditions; undefined when it has none, or they are not known. */
export function listenerRuleSourceCidrs(rule: PolicyResource): string[] | undefined {
    const conditions = read(() => (rule.props.conditions ?? []) as Record<string, any>[]);
    if (!conditions.known) {
        return undefined;
    }
    const values = conditions.value.flatMap((_, i) => {
        const value = read(() => rule.props.conditions[i].sourceIp?.values as string[] | undefined);
        return value.known && value.value ? [value.value] : [];
    });
    return values.length > 0 ? values.flat() : undefined;
}
