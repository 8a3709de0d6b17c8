import * as path from "path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "./iamDocuments";
import { buildSync } from "esbuild";
import { DISCOVERY_PREFIX, DISCOVERY_STATUS_PREFIX } from "./render/prometheusConfig";

export { DISCOVERY_PREFIX };
export const DISCOVERY_SCHEDULE = "rate(1 minute)";
export const DISCOVERY_PERIOD_SECONDS = 60;
/** Shorter than the period, so a run ends before the next one is due. */
export const DISCOVERY_TIMEOUT_SECONDS = 50;
export const DISCOVERY_RUNTIME = "nodejs24.x";
const SOURCE = path.join(__dirname, "functions", "discovery.ts");

let bundled: string | undefined;

/** The function's code, bundled with its AWS SDK clients into one deterministic file (built once per process). */
export function bundleDiscoveryFunction(): string {
    bundled ??= buildBundle();
    return bundled;
}

function buildBundle(): string {
    const result = buildSync({
        entryPoints: [SOURCE],
        // Paths in the bundle's comments are relative to the project, wherever it is run from.
        absWorkingDir: path.resolve(__dirname, ".."),
        bundle: true,
        platform: "node",
        target: "node24",
        format: "cjs",
        write: false,
        legalComments: "none",
        logLevel: "silent",
    });
    return result.outputFiles[0].text;
}

/** Exactly what the function does, and nothing on `*` but the List/Describe calls that take no resource. */
export function discoveryPolicy(bucketArn: string, logGroupArn: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DiscoverEcsTasks",
                Effect: "Allow",
                Action: ["ecs:ListClusters", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeTaskDefinition"],
                Resource: "*",
            },
            {
                Sid: "DiscoverCloudMapInstances",
                Effect: "Allow",
                Action: ["servicediscovery:ListServices", "servicediscovery:ListInstances", "servicediscovery:ListTagsForResource"],
                Resource: "*",
            },
            {
                // Lets a missing object read as 404 rather than 403, under the prefix only.
                Sid: "ListOwnTargets",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: [bucketArn],
                Condition: { StringLike: { "s3:prefix": [`${DISCOVERY_PREFIX}*`] } },
            },
            {
                Sid: "WriteOwnTargets",
                Effect: "Allow",
                Action: ["s3:PutObject", "s3:GetObject"],
                Resource: [`${bucketArn}/${DISCOVERY_PREFIX}*`],
            },
            {
                Sid: "Logs",
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
                Resource: [`${logGroupArn}:*`],
            },
        ],
    };
}

export interface TargetDiscoveryArgs {
    readonly functionName: string;
    readonly bucketName: pulumi.Input<string>;
    readonly bucketArn: pulumi.Input<string>;
    readonly regions: string[];
    readonly cloudMapNamespaces: Record<string, string[]>;
    readonly region: string;
    readonly accountId: string;
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

/**
 * The ECS / Cloud Map target discovery: a Lambda run every minute that writes file_sd JSON into
 * the targets bucket under discovery/, its least-privilege role and its logs. Each success is
 * recorded under discovery/status/; the nodes report its age, and Prometheus alerts when a region
 * has not succeeded for 10 minutes (RE_Observe_Discovery_Stale). No CloudWatch alarm: one without
 * a topic would notify nobody.
 */
export class TargetDiscovery extends pulumi.ComponentResource {
    readonly functionName: pulumi.Output<string>;
    readonly roleArn: pulumi.Output<string>;

    constructor(name: string, args: TargetDiscoveryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:discovery:TargetDiscovery", name, {}, opts);
        const parent = { parent: this };
        const partition = args.partition ?? "aws";
        const logGroupName = `/aws/lambda/${args.functionName}`;
        const logGroupArn = `arn:${partition}:logs:${args.region}:${args.accountId}:log-group:${logGroupName}`;
        const logs = new aws.cloudwatch.LogGroup(name, { name: logGroupName, retentionInDays: 30, tags: args.tags }, parent);

        const role = new aws.iam.Role(name, {
            description: "Target discovery function: list ECS tasks and Cloud Map instances, write its own file_sd files",
            assumeRolePolicy: serviceTrustPolicy("lambda.amazonaws.com"),
            tags: args.tags,
        }, parent);
        const policy = new aws.iam.RolePolicy(name, {
            role: role.name,
            policy: pulumi.output(args.bucketArn).apply((bucketArn) => JSON.stringify(discoveryPolicy(bucketArn, logGroupArn))),
        }, parent);

        const fn = new aws.lambda.Function(name, {
            name: args.functionName,
            description: "Writes ECS and Cloud Map targets as file_sd JSON into the targets bucket",
            runtime: DISCOVERY_RUNTIME,
            handler: "index.handler",
            role: role.arn,
            code: new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.StringAsset(bundleDiscoveryFunction()) }),
            // One run at a time without reserved concurrency (which fails in accounts with a low
            // quota): a run times out before the next is due, and a missed or failed run is not
            // retried, so no retry overlaps the next scheduled run. Two runs overlapping anyway
            // (EventBridge delivers at least once) are harmless: each file is written whole.
            timeout: DISCOVERY_TIMEOUT_SECONDS,
            memorySize: 256,
            environment: {
                variables: {
                    TARGETS_BUCKET: args.bucketName,
                    TARGETS_PREFIX: DISCOVERY_PREFIX,
                    STATUS_PREFIX: DISCOVERY_STATUS_PREFIX,
                    DISCOVERY_REGIONS: args.regions.join(","),
                    CLOUD_MAP_NAMESPACES: JSON.stringify(args.cloudMapNamespaces),
                },
            },
            tags: args.tags,
        }, { parent: this, dependsOn: [logs, policy] });

        const schedule = new aws.cloudwatch.EventRule(name, {
            description: "Run the target discovery every minute",
            scheduleExpression: DISCOVERY_SCHEDULE,
            tags: args.tags,
        }, parent);
        new aws.cloudwatch.EventTarget(name, {
            rule: schedule.name,
            arn: fn.arn,
            retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: DISCOVERY_PERIOD_SECONDS },
        }, parent);
        new aws.lambda.FunctionEventInvokeConfig(name, {
            functionName: fn.name,
            maximumRetryAttempts: 0,
            maximumEventAgeInSeconds: DISCOVERY_PERIOD_SECONDS,
        }, parent);
        new aws.lambda.Permission(name, {
            action: "lambda:InvokeFunction",
            function: fn.name,
            principal: "events.amazonaws.com",
            sourceArn: schedule.arn,
        }, parent);

        this.functionName = fn.name;
        this.roleArn = role.arn;
        this.registerOutputs({ functionName: this.functionName, roleArn: this.roleArn });
    }
}
