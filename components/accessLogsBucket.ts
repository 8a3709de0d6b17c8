import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createPrivateBucket } from "./privateBucket";

/** Where each kind of log lands in the bucket. */
export const ALB_LOG_PREFIX = "alb";
export const S3_LOG_PREFIX = "s3/";

export interface AccessLogsBucketArgs {
    readonly retentionDays: number;
    /** The account whose buckets deliver server access logs here. */
    readonly accountId: string;
    readonly protect: boolean;
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

/**
 * The stack's access-log bucket: the ALB's logs under alb/, the other buckets' server access
 * logs under s3/, expired after the retention. It does not log its own access: its writers are
 * the two log services, and logging it into itself would log every delivery again.
 */
export class AccessLogsBucket extends pulumi.ComponentResource {
    readonly bucketName: pulumi.Output<string>;
    /** Deliveries are accepted once this exists. */
    readonly policy: aws.s3.BucketPolicy;

    constructor(name: string, args: AccessLogsBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:storage:AccessLogsBucket", name, {}, opts);
        const elbAccount = aws.elb.getServiceAccountOutput({}, { parent: this });
        const logs = createPrivateBucket(name, {
            protect: args.protect,
            partition: args.partition,
            tags: args.tags,
            extraStatements: (bucketArn) => elbAccount.arn.apply((account) => [
                { Sid: "ElbLogDelivery", Effect: "Allow", Principal: { AWS: account }, Action: "s3:PutObject", Resource: `${bucketArn}/${ALB_LOG_PREFIX}/*` },
                {
                    Sid: "S3ServerAccessLogDelivery",
                    Effect: "Allow",
                    Principal: { Service: "logging.s3.amazonaws.com" },
                    Action: "s3:PutObject",
                    Resource: `${bucketArn}/${S3_LOG_PREFIX}*`,
                    Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
                },
            ]),
        }, this);
        new aws.s3.BucketLifecycleConfiguration(name, {
            bucket: logs.bucket.id,
            rules: [{ id: "expire-access-logs", status: "Enabled", filter: {}, expiration: { days: args.retentionDays } }],
        }, { parent: this });

        this.bucketName = logs.name;
        this.policy = logs.policy;
        this.registerOutputs({ bucketName: this.bucketName });
    }
}
