// What every ECS task of the platform needs besides its definition: a pinned image, a log group,
// and an execution role that pulls the image, writes the logs and reads the task's SSM secrets.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "./iamDocuments";

/**
 * A service of one Fargate task that must not run twice (an Alertmanager member, Grafana): the old
 * task stops before the new one starts, and an update returns only once the new task is healthy.
 * No circuit-breaker rollback: a rolled-back deployment is steady too, so the update would carry
 * on as if it had worked; without it, a task that never becomes healthy fails the update.
 */
export const SINGLE_TASK_SERVICE = {
    desiredCount: 1,
    launchType: "FARGATE",
    deploymentMinimumHealthyPercent: 0,
    deploymentMaximumPercent: 100,
    waitForSteadyState: true,
    propagateTags: "SERVICE",
} as const;

/** Refuses an image without a version tag (e.g. latest), naming the component. */
export function assertPinnedImage(component: string, image: string): void {
    if (!/:v?\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$/.test(image)) {
        throw new Error(`${component}: image ${image} must carry a pinned version tag`);
    }
}

export function ssmParameterArn(partition: string, region: string, accountId: string, name: string): string {
    return `arn:${partition}:ssm:${region}:${accountId}:parameter${name}`;
}

export interface TaskExecutionArgs {
    /** What the role is for, e.g. "ECS pulls the Grafana image, reads its two secrets, writes its logs". */
    readonly description: string;
    /** /ecs/<physicalNamePrefix>/<name>. */
    readonly physicalNamePrefix: string;
    readonly logRetentionDays: number;
    /** The SSM parameters the task gets as secrets; the role may read these and no other. */
    readonly parameterArns: string[];
    /** Name of the policy resource granting them, e.g. <name>-read-config. */
    readonly readPolicyName: string;
    readonly partition: string;
    readonly tags: Record<string, string>;
}

/** The log group (named <name>) and the execution role (<name>-execution) of a component's tasks, parented to it. */
export function taskExecution(name: string, args: TaskExecutionArgs, parent: pulumi.Resource): { logGroupName: string; executionRole: aws.iam.Role } {
    const opts = { parent };
    const logGroupName = `/ecs/${args.physicalNamePrefix}/${name}`;
    new aws.cloudwatch.LogGroup(name, { name: logGroupName, retentionInDays: args.logRetentionDays, tags: args.tags }, opts);
    const executionRole = new aws.iam.Role(`${name}-execution`, {
        description: args.description,
        assumeRolePolicy: serviceTrustPolicy("ecs-tasks.amazonaws.com"),
        tags: args.tags,
    }, opts);
    new aws.iam.RolePolicyAttachment(`${name}-execution`, {
        role: executionRole.name,
        policyArn: `arn:${args.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`,
    }, opts);
    new aws.iam.RolePolicy(args.readPolicyName, {
        role: executionRole.name,
        policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: ["ssm:GetParameters"], Resource: args.parameterArns }],
        }),
    }, opts);
    return { logGroupName, executionRole };
}
