import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { principalsTrustPolicy } from "./iamDocuments";

export interface ManagedPrometheusArgs {
    /** Names the workspace after its stack: one workspace per stack, never shared. */
    readonly alias: string;
    readonly region: string;
    /** Principals allowed to assume the producer role (serverless code pushing metrics). */
    readonly producerPrincipals: pulumi.Input<string>[];
    /** Days the workspace keeps samples. */
    readonly retentionDays: number;
    readonly tags?: Record<string, string>;
}

/** The IAM document granting remote write into one workspace only. */
export function remoteWritePolicy(workspaceArn: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [{ Sid: "RemoteWrite", Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: [workspaceArn] }],
    };
}

/**
 * An Amazon Managed Service for Prometheus workspace as the stack's long-term store, a policy
 * letting the nodes remote-write into it (SigV4, no signing proxy), and a role for serverless
 * producers to do the same.
 */
export class ManagedPrometheus extends pulumi.ComponentResource {
    readonly workspaceId: pulumi.Output<string>;
    readonly workspaceArn: pulumi.Output<string>;
    readonly remoteWriteUrl: pulumi.Output<string>;
    readonly queryUrl: pulumi.Output<string>;
    /** The workspace's Prometheus-compatible endpoint, as a Grafana data source takes it. */
    readonly prometheusUrl: pulumi.Output<string>;
    readonly remoteWritePolicyArn: pulumi.Output<string>;
    readonly producerRoleArn: pulumi.Output<string>;

    constructor(name: string, args: ManagedPrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:storage:ManagedPrometheus", name, {}, opts);
        const parent = { parent: this };
        const workspace = new aws.amp.Workspace(name, { alias: args.alias, tags: args.tags }, parent);
        new aws.amp.WorkspaceConfiguration(name, { workspaceId: workspace.id, retentionPeriodInDays: args.retentionDays }, parent);
        const policy = new aws.iam.Policy(`${name}-remote-write`, {
            description: `Remote write into the ${args.alias} AMP workspace only`,
            policy: workspace.arn.apply((arn) => JSON.stringify(remoteWritePolicy(arn))),
        }, parent);
        const producerRole = new aws.iam.Role(`${name}-producer`, {
            description: `Serverless producers remote-writing into ${args.alias}`,
            assumeRolePolicy: principalsTrustPolicy(args.producerPrincipals),
            tags: args.tags,
        }, parent);
        new aws.iam.RolePolicyAttachment(`${name}-producer`, { role: producerRole.name, policyArn: policy.arn }, parent);

        const base = pulumi.interpolate`https://aps-workspaces.${args.region}.amazonaws.com/workspaces/${workspace.id}`;
        this.workspaceId = workspace.id;
        this.workspaceArn = workspace.arn;
        this.remoteWriteUrl = pulumi.interpolate`${base}/api/v1/remote_write`;
        this.queryUrl = pulumi.interpolate`${base}/api/v1/query`;
        this.prometheusUrl = pulumi.interpolate`${base}/`;
        this.remoteWritePolicyArn = policy.arn;
        this.producerRoleArn = producerRole.arn;
        this.registerOutputs({
            workspaceId: this.workspaceId,
            remoteWriteUrl: this.remoteWriteUrl,
            queryUrl: this.queryUrl,
            producerRoleArn: this.producerRoleArn,
        });
    }
}
