// Pure renderer of a Prometheus node's cloud-init user data and the files it writes. User data
// carries the bootstrap only; every other file travels as the node's system set, one object in
// the config bucket whose sha256 the user data pins.
import * as crypto from "crypto";
import * as yaml from "js-yaml";
import { renderConfigSyncScript } from "./configSync";
import { DISCOVERY_STATUS_PREFIX } from "./prometheusConfig";
import { JOURNAL_SHIPPER, journalShipperFiles, JournalShipperSettings } from "./journalShipper";
import { NGINX_DEFAULTS } from "./nginxConfig";
import {
    NODE_PATHS,
    renderBootstrapScript,
    renderMountScript,
    renderNodeExporterUnit,
    renderPrometheusUnit,
    renderSsmAgentScript,
    renderSyncScript,
    renderTimerUnits,
} from "./nodeScripts";
import { NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../ports";

export const ALERT_RESEND_DELAY = "1m";
export const CONFIG_SYNC_SCRIPT = "sync-prometheus-config.sh";

export interface NodeFile {
    path: string;
    content: string;
    /** b64: content is base64 of binary data (cloud-init decodes it). */
    encoding?: "b64";
    permissions: string;
    /** user:group; root:root when absent. */
    owner?: string;
}

export interface PrometheusNodeSpec {
    name: string;
    region: string;
    volumeId: string;
    targetsBucket: string;
    /** S3 endpoint of the targets and config buckets when not the region's own. */
    s3EndpointUrl?: string;
    /** Where the node's configuration set (prometheus.yml, rules, htpasswd) is fetched from, and how often. */
    config: { bucket: string; prefix: string; syncIntervalSeconds: number };
    arch: "amd64" | "arm64";
    /** Base of the release downloads, e.g. https://github.com/prometheus. */
    releaseBaseUrl: string;
    prometheusVersion: string;
    prometheusSha256?: string;
    nodeExporterVersion: string;
    nodeExporterSha256?: string;
    /** Debian packages cloud-init installs, unpinned: the archive's current version, security fixes included. */
    packages: string[];
    retentionTime: string;
    retentionSize?: string;
    externalUrl: string;
    /** The SSM agent's package location and its signer's public key (binary, base64). */
    ssmAgent: { baseUrl: string; signingKeyBase64: string };
    /** Where the node's journal goes: the node's name and its textfile directory are filled in. */
    logs: Omit<JournalShipperSettings, "node" | "textfileDir">;
    syncIntervalSeconds: number;
    volumeWaitSeconds: number;
    /** Files added by other parts of the platform (e.g. the nginx configuration). */
    extraFiles?: NodeFile[];
    /** Extra units to enable after the node's own. */
    extraServices?: string[];
    /** Extra commands that must accept the configuration before the services start. */
    extraChecks?: string[];
}

const SCRIPT = (name: string) => `${NODE_PATHS.scriptsDir}/${name}`;
/** The node's scripts, where the system set puts them and the bootstrap runs them. */
const SCRIPTS = {
    configSync: SCRIPT(CONFIG_SYNC_SCRIPT),
    targetsSync: SCRIPT("sync-prometheus-targets.sh"),
    mount: SCRIPT("mount-prometheus-data.sh"),
    ssmAgent: SCRIPT("install-ssm-agent.sh"),
    bootstrap: SCRIPT("bootstrap-prometheus-node.sh"),
};
export const SSM_AGENT_KEYRING = "/usr/local/share/keyrings/amazon-ssm-agent.gpg";
const UNIT = (name: string) => `/etc/systemd/system/${name}`;

/** The node's system set: every file but the bootstrap, in one object the bootstrap fetches and checks. */
export interface NodeSystemSet {
    /** Its key in the config bucket: content-addressed, so a node fetches what its user data names. */
    key: string;
    sha256: string;
    content: string;
}

export const SYSTEM_SET_PREFIX = "system/";

/** The system set's object: `{ files: [{ path, permissions, owner, content (base64) }] }`. */
function systemSetOf(node: string, systemFiles: NodeFile[]): NodeSystemSet {
    const files = systemFiles.map((file) => ({
        path: file.path,
        permissions: file.permissions,
        owner: file.owner ?? "root:root",
        content: file.encoding === "b64" ? file.content : Buffer.from(file.content, "utf8").toString("base64"),
    }));
    const content = `${JSON.stringify({ files }, null, 1)}\n`;
    const sha256 = crypto.createHash("sha256").update(content, "utf8").digest("hex");
    return { key: `${SYSTEM_SET_PREFIX}${node}/${sha256}.json`, sha256, content };
}

export interface RenderedNode {
    /** The user data: packages and the bootstrap. */
    cloudConfig: string;
    systemSet: NodeSystemSet;
    /** Every file the node runs with, in write order: the system set's, then the bootstrap. */
    files: NodeFile[];
}

/** A node rendered once: its system set, and the cloud-config whose bootstrap pins that set. */
export function renderNode(spec: PrometheusNodeSpec): RenderedNode {
    const systemFiles = nodeSystemFiles(spec);
    const systemSet = systemSetOf(spec.name, systemFiles);
    const bootstrap = bootstrapFile(spec, systemSet);
    return { cloudConfig: cloudConfigOf(spec, bootstrap), systemSet, files: [...systemFiles, bootstrap] };
}

/** Every file the node runs with (see renderNode). */
export function prometheusNodeFiles(spec: PrometheusNodeSpec): NodeFile[] {
    return renderNode(spec).files;
}

function nodeSystemFiles(spec: PrometheusNodeSpec): NodeFile[] {
    const syncUnits = renderTimerUnits("Sync Prometheus file_sd targets from S3", SCRIPTS.targetsSync, spec.syncIntervalSeconds);
    const configUnits = renderTimerUnits("Fetch, check and apply the Prometheus configuration set from S3", SCRIPTS.configSync, spec.config.syncIntervalSeconds);
    return [
        {
            path: SCRIPTS.configSync,
            permissions: "0755",
            content: renderConfigSyncScript({
                bucket: spec.config.bucket,
                prefix: spec.config.prefix,
                region: spec.region,
                endpointUrl: spec.s3EndpointUrl,
                stateDir: NODE_PATHS.configStateDir,
                textfileDir: NODE_PATHS.textfileDir,
                promtool: `${NODE_PATHS.binDir}/promtool`,
                configFile: `${NODE_PATHS.configDir}/prometheus.yml`,
                rulesDir: NODE_PATHS.rulesDir,
                htpasswdFile: NGINX_DEFAULTS.htpasswdFile,
                htpasswdGroup: "www-data",
                prometheusUrl: `http://127.0.0.1:${PROMETHEUS_PORT}`,
                reloadTimeoutSeconds: 30,
            }),
        },
        {
            path: SCRIPTS.mount,
            permissions: "0755",
            content: renderMountScript({
                volumeId: spec.volumeId,
                mountPoint: NODE_PATHS.dataMount,
                dataDir: NODE_PATHS.dataDir,
                waitSeconds: spec.volumeWaitSeconds,
            }),
        },
        {
            path: SCRIPTS.targetsSync,
            permissions: "0755",
            content: renderSyncScript({
                bucket: spec.targetsBucket,
                region: spec.region,
                endpointUrl: spec.s3EndpointUrl,
                targetsDir: NODE_PATHS.targetsDir,
                stagingDir: NODE_PATHS.targetsStagingDir,
                textfileDir: NODE_PATHS.textfileDir,
                discoveryStatusDir: DISCOVERY_STATUS_PREFIX.replace(/\/$/, ""),
            }),
        },
        {
            path: UNIT("prometheus.service"),
            permissions: "0644",
            content: renderPrometheusUnit({
                binDir: NODE_PATHS.binDir,
                configDir: NODE_PATHS.configDir,
                dataDir: NODE_PATHS.dataDir,
                port: PROMETHEUS_PORT,
                externalUrl: spec.externalUrl,
                retentionTime: spec.retentionTime,
                retentionSize: spec.retentionSize,
                alertResendDelay: ALERT_RESEND_DELAY,
            }),
        },
        { path: UNIT("node_exporter.service"), permissions: "0644", content: renderNodeExporterUnit(NODE_PATHS.binDir, NODE_EXPORTER_PORT, NODE_PATHS.textfileDir) },
        { path: UNIT("prometheus-targets-sync.service"), permissions: "0644", content: syncUnits.service },
        { path: UNIT("prometheus-targets-sync.timer"), permissions: "0644", content: syncUnits.timer },
        { path: UNIT("prometheus-config-sync.service"), permissions: "0644", content: configUnits.service },
        { path: UNIT("prometheus-config-sync.timer"), permissions: "0644", content: configUnits.timer },
        ...(spec.extraFiles ?? []),
        ...journalShipperFiles({ ...spec.logs, node: spec.name, textfileDir: NODE_PATHS.textfileDir }),
        { path: SSM_AGENT_KEYRING, content: spec.ssmAgent.signingKeyBase64, encoding: "b64", permissions: "0644" },
        { path: SCRIPTS.ssmAgent, permissions: "0755", content: renderSsmAgentScript({ baseUrl: spec.ssmAgent.baseUrl, keyringPath: SSM_AGENT_KEYRING }) },
    ];
}

function bootstrapFile(spec: PrometheusNodeSpec, systemSet: NodeSystemSet): NodeFile {
    const services = ["node_exporter.service", "prometheus.service", "prometheus-targets-sync.timer", "prometheus-config-sync.timer",
        ...(spec.extraServices ?? [])];
    return {
        path: SCRIPTS.bootstrap,
        permissions: "0755",
        content: renderBootstrapScript({
            systemSet: { bucket: spec.config.bucket, key: systemSet.key, sha256: systemSet.sha256, region: spec.region, endpointUrl: spec.s3EndpointUrl },
            releaseBaseUrl: spec.releaseBaseUrl,
            prometheusVersion: spec.prometheusVersion,
            prometheusSha256: spec.prometheusSha256,
            nodeExporterVersion: spec.nodeExporterVersion,
            nodeExporterSha256: spec.nodeExporterSha256,
            arch: spec.arch,
            mountScriptPath: SCRIPTS.mount,
            logShipper: { check: `${JOURNAL_SHIPPER.binary} --check --config ${JOURNAL_SHIPPER.configFile}`, unit: JOURNAL_SHIPPER.unit },
            ssmAgentScriptPath: SCRIPTS.ssmAgent,
            configScriptPath: SCRIPTS.configSync,
            textfileDir: NODE_PATHS.textfileDir,
            binDir: NODE_PATHS.binDir,
            checks: [`${NODE_PATHS.binDir}/promtool check config ${NODE_PATHS.configDir}/prometheus.yml`, ...(spec.extraChecks ?? [])],
            services,
        }),
    };
}

/** The #cloud-config document: the packages, then the bootstrap, which fetches the system set and goes on. */
function cloudConfigOf(spec: PrometheusNodeSpec, bootstrap: NodeFile): string {
    const document = {
        hostname: spec.name,
        package_update: true,
        package_upgrade: true,
        packages: spec.packages,
        // Deferred: written after the packages are installed, so they win over package defaults
        // and may belong to users the packages create.
        write_files: [{ path: bootstrap.path, permissions: bootstrap.permissions, owner: "root:root", content: bootstrap.content, defer: true }],
        runcmd: [[bootstrap.path]],
    };
    return `#cloud-config\n${yaml.dump(document, { lineWidth: -1, noRefs: true })}`;
}
