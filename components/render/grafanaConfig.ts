// Pure renderers of Grafana's provisioning (data sources, dashboard provider, dashboards) and of
// its ECS container, which writes the provisioning files before it starts Grafana.
import * as zlib from "zlib";
import * as yaml from "js-yaml";
import { shellQuote } from "./nodeScripts";
import { GRAFANA_PORT } from "../ports";

export const PROVISIONING_DIR = "/etc/grafana/provisioning";
export const DASHBOARDS_DIR = "/var/lib/grafana/dashboards";
/** Environment variables the container gets from SSM SecureStrings, never in the task definition. */
export const GRAFANA_SECRET_ENV = {
    adminPassword: "GF_SECURITY_ADMIN_PASSWORD",
    prometheusPassword: "PROMETHEUS_BASIC_AUTH_PASSWORD",
    // Encrypts what Grafana stores of data sources' secrets; its default is public.
    secretKey: "GF_SECURITY_SECRET_KEY",
} as const;
/**
 * Grafana 13's core Prometheus data source has no SigV4: AMP is queried through this plugin,
 * installed (pinned) when Grafana starts.
 */
export const AMP_DATASOURCE_PLUGIN = "grafana-amazonprometheus-datasource";
/** An ECS task definition holds at most 64 KiB; the provisioning files stay well below. */
export const PROVISIONING_LIMIT_BYTES = 32 * 1024;

export interface DatasourcesInput {
    /** The Prometheus servers, reached privately through each node's nginx with basic auth. */
    prometheus: { name: string; url: string }[];
    basicAuthUser: string;
    scrapeInterval: string;
    /** The stack's AMP workspace, queried with SigV4 through the task role by AMP_DATASOURCE_PLUGIN; its URL is AMP_URL_ENV. */
    managedPrometheus?: { region: string };
}

/** The AMP workspace's URL reaches Grafana as a variable, so the files are known before the workspace exists. */
export const AMP_URL_ENV = "AMP_PROMETHEUS_URL";

export const MANAGED_PROMETHEUS_DATASOURCE = "amp";

export function datasources(input: DatasourcesInput): Record<string, unknown> {
    return {
        apiVersion: 1,
        // Provisioning owns the data sources: one added by hand is removed at the next start.
        prune: true,
        datasources: [
            ...input.prometheus.map((server, i) => ({
                name: server.name,
                uid: server.name,
                type: "prometheus",
                access: "proxy",
                url: server.url,
                isDefault: i === 0,
                editable: false,
                basicAuth: true,
                basicAuthUser: input.basicAuthUser,
                jsonData: { httpMethod: "POST", timeInterval: input.scrapeInterval },
                // Grafana expands the variable when it reads the file; the value never is in it.
                secureJsonData: { basicAuthPassword: `\${${GRAFANA_SECRET_ENV.prometheusPassword}}` },
            })),
            ...(input.managedPrometheus ? [{
                name: MANAGED_PROMETHEUS_DATASOURCE,
                uid: MANAGED_PROMETHEUS_DATASOURCE,
                type: AMP_DATASOURCE_PLUGIN,
                access: "proxy",
                url: `\${${AMP_URL_ENV}}`,
                isDefault: false,
                editable: false,
                // The task role's credentials (the AWS SDK's default chain), signed for AMP's service.
                jsonData: { httpMethod: "POST", sigV4Auth: true, sigV4AuthType: "default", sigV4Region: input.managedPrometheus.region, sigv4Service: "aps" },
            }] : []),
        ],
    };
}

export function dashboardProvider(): Record<string, unknown> {
    return {
        apiVersion: 1,
        providers: [{
            name: "platform",
            folder: "Platform",
            type: "file",
            disableDeletion: true,
            allowUiUpdates: false,
            updateIntervalSeconds: 60,
            options: { path: DASHBOARDS_DIR, foldersFromFilesStructure: false },
        }],
    };
}

/** Every file Grafana is provisioned with, by its path in the container. */
export function provisioningFiles(input: DatasourcesInput, dashboards: { uid: string; json: Record<string, unknown> }[]): Record<string, string> {
    const dump = (value: unknown) => yaml.dump(value, { lineWidth: -1, noRefs: true });
    return {
        [`${PROVISIONING_DIR}/datasources/platform.yaml`]: dump(datasources(input)),
        [`${PROVISIONING_DIR}/dashboards/platform.yaml`]: dump(dashboardProvider()),
        ...Object.fromEntries(dashboards.map((d) => [`${DASHBOARDS_DIR}/${d.uid}.json`, `${JSON.stringify(d.json, null, 2)}\n`])),
    };
}

const fileEnv = (i: number) => `GRAFANA_PROVISIONING_${i}`;

/**
 * Writes each provisioning file from its environment variable (gzip, base64) and execs Grafana's
 * own start script. Runs under the image's busybox sh.
 */
export function renderGrafanaEntrypoint(paths: string[]): string {
    return `set -eu
${paths.map((file, i) => `mkdir -p ${shellQuote(file.slice(0, file.lastIndexOf("/")))}
printf '%s' "$${fileEnv(i)}" | base64 -d | gunzip > ${shellQuote(file)}
unset ${fileEnv(i)}
`).join("")}exec /run.sh
`;
}

export interface GrafanaContainerInput {
    image: string;
    rootUrl: string;
    files: Record<string, string>;
    secretArns: Record<keyof typeof GRAFANA_SECRET_ENV, string>;
    /** The AMP workspace's Prometheus URL, queried with SigV4; absent: no AMP data source. */
    managedPrometheusUrl?: string;
    /** The AMP data source plugin's version, installed when Grafana starts (with an AMP workspace only). */
    ampPluginVersion: string;
    logGroup: string;
    region: string;
}

export function grafanaContainer(input: GrafanaContainerInput): Record<string, unknown> {
    const paths = Object.keys(input.files).sort();
    const packed = paths.map((file) => zlib.gzipSync(Buffer.from(input.files[file], "utf8"), { level: 9 }).toString("base64"));
    const bytes = packed.reduce((sum, value) => sum + value.length, 0);
    if (bytes > PROVISIONING_LIMIT_BYTES) {
        throw new Error(`Grafana's provisioning files take ${bytes} bytes packed, over the ${PROVISIONING_LIMIT_BYTES} the task definition can carry`);
    }
    return {
        name: "grafana",
        image: input.image,
        essential: true,
        entryPoint: ["/bin/sh", "-c"],
        command: [renderGrafanaEntrypoint(paths)],
        portMappings: [{ containerPort: GRAFANA_PORT, protocol: "tcp" }],
        environment: [
            ...packed.map((value, i) => ({ name: fileEnv(i), value })),
            { name: "GF_SERVER_ROOT_URL", value: input.rootUrl },
            { name: "GF_SECURITY_ADMIN_USER", value: "admin" },
            { name: "GF_USERS_ALLOW_SIGN_UP", value: "false" },
            { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
            { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
            { name: "GF_ANALYTICS_CHECK_FOR_UPDATES", value: "false" },
            ...(input.managedPrometheusUrl ? [
                { name: AMP_URL_ENV, value: input.managedPrometheusUrl },
                // Installed before Grafana serves, at this version; a failed install stops the start.
                { name: "GF_PLUGINS_PREINSTALL_SYNC", value: `${AMP_DATASOURCE_PLUGIN}@${input.ampPluginVersion}` },
            ] : []),
        ],
        secrets: (Object.keys(GRAFANA_SECRET_ENV) as (keyof typeof GRAFANA_SECRET_ENV)[])
            .map((key) => ({ name: GRAFANA_SECRET_ENV[key], valueFrom: input.secretArns[key] })),
        // No container health check: which of wget or curl the image carries differs between its
        // Alpine and Ubuntu variants. The ALB's target group checks /api/health, and the service's
        // deployments wait for that.
        logConfiguration: {
            logDriver: "awslogs",
            options: { "awslogs-group": input.logGroup, "awslogs-region": input.region, "awslogs-stream-prefix": "grafana" },
        },
    };
}
