// The names of the scrape jobs whose targets come from the targets bucket, and the shard labels,
// for the configuration that defines them and the rules that watch them.

/** The bucket root's job, and file_sd_<region> for each further targets region. */
export const FILE_SD_JOB = "file_sd";
/** tenant_<name> for each tenant. */
export const TENANT_JOB_PREFIX = "tenant_";
/** What the discovery function writes. */
export const DISCOVERY_JOB = "ecs_discovery";

export const fileSdRegionJob = (region: string) => `${FILE_SD_JOB}_${region.replace(/-/g, "_")}`;
export const tenantJob = (tenant: string) => `${TENANT_JOB_PREFIX}${tenant.replace(/-/g, "_")}`;

/** A regex matching every job whose targets come from the bucket. */
export const TARGETS_JOBS_REGEX = `${FILE_SD_JOB}.*|${TENANT_JOB_PREFIX}.*|${DISCOVERY_JOB}`;

/** The label remote write gives every series, naming the shard that scraped it (a series' own label of that name is kept). */
export const SHARD_LABEL = "shard";
/** The label of a node's own targets (its Prometheus, its node_exporter) naming the shard it serves. */
export const SHARD_TARGET_LABEL = "prometheus_shard";
