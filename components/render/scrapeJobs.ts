// The names of the scrape jobs whose targets come from the targets bucket, for the configuration
// that defines them and the rules that watch them.

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
