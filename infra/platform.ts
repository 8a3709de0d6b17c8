// Composes the platform's components for one stack.
import * as fs from "fs";
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AccessLogsBucket, S3_LOG_PREFIX } from "../components/accessLogsBucket";
import { AlertmanagerCluster, SSM_HEADROOM, SSM_TIER_LIMIT_BYTES } from "../components/alertmanagerCluster";
import { ValidatedCertificate } from "../components/certificate";
import { CloudflareDns } from "../components/cloudflareDns";
import { DataVolumeBackup } from "../components/dataVolumeBackup";
import { DASHBOARDS, renderDashboard } from "../components/dashboards";
import { Grafana, GRAFANA_SERVICE_NAME } from "../components/grafana";
import { provisioningFiles } from "../components/render/grafanaConfig";
import { BLACKBOX_CONFIG_FILE, BLACKBOX_UNIT, ProbeTarget, renderBlackboxConfig, renderBlackboxDropIn } from "../components/render/blackbox";
import { ManagedPrometheus } from "../components/managedPrometheus";
import { Network } from "../components/network";
import { LoadBalancer } from "../components/loadBalancer";
import { NodeConfigBucket, nodeConfigPrefix } from "../components/nodeConfigBucket";
import { NodeLogs } from "../components/nodeLogs";
import { NodeRole } from "../components/nodeRole";
import { DeepInput, PrometheusNode } from "../components/prometheusNode";
import { renderAlertmanagerConfig, TenantReceiverInput, TicketReceiver } from "../components/render/alertmanagerConfig";
import { EXPECTED_RULE_FILE, renderAlertRules, renderExpectedRules } from "../components/render/alertRules";
import { dearmorPublicKey } from "../components/render/openpgp";
import { NGINX_DEFAULTS, renderHtpasswd, renderNginxConfig } from "../components/render/nginxConfig";
import { JOURNAL_SHIPPER_PACKAGES } from "../components/render/journalShipper";
import { NODE_PATHS } from "../components/render/nodeScripts";
import { PrometheusConfigInput, tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { SecurityGroups } from "../components/securityGroups";
import { DISCOVERY_PREFIX, TargetDiscovery } from "../components/targetDiscovery";
import { discoverySources } from "../components/functions/discovery";
import { TargetsBucket } from "../components/targetsBucket";
import { EnvironmentError, LoadedEnvironment, PROJECT_ROOT } from "./environment";
import { PlatformSecrets, readSecrets } from "./secrets";
import { checkTenantsOnStack, loadTenants, renderTenantRules, Tenant, tenantRegions, tenantRuleFileName, tenantSecretKey } from "./tenants";
import { checkSizing, projectSizing, readCapacityFigures, SizingPlan } from "./sizing";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, GRAFANA_PORT, INGRESS_PORT, MESH_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";

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


export interface Platform {
    env: LoadedEnvironment;
    network: Network;
    accessLogs: AccessLogsBucket;
    securityGroups: SecurityGroups;
    targets: TargetsBucket;
    nodeLogs: NodeLogs;
    nodeRole: NodeRole;
    nodes: PrometheusNode[];
    alertmanagers: AlertmanagerCluster;
    ingress: LoadBalancer;
    dns: CloudflareDns;
    /** The prometheus.yml, rules and htpasswd of every node, as data the nodes fetch. */
    nodeConfig: NodeConfigBucket;
    /** Every accepted basic-auth credential; the first is the one clients are given. */
    basicAuth: BasicAuthCredential[];
    alertmanagerConfig: pulumi.Output<string>;
    grafana: Grafana;
    /** Grafana's provisioning files by path: data sources and dashboards. */
    grafanaProvisioning: Record<string, string>;
    managedPrometheus?: ManagedPrometheus;
    discovery?: TargetDiscovery;
    backup: DataVolumeBackup;
    /** The tenants on this stack. */
    tenants: Tenant[];
    /** The nodes' projected memory and disk, when the platform was sized (sizedPlatform). */
    sizing?: SizingPlan;
}

export interface BasicAuthCredential {
    user: string;
    password: random.RandomPassword;
}

export const hosts = {
    prometheus: (env: LoadedEnvironment, index: number) => `prom-${index}.${env.domain}`,
    alertmanager: (env: LoadedEnvironment, index: number) => `alerts-${index}.${env.domain}`,
    alertmanagers: (env: LoadedEnvironment) => `alerts.${env.domain}`,
    grafana: (env: LoadedEnvironment) => `grafana.${env.domain}`,
};

/** The Cloud Map namespace the Alertmanagers register in. */
export function alertmanagerNamespace(env: LoadedEnvironment): string {
    return `${env.stack}.monitoring.internal`;
}

/** Every public URL of the stack, with what a probe from the nodes must see there. */
export function publicUrls(env: LoadedEnvironment): ProbeTarget[] {
    return [
        ...env.zones.map((z) => ({ url: `https://${hosts.prometheus(env, z.index)}/`, module: "auth_proxy" as const })),
        ...env.zones.map((z) => ({ url: `https://${hosts.alertmanager(env, z.index)}/`, module: "office_only" as const })),
        { url: `https://${hosts.alertmanagers(env)}/`, module: "office_only" as const },
        { url: `https://${hosts.grafana(env)}/`, module: "office_only" as const },
    ];
}

/** Where the nodes find Grafana to scrape: its Cloud Map name in the platform's namespace. */
export function grafanaScrapeName(env: LoadedEnvironment): string {
    return `${GRAFANA_SERVICE_NAME}.${alertmanagerNamespace(env)}`;
}

function alertmanagerYaml(env: LoadedEnvironment, secrets: PlatformSecrets, tenants: Tenant[], tenantSecrets: Record<string, pulumi.Output<string>>): pulumi.Output<string> {
    const tenantValues = pulumi.output(tenantSecrets) as unknown as pulumi.Output<Record<string, string>>;
    return pulumi.all([tenantValues, pulumi.all({
        pagerduty: secrets.pagerdutyRoutingKey,
        heartbeat: secrets.heartbeatUrl,
        ticketUrl: secrets.ticketWebhookUrl ?? "",
        smtpUsername: secrets.smtpUsername ?? "",
        smtpPassword: secrets.smtpPassword ?? "",
        slackUrl: secrets.slackWebhookUrl ?? "",
    })]).apply(([tenantSecretValues, s]) => {
        const ticket: TicketReceiver = env.receivers.email
            ? { kind: "email", ...env.receivers.email, authUsername: s.smtpUsername, authPassword: s.smtpPassword }
            : { kind: "webhook", url: s.ticketUrl };
        const config = renderAlertmanagerConfig({
            pagerdutyRoutingKey: s.pagerduty,
            heartbeatUrl: s.heartbeat,
            ticket,
            slack: env.receivers.slackChannel ? { webhookUrl: s.slackUrl, channel: env.receivers.slackChannel } : undefined,
            tenants: tenants.map((tenant) => ({
                name: tenant.name,
                receivers: Object.fromEntries(Object.entries(tenant.receivers).map(([receiver, r]): [string, TenantReceiverInput] => {
                    const secret = tenantSecretValues[tenantSecretKey(tenant.name, receiver)];
                    return [receiver, r.kind === "email" ? r : r.kind === "slack" ? { ...r, secret } : { kind: r.kind, secret }];
                })),
                page: tenant.routing.page,
                ticket: tenant.routing.ticket,
                supportHours: tenant.supportHours,
            })),
        });
        checkParameterSize(env, Buffer.byteLength(config, "utf8"));
        return config;
    });
}

/** Fails while the configuration still fits its SSM tier, naming the setting that makes room. */
export function checkParameterSize(env: LoadedEnvironment, bytes: number): void {
    const tier = env.alertmanager.configParameterTier;
    const limit = SSM_TIER_LIMIT_BYTES[tier];
    if (bytes >= limit * SSM_HEADROOM) {
        const remedy = tier === "Standard"
            ? "set alertmanager.configParameterTier: Advanced (8 KB)"
            : "shorten the receivers or templates: Advanced is the largest tier";
        throw new EnvironmentError(env.file, [
            `alertmanager.configParameterTier: alertmanager.yml is ${bytes} bytes, over ${Math.round(SSM_HEADROOM * 100)}% of the SSM ${tier} tier's ${limit}; ${remedy}`,
        ]);
    }
}

/** Checks what only the cloud knows (region, zones) before any resource is registered. */
async function checkAgainstCloud(env: LoadedEnvironment): Promise<void> {
    const stackFile = `Pulumi.${env.stack}.yaml`;
    const region = new pulumi.Config("aws").get("region");
    if (region === undefined) {
        throw new EnvironmentError(stackFile, [`aws:region: missing; set it to ${env.region} (pulumi config set aws:region ${env.region})`]);
    }
    if (region !== env.region) {
        throw new EnvironmentError(env.file, [`region: ${env.region} differs from aws:region ${region} in ${stackFile}`]);
    }
    const zones = await aws.getAvailabilityZones({ state: "available" });
    const problems = env.availabilityZones
        .map((zone, i) => zones.names.includes(zone) ? undefined : `availabilityZones[${i}]: ${zone} is not an available zone of ${env.region} (available: ${zones.names.join(", ")})`)
        .filter((p): p is string => p !== undefined);
    if (problems.length > 0) {
        throw new EnvironmentError(env.file, problems);
    }
}

export async function createPlatform(env: LoadedEnvironment): Promise<Platform> {
    const tenants = loadTenants(env.stack);
    checkTenantsOnStack(tenants, env);
    const { platform: secrets, tenants: tenantSecrets } = readSecrets(env, tenants);
    await checkAgainstCloud(env);
    const identity = await aws.getCallerIdentity({});
    const partition = (await aws.getPartition({})).partition;
    const ami = await aws.ec2.getAmi({
        owners: [env.ami.owner],
        mostRecent: true,
        filters: [
            { name: "name", values: [env.ami.namePattern] },
            { name: "architecture", values: ["x86_64"] },
            { name: "root-device-type", values: ["ebs"] },
            { name: "virtualization-type", values: ["hvm"] },
        ],
    });
    const tags = { ...env.tags, stack: env.stack, project: pulumi.getProject() };

    const network = new Network("platform", {
        vpcCidr: env.vpcCidr,
        zones: env.zones,
        natGateways: env.natGateways,
        tags,
    });
    const securityGroups = new SecurityGroups("platform", {
        vpcId: network.vpcId,
        prometheusPort: PROMETHEUS_PORT,
        nodeExporterPort: NODE_EXPORTER_PORT,
        alertmanagerPort: ALERTMANAGER_PORT,
        meshPort: MESH_PORT,
        grafanaPort: GRAFANA_PORT,
        blackboxPort: BLACKBOX_PORT,
        tags,
    });
    // Roles others assume: the listed principals, or anyone in this account allowed to.
    const principalsOrAccount = (principals: string[]) => principals.length > 0 ? principals : [`arn:${partition}:iam::${identity.accountId}:root`];
    const accessLogs = new AccessLogsBucket("access-logs", {
        retentionDays: env.ingress.accessLogRetentionDays,
        accountId: identity.accountId,
        protect: env.protectData,
        partition,
        tags,
    });
    const targets = new TargetsBucket("targets", {
        accessLogs: { bucketName: accessLogs.bucketName, prefix: S3_LOG_PREFIX, ready: accessLogs.policy },
        noncurrentVersionDays: env.targets.noncurrentVersionDays,
        writerPrincipals: principalsOrAccount(env.targets.writerPrincipals),
        tenants: tenants.map((t) => ({ name: t.name, writerPrincipals: principalsOrAccount(t.writerPrincipals) })),
        protect: env.protectData,
        partition,
        tags,
    });
    const managedPrometheus = env.remoteWrite.enabled
        ? new ManagedPrometheus("long-term-store", {
            alias: `${pulumi.getProject()}-${env.stack}`,
            region: env.region,
            producerPrincipals: principalsOrAccount(env.remoteWrite.producerPrincipals),
            tags,
        })
        : undefined;
    const discovery = env.discovery.enabled
        ? new TargetDiscovery("target-discovery", {
            functionName: `${pulumi.getProject()}-${env.stack}-target-discovery`,
            bucketName: targets.bucketName,
            bucketArn: targets.bucketArn,
            regions: env.discovery.regions,
            cloudMapNamespaces: env.discovery.cloudMapNamespaces,
            region: env.region,
            accountId: identity.accountId,
            partition,
            tags,
        })
        : undefined;

    const backupTag = { key: "platform:backup", value: `${pulumi.getProject()}-${env.stack}-prometheus-data` };
    const backup = new DataVolumeBackup("prometheus-data", {
        targetTag: backupTag,
        snapshotTime: env.backup.snapshotTime,
        retainDays: env.backup.retainDays,
        partition,
        tags,
    });

    // One password per accepted user: nginx checks only the first htpasswd line of a user, so a
    // rotation overlaps two users rather than two passwords of one.
    const basicAuth = env.ingress.basicAuthUsers.map((user) => ({
        user,
        password: new random.RandomPassword(`basic-auth-${user}`, { length: 32, special: false }),
    }));
    const htpasswd = pulumi.all(basicAuth.map((c) => c.password.bcryptHash))
        .apply((hashes) => renderHtpasswd(basicAuth.map((c, i) => ({ user: c.user, bcryptHash: hashes[i] }))));
    const nginxConf = renderNginxConfig({
        ...NGINX_DEFAULTS,
        listenPort: INGRESS_PORT,
        prometheusUpstream: `127.0.0.1:${PROMETHEUS_PORT}`,
        officeCidrs: env.officeCidrs,
        trustedProxyCidrs: env.zones.map((z) => z.publicSubnetCidr),
    });
    const rules = renderAlertRules(env.runbookBaseUrl);
    const expected = renderExpectedRules({
        tenantPrefixes: tenants.flatMap((t) => tenantRegions(t, env).map((region) => tenantTargetsPrefix(t.name, region))),
        discovery: env.discovery.enabled ? discoverySources(env.discovery.regions, env.discovery.cloudMapNamespaces) : [],
    });
    const peerName = `alertmanager.${alertmanagerNamespace(env)}`;

    const scrapeNodes = env.zones.map((zone) => ({
        name: `prom-${zone.index}`,
        privateIp: zone.prometheusPrivateIp,
        availabilityZone: zone.availabilityZone,
    }));
    const prometheusConfigs = env.zones.map((zone, i): DeepInput<PrometheusConfigInput> => {
        const prometheus: PrometheusConfigInput = {
            stack: env.stack,
            replica: scrapeNodes[i].name,
            scrapeInterval: env.prometheus.scrapeInterval,
            evaluationInterval: env.prometheus.evaluationInterval,
            nodes: scrapeNodes,
            alertmanagers: { kind: "dns", name: peerName, port: ALERTMANAGER_PORT },
            targetsDir: NODE_PATHS.targetsDir,
            targetsRegions: env.targets.regions,
            rulesDir: NODE_PATHS.rulesDir,
            prometheusPort: PROMETHEUS_PORT,
            nodeExporterPort: NODE_EXPORTER_PORT,
            paasProxyUrl: `http://${NGINX_DEFAULTS.paasProxyListen}`,
            discoverySubdir: discovery ? DISCOVERY_PREFIX.replace(/\/$/, "") : undefined,
            tenants: tenants.map((t) => ({ name: t.name, regions: tenantRegions(t, env) })),
            grafana: { name: grafanaScrapeName(env), port: GRAFANA_PORT },
            probes: {
                exporters: scrapeNodes.map((node) => ({ name: node.name, address: `${node.privateIp}:${BLACKBOX_PORT}` })),
                targets: publicUrls(env),
            },
        };
        return managedPrometheus ? { ...prometheus, remoteWrite: { url: managedPrometheus.remoteWriteUrl, region: env.region } } : prometheus;
    });
    const nodeConfig = new NodeConfigBucket("node-config", {
        nodes: scrapeNodes.map((node, i) => ({
            name: node.name,
            prometheus: prometheusConfigs[i],
            ruleFiles: {
                "platform.yml": rules,
                [EXPECTED_RULE_FILE]: expected,
                ...Object.fromEntries(tenants.map((t) => [tenantRuleFileName(t.name), renderTenantRules(t)])),
            },
            htpasswd,
        })),
        noncurrentVersionDays: env.targets.noncurrentVersionDays,
        accessLogs: { bucketName: accessLogs.bucketName, prefix: S3_LOG_PREFIX, ready: accessLogs.policy },
        protect: env.protectData,
        partition,
        tags,
    });
    const nodeLogs = new NodeLogs("prometheus-node-logs", {
        logGroupName: `/ec2/${pulumi.getProject()}-${env.stack}/prometheus-nodes`,
        retentionDays: env.prometheus.logRetentionDays,
        region: env.region,
        accountId: identity.accountId,
        partition,
        tags,
    });
    const nodeRole = new NodeRole("prometheus-node", {
        policyArns: [targets.readPolicyArn, nodeConfig.readPolicyArn, nodeLogs.writePolicyArn,
            ...(managedPrometheus ? [managedPrometheus.remoteWritePolicyArn] : [])],
        partition,
        tags,
    });
    const nodes = env.zones.map((zone, i) => {
        const name = scrapeNodes[i].name;
        return new PrometheusNode(name, {
            index: zone.index,
            availabilityZone: zone.availabilityZone,
            subnetId: network.privateSubnetIds[i],
            privateIp: zone.prometheusPrivateIp,
            securityGroupIds: [securityGroups.nodeSecurityGroupId],
            instanceProfileName: nodeRole.instanceProfileName,
            amiId: ami.id,
            instanceType: env.prometheus.instanceType,
            rootVolumeGiB: env.prometheus.rootVolumeGiB,
            dataVolume: env.prometheus.dataVolume,
            protectData: env.protectData,
            dataVolumeTags: { [backupTag.key]: backupTag.value },
            dataVolumeSnapshotId: env.prometheus.restoreSnapshots[String(zone.index)],
            applyUpdates: env.prometheus.rolloutNode === zone.index,
            bootDependsOn: [...nodeConfig.objects, nodeLogs.logGroup],
            spec: {
                name,
                region: env.region,
                targetsBucket: targets.bucketName,
                s3EndpointUrl: env.s3EndpointUrl,
                config: { bucket: nodeConfig.bucketName, prefix: nodeConfigPrefix(name), syncIntervalSeconds: env.prometheus.configSyncIntervalSeconds },
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
                logs: { logGroup: nodeLogs.logGroupName, region: env.region, units: NODE_LOG_UNITS, outlives: NODE_SERVICE_UNITS, endpointUrl: env.logsEndpointUrl, flushSeconds: LOG_FLUSH_SECONDS },
                retentionTime: env.prometheus.retentionTime,
                retentionSize: env.prometheus.retentionSize,
                externalUrl: `https://${hosts.prometheus(env, zone.index)}/`,
                extraFiles: [
                    { path: "/etc/nginx/nginx.conf", permissions: "0644", content: nginxConf },
                    { path: BLACKBOX_CONFIG_FILE, permissions: "0644", content: renderBlackboxConfig() },
                    { path: `/etc/systemd/system/${BLACKBOX_UNIT}.d/platform.conf`, permissions: "0644", content: renderBlackboxDropIn(BLACKBOX_BINARY) },
                ],
                extraServices: ["nginx.service", BLACKBOX_UNIT],
                extraChecks: ["nginx -t -q", `${BLACKBOX_BINARY} --config.check --config.file=${BLACKBOX_CONFIG_FILE}`],
                syncIntervalSeconds: env.targets.syncIntervalSeconds,
                volumeWaitSeconds: env.prometheus.volumeWaitSeconds,
            },
            tags,
        });
    });

    const certificate = new ValidatedCertificate("platform", { domain: env.domain, cloudflareZoneId: env.cloudflareZoneId, tags });
    const ingress = new LoadBalancer("platform", {
        vpcId: network.vpcId,
        publicSubnetIds: network.publicSubnetIds,
        securityGroupId: securityGroups.albSecurityGroupId,
        certificateArn: certificate.certificateArn,
        officeCidrs: env.officeCidrs,
        prometheusHosts: env.zones.map((z) => hosts.prometheus(env, z.index)),
        prometheusInstanceIds: nodes.map((n) => n.instanceId),
        alertmanagerHosts: env.zones.map((z) => hosts.alertmanager(env, z.index)),
        alertmanagerHost: hosts.alertmanagers(env),
        alertmanagerPort: ALERTMANAGER_PORT,
        grafanaHost: hosts.grafana(env),
        grafanaPort: GRAFANA_PORT,
        accessLogsBucketName: accessLogs.bucketName,
        accessLogsReady: accessLogs.policy,
        tags,
    });
    const alertmanagerConfig = alertmanagerYaml(env, secrets, tenants, tenantSecrets);
    const alertmanagers = new AlertmanagerCluster("alertmanager", {
        vpcId: network.vpcId,
        members: env.zones.map((zone, i) => ({
            availabilityZone: zone.availabilityZone,
            subnetId: network.privateSubnetIds[i],
            externalUrl: `https://${hosts.alertmanager(env, zone.index)}/`,
        })),
        securityGroupId: securityGroups.alertmanagerSecurityGroupId,
        memberTargetGroupArns: ingress.alertmanagerTargetGroupArns,
        allTargetGroupArn: ingress.alertmanagerAllTargetGroupArn,
        image: `${env.alertmanager.image}:v${env.alertmanager.version}`,
        config: alertmanagerConfig,
        configParameterName: `/${pulumi.getProject()}/${env.stack}/alertmanager/config`,
        configParameterTier: env.alertmanager.configParameterTier,
        physicalNamePrefix: `${pulumi.getProject()}-${env.stack}`,
        accountId: identity.accountId,
        namespace: alertmanagerNamespace(env),
        region: env.region,
        cpu: env.alertmanager.cpu,
        memory: env.alertmanager.memory,
        logRetentionDays: env.alertmanager.logRetentionDays,
        partition,
        tags,
    }, { dependsOn: ingress.listenerRules });
    const grafanaProvisioning = provisioningFiles({
        prometheus: env.zones.map((zone, i) => ({ name: scrapeNodes[i].name, url: `http://${zone.prometheusPrivateIp}:${INGRESS_PORT}` })),
        basicAuthUser: basicAuth[0].user,
        scrapeInterval: env.prometheus.scrapeInterval,
        managedPrometheus: managedPrometheus ? { region: env.region } : undefined,
    }, DASHBOARDS.map((spec) => ({ uid: spec.uid, json: renderDashboard(spec) })));
    const grafana = new Grafana("grafana", {
        clusterArn: alertmanagers.clusterArn,
        subnetIds: network.privateSubnetIds,
        securityGroupId: securityGroups.grafanaSecurityGroupId,
        targetGroupArn: ingress.grafanaTargetGroupArn,
        listenerRules: ingress.listenerRules,
        namespaceId: alertmanagers.namespaceId,
        image: `${env.grafana.image}:${env.grafana.version}`,
        rootUrl: `https://${hosts.grafana(env)}/`,
        files: grafanaProvisioning,
        prometheusPassword: basicAuth[0].password.result,
        managedPrometheus: managedPrometheus ? { workspaceArn: managedPrometheus.workspaceArn, prometheusUrl: managedPrometheus.prometheusUrl } : undefined,
        physicalNamePrefix: `${pulumi.getProject()}-${env.stack}`,
        parameterPrefix: `/${pulumi.getProject()}/${env.stack}/grafana`,
        accountId: identity.accountId,
        region: env.region,
        logRetentionDays: env.alertmanager.logRetentionDays,
        partition,
        tags,
    });
    const dns = new CloudflareDns("platform", {
        zoneId: env.cloudflareZoneId,
        hosts: [
            ...env.zones.map((z) => hosts.prometheus(env, z.index)),
            ...env.zones.map((z) => hosts.alertmanager(env, z.index)),
            hosts.alertmanagers(env),
            hosts.grafana(env),
        ],
        target: ingress.loadBalancerDnsName,
    });

    return {
        env, network, accessLogs, securityGroups, targets, nodeConfig, nodeLogs, nodeRole, nodes, alertmanagers, ingress, dns,
        basicAuth, alertmanagerConfig, grafana, grafanaProvisioning, managedPrometheus, discovery, backup, tenants,
    };
}

/** The platform of a stack whose nodes hold its expected load: an undersized stack is refused before anything is created. */
export async function sizedPlatform(env: LoadedEnvironment): Promise<Platform> {
    const sizing = projectSizing(env, readCapacityFigures());
    checkSizing(env, sizing);
    return { ...await createPlatform(env), sizing };
}

/** The stack outputs: what operators and the service broker need; the password only as a secret. */
export function platformOutputs(platform: Platform): Record<string, unknown> {
    return {
        vpcId: platform.network.vpcId,
        prometheusNodes: platform.nodes.map((node) => ({
            name: node.name,
            availabilityZone: node.availabilityZone,
            instanceId: node.instanceId,
            privateIp: node.privateIp,
            dataVolumeId: node.dataVolumeId,
        })),
        targetsBucketName: platform.targets.bucketName,
        targetsWriterRoleArn: platform.targets.writerRoleArn,
        tenantTargetsWriterRoleArns: platform.targets.tenantWriterRoleArns,
        targetsWritePolicyArn: platform.targets.writePolicyArn,
        prometheusUrls: platform.env.zones.map((z) => `https://${hosts.prometheus(platform.env, z.index)}/`),
        alertmanagerUrls: platform.env.zones.map((z) => `https://${hosts.alertmanager(platform.env, z.index)}/`),
        alertmanagerPeerName: platform.alertmanagers.peerName,
        grafanaUrl: `https://${hosts.grafana(platform.env)}/`,
        grafanaAdminPassword: platform.grafana.adminPassword,
        basicAuthUser: platform.basicAuth[0].user,
        basicAuthPassword: pulumi.secret(platform.basicAuth[0].password.result),
        nodeConfigBucketName: platform.nodeConfig.bucketName,
        nodeConfigRevision: platform.nodeConfig.revision,
        nodeLogGroupName: platform.nodeLogs.logGroupName,
        loadBalancerDnsName: platform.ingress.loadBalancerDnsName,
        dataSnapshotPolicyId: platform.backup.policyId,
        ...(platform.managedPrometheus ? {
            ampWorkspaceId: platform.managedPrometheus.workspaceId,
            ampQueryUrl: platform.managedPrometheus.queryUrl,
            ampRemoteWriteUrl: platform.managedPrometheus.remoteWriteUrl,
            ampProducerRoleArn: platform.managedPrometheus.producerRoleArn,
        } : {}),
        ...(platform.discovery ? { discoveryFunctionName: platform.discovery.functionName } : {}),
    };
}
