// Stand-ins for the AWS SDK clients the discovery function calls: answers per command class,
// with ECS paging as the real API pages, and an in-memory S3 with MD5 ETags.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ListClustersCommand, ListTasksCommand } from "@aws-sdk/client-ecs";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";

export type Handler = (input: any) => any;

/** A client whose send() answers each command class with a handler, and records the calls. */
export function fakeClient(handlers: Map<unknown, Handler>) {
    const calls: { command: string; input: any }[] = [];
    return {
        calls,
        async send(command: any) {
            calls.push({ command: command.constructor.name, input: command.input });
            const handler = handlers.get(command.constructor);
            if (!handler) {
                throw new Error(`unexpected ${command.constructor.name}`);
            }
            return handler(command.input);
        },
    };
}

/** An ECS account: `clusters` clusters, each with `tasksPerCluster` running tasks of one definition. */
export function fakeEcs(clusters: number, tasksPerCluster: number, labels: Record<string, string>) {
    const page = <T>(items: T[], token: string | undefined, size: number) => {
        const start = token ? Number(token) : 0;
        const next = start + size < items.length ? String(start + size) : undefined;
        return { items: items.slice(start, start + size), next };
    };
    const clusterArns = Array.from({ length: clusters }, (_, i) => `arn:aws:ecs:eu-west-1:1:cluster/c${i}`);
    return fakeClient(new Map<unknown, Handler>([
        [ListClustersCommand, (input) => {
            const { items, next } = page(clusterArns, input.nextToken, 2);
            return { clusterArns: items, nextToken: next };
        }],
        [ListTasksCommand, (input) => {
            const tasks = Array.from({ length: tasksPerCluster }, (_, i) => `${input.cluster}/task/t${i}`);
            const { items, next } = page(tasks, input.nextToken, 100);
            return { taskArns: items, nextToken: next };
        }],
        [DescribeTasksCommand, (input) => {
            assert.ok(input.tasks.length <= 100, "DescribeTasks takes at most 100 tasks");
            return {
                tasks: input.tasks.map((arn: string, i: number) => ({
                    taskArn: arn,
                    lastStatus: "RUNNING",
                    group: "service:api",
                    taskDefinitionArn: "arn:aws:ecs:eu-west-1:1:task-definition/api:7",
                    containers: [{ name: "app", networkInterfaces: [{ privateIpv4Address: `10.0.${Math.floor(i / 250)}.${i % 250}` }] }],
                })),
            };
        }],
        [DescribeTaskDefinitionCommand, () => ({
            taskDefinition: {
                family: "api",
                revision: 7,
                containerDefinitions: [{ name: "app", dockerLabels: labels }, { name: "sidecar", dockerLabels: {} }],
            },
        })],
    ]));
}

/** How S3 answers a HeadObject on a missing key: 404, or 403 where the caller may not list that key. */
const MISSING_KEY_ANSWERS = {
    404: () => Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } }),
    403: () => Object.assign(new Error("Forbidden"), { name: "Forbidden", $metadata: { httpStatusCode: 403 } }),
};

/** An S3 keeping objects in memory, with MD5 ETags like a single PUT. */
export function fakeS3(missingKey: keyof typeof MISSING_KEY_ANSWERS = 404) {
    const objects = new Map<string, string>();
    const client = fakeClient(new Map<unknown, Handler>([
        [HeadObjectCommand, (input) => {
            const body = objects.get(input.Key);
            if (body === undefined) {
                throw MISSING_KEY_ANSWERS[missingKey]();
            }
            return { ETag: `"${createHash("md5").update(body).digest("hex")}"` };
        }],
        [PutObjectCommand, (input) => { objects.set(input.Key, input.Body); return {}; }],
    ]));
    return { ...client, objects };
}

