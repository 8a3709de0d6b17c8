// Loads and validates environments/<stack>.yaml before any resource is registered.
import * as fs from "fs";
import * as path from "path";
import Ajv, { ErrorObject } from "ajv";
import * as yaml from "js-yaml";
import { dearmorPublicKey } from "../components/render/openpgp";
import { DURATION_PATTERN } from "../components/duration";
import { cidrsOverlap, hostOf, parseCidr, subnetOf } from "./addresses";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const ENVIRONMENTS_DIR = path.join(PROJECT_ROOT, "environments");

export interface DataVolumeSettings {
    sizeGiB: number;
    type: "gp3" | "gp2" | "io2";
    iops?: number;
    throughputMiBps?: number;
}

export interface Environment {
    region: string;
    availabilityZones: string[];
    vpcCidr: string;
    natGateways: "single" | "perAz";
    officeCidrs: string[];
    domain: string;
    cloudflareZoneId: string;
    protectData: boolean;
    tags: Record<string, string>;
    ami: { namePattern: string; owner: string };
    prometheus: {
        version: string;
        sha256?: string;
        /** Where the Prometheus and node_exporter release tarballs are downloaded from. */
        releaseBaseUrl: string;
        /** How often each node fetches its configuration set (prometheus.yml, rules, htpasswd). */
        configSyncIntervalSeconds: number;
        /** How long a booting node waits for its data volume before failing the boot. */
        volumeWaitSeconds: number;
        /** Active series a node is expected to carry: the nodes are sized against it. */
        expectedSeries: number;
        /** Samples ingested per second; default: expectedSeries per scrape interval. */
        samplesPerSecond?: number;
        instanceType: string;
        rootVolumeGiB: number;
        dataVolume: DataVolumeSettings;
        retentionTime: string;
        retentionSize?: string;
        scrapeInterval: string;
        evaluationInterval: string;
        /** The one node (1-3) whose AMI and user-data changes this update applies; absent: none. */
        rolloutNode?: number;
        /** Node number -> snapshot its data volume is recreated from (docs/runbooks.md, restore). */
        restoreSnapshots: Record<string, string>;
        /** How long CloudWatch Logs keeps the nodes' journals, beyond the instances that wrote them. */
        logRetentionDays: number;
    };
    nodeExporter: { version: string; sha256?: string };
    alertmanager: {
        version: string;
        image: string;
        cpu: number;
        memory: number;
        logRetentionDays: number;
        /** SSM tier of the config parameter: Standard holds 4 KB, Advanced 8 KB. */
        configParameterTier: "Standard" | "Advanced";
    };
    /** Grafana, one Fargate task at grafana.<domain>, from the image at version. */
    grafana: { version: string; image: string };
    receivers: {
        ticket: "webhook" | "email";
        /** Where tickets are mailed (e.g. the helpdesk), when ticket is email. */
        email?: { to: string; from: string; smarthost: string };
        /** Slack channel that sees every page and ticket with its runbook; absent: no Slack. */
        slackChannel?: string;
    };
    ingress: {
        /**
         * The users nginx accepts, each with its own generated password; the first is the one
         * exported for clients. Two during a rotation (docs/runbooks.md), one otherwise.
         */
        basicAuthUsers: string[];
        accessLogRetentionDays: number;
    };
    /** Where the nodes get the SSM agent, and the key its package must be signed with. */
    ssmAgent: {
        /** Default: AWS's bucket in the stack's region. */
        baseUrl?: string;
        /** An ASCII-armoured public key, relative to the project root. */
        signingKeyFile: string;
    };
    /** Daily snapshots of the data volumes by Data Lifecycle Manager. */
    backup: { snapshotTime: string; retainDays: number };
    /** docs/runbooks.md as published; alerts link <runbookBaseUrl>#<alert>. */
    runbookBaseUrl: string;
    /** Amazon Managed Service for Prometheus as long-term store (opt-in). */
    remoteWrite: {
        enabled: boolean;
        /** Principals (e.g. Lambda roles) that may assume the producer role to remote-write. */
        producerPrincipals: string[];
    };
    /** The ECS / Cloud Map target discovery function (opt-in). */
    discovery: {
        enabled: boolean;
        regions: string[];
        /** Cloud Map namespace IDs per region whose services carry METRICS_PORT tags. */
        cloudMapNamespaces: Record<string, string[]>;
    };
    targets: {
        /** Extra targets regions: each gets its own file_sd job reading <region>/*.json. */
        regions: string[];
        syncIntervalSeconds: number;
        noncurrentVersionDays: number;
        /** IAM principals allowed to assume the writer role; empty: this account's root. */
        writerPrincipals: string[];
    };
    /** The S3 endpoint the nodes use for the targets and config buckets when not the region's own (rehearsals: a local S3). */
    s3EndpointUrl?: string;
    /** The CloudWatch Logs endpoint the nodes ship their journals to when not the region's own (rehearsals). */
    logsEndpointUrl?: string;
}

/** An environment with the file it came from and what follows from it (subnets, node addresses). */
export interface LoadedEnvironment extends Environment {
    stack: string;
    file: string;
    zones: ZonePlan[];
}

export interface ZonePlan {
    /** 1-based position: node N and Alertmanager member N live in zone N. */
    index: number;
    availabilityZone: string;
    publicSubnetCidr: string;
    privateSubnetCidr: string;
    prometheusPrivateIp: string;
}

export class EnvironmentError extends Error {
    constructor(readonly file: string, readonly problems: string[]) {
        super(`${file} is not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "EnvironmentError";
    }
}

const VERSION = "^[0-9]+\\.[0-9]+\\.[0-9]+$";
/** Retentions CloudWatch Logs accepts, from a week to a year. */
const LOG_RETENTION_DAYS = [7, 14, 30, 60, 90, 180, 365];
const SHA256 = "^[0-9a-f]{64}$";
export const EMAIL = "^[^@\\s]+@[^@\\s]+\\.[a-z]+$";
export const IAM_PRINCIPAL = "^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$";
export const REGION = "^[a-z]{2}(-gov)?-[a-z]+-[0-9]$";

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

const schema = {
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
                releaseBaseUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$", default: "https://github.com/prometheus" },
                volumeWaitSeconds: { type: "integer", minimum: 5, maximum: 900, default: 300 },
                configSyncIntervalSeconds: { type: "integer", minimum: 5, maximum: 60, default: 30 },
                expectedSeries: { type: "integer", minimum: 1000 },
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
                rolloutNode: { type: "integer", minimum: 1, maximum: 3 },
                restoreSnapshots: {
                    type: "object",
                    propertyNames: { enum: ["1", "2", "3"] },
                    additionalProperties: { type: "string", pattern: "^snap-[0-9a-f]{8,17}$" },
                    default: {},
                },
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
                configParameterTier: { enum: ["Standard", "Advanced"], default: "Standard" },
            },
        },
        grafana: {
            type: "object",
            additionalProperties: false,
            required: ["version"],
            properties: {
                version: { type: "string", pattern: VERSION },
                image: { type: "string", pattern: "^[a-z0-9.-]+(/[a-z0-9._-]+)+$", default: "docker.io/grafana/grafana" },
            },
        },
        receivers: {
            type: "object",
            additionalProperties: false,
            required: ["ticket"],
            properties: {
                ticket: { enum: ["webhook", "email"] },
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
                slackChannel: { type: "string", pattern: "^#[a-z0-9_-]+$" },
            },
        },
        ingress: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
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
        ssmAgent: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                baseUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$" },
                signingKeyFile: { type: "string", minLength: 1, default: "components/keys/amazon-ssm-agent.asc" },
            },
        },
        backup: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                snapshotTime: { type: "string", pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$", default: "03:00" },
                retainDays: { type: "integer", minimum: 1, maximum: 365, default: 7 },
            },
        },
        remoteWrite: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                enabled: { type: "boolean", default: false },
                producerPrincipals: { type: "array", items: { type: "string", pattern: IAM_PRINCIPAL }, default: [] },
            },
        },
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
        runbookBaseUrl: { type: "string", pattern: "^https://[^#\\s]+$", default: "https://github.com/example-org/prometheus-platform/blob/main/docs/runbooks.md" },
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
        s3EndpointUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$" },
        logsEndpointUrl: { type: "string", pattern: "^https?://[^\\s]+[^/\\s]$" },
    },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validateShape = ajv.compile(schema);

/** Keys that used to live here, and where they went. */
const MOVED_KEYS: Record<string, string> = {
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
    const child = extra.additionalProperty ?? extra.missingProperty;
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
            return `malformed value (expected to match ${(error.params as { pattern: string }).pattern})`;
        default:
            return error.message ?? error.keyword;
    }
}

/** Public subnets take the first three /(vpc+4) blocks, private ones blocks 8-10. Nodes sit at .10 of theirs. */
function planZones(env: Environment): ZonePlan[] {
    const subnetPrefix = parseCidr(env.vpcCidr)[1] + 4;
    return env.availabilityZones.map((zone, i) => {
        const privateSubnetCidr = subnetOf(env.vpcCidr, subnetPrefix, 8 + i);
        return {
            index: i + 1,
            availabilityZone: zone,
            publicSubnetCidr: subnetOf(env.vpcCidr, subnetPrefix, i),
            privateSubnetCidr,
            prometheusPrivateIp: hostOf(privateSubnetCidr, 10),
        };
    });
}

function semanticProblems(env: Environment): string[] {
    const problems: string[] = [];
    const zones = env.availabilityZones;
    if (zones.length !== 3) {
        problems.push(`availabilityZones: exactly three are needed (one Prometheus and one Alertmanager each), got ${zones.length}`);
    }
    if (new Set(zones).size !== zones.length) {
        problems.push(`availabilityZones: must be distinct, got ${zones.join(", ")}`);
    }
    zones.forEach((zone, i) => {
        if (!new RegExp(`^${env.region}[a-z]$`).test(zone)) {
            problems.push(`availabilityZones[${i}]: ${zone} is not an availability zone of region ${env.region}`);
        }
    });

    try {
        const [vpcAddress, vpcPrefix] = parseCidr(env.vpcCidr);
        if (vpcAddress.kind() !== "ipv4" || vpcPrefix < 16 || vpcPrefix > 22) {
            problems.push(`vpcCidr: ${env.vpcCidr} must be an IPv4 network from /16 to /22`);
        } else if (!["private"].includes(vpcAddress.range())) {
            problems.push(`vpcCidr: ${env.vpcCidr} must be a private (RFC 1918) range`);
        }
    } catch (err) {
        problems.push(`vpcCidr: ${env.vpcCidr} is not a valid CIDR: ${(err as Error).message}`);
    }

    const validOffice: string[] = [];
    env.officeCidrs.forEach((cidr, i) => {
        try {
            const [address, prefix] = parseCidr(cidr);
            const minimum = address.kind() === "ipv4" ? 16 : 40;
            if (prefix < minimum) {
                problems.push(`officeCidrs[${i}]: ${cidr} is wider than /${minimum}, too wide for an office safelist`);
                return;
            }
            validOffice.forEach((other) => {
                if (cidrsOverlap(cidr, other)) {
                    problems.push(`officeCidrs[${i}]: ${cidr} overlaps ${other}`);
                }
            });
            validOffice.push(cidr);
        } catch (err) {
            problems.push(`officeCidrs[${i}]: ${cidr} is not a valid CIDR: ${(err as Error).message}`);
        }
    });

    const volume = env.prometheus.dataVolume;
    if (volume.type !== "gp3" && volume.throughputMiBps !== undefined) {
        problems.push(`prometheus.dataVolume.throughputMiBps: only gp3 volumes take a throughput`);
    }
    if (volume.type === "gp2" && volume.iops !== undefined) {
        problems.push(`prometheus.dataVolume.iops: gp2 volumes take no iops setting`);
    }
    if (volume.type === "io2" && volume.iops === undefined) {
        problems.push(`prometheus.dataVolume.iops: io2 volumes need iops`);
    }
    for (const node of Object.keys(env.prometheus.restoreSnapshots)) {
        if (env.prometheus.rolloutNode !== Number(node)) {
            problems.push(`prometheus.restoreSnapshots.${node}: node ${node}'s volume is recreated, so node ${node} must be the rolloutNode `
                + `(set prometheus.rolloutNode: ${node}); restore one node at a time`);
        }
    }
    try {
        dearmorPublicKey(fs.readFileSync(path.resolve(PROJECT_ROOT, env.ssmAgent.signingKeyFile), "utf8"));
    } catch (err) {
        problems.push(`ssmAgent.signingKeyFile: ${env.ssmAgent.signingKeyFile} is not a usable public key: ${(err as Error).message}`);
    }
    const { cpu, memory } = env.alertmanager;
    if (!FARGATE_MEMORY[cpu].includes(memory)) {
        problems.push(`alertmanager.memory: Fargate does not run ${memory} MiB with cpu ${cpu}; valid for cpu ${cpu}: ${FARGATE_MEMORY[cpu].join(", ")}`);
    }
    if (env.receivers.ticket === "email" && env.receivers.email === undefined) {
        problems.push(`receivers.email: missing; tickets are sent by email, so to, from and smarthost are needed`);
    }
    if (env.receivers.ticket !== "email" && env.receivers.email !== undefined) {
        problems.push(`receivers.email: only used when receivers.ticket is email`);
    }
    if (env.discovery.enabled && env.discovery.regions.length === 0) {
        problems.push(`discovery.regions: discovery is enabled but lists no region`);
    }
    Object.keys(env.discovery.cloudMapNamespaces).forEach((region) => {
        if (!env.discovery.regions.includes(region)) {
            problems.push(`discovery.cloudMapNamespaces.${region}: ${region} is not one of discovery.regions`);
        }
    });
    if (!env.remoteWrite.enabled && env.remoteWrite.producerPrincipals.length > 0) {
        problems.push(`remoteWrite.producerPrincipals: producers need remoteWrite.enabled: true`);
    }
    if (env.targets.regions.includes(env.region)) {
        problems.push(`targets.regions: ${env.region} is the stack's own region, whose targets are read from the bucket root`);
    }
    return problems;
}

/** Validates parsed YAML; `file` only names the source in errors. */
export function validateEnvironment(raw: unknown, file: string, stack: string): LoadedEnvironment {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new EnvironmentError(file, ["(top level): must be a mapping of settings"]);
    }
    const data = structuredClone(raw) as Record<string, unknown>;
    if (!validateShape(data)) {
        const problems = (validateShape.errors ?? []).map((e) => `${keyOf(e)}: ${MOVED_KEYS[keyOf(e)] ?? describeSchemaError(e)}`);
        throw new EnvironmentError(file, [...new Set(problems)]);
    }
    const env = data as unknown as Environment;
    const problems = semanticProblems(env);
    if (problems.length > 0) {
        throw new EnvironmentError(file, problems);
    }
    return { ...env, stack, file, zones: planZones(env) };
}

export function parseEnvironmentYaml(text: string, file: string, stack: string): LoadedEnvironment {
    let raw: unknown;
    try {
        raw = yaml.load(text, { filename: file });
    } catch (err) {
        throw new EnvironmentError(file, [`not valid YAML: ${(err as Error).message}`]);
    }
    return validateEnvironment(raw, file, stack);
}

export function environmentFile(stack: string, dir = ENVIRONMENTS_DIR): string {
    return path.join(dir, `${stack}.yaml`);
}

export function loadEnvironment(stack: string, dir = ENVIRONMENTS_DIR): LoadedEnvironment {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(stack)) {
        throw new Error(`stack name ${JSON.stringify(stack)} cannot name an environment file`);
    }
    const file = environmentFile(stack, dir);
    const shown = path.relative(process.cwd(), file) || file;
    if (!fs.existsSync(file)) {
        const known = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => f.replace(/\.yaml$/, ""));
        throw new EnvironmentError(shown, [`no such file: stack ${stack} has no environment (known: ${known.join(", ")})`]);
    }
    return parseEnvironmentYaml(fs.readFileSync(file, "utf8"), shown, stack);
}
