import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NodeLogsArgs {
    /** The log group's name, known before anything exists so the nodes' user data is known in a preview. */
    readonly logGroupName: string;
    readonly retentionDays: number;
    readonly region: string;
    readonly accountId: string;
    readonly partition: string;
    readonly tags?: Record<string, string>;
}

/** The ARN of a log group and of its streams, as IAM names them. */
export function logGroupArns(partition: string, region: string, accountId: string, logGroupName: string): { group: string; streams: string } {
    const group = `arn:${partition}:logs:${region}:${accountId}:log-group:${logGroupName}`;
    return { group, streams: `${group}:log-stream:*` };
}

/** What the nodes' journal shipper may do: create its streams and write to them, in this group only. */
export function nodeLogsWritePolicy(arns: { group: string; streams: string }): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [
            // IAM authorizes CreateLogStream on the new stream's ARN: the group's own ARN never matches.
            { Sid: "CreateOwnStreams", Effect: "Allow", Action: ["logs:CreateLogStream"], Resource: [arns.streams] },
            { Sid: "WriteOwnStreams", Effect: "Allow", Action: ["logs:PutLogEvents"], Resource: [arns.streams] },
        ],
    };
}

/**
 * The Prometheus nodes' journals, kept beyond their instances: one log group for the stack with
 * its retention, and the policy the node role gets to write it.
 */
export class NodeLogs extends pulumi.ComponentResource {
    readonly logGroupName: string;
    readonly writePolicyArn: pulumi.Output<string>;
    /** Nodes boot once it exists, so their first entries have somewhere to go. */
    readonly logGroup: aws.cloudwatch.LogGroup;

    constructor(name: string, args: NodeLogsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:observability:NodeLogs", name, {}, opts);
        const parent = { parent: this };
        const group = new aws.cloudwatch.LogGroup(name, { name: args.logGroupName, retentionInDays: args.retentionDays, tags: args.tags }, parent);
        const policy = new aws.iam.Policy(`${name}-write`, {
            description: `The Prometheus nodes ship their journals to ${args.logGroupName}`,
            policy: JSON.stringify(nodeLogsWritePolicy(logGroupArns(args.partition, args.region, args.accountId, args.logGroupName))),
            tags: args.tags,
        }, parent);

        this.logGroup = group;
        this.logGroupName = args.logGroupName;
        this.writePolicyArn = policy.arn;
        this.registerOutputs({ logGroupName: group.name, writePolicyArn: this.writePolicyArn });
    }
}
