// Pure renderer of one node's prometheus.yml.
import * as yaml from "js-yaml";
import { probeScrapeConfig, ProbeTarget } from "./blackbox";
import { RULE_OWNER_LABEL } from "./alertRules";
import { DISCOVERY_JOB, FILE_SD_JOB, fileSdRegionJob, SHARD_LABEL, SHARD_TARGET_LABEL, tenantJob } from "./scrapeJobs";

export interface ScrapeNode {
    /** Replica name, e.g. prom-1: becomes the `instance` label of its targets. */
    name: string;
    privateIp: string;
    availabilityZone: string;
    /** The shard it scrapes for: its targets carry it as SHARD_TARGET_LABEL. */
    shard: number;
}

/** Where the Alertmanagers are: a DNS name re-resolved to every member (Cloud Map), or fixed addresses. */
export type AlertmanagerTargets =
    | { kind: "dns"; name: string; port: number }
    | { kind: "static"; targets: string[] };

export interface PrometheusConfigInput {
    stack: string;
    replica: string;
    /** The shard this node belongs to: its cluster label for AMP's deduplication, and the shard label its remote write sets. */
    shard: number;
    /**
     * Whether it scrapes the platform's own jobs (every node, the Alertmanagers, Grafana, the probes,
     * the bucket's root and regions, discovery): shard 1 does; other shards scrape their tenants only.
     */
    platformJobs: boolean;
    scrapeInterval: string;
    evaluationInterval: string;
    nodes: ScrapeNode[];
    alertmanagers: AlertmanagerTargets;
    /** Directory the targets bucket is synced into. */
    targetsDir: string;
    /** Extra targets regions: one file_sd job each over <targetsDir>/<region>/*.json. */
    targetsRegions: string[];
    rulesDir: string;
    prometheusPort: number;
    nodeExporterPort: number;
    /** Forward proxy the file_sd (PaaS) targets are scraped through, e.g. http://127.0.0.1:8080. */
    paasProxyUrl?: string;
    /** Subdirectory of targetsDir written by the ECS / Cloud Map discovery function, scraped directly. */
    discoverySubdir?: string;
    /** Amazon Managed Service for Prometheus: remote write signed with SigV4 by the node's role. */
    remoteWrite?: { url: string; region: string };
    /** Tenants: each gets a job over <targetsDir>/tenants/<name>/<region>/*.json whose series carry tenant="<name>". */
    tenants?: { name: string; regions: string[] }[];
    /** Grafana, scraped where Cloud Map names its task. */
    grafana?: { name: string; port: number };
    /** Outside-in probes of the public URLs, through each node's blackbox exporter. */
    probes?: { exporters: { name: string; address: string }[]; targets: ProbeTarget[] };
}

/**
 * The label that differs between the replicas. AMP deduplicates the three replicas' samples by
 * `cluster` and `__replica__`; it is dropped from alerts so the three send identical alerts.
 */
export const REPLICA_LABEL = "__replica__";
/** Where tenants' target files live in the targets bucket: tenants/<name>/<region>/. */
export const TENANTS_PREFIX = "tenants/";
/** Where the discovery function writes its file_sd files, and the status of each region and source. */
export const DISCOVERY_PREFIX = "discovery/";
export const DISCOVERY_STATUS_PREFIX = `${DISCOVERY_PREFIX}status/`;
/** The scrape job of Grafana, which RE_Observe_Grafana_Down watches. */
export const GRAFANA_JOB = "grafana";
export const tenantTargetsPrefix = (tenant: string, region: string) => `${TENANTS_PREFIX}${tenant}/${region}`;

/** The cluster label AMP deduplicates a shard's replicas by: the stack's name for shard 1, so its series keep theirs. */
export function clusterLabel(stack: string, shard: number): string {
    return shard === 1 ? stack : `${stack}-shard-${shard}`;
}

export const QUEUE_CONFIG = {
    capacity: 10000,
    min_shards: 1,
    max_shards: 50,
    max_samples_per_send: 2000,
    batch_send_deadline: "5s",
    min_backoff: "100ms",
    max_backoff: "10s",
};

function alertmanagerServiceDiscovery(targets: AlertmanagerTargets): Record<string, unknown> {
    if (targets.kind === "dns") {
        return { dns_sd_configs: [{ names: [targets.name], type: "A", port: targets.port, refresh_interval: "30s" }] };
    }
    return { static_configs: [{ targets: targets.targets }] };
}

function nodeTargets(nodes: ScrapeNode[], port: number): Record<string, unknown>[] {
    return nodes.map((node) => ({
        targets: [`${node.privateIp}:${port}`],
        labels: { instance: node.name, availability_zone: node.availabilityZone, [SHARD_TARGET_LABEL]: String(node.shard) },
    }));
}

export function prometheusConfig(input: PrometheusConfigInput): Record<string, unknown> {
    const platformFileSdJobs = input.platformJobs ? [
        { job_name: FILE_SD_JOB, files: [`${input.targetsDir}/*.json`] },
        ...input.targetsRegions.map((region) => ({
            job_name: fileSdRegionJob(region),
            files: [`${input.targetsDir}/${region}/*.json`],
        })),
    ] : [];
    const fileSdJobs = [
        ...platformFileSdJobs,
        ...(input.tenants ?? []).map((tenant) => ({
            job_name: tenantJob(tenant.name),
            files: tenant.regions.map((region) => `${input.targetsDir}/${tenantTargetsPrefix(tenant.name, region)}/*.json`),
            tenant: tenant.name,
        })),
    ].map((job: { job_name: string; files: string[]; tenant?: string }) => ({
        job_name: job.job_name,
        ...(input.paasProxyUrl ? { proxy_url: input.paasProxyUrl } : {}),
        file_sd_configs: [{ files: job.files, refresh_interval: "30s" }],
        // The tenant label is the platform's: a target file cannot set it, a tenant's job sets its own.
        // Nor can a file set the label that marks what tenants' rules write.
        relabel_configs: [
            { action: "labeldrop", regex: `tenant|${RULE_OWNER_LABEL}` },
            ...(job.tenant ? [{ target_label: "tenant", replacement: job.tenant }] : []),
        ],
    }));
    const alertmanagerJob = { job_name: "alertmanager", ...alertmanagerServiceDiscovery(input.alertmanagers) };
    const discoveryJobs = input.platformJobs && input.discoverySubdir ? [{
        job_name: DISCOVERY_JOB,
        file_sd_configs: [{ files: [`${input.targetsDir}/${input.discoverySubdir}/*.json`], refresh_interval: "30s" }],
    }] : [];

    return {
        global: {
            scrape_interval: input.scrapeInterval,
            evaluation_interval: input.evaluationInterval,
            external_labels: { stack: input.stack, cluster: clusterLabel(input.stack, input.shard), [REPLICA_LABEL]: input.replica },
        },
        rule_files: [`${input.rulesDir}/*.yml`],
        alerting: {
            alert_relabel_configs: [{ action: "labeldrop", regex: REPLICA_LABEL }],
            alertmanagers: [{ scheme: "http", api_version: "v2", ...alertmanagerServiceDiscovery(input.alertmanagers) }],
        },
        scrape_configs: [
            ...(input.platformJobs ? [
                { job_name: "prometheus", static_configs: nodeTargets(input.nodes, input.prometheusPort) },
                { job_name: "prometheus_node", static_configs: nodeTargets(input.nodes, input.nodeExporterPort) },
                alertmanagerJob,
                ...(input.probes ? [probeScrapeConfig(input.probes.exporters, input.probes.targets)] : []),
                ...(input.grafana ? [{ job_name: GRAFANA_JOB, dns_sd_configs: [{ names: [input.grafana.name], type: "A", port: input.grafana.port, refresh_interval: "30s" }] }] : []),
            ] : []),
            ...fileSdJobs,
            ...discoveryJobs,
        ],
        ...(input.remoteWrite ? {
            remote_write: [{
                url: input.remoteWrite.url,
                sigv4: { region: input.remoteWrite.region },
                queue_config: QUEUE_CONFIG,
                // Which shard scraped a series, for queries across shards; a series' own shard label wins.
                write_relabel_configs: [{ source_labels: [SHARD_LABEL], regex: "", target_label: SHARD_LABEL, replacement: String(input.shard) }],
            }],
        } : {}),
    };
}

export function renderPrometheusConfig(input: PrometheusConfigInput): string {
    return yaml.dump(prometheusConfig(input), { lineWidth: -1, noRefs: true, sortKeys: false });
}
