import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { principalsTrustPolicy } from "./iamDocuments";
import { bucketReadPolicy, createVersionedBucket, VersionedBucketArgs } from "./privateBucket";
import { DISCOVERY_PREFIX, TENANTS_PREFIX } from "./render/prometheusConfig";

export interface TargetsBucketArgs extends VersionedBucketArgs {
    /** Principals (ARNs) allowed to assume the writer role, e.g. the service broker's role. */
    readonly writerPrincipals: pulumi.Input<string>[];
    /** Tenants, each with a writer role limited to tenants/<name>/, assumed by its principals. */
    readonly tenants?: { name: string; writerPrincipals: pulumi.Input<string>[] }[];
}

/** The IAM policy documents the bucket grants, as pure functions of its ARN. */
export function targetsWritePolicy(bucketArn: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "ListTargets", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn] },
            {
                Sid: "WriteTargets",
                Effect: "Allow",
                Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                Resource: [`${bucketArn}/*`],
            },
            // The tenants' prefixes are their own writers', discovery's is the discovery function's.
            {
                Sid: "NotTenantOrDiscoveryTargets",
                Effect: "Deny",
                Action: ["s3:PutObject", "s3:DeleteObject"],
                Resource: [`${bucketArn}/${TENANTS_PREFIX}*`, `${bucketArn}/${DISCOVERY_PREFIX}*`],
            },
        ],
    };
}

/** A tenant's writer: its own prefix, tenants/<name>/, and nothing else. */
export function tenantWritePolicy(bucketArn: string, tenant: string): Record<string, unknown> {
    const prefix = `${TENANTS_PREFIX}${tenant}/`;
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "ListOwnTargets", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn], Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } },
            { Sid: "WriteOwnTargets", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: [`${bucketArn}/${prefix}*`] },
        ],
    };
}

/**
 * The S3 bucket of file_sd target files: private, encrypted, versioned, TLS only. Written by the
 * service broker through the writer role, read by the Prometheus nodes through the read policy.
 */
export class TargetsBucket extends pulumi.ComponentResource {
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    readonly readPolicyArn: pulumi.Output<string>;
    readonly writePolicyArn: pulumi.Output<string>;
    readonly writerRoleArn: pulumi.Output<string>;
    /** Tenant name to the role that may write its prefix. */
    readonly tenantWriterRoleArns: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: TargetsBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:storage:TargetsBucket", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, Name: name };

        const { bucket, arn: bucketArn } = createVersionedBucket(name, args, this);
        const readPolicy = new aws.iam.Policy(`${name}-read`, {
            description: "Read the Prometheus file_sd targets bucket",
            policy: bucketArn.apply((arn) => JSON.stringify(bucketReadPolicy(arn))),
        }, parent);
        const writePolicy = new aws.iam.Policy(`${name}-write`, {
            description: "Publish Prometheus file_sd targets (service broker)",
            policy: bucketArn.apply((arn) => JSON.stringify(targetsWritePolicy(arn))),
        }, parent);
        const writerRole = new aws.iam.Role(`${name}-writer`, {
            description: "Assumed by the service broker to publish file_sd targets",
            assumeRolePolicy: principalsTrustPolicy(args.writerPrincipals),
            tags,
        }, parent);
        new aws.iam.RolePolicyAttachment(`${name}-writer`, { role: writerRole.name, policyArn: writePolicy.arn }, parent);

        this.tenantWriterRoleArns = Object.fromEntries((args.tenants ?? []).map((tenant) => {
            const policy = new aws.iam.Policy(`${name}-write-${tenant.name}`, {
                description: `Publish tenant ${tenant.name}'s targets under ${TENANTS_PREFIX}${tenant.name}/`,
                policy: bucketArn.apply((arn) => JSON.stringify(tenantWritePolicy(arn, tenant.name))),
            }, parent);
            const role = new aws.iam.Role(`${name}-writer-${tenant.name}`, {
                description: `Assumed by tenant ${tenant.name} to publish its targets`,
                assumeRolePolicy: principalsTrustPolicy(tenant.writerPrincipals),
                tags: { ...tags, tenant: tenant.name },
            }, parent);
            new aws.iam.RolePolicyAttachment(`${name}-writer-${tenant.name}`, { role: role.name, policyArn: policy.arn }, parent);
            return [tenant.name, role.arn];
        }));
        this.bucketName = bucket.bucket;
        this.bucketArn = bucketArn;
        this.readPolicyArn = readPolicy.arn;
        this.writePolicyArn = writePolicy.arn;
        this.writerRoleArn = writerRole.arn;
        this.registerOutputs({
            bucketName: this.bucketName,
            bucketArn: this.bucketArn,
            readPolicyArn: this.readPolicyArn,
            writePolicyArn: this.writePolicyArn,
            writerRoleArn: this.writerRoleArn,
        });
    }
}
