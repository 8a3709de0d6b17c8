// Stand-ins for the AWS APIs the discovery function calls, on real SDK clients mocked with
// aws-sdk-client-mock: an ECS account that pages as the API pages, an in-memory S3 with MD5
// ETags, and a Cloud Map that must not be asked. Shared by the tests, the rehearsals and the
// capacity script.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, ListClustersCommand, ListTasksCommand } from "@aws-sdk/client-ecs";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ServiceDiscoveryClient } from "@aws-sdk/client-servicediscovery";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";

const OFFLINE = { region: "eu-west-1", credentials: { accessKeyId: "STANDIN", secretAccessKey: "STANDIN" } };

/** One page of `items` from the position a token names, with the token of the next page. */
function page<T>(items: T[], token: string | undefined, size: number): { items: T[]; next?: string } {
    const start = token ? Number(token) : 0;
    return { items: items.slice(start, start + size), next: start + size < items.length ? String(start + size) : undefined };
}

/**
 * An ECS account: `clusters` clusters, each running `tasksPerCluster` tasks of one definition
 * whose app container carries `labels`. ListClusters pages by 2, ListTasks by 100.
 */
export function ecsAccount(clusters: number, tasksPerCluster: number, labels: Record<string, string>): { client: ECSClient; mock: AwsClientStub<ECSClient> } {
    const client = new ECSClient(OFFLINE);
    const mock = mockClient(client);
    const clusterArns = Array.from({ length: clusters }, (_, i) => `arn:aws:ecs:eu-west-1:1:cluster/c${i}`);
    mock.on(ListClustersCommand).callsFake((input) => {
        const { items, next } = page(clusterArns, input.nextToken, 2);
        return { clusterArns: items, nextToken: next };
    });
    mock.on(ListTasksCommand).callsFake((input) => {
        const tasks = Array.from({ length: tasksPerCluster }, (_, i) => `${input.cluster}/task/t${i}`);
        const { items, next } = page(tasks, input.nextToken, 100);
        return { taskArns: items, nextToken: next };
    });
    mock.on(DescribeTasksCommand).callsFake((input) => {
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
    });
    mock.on(DescribeTaskDefinitionCommand).resolves({
        taskDefinition: { family: "api", revision: 7, containerDefinitions: [{ name: "app", dockerLabels: labels }, { name: "sidecar", dockerLabels: {} }] },
    });
    return { client, mock };
}

/** How S3 answers a HeadObject on a missing key: 404, or 403 where the caller may not list that key. */
const MISSING_KEY_ANSWERS = {
    404: () => Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } }),
    403: () => Object.assign(new Error("Forbidden"), { name: "Forbidden", $metadata: { httpStatusCode: 403 } }),
};

/** An S3 keeping objects in memory, with MD5 ETags like a single PUT. */
export function memoryS3(missingKey: keyof typeof MISSING_KEY_ANSWERS = 404): { client: S3Client; mock: AwsClientStub<S3Client>; objects: Map<string, string> } {
    const client = new S3Client(OFFLINE);
    const mock = mockClient(client);
    const objects = new Map<string, string>();
    mock.on(HeadObjectCommand).callsFake((input) => {
        const body = objects.get(input.Key);
        if (body === undefined) {
            throw MISSING_KEY_ANSWERS[missingKey]();
        }
        return { ETag: `"${createHash("md5").update(body).digest("hex")}"` };
    });
    mock.on(PutObjectCommand).callsFake((input) => {
        objects.set(input.Key, String(input.Body));
        return {};
    });
    return { client, mock, objects };
}

/** A Cloud Map client any call to which fails: for runs with no namespaces configured. */
export function unaskedCloudMap(): ServiceDiscoveryClient {
    const client = new ServiceDiscoveryClient(OFFLINE);
    mockClient(client).onAnyCommand().rejects(new Error("no Cloud Map namespace is configured: Cloud Map must not be asked"));
    return client;
}
