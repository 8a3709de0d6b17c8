// Renders every file a stack deploys from its environment, its tenants and the values of the
// resources those files name. Pure functions, called once: by the composition (platform.ts) with
// the engine's values, and by the offline plan with a preview's placeholders. Components receive
// what these return; nothing reads rendered files back out of a component.
import * as fs from "fs";
import * as path from "path";
import { DASHBOARDS, renderDashboard, tenantFolderUid, tenantOverview, tenantOverviewUid } from "../components/dashboards";
import { discoverySources } from "../components/functions/discovery";
import { SSM_HEADROOM, SSM_TIER_LIMIT_BYTES } from "../components/alertmanagerCluster";
import { NodeConfigSource, RenderedNodeConfig, renderNodeConfigs } from "../components/nodeConfigBucket";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, GRAFANA_PORT, INGRESS_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { renderAlertmanagerConfig, TenantReceiverInput, TicketReceiver } from "../components/render/alertmanagerConfig";
import { EXPECTED_RULE_FILE, renderAlertRules, renderExpectedRules } from "../components/render/alertRules";
import { BLACKBOX_CONFIG_FILE, BLACKBOX_UNIT, ProbeTarget, renderBlackboxConfig, renderBlackboxDropIn } from "../components/render/blackbox";
import { PrometheusNodeSpec } from "../components/render/cloudInit";
import { CONFIG_FILE, HTPASSWD_FILE, RULES_PREFIX } from "../components/render/configSync";
import { PLATFORM_FOLDER, provisioningFiles } from "../components/render/grafanaConfig";
import { JOURNAL_SHIPPER_PACKAGES } from "../components/render/journalShipper";
import { NGINX_DEFAULTS, renderHtpasswd, renderNginxConfig } from "../components/render/nginxConfig";
import { NODE_PATHS } from "../components/render/nodeScripts";
import { dearmorPublicKey } from "../components/render/openpgp";
import { PrometheusConfigInput, ScrapeNode, tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { DISCOVERY_PREFIX } from "../components/targetDiscovery";
import { GRAFANA_SERVICE_NAME } from "../components/grafana";
import { LoadedEnvironment, NodePlan } from "./environment";
import { alertmanagerNamespace, alertmanagerPeerName, hosts, nodeLogGroupName } from "./naming";
import { renderTenantRules, Tenant, tenantRegions, tenantRuleFileName, tenantSecretKey } from "./tenants";
import { tenantsOfShard } from "./shards";
import { PROJECT_ROOT } from "./paths";
import { EnvironmentError } from "./inputErrors";

/**
 * What a node installs from Debian's archive: nginx, the targets sync (awscli, rsync), the downloads
 * (curl, gpgv), the probes, and what its journal shipper runs with.
 */
export const NODE_PACKAGES = ["nginx", "awscli", "rsync", "curl", "ca-certificates", "gpgv", "prometheus-blackbox-exporter", ...JOURNAL_SHIPPER_PACKAGES];

/** The node's own services and syncs. */
const NODE_SERVICE_UNITS = [
    "prometheus.service", "node_exporter.service", "nginx.service", "prometheus-blackbox-exporter.service",
    "prometheus-targets-sync.service", "prometheus-config-sync.service", "amazon-ssm-agent.service",
];
/** The units whose journal leaves the node: its services and syncs, and cloud-init's stages (the first boot). */
export const NODE_LOG_UNITS = [
    ...NODE_SERVICE_UNITS,
    "cloud-init-main.service", "cloud-init-local.service", "cloud-init-network.service", "cloud-config.service", "cloud-final.service",
];
/** How often the shipper delivers what the journal gained. */
export const LOG_FLUSH_SECONDS = 5;
/** Where Debian's package installs the blackbox exporter. */
const BLACKBOX_BINARY = "/usr/bin/prometheus-blackbox-exporter";

/** What every artifact is rendered from. */
export interface RenderSource {
    readonly project: string;
    readonly env: LoadedEnvironment;
    readonly tenants: readonly Tenant[];
}

/** Values of resources the nodes' configuration sets name. */
export interface ConfigSetReferences {
    /** The AMP workspace's remote-write URL, when the stack writes to AMP. */
    readonly remoteWriteUrl?: string;
    /** bcrypt hashes of the basic-auth users' passwords, in env.ingress.basicAuthUsers' order. */
    readonly basicAuthHashes: readonly string[];
}

/** Values of resources a node's user data names. */
export interface NodeReferences {
    readonly targetsBucket: string;
    readonly configBucket: string;
}

/** The secrets alertmanager.yml carries: the platform's, and each tenant receiver's by its secret key. */
export interface AlertmanagerSecretValues {
    readonly pagerduty: string;
    readonly heartbeat: string;
    readonly ticketUrl: string;
    readonly smtpUsername: string;
    readonly smtpPassword: string;
    readonly slackUrl: string;
    readonly tenants: Readonly<Record<string, string>>;
}

/** Every node's name, address, zone and shard, as shard 1's configuration names them. */
export function scrapeNodes(env: LoadedEnvironment): ScrapeNode[] {
    return env.nodes.map((node) => ({ name: node.name, privateIp: node.privateIp, availabilityZone: node.zone.availabilityZone, shard: node.shard }));
}

/** Every public URL of the stack, with what a probe from the nodes must see there. */
export function publicUrls(env: LoadedEnvironment): ProbeTarget[] {
    return [
        ...env.nodes.map((n) => ({ url: `https://${hosts.prometheus(env, n.name)}/`, module: "auth_proxy" as const })),
        ...env.zones.map((z) => ({ url: `https://${hosts.alertmanager(env, z.index)}/`, module: "office_only" as const })),
        { url: `https://${hosts.alertmanagers(env)}/`, module: "office_only" as const },
        { url: `https://${hosts.grafana(env)}/`, module: env.grafana.access === "sso" ? "sign_in" as const : "office_only" as const },
    ];
}

/** Where the nodes find Grafana to scrape: its Cloud Map name in the platform's namespace. */
export function grafanaScrapeName(env: LoadedEnvironment): string {
    return `${GRAFANA_SERVICE_NAME}.${alertmanagerNamespace(env)}`;
}

function prometheusConfig({ env, tenants }: RenderSource, node: NodePlan, refs: ConfigSetReferences): PrometheusConfigInput {
    const nodes = scrapeNodes(env);
    // Shard 1 probes through its own three exporters: one node's trouble is one failing probe.
    const exporters = nodes.filter((n) => n.shard === 1);
    return {
        stack: env.stack,
        replica: node.name,
        shard: node.shard,
        platformJobs: node.shard === 1,
        scrapeInterval: env.prometheus.scrapeInterval,
        evaluationInterval: env.prometheus.evaluationInterval,
        nodes,
        alertmanagers: { kind: "dns", name: alertmanagerPeerName(env), port: ALERTMANAGER_PORT },
        targetsDir: NODE_PATHS.targetsDir,
        targetsRegions: env.targets.regions,
        rulesDir: NODE_PATHS.rulesDir,
        prometheusPort: PROMETHEUS_PORT,
        nodeExporterPort: NODE_EXPORTER_PORT,
        paasProxyUrl: `http://${NGINX_DEFAULTS.paasProxyListen}`,
        discoverySubdir: env.discovery.enabled ? DISCOVERY_PREFIX.replace(/\/$/, "") : undefined,
        tenants: tenantsOfShard(env, tenants, node.shard).map((t) => ({ name: t.name, regions: tenantRegions(t, env) })),
        grafana: { name: grafanaScrapeName(env), port: GRAFANA_PORT },
        probes: {
            exporters: exporters.map((n) => ({ name: n.name, address: `${n.privateIp}:${BLACKBOX_PORT}` })),
            targets: publicUrls(env),
        },
        ...(refs.remoteWriteUrl !== undefined ? { remoteWrite: { url: refs.remoteWriteUrl, region: env.region } } : {}),
    };
}

/** Every rule file a shard's nodes run: on shard 1 the platform's and the expected-targets rules; one per tenant of the shard. */
function ruleFiles({ env, tenants }: RenderSource, shard: number): Record<string, string> {
    const own = Object.fromEntries(tenantsOfShard(env, tenants, shard).map((t) => [tenantRuleFileName(t.name), renderTenantRules(t)]));
    if (shard !== 1) {
        return own;
    }
    const expected = renderExpectedRules({
        tenantPrefixes: tenants.flatMap((t) => tenantRegions(t, env).map((region) => tenantTargetsPrefix(t.name, region))),
        discovery: env.discovery.enabled ? discoverySources(env.discovery.regions, env.discovery.cloudMapNamespaces) : [],
    });
    return {
        "platform.yml": renderAlertRules(env.runbookBaseUrl),
        [EXPECTED_RULE_FILE]: expected,
        ...own,
    };
}

/** The paths of a shard's nodes' configuration sets (MANIFEST aside): known before any value is. */
export function nodeConfigSetPaths(source: RenderSource): (shard: number) => string[] {
    return (shard) => [CONFIG_FILE, ...Object.keys(ruleFiles(source, shard)).map((f) => `${RULES_PREFIX}${f}`), HTPASSWD_FILE];
}

/** What each node's configuration set is rendered from. */
export function nodeConfigSources(source: RenderSource, refs: ConfigSetReferences): NodeConfigSource[] {
    const users = source.env.ingress.basicAuthUsers;
    const htpasswd = renderHtpasswd(users.map((user, i) => ({ user, bcryptHash: refs.basicAuthHashes[i] })));
    return source.env.nodes.map((node) => ({ name: node.name, prometheus: prometheusConfig(source, node, refs), ruleFiles: ruleFiles(source, node.shard), htpasswd }));
}

/** Every node's configuration set (prometheus.yml, rules, htpasswd, MANIFEST) and their revision. */
export function renderNodeConfigSets(source: RenderSource, refs: ConfigSetReferences): RenderedNodeConfig {
    return renderNodeConfigs(nodeConfigSources(source, refs));
}

/** Everything a node's cloud-init needs but its data volume's ID. */
export function nodeSpec({ env }: RenderSource, node: NodePlan, refs: NodeReferences, project: string): Omit<PrometheusNodeSpec, "volumeId"> {
    const name = node.name;
    const nginxConf = renderNginxConfig({
        ...NGINX_DEFAULTS,
        listenPort: INGRESS_PORT,
        prometheusUpstream: `127.0.0.1:${PROMETHEUS_PORT}`,
        officeCidrs: env.officeCidrs,
        trustedProxyCidrs: env.zones.map((z) => z.publicSubnetCidr),
    });
    return {
        name,
        region: env.region,
        targetsBucket: refs.targetsBucket,
        s3EndpointUrl: env.s3EndpointUrl,
        config: { bucket: refs.configBucket, prefix: `${name}/`, syncIntervalSeconds: env.prometheus.configSyncIntervalSeconds },
        releaseBaseUrl: env.prometheus.releaseBaseUrl,
        arch: "amd64",
        prometheusVersion: env.prometheus.version,
        prometheusSha256: env.prometheus.sha256,
        nodeExporterVersion: env.nodeExporter.version,
        nodeExporterSha256: env.nodeExporter.sha256,
        packages: NODE_PACKAGES,
        ssmAgent: {
            baseUrl: env.ssmAgent.baseUrl ?? `https://s3.${env.region}.amazonaws.com/amazon-ssm-${env.region}/latest/debian_amd64`,
            signingKeyBase64: dearmorPublicKey(fs.readFileSync(path.resolve(PROJECT_ROOT, env.ssmAgent.signingKeyFile), "utf8")).toString("base64"),
        },
        logs: {
            logGroup: nodeLogGroupName(project, env), region: env.region, units: NODE_LOG_UNITS, outlives: NODE_SERVICE_UNITS,
            endpointUrl: env.logsEndpointUrl, flushSeconds: LOG_FLUSH_SECONDS,
        },
        retentionTime: env.prometheus.retentionTime,
        retentionSize: env.prometheus.retentionSize,
        externalUrl: `https://${hosts.prometheus(env, name)}/`,
        extraFiles: [
            { path: "/etc/nginx/nginx.conf", permissions: "0644", content: nginxConf },
            { path: BLACKBOX_CONFIG_FILE, permissions: "0644", content: renderBlackboxConfig(publicUrls(env)) },
            { path: `/etc/systemd/system/${BLACKBOX_UNIT}.d/platform.conf`, permissions: "0644", content: renderBlackboxDropIn(BLACKBOX_BINARY) },
        ],
        extraServices: ["nginx.service", BLACKBOX_UNIT],
        extraChecks: ["nginx -t -q", `${BLACKBOX_BINARY} --config.check --config.file=${BLACKBOX_CONFIG_FILE}`],
        syncIntervalSeconds: env.targets.syncIntervalSeconds,
        volumeWaitSeconds: env.prometheus.volumeWaitSeconds,
    };
}

/** alertmanager.yml, checked against its SSM tier: the platform's receivers and routes, and each tenant's, with their secrets. */
export function renderAlertmanagerYml(source: RenderSource, secrets: AlertmanagerSecretValues): string {
    const config = alertmanagerYml(source, secrets);
    checkParameterSize(source.env, Buffer.byteLength(config, "utf8"));
    return config;
}

/**
 * Fails before anything is registered when alertmanager.yml, with every secret at its longest
 * plausible length, would not fit its SSM tier, naming the tenant file whose receivers push it over.
 */
export function checkAlertmanagerFits(source: RenderSource, longest: AlertmanagerSecretValues): void {
    const bytes = (tenants: readonly Tenant[]) => Buffer.byteLength(alertmanagerYml({ ...source, tenants }, longest), "utf8");
    const over = (count: number) => !fitsParameterTier(source.env, bytes(source.tenants.slice(0, count)));
    if (!over(source.tenants.length)) {
        return;
    }
    const first = over(0) ? -1 : source.tenants.findIndex((_, i) => over(i + 1));
    const because = first >= 0 ? `, once the receivers of ${source.tenants[first].file} are added` : "";
    checkParameterSize(source.env, bytes(source.tenants), `with every secret at its longest plausible length${because}`);
}

function alertmanagerYml({ env, tenants }: RenderSource, secrets: AlertmanagerSecretValues): string {
    const ticket: TicketReceiver = env.receivers.email
        ? { kind: "email", ...env.receivers.email, authUsername: secrets.smtpUsername, authPassword: secrets.smtpPassword }
        : { kind: "webhook", url: secrets.ticketUrl };
    return renderAlertmanagerConfig({
        pagerdutyRoutingKey: secrets.pagerduty,
        heartbeatUrl: secrets.heartbeat,
        ticket,
        slack: env.receivers.slackChannel ? { webhookUrl: secrets.slackUrl, channel: env.receivers.slackChannel } : undefined,
        platformHours: { support: env.alertmanager.supportHours, page: env.alertmanager.pageHours },
        tenants: tenants.map((tenant) => ({
            name: tenant.name,
            receivers: Object.fromEntries(Object.entries(tenant.receivers).map(([receiver, r]): [string, TenantReceiverInput] => {
                const secret = secrets.tenants[tenantSecretKey(tenant.name, receiver)];
                return [receiver, r.kind === "email" ? r : r.kind === "slack" ? { ...r, secret } : { kind: r.kind, secret }];
            })),
            page: tenant.routing.page,
            ticket: tenant.routing.ticket,
            supportHours: tenant.supportHours,
        })),
    });
}

/** Fails unless the configuration fits its SSM tier with room to spare, naming the setting that makes room. */
export function checkParameterSize(env: LoadedEnvironment, bytes: number, when = ""): void {
    const tier = env.alertmanager.configParameterTier;
    const limit = SSM_TIER_LIMIT_BYTES[tier];
    if (!fitsParameterTier(env, bytes)) {
        const remedy = tier === "Standard"
            ? "set alertmanager.configParameterTier: Advanced (8 KB)"
            : "shorten the receivers or templates: Advanced is the largest tier";
        throw new EnvironmentError(env.file, [
            `alertmanager.configParameterTier: alertmanager.yml is ${bytes} bytes${when ? ` ${when}` : ""}, over ${Math.round(SSM_HEADROOM * 100)}% of the SSM ${tier} tier's ${limit}; ${remedy}`,
        ]);
    }
}

/** Whether a configuration of this size fits the stack's SSM tier with room to spare. */
function fitsParameterTier(env: LoadedEnvironment, bytes: number): boolean {
    return bytes < SSM_TIER_LIMIT_BYTES[env.alertmanager.configParameterTier] * SSM_HEADROOM;
}

/** Grafana's provisioning files by path: a data source per node (and AMP, the default across shards), and the dashboards. */
export function renderGrafanaFiles({ env, tenants }: RenderSource, managedPrometheus: boolean): Record<string, string> {
    return provisioningFiles({
        prometheus: env.nodes.map((node) => ({ name: node.name, url: `http://${node.privateIp}:${INGRESS_PORT}` })),
        basicAuthUser: env.ingress.basicAuthUsers[0],
        scrapeInterval: env.prometheus.scrapeInterval,
        managedPrometheus: managedPrometheus ? { region: env.region, isDefault: env.prometheus.shards > 1 } : undefined,
    }, [
        { name: PLATFORM_FOLDER, title: "Platform", dashboards: DASHBOARDS.map((spec) => ({ uid: spec.uid, json: renderDashboard(spec) })) },
        ...tenants.map((tenant) => ({
            name: tenantFolderUid(tenant.name),
            title: tenant.name,
            dashboards: [
                { uid: tenantOverviewUid(tenant.name), json: renderDashboard(tenantOverview(tenant.name)) },
                ...(tenant.dashboards ?? []).map((d) => ({ uid: d.uid, json: d.json })),
            ],
        })),
    ]);
}
