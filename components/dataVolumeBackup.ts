import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "./iamDocuments";

export const DLM_SERVICE_POLICY = "service-role/AWSDataLifecycleManagerServiceRole";

export interface DataVolumeBackupArgs {
    /** The tag the data volumes carry; unique per stack, as DLM refuses two policies with the same target tags. */
    readonly targetTag: { key: string; value: string };
    /** Daily, at this UTC time (HH:MM). */
    readonly snapshotTime: string;
    readonly retainDays: number;
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

/**
 * Daily snapshots of every volume carrying the target tag, by Data Lifecycle Manager, each kept
 * for `retainDays`. The volumes outlive their instances; the snapshots outlive a lost volume.
 */
export class DataVolumeBackup extends pulumi.ComponentResource {
    readonly policyId: pulumi.Output<string>;
    readonly targetTag: { key: string; value: string };
    /** What the plan shows: which volumes, when, how long. */
    readonly summary: string;

    constructor(name: string, args: DataVolumeBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:storage:DataVolumeBackup", name, {}, opts);
        const parent = { parent: this };
        const role = new aws.iam.Role(name, {
            description: "Data Lifecycle Manager snapshots the Prometheus data volumes",
            assumeRolePolicy: serviceTrustPolicy("dlm.amazonaws.com"),
            tags: args.tags,
        }, parent);
        const attachment = new aws.iam.RolePolicyAttachment(name, {
            role: role.name,
            policyArn: `arn:${args.partition ?? "aws"}:iam::aws:policy/${DLM_SERVICE_POLICY}`,
        }, parent);
        const policy = new aws.dlm.LifecyclePolicy(name, {
            description: `Daily snapshots of volumes tagged ${args.targetTag.key}=${args.targetTag.value}`,
            executionRoleArn: role.arn,
            state: "ENABLED",
            policyDetails: {
                policyType: "EBS_SNAPSHOT_MANAGEMENT",
                resourceTypes: ["VOLUME"],
                targetTags: { [args.targetTag.key]: args.targetTag.value },
                schedules: [{
                    name: `daily-${args.retainDays}d`,
                    copyTags: true,
                    createRule: { interval: 24, intervalUnit: "HOURS", times: args.snapshotTime },
                    retainRule: { interval: args.retainDays, intervalUnit: "DAYS" },
                    tagsToAdd: { "snapshot-policy": name },
                }],
            },
            tags: args.tags,
        }, { parent: this, dependsOn: [attachment] });

        this.policyId = policy.id;
        this.targetTag = args.targetTag;
        this.summary = `daily at ${args.snapshotTime} UTC, kept ${args.retainDays} days: volumes tagged ${args.targetTag.key}=${args.targetTag.value}`;
        this.registerOutputs({ policyId: this.policyId, summary: this.summary });
    }
}
