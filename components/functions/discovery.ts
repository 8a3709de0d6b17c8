// The target discovery function (AWS Lambda, run every minute). For each configured region it
// lists running ECS tasks whose containers carry a PROMETHEUS_EXPORTER_PORT docker label, and the
// instances of configured Cloud Map namespaces whose services carry METRICS_PORT, and writes one
// file_sd JSON per region and source into the targets bucket under its own prefix.
import { createHash } from "crypto";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, paginateListClusters, paginateListTasks, Task, TaskDefinition } from "@aws-sdk/client-ecs";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ListTagsForResourceCommand, paginateListInstances, paginateListServices, ServiceDiscoveryClient } from "@aws-sdk/client-servicediscovery";

export const LABELS = {
    port: "PROMETHEUS_EXPORTER_PORT",
    path: "PROMETHEUS_EXPORTER_PATH",
    scheme: "PROMETHEUS_EXPORTER_SCHEME",
    job: "PROMETHEUS_EXPORTER_JOB_NAME",
} as const;
export const TAGS = { port: "METRICS_PORT", path: "METRICS_PATH" } as const;
export const METRIC_NAMESPACE = "PrometheusPlatform/TargetDiscovery";
/** Where a region's and source's last success is recorded; the nodes read its modification time. */
export function statusKey(statusPrefix: string, region: string, source: string): string {
    return `${statusPrefix}${region}-${source}.json`;
}

export interface DiscoveryConfig {
    bucket: string;
    /** Key prefix the function owns, e.g. "discovery/". */
    prefix: string;
    /** Key prefix of its status objects (one per region and source, rewritten at each success), e.g. "discovery/status/". */
    statusPrefix: string;
    regions: string[];
    /** Cloud Map namespace IDs to look into, per region. */
    namespaces: Record<string, string[]>;
}

export interface TargetGroup {
    targets: string[];
    labels: Record<string, string>;
}

/** The AWS clients the function calls, per region where it reads; tests mock them (aws-sdk-client-mock). */
export interface Clients {
    ecs(region: string): ECSClient;
    serviceDiscovery(region: string): ServiceDiscoveryClient;
    s3: S3Client;
}

export interface RegionResult {
    region: string;
    source: "ecs" | "cloudmap";
    key: string;
    targets: number;
    written: boolean;
    error?: string;
}

/** Every item of every page a paginator yields. */
async function allPages<Page, Item>(pages: AsyncIterable<Page>, items: (page: Page) => Item[] | undefined): Promise<Item[]> {
    const all: Item[] = [];
    for await (const page of pages) {
        all.push(...(items(page) ?? []));
    }
    return all;
}

function chunks<T>(items: T[], size: number): T[][] {
    return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

function taskAddress(task: Task, containerName: string): string | undefined {
    const container = task.containers?.find((c) => c.name === containerName);
    const fromContainer = container?.networkInterfaces?.[0]?.privateIpv4Address;
    if (fromContainer) {
        return fromContainer;
    }
    const eni = task.attachments?.find((a) => a.type === "ElasticNetworkInterface");
    return eni?.details?.find((d) => d.name === "privateIPv4Address")?.value;
}

export async function discoverEcs(ecs: ECSClient, region: string): Promise<TargetGroup[]> {
    const clusters = await allPages(paginateListClusters({ client: ecs }, {}), (page) => page.clusterArns);
    const definitions = new Map<string, TaskDefinition | undefined>();
    const groups: TargetGroup[] = [];
    for (const cluster of clusters) {
        const taskArns = await allPages(paginateListTasks({ client: ecs }, { cluster, desiredStatus: "RUNNING" }), (page) => page.taskArns);
        for (const batch of chunks(taskArns, 100)) {
            const described = await ecs.send(new DescribeTasksCommand({ cluster, tasks: batch }));
            for (const task of described.tasks ?? []) {
                if (task.lastStatus !== "RUNNING" || !task.taskDefinitionArn) {
                    continue;
                }
                let definition = definitions.get(task.taskDefinitionArn);
                if (!definition) {
                    definition = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }))).taskDefinition;
                    definitions.set(task.taskDefinitionArn, definition);
                }
                for (const container of definition?.containerDefinitions ?? []) {
                    const labels: Record<string, string> = container.dockerLabels ?? {};
                    const port = labels[LABELS.port];
                    const address = container.name ? taskAddress(task, container.name) : undefined;
                    if (!port || !/^\d+$/.test(port) || !address) {
                        continue;
                    }
                    groups.push({
                        targets: [`${address}:${port}`],
                        labels: {
                            ...(labels[LABELS.path] ? { __metrics_path__: labels[LABELS.path] } : {}),
                            ...(labels[LABELS.scheme] ? { __scheme__: labels[LABELS.scheme] } : {}),
                            ...(labels[LABELS.job] ? { job: labels[LABELS.job] } : {}),
                            cluster: cluster.split("/").pop() ?? cluster,
                            service: (task.group ?? "").replace(/^service:/, ""),
                            task_definition_family: definition?.family ?? "",
                            task_definition_revision: String(definition?.revision),
                            container: container.name ?? "",
                            region,
                        },
                    });
                }
            }
        }
    }
    return groups;
}

export async function discoverCloudMap(sd: ServiceDiscoveryClient, region: string, namespaceIds: string[]): Promise<TargetGroup[]> {
    const groups: TargetGroup[] = [];
    for (const namespaceId of namespaceIds) {
        const services = await allPages(paginateListServices({ client: sd },
            { Filters: [{ Name: "NAMESPACE_ID", Values: [namespaceId], Condition: "EQ" }] }), (page) => page.Services);
        for (const service of services) {
            const tags = Object.fromEntries(((await sd.send(new ListTagsForResourceCommand({ ResourceARN: service.Arn }))).Tags ?? [])
                .map((t) => [t.Key, t.Value]));
            const port = tags[TAGS.port];
            if (!port || !/^\d+$/.test(port)) {
                continue;
            }
            const instances = await allPages(paginateListInstances({ client: sd }, { ServiceId: service.Id }), (page) => page.Instances);
            for (const instance of instances) {
                const address = instance.Attributes?.AWS_INSTANCE_IPV4;
                if (!address) {
                    continue;
                }
                groups.push({
                    targets: [`${address}:${port}`],
                    labels: {
                        ...(tags[TAGS.path] ? { __metrics_path__: tags[TAGS.path] } : {}),
                        namespace_id: namespaceId,
                        service: service.Name ?? "",
                        instance_id: instance.Id ?? "",
                        region,
                    },
                });
            }
        }
    }
    return groups;
}

/** The file's content: deterministic, so unchanged targets give identical bytes. */
export function renderTargets(groups: TargetGroup[]): string {
    const sorted = [...groups].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    for (const group of sorted) {
        if (!Array.isArray(group.targets) || group.targets.some((t) => !/^[^\s:]+:\d+$/.test(t))) {
            throw new Error(`refusing to write a malformed target group: ${JSON.stringify(group)}`);
        }
    }
    return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** Puts the object unless it already holds exactly this content (its ETag is the MD5 of one PUT). */
export async function writeIfChanged(s3: S3Client, bucket: string, key: string, body: string): Promise<boolean> {
    const md5 = createHash("md5").update(body).digest("hex");
    try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        if (head.ETag?.replace(/"/g, "") === md5) {
            return false;
        }
    } catch (err) {
        // A missing key answers 404, or 403 where listing is not granted for it: either way
        // there is nothing to compare with, so the file is written. The PUT says if it may not be.
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        const name = (err as { name?: string }).name;
        if (!(name === "NotFound" || name === "Forbidden" || status === 404 || status === 403)) {
            throw err;
        }
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }));
    return true;
}

/** A CloudWatch embedded-metric log line, so a failing region is a metric an alarm can watch. */
export function errorMetricLine(region: string, source: string, message: string): string {
    return JSON.stringify({
        _aws: {
            Timestamp: Date.now(),
            // Per region and source, and once without dimensions for the stack's alarm.
            CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [["Region", "Source"], []], Metrics: [{ Name: "DiscoveryErrors", Unit: "Count" }] }],
        },
        Region: region,
        Source: source,
        DiscoveryErrors: 1,
        message,
    });
}

/** Every region and source a run covers: ECS in each region, Cloud Map where namespaces are listed. */
export function discoverySources(regions: string[], namespaces: Record<string, string[]>): { region: string; source: RegionResult["source"] }[] {
    return regions.flatMap((region) => [
        { region, source: "ecs" as const },
        ...((namespaces[region] ?? []).length > 0 ? [{ region, source: "cloudmap" as const }] : []),
    ]);
}

/** One run: every region and source; a failing one keeps its previous file and is reported. */
export async function runDiscovery(config: DiscoveryConfig, clients: Clients, log: (line: string) => void = console.log): Promise<RegionResult[]> {
    const results: RegionResult[] = [];
    for (const region of config.regions) {
        const discoverers: Record<RegionResult["source"], () => Promise<TargetGroup[]>> = {
            ecs: () => discoverEcs(clients.ecs(region), region),
            cloudmap: () => discoverCloudMap(clients.serviceDiscovery(region), region, config.namespaces[region]),
        };
        const sources = discoverySources([region], config.namespaces).map(({ source }): [RegionResult["source"], () => Promise<TargetGroup[]>] => [source, discoverers[source]]);
        for (const [source, discover] of sources) {
            const key = `${config.prefix}${region}-${source}.json`;
            try {
                const groups = await discover();
                const written = await writeIfChanged(clients.s3, config.bucket, key, renderTargets(groups));
                // Written at every success, changed or not: its age is how long the region has failed.
                await clients.s3.send(new PutObjectCommand({
                    Bucket: config.bucket,
                    Key: statusKey(config.statusPrefix, region, source),
                    Body: `${JSON.stringify({ region, source, targets: groups.length, succeededAt: new Date().toISOString() })}\n`,
                    ContentType: "application/json",
                }));
                results.push({ region, source, key, targets: groups.length, written });
            } catch (err) {
                const message = (err as Error).message;
                log(errorMetricLine(region, source, message));
                results.push({ region, source, key, targets: 0, written: false, error: message });
            }
        }
    }
    return results;
}

/** The Lambda entry point; its configuration comes from the environment the program sets. */
export async function handler(): Promise<RegionResult[]> {
    const config: DiscoveryConfig = {
        bucket: process.env.TARGETS_BUCKET ?? "",
        prefix: process.env.TARGETS_PREFIX ?? "discovery/",
        statusPrefix: process.env.STATUS_PREFIX ?? "discovery/status/",
        regions: (process.env.DISCOVERY_REGIONS ?? "").split(",").filter((r) => r),
        namespaces: JSON.parse(process.env.CLOUD_MAP_NAMESPACES ?? "{}"),
    };
    const s3 = new S3Client({});
    const results = await runDiscovery(config, {
        ecs: (region) => new ECSClient({ region }),
        serviceDiscovery: (region) => new ServiceDiscoveryClient({ region }),
        s3,
    });
    console.log(JSON.stringify({ results }));
    return results;
}
