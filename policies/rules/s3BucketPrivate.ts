import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { describe, read, sources, TYPES } from "../lib";

const PUBLIC_ACLS = ["public-read", "public-read-write", "authenticated-read"];
const BLOCK_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];

function attachedTo(resources: PolicyResource[], type: string, bucket: PolicyResource): PolicyResource[] {
    return resources.filter((r) => r.type === type && sources(r, "bucket").some((b) => b.urn === bucket.urn));
}

interface Statement {
    Effect?: string;
    Principal?: unknown;
    Condition?: Record<string, Record<string, unknown>>;
}

function isEveryone(principal: unknown): boolean {
    if (principal === "*") {
        return true;
    }
    const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
    return aws === "*" || (Array.isArray(aws) && aws.includes("*"));
}

function policyProblems(document: string): string[] {
    let statements: Statement[];
    try {
        const parsed = JSON.parse(document) as { Statement?: Statement | Statement[] };
        statements = ([] as Statement[]).concat(parsed.Statement ?? []);
    } catch {
        return ["its bucket policy is not valid JSON"];
    }
    const problems: string[] = [];
    const tlsOnly = statements.some((s) => s.Effect === "Deny" && isEveryone(s.Principal)
        && String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false");
    if (!tlsOnly) {
        problems.push("its bucket policy does not deny requests without TLS (aws:SecureTransport false)");
    }
    if (statements.some((s) => s.Effect === "Allow" && isEveryone(s.Principal) && s.Condition === undefined)) {
        problems.push("its bucket policy allows everyone");
    }
    return problems;
}

export const s3BucketPrivate: StackValidationPolicy = {
    name: "s3-bucket-private",
    description: "Every S3 bucket blocks public access, is encrypted at rest and accepts TLS requests only.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const bucket of args.resources.filter((r) => r.type === TYPES.bucket)) {
            const problems: string[] = [];
            const blocks = attachedTo(args.resources, TYPES.bucketPublicAccessBlock, bucket);
            const fullyBlocked = blocks.some((block) => BLOCK_FLAGS.every((flag) => {
                const value = read(() => block.props[flag]);
                return value.known && value.value === true;
            }));
            if (!fullyBlocked) {
                problems.push(`no public access block sets ${BLOCK_FLAGS.join(", ")} to true`);
            }
            if (attachedTo(args.resources, TYPES.bucketEncryption, bucket).length === 0) {
                problems.push("no server-side encryption configuration");
            }
            const acls = [read(() => bucket.props.acl as string | undefined),
                ...attachedTo(args.resources, TYPES.bucketAcl, bucket).map((acl) => read(() => acl.props.acl as string | undefined))];
            if (acls.some((acl) => acl.known && acl.value !== undefined && PUBLIC_ACLS.includes(acl.value))) {
                problems.push("a public canned ACL");
            }
            const policies = attachedTo(args.resources, TYPES.bucketPolicy, bucket);
            if (policies.length === 0) {
                problems.push("no bucket policy denying requests without TLS");
            }
            for (const policy of policies) {
                const document = read(() => policy.props.policy as string);
                if (!document.known) {
                    problems.push(`its bucket policy is not known in this preview, so TLS-only cannot be verified`);
                } else {
                    problems.push(...policyProblems(document.value));
                }
            }
            if (problems.length > 0) {
                reportViolation(`${describe(bucket)} is not private: ${problems.join("; ")}. Give it a public access block with every flag `
                    + "true, SSE (AES256 or aws:kms), and a bucket policy denying aws:SecureTransport false.", bucket.urn);
            }
        }
    },
};
