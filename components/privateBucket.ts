import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface PrivateBucketArgs {
    /** Bucket-policy statements beyond the TLS-only deny, given the bucket ARN. */
    readonly extraStatements?: (bucketArn: string) => pulumi.Input<Record<string, unknown>[]>;
    /** Keep the bucket when the stack is destroyed or the resource is replaced. */
    readonly protect: boolean;
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

export function tlsOnlyStatement(bucketArn: string): Record<string, unknown> {
    return {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    };
}

export interface PrivateBucket {
    bucket: aws.s3.Bucket;
    /** Built from the name, which a preview knows, so policies can be checked before the bucket exists. */
    arn: pulumi.Output<string>;
    name: pulumi.Output<string>;
    policy: aws.s3.BucketPolicy;
}

/** An S3 bucket no one outside can read: public access blocked, owner-enforced, SSE-S3, TLS only. */
export function createPrivateBucket(name: string, args: PrivateBucketArgs, parent: pulumi.Resource): PrivateBucket {
    // Protected data stays; a stack whose data is not protected can be destroyed, its objects with it.
    const bucket = new aws.s3.Bucket(name, { forceDestroy: !args.protect, tags: { ...args.tags, Name: name } }, { parent, protect: args.protect });
    const arn = pulumi.interpolate`arn:${args.partition ?? "aws"}:s3:::${bucket.bucket}`;
    const publicAccess = new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
    }, { parent });
    new aws.s3.BucketOwnershipControls(`${name}-ownership`, {
        bucket: bucket.id,
        rule: { objectOwnership: "BucketOwnerEnforced" },
    }, { parent });
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
        bucket: bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    }, { parent });
    const policy = new aws.s3.BucketPolicy(`${name}-policy`, {
        bucket: bucket.id,
        policy: arn.apply((bucketArn) => pulumi.output(args.extraStatements?.(bucketArn) ?? []).apply((extra) => JSON.stringify({
            Version: "2012-10-17",
            Statement: [tlsOnlyStatement(bucketArn), ...extra],
        }))),
    }, { parent, dependsOn: [publicAccess] });
    return { bucket, arn, name: bucket.bucket, policy };
}

export interface VersionedBucketArgs extends PrivateBucketArgs {
    /** Days a replaced or deleted object is kept as a noncurrent version. */
    readonly noncurrentVersionDays: number;
    /** Where the bucket's server access logs go: who read or changed which object. */
    readonly accessLogs: { bucketName: pulumi.Input<string>; prefix: string; ready: pulumi.Resource };
}

/**
 * A private bucket that keeps what was replaced (versioning, noncurrent versions expire) and logs
 * every access. Objects should depend on `versioning`, so none is written unversioned.
 */
export function createVersionedBucket(name: string, args: VersionedBucketArgs, parent: pulumi.Resource): PrivateBucket & { versioning: aws.s3.BucketVersioning } {
    const created = createPrivateBucket(name, args, parent);
    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, {
        bucket: created.bucket.id,
        versioningConfiguration: { status: "Enabled" },
    }, { parent });
    new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
        bucket: created.bucket.id,
        rules: [{
            id: "expire-noncurrent-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
        }],
    }, { parent, dependsOn: [versioning] });
    new aws.s3.BucketLogging(`${name}-access-logs`, {
        bucket: created.bucket.id,
        targetBucket: args.accessLogs.bucketName,
        targetPrefix: `${args.accessLogs.prefix}${name}/`,
    }, { parent, dependsOn: [args.accessLogs.ready] });
    return { ...created, versioning };
}

/** Read every object of a bucket: list it and get its objects. */
export function bucketReadPolicy(bucketArn: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "List", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn] },
            { Sid: "Read", Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${bucketArn}/*`] },
        ],
    };
}
