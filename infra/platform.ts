// Composes the platform's components for one stack: what they are given comes from the
// environment, the tenants, the cloud's facts and infra/rendering.ts; nothing is rendered here.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AccessLogsBucket, S3_LOG_PREFIX } from "../components/accessLogsBucket";
import { AlertmanagerCluster } from "../components/alertmanagerCluster";
import { ValidatedCertificate } from "../components/certificate";
import { CloudflareDns } from "../components/cloudflareDns";
import { DataVolumeBackup } from "../components/dataVolumeBackup";
import { Grafana } from "../components/grafana";
import { GrafanaDatabase } from "../components/grafanaDatabase";
import { LoadBalancer } from "../components/loadBalancer";
import { ManagedPrometheus } from "../components/managedPrometheus";
import { Network } from "../components/network";
import { NodeConfigBucket } from "../components/nodeConfigBucket";
import { NodeLogs } from "../components/nodeLogs";
import { NodeRole } from "../components/nodeRole";
import { ALERTMANAGER_PORT, BLACKBOX_PORT, GRAFANA_PORT, MESH_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { PrometheusNode } from "../components/prometheusNode";
import { renderNode } from "../components/render/cloudInit";
import { SecurityGroups } from "../components/securityGroups";
import { TargetDiscovery } from "../components/targetDiscovery";
import { TargetsBucket } from "../components/targetsBucket";
import { checkAgainstCloud, CloudFacts, lookUpCloud } from "./cloud";
import { LoadedEnvironment } from "./environment";
import { alertmanagerNamespace, backupTag, hosts, nodeLogGroupName, parameterPath, physicalPrefix } from "./naming";
import {
    AlertmanagerSecretValues, checkAlertmanagerFits, ConfigSetReferences, nodeConfigSetPaths, NodeReferences, nodeSpec, RenderSource,
    renderAlertmanagerYml, renderGrafanaFiles, renderNodeConfigSets,
} from "./rendering";
import { longestPlausibleSecrets, readSecrets } from "./secrets";
import { checkTenantsOnStack, loadTenants, Tenant } from "./tenants";
import { checkSizing, projectSizing, readCapacityFigures, shardsWithRoom, SizingPlan } from "./sizing";
import { checkPlacement } from "./shards";

/** Each value is a resource's value, or becomes one: what the plan resolves with a preview's placeholders. */
type Referenced<T> = { readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? readonly pulumi.Input<U>[] : pulumi.Input<T[K]> };

/** What the composition rendered the platform's files from, beyond the environment and tenants. */
export interface RenderInputs {
    readonly source: RenderSource;
    readonly configSets: Referenced<ConfigSetReferences>;
    readonly nodes: Referenced<NodeReferences>;
    readonly alertmanagerSecrets: pulumi.Output<AlertmanagerSecretValues>;
}

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
    grafanaDatabase: GrafanaDatabase;
    /** Grafana's provisioning files by path: data sources and dashboards. */
    grafanaProvisioning: Record<string, string>;
    managedPrometheus?: ManagedPrometheus;
    discovery?: TargetDiscovery;
    backup: DataVolumeBackup;
    /** The tenants on this stack. */
    tenants: Tenant[];
    /** What the files were rendered from: the plan renders the same with a preview's values. */
    rendered: RenderInputs;
    /** The nodes' projected memory and disk, when the platform was sized (sizedPlatform). */
    sizing?: SizingPlan;
}

export interface BasicAuthCredential {
    user: string;
    password: random.RandomPassword;
}

/** What every step of the composition shares. */
interface Context {
    readonly source: RenderSource;
    readonly env: LoadedEnvironment;
    readonly cloud: CloudFacts;
    readonly tags: Record<string, string>;
    /** Roles others assume: the listed principals, or anyone in this account allowed to. */
    readonly principalsOrAccount: (principals: string[]) => string[];
}

/** The VPC, its security groups, the buckets, the long-term store, discovery and backups. */
function createFoundation(ctx: Context) {
    const { env, cloud: { accountId, partition }, tags, principalsOrAccount } = ctx;
    const network = new Network("platform", { vpcCidr: env.vpcCidr, zones: env.zones, natGateways: env.natGateways, tags });
    const securityGroups = new SecurityGroups("platform", {
        vpcId: network.vpcId,
        prometheusPort: PROMETHEUS_PORT,
        nodeExporterPort: NODE_EXPORTER_PORT,
        alertmanagerPort: ALERTMANAGER_PORT,
        meshPort: MESH_PORT,
        grafanaPort: GRAFANA_PORT,
        blackboxPort: BLACKBOX_PORT,
        albCallsIdentityProvider: env.grafana.access === "sso",
        tags,
    });
    const accessLogs = new AccessLogsBucket("access-logs", {
        retentionDays: env.ingress.accessLogRetentionDays, accountId, protect: env.protectData, partition, tags,
    });
    const logBucket = { bucketName: accessLogs.bucketName, prefix: S3_LOG_PREFIX, ready: accessLogs.policy };
    const targets = new TargetsBucket("targets", {
        accessLogs: logBucket,
        noncurrentVersionDays: env.targets.noncurrentVersionDays,
        writerPrincipals: principalsOrAccount(env.targets.writerPrincipals),
        tenants: ctx.source.tenants.map((t) => ({ name: t.name, writerPrincipals: principalsOrAccount(t.writerPrincipals) })),
        protect: env.protectData,
        partition,
        tags,
    });
    const managedPrometheus = env.remoteWrite.enabled
        ? new ManagedPrometheus("long-term-store", {
            alias: physicalPrefix(ctx.source.project, env),
            region: env.region,
            producerPrincipals: principalsOrAccount(env.remoteWrite.producerPrincipals),
            retentionDays: env.remoteWrite.retentionDays,
            tags,
        })
        : undefined;
    const discovery = env.discovery.enabled
        ? new TargetDiscovery("target-discovery", {
            functionName: `${physicalPrefix(ctx.source.project, env)}-target-discovery`,
            bucketName: targets.bucketName,
            bucketArn: targets.bucketArn,
            regions: env.discovery.regions,
            cloudMapNamespaces: env.discovery.cloudMapNamespaces,
            region: env.region,
            accountId,
            partition,
            tags,
        })
        : undefined;
    const backup = new DataVolumeBackup("prometheus-data", {
        targetTag: backupTag(ctx.source.project, env),
        snapshotTime: env.backup.snapshotTime,
        retainDays: env.backup.retainDays,
        partition,
        tags,
    });
    return { network, securityGroups, accessLogs, logBucket, targets, managedPrometheus, discovery, backup };
}

type Foundation = ReturnType<typeof createFoundation>;

/** The Prometheus nodes (three per shard), their configuration as data, their logs and their role. */
function createPrometheus(ctx: Context, foundation: Foundation) {
    const { source, env, cloud: { accountId, partition, amiId }, tags } = ctx;
    const { network, securityGroups, logBucket, targets, managedPrometheus } = foundation;
    // One password per accepted user: nginx checks only the first htpasswd line of a user, so a
    // rotation overlaps two users rather than two passwords of one.
    const basicAuth = env.ingress.basicAuthUsers.map((user) => ({
        user,
        password: new random.RandomPassword(`basic-auth-${user}`, { length: 32, special: false }),
    }));
    const configSets: Referenced<ConfigSetReferences> = {
        remoteWriteUrl: managedPrometheus?.remoteWriteUrl,
        basicAuthHashes: basicAuth.map((c) => c.password.bcryptHash),
    };
    const setPaths = nodeConfigSetPaths(source);
    const nodeConfig = new NodeConfigBucket("node-config", {
        nodes: env.nodes.map((node) => ({ name: node.name, paths: setPaths(node.shard) })),
        sets: pulumi.output(configSets).apply((refs) => renderNodeConfigSets(source, refs)),
        noncurrentVersionDays: env.targets.noncurrentVersionDays,
        accessLogs: logBucket,
        protect: env.protectData,
        partition,
        tags,
    });
    const nodeLogs = new NodeLogs("prometheus-node-logs", {
        logGroupName: nodeLogGroupName(source.project, env),
        retentionDays: env.prometheus.logRetentionDays,
        region: env.region,
        accountId,
        partition,
        tags,
    });
    const nodeRole = new NodeRole("prometheus-node", {
        policyArns: [targets.readPolicyArn, nodeConfig.readPolicyArn, nodeLogs.writePolicyArn,
            ...(managedPrometheus ? [managedPrometheus.remoteWritePolicyArn] : [])],
        partition,
        tags,
    });
    const nodeRefs: Referenced<NodeReferences> = { targetsBucket: targets.bucketName, configBucket: nodeConfig.bucketName };
    const volumeTag = backupTag(source.project, env);
    const nodes = env.nodes.map((plan) => new PrometheusNode(plan.name, {
        shard: plan.shard,
        availabilityZone: plan.zone.availabilityZone,
        subnetId: network.privateSubnetIds[plan.zone.index - 1],
        privateIp: plan.privateIp,
        securityGroupIds: [securityGroups.nodeSecurityGroupId],
        instanceProfileName: nodeRole.instanceProfileName,
        amiId,
        instanceType: env.prometheus.instanceType,
        rootVolumeGiB: env.prometheus.rootVolumeGiB,
        dataVolume: env.prometheus.dataVolume,
        protectData: env.protectData,
        dataVolumeTags: { [volumeTag.key]: volumeTag.value },
        dataVolumeSnapshotId: env.prometheus.restoreSnapshots[plan.key],
        applyUpdates: env.prometheus.rolloutNode === plan.zone.index,
        bootDependsOn: [...nodeConfig.objects, nodeLogs.logGroup],
        render: (volumeId) => pulumi.all([volumeId, pulumi.output(nodeRefs)]).apply(([id, refs]) =>
            renderNode({ ...nodeSpec(source, plan, refs, source.project), volumeId: id })),
        systemSetBucket: nodeConfig.bucketName,
        tags,
    }));
    return { basicAuth, nodeConfig, nodeLogs, nodeRole, nodes, configSets, nodeRefs };
}

type Prometheus = ReturnType<typeof createPrometheus>;

/** The ALB and its certificate, the Alertmanagers, Grafana and the DNS names. */
function createEdge(ctx: Context, foundation: Foundation, prometheus: Prometheus, alertmanagerConfig: pulumi.Output<string>,
    oidcClientSecret: pulumi.Output<string> | undefined) {
    const { source, env, cloud: { accountId, partition }, tags } = ctx;
    const { network, securityGroups, accessLogs, managedPrometheus } = foundation;
    const prefix = physicalPrefix(source.project, env);
    const sso = env.grafana.sso && oidcClientSecret ? { ...env.grafana.sso, clientSecret: oidcClientSecret } : undefined;
    const certificate = new ValidatedCertificate("platform", { domain: env.domain, cloudflareZoneId: env.cloudflareZoneId, tags });
    const ingress = new LoadBalancer("platform", {
        vpcId: network.vpcId,
        publicSubnetIds: network.publicSubnetIds,
        securityGroupId: securityGroups.albSecurityGroupId,
        certificateArn: certificate.certificateArn,
        officeCidrs: env.officeCidrs,
        prometheusNodes: env.nodes.map((n) => ({ name: n.name, host: hosts.prometheus(env, n.name) })),
        prometheusInstanceIds: prometheus.nodes.map((n) => n.instanceId),
        alertmanagerHosts: env.zones.map((z) => hosts.alertmanager(env, z.index)),
        alertmanagerHost: hosts.alertmanagers(env),
        alertmanagerPort: ALERTMANAGER_PORT,
        grafanaHost: hosts.grafana(env),
        grafanaPort: GRAFANA_PORT,
        grafanaSignIn: sso,
        accessLogsBucketName: accessLogs.bucketName,
        accessLogsReady: accessLogs.policy,
        tags,
    });
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
        configParameterNames: [1, 2, 3].map((member) => parameterPath(source.project, env, `alertmanager/member-${member}/config`)),
        configParameterTier: env.alertmanager.configParameterTier,
        physicalNamePrefix: prefix,
        accountId,
        namespace: alertmanagerNamespace(env),
        region: env.region,
        cpu: env.alertmanager.cpu,
        memory: env.alertmanager.memory,
        logRetentionDays: env.alertmanager.logRetentionDays,
        partition,
        tags,
    }, { dependsOn: ingress.listenerRules });
    const grafanaProvisioning = renderGrafanaFiles(source, managedPrometheus !== undefined);
    const grafanaDatabase = new GrafanaDatabase("grafana-db", {
        vpcId: network.vpcId,
        subnetIds: network.privateSubnetIds,
        clientSecurityGroupId: securityGroups.grafanaSecurityGroupId,
        instanceClass: env.grafana.database.instanceClass,
        allocatedStorageGiB: env.grafana.database.allocatedStorageGiB,
        engineVersion: env.grafana.database.engineVersion,
        backupRetentionDays: env.grafana.database.backupRetentionDays,
        protectData: env.protectData,
        physicalNamePrefix: prefix,
        tags,
    });
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
        database: {
            address: grafanaDatabase.address,
            port: grafanaDatabase.port,
            name: grafanaDatabase.name,
            user: grafanaDatabase.user,
            password: grafanaDatabase.password,
        },
        signIn: sso,
        prometheusPassword: prometheus.basicAuth[0].password.result,
        managedPrometheus: managedPrometheus ? { workspaceArn: managedPrometheus.workspaceArn, prometheusUrl: managedPrometheus.prometheusUrl } : undefined,
        ampPluginVersion: env.grafana.ampPluginVersion,
        physicalNamePrefix: prefix,
        parameterPrefix: parameterPath(source.project, env, "grafana"),
        accountId,
        region: env.region,
        logRetentionDays: env.alertmanager.logRetentionDays,
        partition,
        tags,
    });
    const dns = new CloudflareDns("platform", {
        zoneId: env.cloudflareZoneId,
        hosts: [
            ...env.nodes.map((n) => hosts.prometheus(env, n.name)),
            ...env.zones.map((z) => hosts.alertmanager(env, z.index)),
            hosts.alertmanagers(env),
            hosts.grafana(env),
        ],
        target: ingress.loadBalancerDnsName,
    });
    return { ingress, alertmanagers, grafana, grafanaDatabase, grafanaProvisioning, dns };
}

/** The platform of one stack; `tenants` are those of tenants/ on the stack unless given (a rehearsal's fixtures). */
export async function createPlatform(env: LoadedEnvironment, tenants: Tenant[] = loadTenants(env.stack)): Promise<Platform> {
    checkTenantsOnStack(tenants, env);
    checkPlacement(env, tenants);
    const source: RenderSource = { project: pulumi.getProject(), env, tenants };
    const secrets = readSecrets(env, tenants);
    checkAlertmanagerFits(source, longestPlausibleSecrets(tenants));
    await checkAgainstCloud(env);
    const cloud = await lookUpCloud(env);
    const ctx: Context = {
        source, env, cloud,
        tags: { ...env.tags, stack: env.stack, project: source.project },
        principalsOrAccount: (principals) => principals.length > 0 ? principals : [`arn:${cloud.partition}:iam::${cloud.accountId}:root`],
    };
    const foundation = createFoundation(ctx);
    const prometheus = createPrometheus(ctx, foundation);
    const tenantSecrets = pulumi.output(secrets.tenants) as unknown as pulumi.Output<Record<string, string>>;
    const alertmanagerSecrets = pulumi.all([tenantSecrets, pulumi.all({
        pagerduty: secrets.platform.pagerdutyRoutingKey,
        heartbeat: secrets.platform.heartbeatUrl,
        ticketUrl: secrets.platform.ticketWebhookUrl ?? "",
        smtpUsername: secrets.platform.smtpUsername ?? "",
        smtpPassword: secrets.platform.smtpPassword ?? "",
        slackUrl: secrets.platform.slackWebhookUrl ?? "",
    })]).apply(([tenantValues, values]): AlertmanagerSecretValues => ({ ...(values as Omit<AlertmanagerSecretValues, "tenants">), tenants: tenantValues }));
    const alertmanagerConfig = alertmanagerSecrets.apply((values) => renderAlertmanagerYml(source, values));
    const edge = createEdge(ctx, foundation, prometheus, alertmanagerConfig, secrets.platform.grafanaOidcClientSecret);
    const { network, securityGroups, accessLogs, targets, managedPrometheus, discovery, backup } = foundation;
    const { basicAuth, nodeConfig, nodeLogs, nodeRole, nodes } = prometheus;
    return {
        env, network, accessLogs, securityGroups, targets, nodeConfig, nodeLogs, nodeRole, nodes, basicAuth, alertmanagerConfig,
        managedPrometheus, discovery, backup, tenants, ...edge,
        rendered: { source, configSets: prometheus.configSets, nodes: prometheus.nodeRefs, alertmanagerSecrets },
    };
}

/** The platform of a stack whose nodes hold its expected load: an undersized stack is refused before anything is created. */
export async function sizedPlatform(env: LoadedEnvironment, tenants: Tenant[] = loadTenants(env.stack)): Promise<Platform> {
    const figures = readCapacityFigures();
    checkPlacement(env, tenants, (tenant) => shardsWithRoom(env, figures, tenants.filter((t) => t !== tenant), tenant.expectedSeries ?? 0));
    const sizing = projectSizing(env, figures, tenants);
    checkSizing(env, sizing, figures, tenants);
    return { ...await createPlatform(env, tenants), sizing };
}

/** The stack outputs: what operators and the service broker need; the password only as a secret. */
export function platformOutputs(platform: Platform): Record<string, unknown> {
    return {
        vpcId: platform.network.vpcId,
        // For tenants' safelists: every scrape of a target outside the VPC comes from one of these.
        scraperEgressAddresses: platform.network.natEgressAddresses,
        prometheusNodes: platform.nodes.map((node, i) => ({
            name: node.name,
            shard: platform.env.nodes[i].shard,
            availabilityZone: node.availabilityZone,
            instanceId: node.instanceId,
            privateIp: node.privateIp,
            dataVolumeId: node.dataVolumeId,
        })),
        targetsBucketName: platform.targets.bucketName,
        targetsWriterRoleArn: platform.targets.writerRoleArn,
        tenantTargetsWriterRoleArns: platform.targets.tenantWriterRoleArns,
        targetsWritePolicyArn: platform.targets.writePolicyArn,
        prometheusUrls: platform.env.nodes.map((n) => `https://${hosts.prometheus(platform.env, n.name)}/`),
        alertmanagerUrls: platform.env.zones.map((z) => `https://${hosts.alertmanager(platform.env, z.index)}/`),
        alertmanagerPeerName: platform.alertmanagers.peerName,
        grafanaUrl: `https://${hosts.grafana(platform.env)}/`,
        grafanaAdminPassword: platform.grafana.adminPassword,
        grafanaDatabaseInstance: platform.grafanaDatabase.instanceIdentifier,
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
