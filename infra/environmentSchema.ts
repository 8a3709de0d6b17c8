// The schema of environments/<stack>.yaml, from which the settings' TypeScript type is derived
// (json-schema-to-ts): one description of each key, checked by ajv and by the compiler.
import { ErrorObject } from "ajv";
import { FromSchema } from "json-schema-to-ts";
import { DURATION_PATTERN } from "../components/duration";
import { MAX_SHARDS, NODE_KEY_PATTERN } from "./nodeKeys";

export const VERSION = "^[0-9]+\\.[0-9]+\\.[0-9]+$";
/** Retentions CloudWatch Logs accepts, from a week to a year. */
export const LOG_RETENTION_DAYS = [7, 14, 30, 60, 90, 180, 365];
export const SHA256 = "^[0-9a-f]{64}$";
export const EMAIL = "^[^@\\s]+@[^@\\s]+\\.[a-z]+$";
export const IAM_PRINCIPAL = "^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$";
export const REGION = "^[a-z]{2}(-gov)?-[a-z]+-[0-9]$";
const HTTPS_URL = "^https://[^\\s]+$";
/** A group name as an identity provider sends it, quoted into Grafana's role expression. */
const GROUP_NAME = "^[^'\\\\\\s][^'\\\\]*$";

/** The memory sizes (MiB) Fargate accepts for each task CPU size (CPU units). */
export const FARGATE_MEMORY: Record<number, number[]> = {
    256: [512, 1024, 2048],
    512: steps(1024, 4096, 1024),
    1024: steps(2048, 8192, 1024),
    2048: steps(4096, 16384, 1024),
    4096: steps(8192, 30720, 1024),
    8192: steps(16384, 61440, 4096),
    16384: steps(32768, 122880, 8192),
};

function steps(from: number, to: number, step: number): number[] {
    return Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
}

/** Hours in Alertmanager's terms: a time zone, weekdays or ranges of them, a start and an end within one day. */
const HOURS_PROPERTIES = {
    location: { type: "string", pattern: "^[A-Za-z_]+(/[A-Za-z_]+)*$", default: "Europe/London" },
    weekdays: { type: "array", minItems: 1, items: { type: "string", pattern: "^[a-z]+(:[a-z]+)?$" }, default: ["monday:friday"] },
    start: { type: "string", pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", default: "09:30" },
    end: { type: "string", pattern: "^([01][0-9]|2[0-4]):[0-5][0-9]$", default: "18:00" },
} as const;
/** Support hours, by default the source documents' own service: 9:30 to 18:00, Monday to Friday, London time. */
export const SUPPORT_HOURS = { type: "object", additionalProperties: false, default: {}, properties: HOURS_PROPERTIES } as const;
/** Hours with nothing left to a default. */
const EXPLICIT_HOURS = { type: "object", additionalProperties: false, required: ["location", "weekdays", "start", "end"], properties: HOURS_PROPERTIES } as const;

export const ENVIRONMENT_SCHEMA = {
    type: "object",
    additionalProperties: false,
    required: ["region", "availabilityZones", "vpcCidr", "officeCidrs", "domain", "cloudflareZoneId", "prometheus", "nodeExporter",
        "alertmanager", "grafana", "receivers"],
    properties: {
        region: { type: "string", pattern: REGION },
        availabilityZones: { type: "array", items: { type: "string" } },
        vpcCidr: { type: "string" },
        natGateways: { enum: ["single", "perAz"], default: "perAz" },
        officeCidrs: { type: "array", minItems: 1, items: { type: "string" } },
        domain: { type: "string", pattern: "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$" },
        cloudflareZoneId: { type: "string", pattern: "^[0-9a-f]{32}$" },
        protectData: { type: "boolean", default: true },
        // Tags on every resource, beside the platform's own; checked against AWS's limits in environmentChecks.ts.
        tags: { type: "object", additionalProperties: { type: "string" }, default: {} },
        ami: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // Debian's official AMIs: the release the first-boot rehearsal boots.
                namePattern: { type: "string", minLength: 1, default: "debian-13-amd64-*" },
                owner: { type: "string", pattern: "^[0-9]{12}$", default: "136693071363" },
            },
        },
        prometheus: {
            type: "object",
            additionalProperties: false,
            required: ["version", "instanceType", "dataVolume", "retentionTime", "expectedSeries"],
            properties: {
                version: { type: "string", pattern: VERSION },
                sha256: { type: "string", pattern: SHA256 },
                // Where the Prometheus and node_exporter release tarballs are downloaded from.
                releaseBaseUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$", default: "https://github.com/prometheus" },
                // How long a booting node waits for its data volume before failing the boot.
                volumeWaitSeconds: { type: "integer", minimum: 5, maximum: 900, default: 300 },
                // How often each node fetches its configuration set (prometheus.yml, rules, htpasswd).
                configSyncIntervalSeconds: { type: "integer", minimum: 5, maximum: 60, default: 30 },
                // Active series of the platform's own jobs and of tenants that declare none, on shard 1's
                // nodes; each shard adds its tenants' declared expectedSeries. The nodes are sized against it.
                expectedSeries: { type: "integer", minimum: 1000 },
                // Shards of three nodes each (one per zone): the platform's jobs on shard 1, each tenant's on one.
                shards: { type: "integer", minimum: 1, maximum: MAX_SHARDS, default: 1 },
                // Tenant -> the shard that scrapes its jobs and runs its rules; every tenant once shards > 1.
                tenantShards: {
                    type: "object",
                    additionalProperties: { type: "integer", minimum: 1, maximum: MAX_SHARDS },
                    default: {},
                },
                // Samples ingested per second; default: expectedSeries per scrape interval.
                samplesPerSecond: { type: "integer", minimum: 1 },
                instanceType: { type: "string", pattern: "^[a-z][a-z0-9-]*\\.[a-z0-9]+$" },
                rootVolumeGiB: { type: "integer", minimum: 8, maximum: 1024, default: 20 },
                dataVolume: {
                    type: "object",
                    additionalProperties: false,
                    required: ["sizeGiB"],
                    properties: {
                        sizeGiB: { type: "integer", minimum: 10, maximum: 16384 },
                        type: { enum: ["gp3", "gp2", "io2"], default: "gp3" },
                        iops: { type: "integer", minimum: 3000, maximum: 64000 },
                        throughputMiBps: { type: "integer", minimum: 125, maximum: 1000 },
                    },
                },
                retentionTime: { type: "string", pattern: DURATION_PATTERN, minLength: 2 },
                retentionSize: { type: "string", pattern: "^[0-9]+(B|KB|MB|GB|TB)$" },
                scrapeInterval: { type: "string", pattern: DURATION_PATTERN, minLength: 2, default: "30s" },
                evaluationInterval: { type: "string", pattern: DURATION_PATTERN, minLength: 2, default: "30s" },
                // The zone (1-3) whose node, in every shard, this update applies AMI and user-data changes to; absent: none.
                rolloutNode: { type: "integer", minimum: 1, maximum: 3 },
                // Node (1-3 in shard 1, s<shard>-<zone> beyond) -> snapshot its data volume is recreated from (docs/runbooks.md, restore).
                restoreSnapshots: {
                    type: "object",
                    propertyNames: { pattern: NODE_KEY_PATTERN },
                    additionalProperties: { type: "string", pattern: "^snap-[0-9a-f]{8,17}$" },
                    default: {},
                },
                // How long CloudWatch Logs keeps the nodes' journals, beyond the instances that wrote them.
                logRetentionDays: { enum: LOG_RETENTION_DAYS, default: 30 },
            },
        },
        nodeExporter: {
            type: "object",
            additionalProperties: false,
            required: ["version"],
            properties: {
                version: { type: "string", pattern: VERSION },
                sha256: { type: "string", pattern: SHA256 },
            },
        },
        alertmanager: {
            type: "object",
            additionalProperties: false,
            required: ["version"],
            properties: {
                version: { type: "string", pattern: VERSION },
                image: { type: "string", pattern: "^[a-z0-9.-]+(/[a-z0-9._-]+)+$", default: "quay.io/prometheus/alertmanager" },
                cpu: { enum: Object.keys(FARGATE_MEMORY).map(Number), default: 256 },
                memory: { type: "integer", default: 512 },
                logRetentionDays: { enum: LOG_RETENTION_DAYS, default: 30 },
                // SSM tier of the config parameter: Standard holds 4 KB, Advanced 8 KB.
                configParameterTier: { enum: ["Standard", "Advanced"], default: "Standard" },
                // The platform's tickets are sent within these hours; alerts outside them wait for them.
                supportHours: SUPPORT_HOURS,
                // Pages go out at any hour unless these are set.
                pageHours: EXPLICIT_HOURS,
            },
        },
        // Grafana, one Fargate task at grafana.<domain>, from the image at version.
        grafana: {
            type: "object",
            additionalProperties: false,
            required: ["version"],
            properties: {
                version: { type: "string", pattern: VERSION },
                // Registry and repository: Docker Hub by default, whose anonymous pulls are limited per address.
                image: { type: "string", pattern: "^[a-z0-9.-]+(/[a-z0-9._-]+)+$", default: "docker.io/grafana/grafana" },
                // The Amazon Managed Service for Prometheus data source plugin, where the stack writes to AMP.
                ampPluginVersion: { type: "string", pattern: VERSION, default: "3.0.0" },
                // office: from the office CIDRs only, the admin user the one login. sso: from anywhere,
                // signed in through the organisation's OpenID Connect provider (grafana.sso) at the ALB
                // and in Grafana, roles from the provider's groups; its client secret is grafanaOidcClientSecret.
                access: { enum: ["office", "sso"], default: "office" },
                sso: {
                    type: "object",
                    additionalProperties: false,
                    required: ["issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "clientId"],
                    properties: {
                        // The provider's endpoints, as its /.well-known/openid-configuration lists them.
                        issuer: { type: "string", pattern: HTTPS_URL },
                        authorizationEndpoint: { type: "string", pattern: HTTPS_URL },
                        tokenEndpoint: { type: "string", pattern: HTTPS_URL },
                        userInfoEndpoint: { type: "string", pattern: HTTPS_URL },
                        clientId: { type: "string", pattern: "^[^\\s]{1,255}$" },
                        // Scopes asked for; the groups claim must come with them.
                        scopes: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: "^[A-Za-z0-9_.:/-]+$" }, default: ["openid", "email", "profile"] },
                        // The claim (in the ID token or user info) listing the user's groups.
                        groupsClaim: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$", default: "groups" },
                        // Members of these groups are Admin, of these Editor; everyone else signed in is Viewer.
                        adminGroups: { type: "array", uniqueItems: true, items: { type: "string", pattern: GROUP_NAME }, default: [] },
                        editorGroups: { type: "array", uniqueItems: true, items: { type: "string", pattern: GROUP_NAME }, default: [] },
                        // How long the ALB's sign-in lasts before the provider is asked again (15 minutes to 7 days).
                        sessionTimeoutSeconds: { type: "integer", minimum: 900, maximum: 604800, default: 43200 },
                    },
                },
                // Grafana's own database (users, teams, folders, dashboards made in the UI): PostgreSQL on RDS.
                database: {
                    type: "object",
                    additionalProperties: false,
                    default: {},
                    properties: {
                        instanceClass: { type: "string", pattern: "^db\\.[a-z0-9]+\\.[a-z0-9]+$", default: "db.t4g.micro" },
                        allocatedStorageGiB: { type: "integer", minimum: 20, maximum: 1000, default: 20 },
                        // The PostgreSQL major version; RDS applies its minor versions in the maintenance window.
                        engineVersion: { type: "string", pattern: "^[0-9]{2}$", default: "17" },
                        // Days of automated backups (point-in-time restore) RDS keeps.
                        backupRetentionDays: { type: "integer", minimum: 1, maximum: 35, default: 7 },
                    },
                },
            },
        },
        receivers: {
            type: "object",
            additionalProperties: false,
            required: ["ticket"],
            properties: {
                ticket: { enum: ["webhook", "email"] },
                // Where tickets are mailed (e.g. the helpdesk), when ticket is email.
                email: {
                    type: "object",
                    additionalProperties: false,
                    required: ["to", "from", "smarthost"],
                    properties: {
                        to: { type: "string", pattern: EMAIL },
                        from: { type: "string", pattern: EMAIL },
                        smarthost: { type: "string", pattern: "^[a-z0-9.-]+:[0-9]+$" },
                    },
                },
                // Slack channel that sees every page and ticket with its runbook; absent: no Slack.
                slackChannel: { type: "string", pattern: "^#[a-z0-9_-]+$" },
            },
        },
        ingress: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // The users nginx accepts, each with its own generated password; the first is the one
                // exported for clients. Two during a rotation (docs/runbooks.md), one otherwise.
                basicAuthUsers: {
                    type: "array",
                    minItems: 1,
                    maxItems: 3,
                    uniqueItems: true,
                    items: { type: "string", pattern: "^[A-Za-z0-9._-]+$" },
                    default: ["grafana"],
                },
                accessLogRetentionDays: { type: "integer", minimum: 1, maximum: 3650, default: 90 },
            },
        },
        // Where the nodes get the SSM agent (default: AWS's bucket in the stack's region), and the
        // ASCII-armoured public key its package must be signed with, relative to the project root.
        ssmAgent: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                baseUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$" },
                signingKeyFile: { type: "string", minLength: 1, default: "components/keys/amazon-ssm-agent.asc" },
            },
        },
        // Daily snapshots of the data volumes by Data Lifecycle Manager.
        backup: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                snapshotTime: { type: "string", pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", default: "03:00" },
                retainDays: { type: "integer", minimum: 1, maximum: 365, default: 7 },
            },
        },
        // Amazon Managed Service for Prometheus as long-term store (opt-in); producerPrincipals may
        // assume the producer role to remote-write.
        remoteWrite: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                enabled: { type: "boolean", default: false },
                producerPrincipals: { type: "array", items: { type: "string", pattern: IAM_PRINCIPAL }, default: [] },
                // Days the AMP workspace keeps samples (AMP allows 1 to 1095; its own default is 150).
                retentionDays: { type: "integer", minimum: 1, maximum: 1095, default: 150 },
            },
        },
        // The ECS / Cloud Map target discovery function (opt-in); cloudMapNamespaces: namespace IDs
        // per region whose services carry METRICS_PORT tags.
        discovery: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                enabled: { type: "boolean", default: false },
                regions: { type: "array", items: { type: "string", pattern: REGION }, uniqueItems: true, default: [] },
                cloudMapNamespaces: {
                    type: "object",
                    propertyNames: { pattern: REGION },
                    additionalProperties: { type: "array", items: { type: "string", pattern: "^ns-[a-z0-9]{16}$" } },
                    default: {},
                },
            },
        },
        // docs/runbooks.md as published; alerts link <runbookBaseUrl>#<alert>.
        runbookBaseUrl: { type: "string", pattern: "^https://[^#\\s]+$", default: "https://github.com/example-org/prometheus-platform/blob/main/docs/runbooks.md" },
        // regions: extra targets regions, each with its own file_sd job reading <region>/*.json;
        // writerPrincipals: who may assume the writer role (empty: this account's root).
        targets: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                regions: { type: "array", items: { type: "string", pattern: REGION }, uniqueItems: true, default: [] },
                syncIntervalSeconds: { type: "integer", minimum: 5, maximum: 60, default: 30 },
                noncurrentVersionDays: { type: "integer", minimum: 1, maximum: 3650, default: 30 },
                writerPrincipals: {
                    type: "array",
                    items: { type: "string", pattern: IAM_PRINCIPAL },
                    default: [],
                },
            },
        },
        // The S3 endpoint the nodes use for the targets and config buckets when not the region's own (rehearsals: a local S3).
        s3EndpointUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$" },
        // The CloudWatch Logs endpoint the nodes ship their journals to when not the region's own (rehearsals).
        logsEndpointUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$" },
    },
} as const;

/** A stack's settings once validated: every key with a default is present. */
export type Environment = FromSchema<typeof ENVIRONMENT_SCHEMA>;
export type DataVolumeSettings = Environment["prometheus"]["dataVolume"];

/** Keys that used to live here, and where they went. */
export const MOVED_KEYS: Record<string, string> = {
    "receivers.email.authUsername": "no longer read from here: an SES SMTP user name is a credential; "
        + "set it with `pulumi config set --secret smtpUsername <name>`",
    "discovery.alarmTopicArn": "no longer used: a region whose discovery fails alerts through Prometheus and Alertmanager "
        + "(RE_Observe_Discovery_Stale); remove the key",
    "targets.endpointUrl": "moved to s3EndpointUrl (top level): the nodes use it for the targets and the config buckets",
    "ingress.basicAuthUser": "replaced by ingress.basicAuthUsers, a list: e.g. basicAuthUsers: [grafana]; "
        + "two users let a password rotation keep the old credentials valid until every node has the new ones",
    "packages": "no longer set here: the nodes install their packages unpinned from Debian's archive, "
        + "so point releases and security updates apply; remove the key",
};

/** The dotted key an ajv error is about, e.g. prometheus.dataVolume.sizeGiB. */
export function keyOf(error: ErrorObject): string {
    const base = error.instancePath.replace(/^\//, "").replace(/\//g, ".");
    const extra = (error.params as { additionalProperty?: string; missingProperty?: string });
    const child = extra.additionalProperty ?? extra.missingProperty ?? error.propertyName;
    const key = [base, child].filter((part) => part).join(".");
    return key || "(top level)";
}

/** An ajv error in words a person editing the file understands. */
export function describeSchemaError(error: ErrorObject): string {
    switch (error.keyword) {
        case "additionalProperties":
            return "unknown key";
        case "required":
            return "missing";
        case "enum":
            return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`;
        case "pattern":
            return `malformed ${error.propertyName !== undefined ? "key" : "value"} (expected to match ${(error.params as { pattern: string }).pattern})`;
        default:
            return error.message ?? error.keyword;
    }
}
