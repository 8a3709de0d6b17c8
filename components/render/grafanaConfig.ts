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
    databasePassword: "GF_DATABASE_PASSWORD",
    // With grafana.access: sso only.
    oidcClientSecret: "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
} as const;
export type GrafanaSecret = keyof typeof GRAFANA_SECRET_ENV;
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
    /**
     * The stack's AMP workspace, queried with SigV4 through the task role by AMP_DATASOURCE_PLUGIN; its URL is AMP_URL_ENV.
     * The default data source where it is the only view of every shard.
     */
    managedPrometheus?: { region: string; isDefault: boolean };
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
                isDefault: i === 0 && !input.managedPrometheus?.isDefault,
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
                isDefault: input.managedPrometheus.isDefault,
                editable: false,
                // The task role's credentials (the AWS SDK's default chain), signed for AMP's service.
                jsonData: { httpMethod: "POST", sigV4Auth: true, sigV4AuthType: "default", sigV4Region: input.managedPrometheus.region, sigv4Service: "aps" },
            }] : []),
        ],
    };
}

/** A folder of provisioned dashboards: the platform's, or a tenant's. */
export interface DashboardFolder {
    /** The provider's name, the folder's uid and its directory under DASHBOARDS_DIR. */
    name: string;
    title: string;
    dashboards: { uid: string; json: Record<string, unknown> }[];
}

export const PLATFORM_FOLDER = "platform";
/** Where a folder's dashboards are written: the platform's at the top, each tenant's in a directory of its own. */
const folderDir = (folder: string) => folder === PLATFORM_FOLDER ? DASHBOARDS_DIR : `${DASHBOARDS_DIR}/${folder}`;

/**
 * One provider per folder. Provisioned dashboards cannot be changed or deleted in the UI, but the
 * folders are Grafana's own: dashboards people make in them are kept in its database.
 */
export function dashboardProvider(folders: Pick<DashboardFolder, "name" | "title">[]): Record<string, unknown> {
    return {
        apiVersion: 1,
        providers: folders.map((folder) => ({
            name: folder.name,
            folder: folder.title,
            ...(folder.name === PLATFORM_FOLDER ? {} : { folderUid: folder.name }),
            type: "file",
            disableDeletion: true,
            allowUiUpdates: false,
            updateIntervalSeconds: 60,
            options: { path: folderDir(folder.name), foldersFromFilesStructure: false },
        })),
    };
}

/** Every file Grafana is provisioned with, by its path in the container. */
export function provisioningFiles(input: DatasourcesInput, folders: DashboardFolder[]): Record<string, string> {
    const dump = (value: unknown) => yaml.dump(value, { lineWidth: -1, noRefs: true });
    return {
        [`${PROVISIONING_DIR}/datasources/platform.yaml`]: dump(datasources(input)),
        [`${PROVISIONING_DIR}/dashboards/platform.yaml`]: dump(dashboardProvider(folders)),
        ...Object.fromEntries(folders.flatMap((folder) => folder.dashboards
            .map((d) => [`${folderDir(folder.name)}/${d.uid}.json`, `${JSON.stringify(d.json, null, 2)}\n`]))),
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

/** The organisation's OpenID Connect provider, as grafana.sso names it. */
export interface GrafanaSignIn {
    issuer: string;
    authorizationEndpoint: string;
    tokenEndpoint: string;
    userInfoEndpoint: string;
    clientId: string;
    scopes: string[];
    groupsClaim: string;
    adminGroups: string[];
    editorGroups: string[];
}

/**
 * Grafana's role for a signed-in user, as a JMESPath expression over the provider's claims: Admin
 * for a member of an admin group, else Editor for a member of an editor group, else Viewer. A user
 * whose claims carry no groups is a Viewer.
 */
export function roleAttributePath(signIn: Pick<GrafanaSignIn, "groupsClaim" | "adminGroups" | "editorGroups">): string {
    const memberOfAny = (groups: string[]) => groups.map((group) => `contains(${signIn.groupsClaim}[*] || \`[]\`, '${group}')`).join(" || ");
    const roles = ([["Admin", signIn.adminGroups], ["Editor", signIn.editorGroups]] as const)
        .filter(([, groups]) => groups.length > 0)
        .map(([role, groups]) => `(${memberOfAny(groups)}) && '${role}'`);
    return [...roles, "'Viewer'"].join(" || ");
}

/**
 * Grafana's own sign-in through the provider (generic OAuth, with PKCE): the only way in for
 * people, with no login form, no anonymous access and no sign-up. Basic auth stays on for the
 * API, where the admin credential is automation's.
 */
export function signInEnvironment(signIn: GrafanaSignIn): Record<string, string> {
    return {
        GF_AUTH_GENERIC_OAUTH_ENABLED: "true",
        GF_AUTH_GENERIC_OAUTH_NAME: "single sign-on",
        GF_AUTH_GENERIC_OAUTH_CLIENT_ID: signIn.clientId,
        GF_AUTH_GENERIC_OAUTH_SCOPES: signIn.scopes.join(" "),
        GF_AUTH_GENERIC_OAUTH_AUTH_URL: signIn.authorizationEndpoint,
        GF_AUTH_GENERIC_OAUTH_TOKEN_URL: signIn.tokenEndpoint,
        GF_AUTH_GENERIC_OAUTH_API_URL: signIn.userInfoEndpoint,
        GF_AUTH_GENERIC_OAUTH_USE_PKCE: "true",
        GF_AUTH_GENERIC_OAUTH_USE_REFRESH_TOKEN: "true",
        // Users are made at their first sign-in, with the role their groups give, synced at each sign-in.
        GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP: "true",
        GF_AUTH_GENERIC_OAUTH_GROUPS_ATTRIBUTE_PATH: signIn.groupsClaim,
        GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH: roleAttributePath(signIn),
        GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT: "false",
        GF_AUTH_GENERIC_OAUTH_SKIP_ORG_ROLE_SYNC: "false",
        GF_AUTH_GENERIC_OAUTH_ALLOW_ASSIGN_GRAFANA_ADMIN: "false",
        GF_AUTH_DISABLE_LOGIN_FORM: "true",
        // Straight to the provider, no Grafana login page (the provider-level setting; [auth] oauth_auto_login is the deprecated one).
        GF_AUTH_GENERIC_OAUTH_AUTO_LOGIN: "true",
        GF_SECURITY_COOKIE_SECURE: "true",
    };
}

/** Where Grafana keeps its state: PostgreSQL, over TLS (RDS refuses anything else: rds.force_ssl). */
export interface GrafanaDatabase {
    host: string;
    port: number;
    name: string;
    user: string;
}

/**
 * libpq's sslmode: require encrypts and refuses plain connections. verify-full would also check the
 * server's certificate, but needs the RDS CA bundle in the image, which the stock image lacks.
 */
export const DATABASE_SSL_MODE = "require";

export function databaseEnvironment(database: GrafanaDatabase): Record<string, string> {
    return {
        GF_DATABASE_TYPE: "postgres",
        GF_DATABASE_HOST: `${database.host}:${database.port}`,
        GF_DATABASE_NAME: database.name,
        GF_DATABASE_USER: database.user,
        GF_DATABASE_SSL_MODE: DATABASE_SSL_MODE,
    };
}

/** The settings Grafana starts with, by variable, beside the provisioning files and the secrets. */
export function grafanaEnvironment(input: Pick<GrafanaContainerInput, "rootUrl" | "database" | "signIn" | "managedPrometheusUrl" | "ampPluginVersion">): Record<string, string> {
    return {
        GF_SERVER_ROOT_URL: input.rootUrl,
        GF_SECURITY_ADMIN_USER: "admin",
        GF_USERS_ALLOW_SIGN_UP: "false",
        GF_AUTH_ANONYMOUS_ENABLED: "false",
        GF_ANALYTICS_REPORTING_ENABLED: "false",
        GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
        ...databaseEnvironment(input.database),
        ...(input.signIn ? signInEnvironment(input.signIn) : {}),
        ...(input.managedPrometheusUrl ? {
            [AMP_URL_ENV]: input.managedPrometheusUrl,
            // Installed before Grafana serves, at this version; a failed install stops the start.
            GF_PLUGINS_PREINSTALL_SYNC: `${AMP_DATASOURCE_PLUGIN}@${input.ampPluginVersion}`,
        } : {}),
    };
}

export interface GrafanaContainerInput {
    image: string;
    rootUrl: string;
    files: Record<string, string>;
    /** Each secret's SSM parameter; oidcClientSecret with a sign-in only. */
    secretArns: Record<Exclude<GrafanaSecret, "oidcClientSecret">, string> & { oidcClientSecret?: string };
    database: GrafanaDatabase;
    /** The provider people sign in with; absent: the admin user is the one login (office-only access). */
    signIn?: GrafanaSignIn;
    /** The AMP workspace's Prometheus URL, queried with SigV4; absent: no AMP data source. */
    managedPrometheusUrl?: string;
    /** The AMP data source plugin's version, installed when Grafana starts (with an AMP workspace only). */
    ampPluginVersion: string;
    logGroup: string;
    region: string;
}

export function grafanaContainer(input: GrafanaContainerInput): Record<string, unknown> {
    if (input.signIn && input.secretArns.oidcClientSecret === undefined) {
        throw new Error("Grafana's sign-in needs the OpenID Connect client secret's parameter");
    }
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
            ...Object.entries(grafanaEnvironment(input)).map(([name, value]) => ({ name, value })),
        ],
        secrets: (Object.keys(GRAFANA_SECRET_ENV) as GrafanaSecret[])
            .filter((key) => input.secretArns[key] !== undefined)
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
