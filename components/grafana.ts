import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { assertPinnedImage, SINGLE_TASK_SERVICE, ssmParameterArn, taskExecution } from "./ecsTask";
import { serviceTrustPolicy } from "./iamDocuments";
import { GRAFANA_SECRET_ENV, grafanaContainer, grafanaEnvironment, GrafanaSecret, GrafanaSignIn } from "./render/grafanaConfig";
import { GRAFANA_PORT } from "./ports";

export interface GrafanaArgs {
    readonly clusterArn: pulumi.Input<string>;
    /** Private subnets, one per zone: ECS places the one task in any of them. */
    readonly subnetIds: pulumi.Input<string>[];
    readonly securityGroupId: pulumi.Input<string>;
    /** The ALB target group (type ip, office-only) for grafana.<domain>, and the rules that use it. */
    readonly targetGroupArn: pulumi.Input<string>;
    readonly listenerRules: pulumi.Resource[];
    /** Cloud Map namespace: Grafana registers as grafana.<namespace>, where Prometheus scrapes it. */
    readonly namespaceId: pulumi.Input<string>;
    /** Image with a pinned tag, e.g. grafana/grafana:13.1.2. */
    readonly image: string;
    readonly rootUrl: string;
    /** Provisioning files by path (data sources, dashboards): no secrets, those come from SSM. */
    readonly files: pulumi.Input<Record<string, string>>;
    /** Where Grafana keeps users, teams, folders and dashboards made in the UI (GrafanaDatabase). */
    readonly database: {
        readonly address: pulumi.Input<string>;
        readonly port: number;
        readonly name: string;
        readonly user: string;
        readonly password: pulumi.Input<string>;
    };
    /** The provider people sign in with, and its client secret; absent: the admin user is the one login. */
    readonly signIn?: GrafanaSignIn & { readonly clientSecret: pulumi.Input<string> };
    /** The password of the basic-auth user the data sources log in to the nodes' nginx with. */
    readonly prometheusPassword: pulumi.Input<string>;
    /** The stack's AMP workspace, queried with SigV4 through the task role. */
    readonly managedPrometheus?: { workspaceArn: pulumi.Input<string>; prometheusUrl: pulumi.Input<string> };
    /** The version of the AMP data source plugin Grafana installs at start (with a workspace only). */
    readonly ampPluginVersion: string;
    /** Prefix of the names that must be unique in the account and region, e.g. <project>-<stack>. */
    readonly physicalNamePrefix: string;
    /** Where its SSM parameters go, e.g. /<project>/<stack>/grafana (beside Alertmanager's). */
    readonly parameterPrefix: string;
    readonly accountId: string;
    readonly region: string;
    readonly logRetentionDays: number;
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

export const GRAFANA_SERVICE_NAME = "grafana";

/** What the task role may ask of one AMP workspace: queries only. */
export function managedPrometheusQueryPolicy(workspaceArn: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [{
            Effect: "Allow",
            Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"],
            Resource: [workspaceArn],
        }],
    };
}

/** What of the sign-in goes into the task definition: everything but the client secret, which comes from SSM. */
function signInSettings({ clientSecret: _clientSecret, ...settings }: GrafanaSignIn & { clientSecret: unknown }): GrafanaSignIn {
    return settings;
}

/**
 * Grafana on ECS Fargate, one task: data sources and dashboards provisioned from the task
 * definition, secrets from SSM SecureStrings, and what people make in the UI (users, teams,
 * folders, dashboards) kept in its PostgreSQL database, so a replaced task loses nothing. Served
 * through the ALB (office-only, or signed in) and scraped through Cloud Map.
 */
export class Grafana extends pulumi.ComponentResource {
    readonly adminPassword: pulumi.Output<string>;
    readonly serviceName: pulumi.Output<string>;
    /**
     * What the task starts with, as the plan shows it: each setting's value, and each secret's
     * variable with its SSM parameter. Values made by other resources (the database's address,
     * the AMP workspace's URL) are named, not known, until they exist.
     */
    readonly plannedSettings: Readonly<Record<string, string>>;

    constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:observability:Grafana", name, {}, opts);
        assertPinnedImage(`Grafana ${name}`, args.image);
        const parent = { parent: this };
        const partition = args.partition ?? "aws";
        const tags = { ...args.tags };

        const admin = new random.RandomPassword(`${name}-admin`, { length: 32, special: false }, parent);
        const secretKey = new random.RandomPassword(`${name}-secret-key`, { length: 48, special: false }, parent);
        const parameterName = (suffix: string) => `${args.parameterPrefix}/${suffix}`;
        const secrets: Record<string, { name: string; value: pulumi.Output<string>; description: string }> = {
            adminPassword: { name: parameterName("admin-password"), value: admin.result, description: "Grafana's admin password" },
            prometheusPassword: { name: parameterName("prometheus-password"), value: pulumi.output(args.prometheusPassword), description: "Basic-auth password Grafana's data sources use on the nodes" },
            secretKey: { name: parameterName("secret-key"), value: secretKey.result, description: "Grafana's secret key, encrypting the data source secrets it stores" },
            databasePassword: { name: parameterName("database-password"), value: pulumi.output(args.database.password), description: "Password of Grafana's database user" },
            ...(args.signIn ? {
                oidcClientSecret: { name: parameterName("oidc-client-secret"), value: pulumi.output(args.signIn.clientSecret), description: "Client secret of Grafana's application at the OpenID Connect provider" },
            } : {}),
        };
        const parameters = Object.entries(secrets).map(([key, secret]) => new aws.ssm.Parameter(`${name}-${key}`, {
            name: secret.name,
            description: secret.description,
            type: "SecureString",
            value: pulumi.secret(secret.value),
            tags,
        }, parent));
        const parameterArn = (parameter: string) => ssmParameterArn(partition, args.region, args.accountId, parameter);
        const secretArns = Object.fromEntries(Object.entries(secrets).map(([key, secret]) => [key, parameterArn(secret.name)])) as
            Record<Exclude<GrafanaSecret, "oidcClientSecret">, string> & { oidcClientSecret?: string };
        const { logGroupName, executionRole } = taskExecution(name, {
            description: "ECS pulls the Grafana image, reads its secrets, writes its logs",
            physicalNamePrefix: args.physicalNamePrefix,
            logRetentionDays: args.logRetentionDays,
            parameterArns: Object.values(secrets).map((s) => parameterArn(s.name)),
            readPolicyName: `${name}-read-secrets`,
            partition,
            tags,
        }, this);
        const taskRole = new aws.iam.Role(`${name}-task`, {
            description: "Grafana itself: queries the stack's AMP workspace, nothing else",
            assumeRolePolicy: serviceTrustPolicy("ecs-tasks.amazonaws.com"),
            tags,
        }, parent);
        if (args.managedPrometheus) {
            new aws.iam.RolePolicy(`${name}-query-amp`, {
                role: taskRole.name,
                policy: pulumi.output(args.managedPrometheus.workspaceArn).apply((arn) => JSON.stringify(managedPrometheusQueryPolicy(arn))),
            }, parent);
        }

        const discovery = new aws.servicediscovery.Service(name, {
            name: GRAFANA_SERVICE_NAME,
            namespaceId: args.namespaceId,
            dnsConfig: { namespaceId: args.namespaceId, dnsRecords: [{ type: "A", ttl: 10 }], routingPolicy: "MULTIVALUE" },
            healthCheckCustomConfig: {},
            forceDestroy: true,
            tags,
        }, parent);
        const taskDefinition = new aws.ecs.TaskDefinition(name, {
            family: `${args.physicalNamePrefix}-${name}`,
            cpu: "512",
            memory: "1024",
            networkMode: "awsvpc",
            requiresCompatibilities: ["FARGATE"],
            runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
            executionRoleArn: executionRole.arn,
            taskRoleArn: taskRole.arn,
            containerDefinitions: pulumi.all([args.files, args.managedPrometheus?.prometheusUrl, args.database.address]).apply(([files, ampUrl, databaseHost]) => JSON.stringify([grafanaContainer({
                image: args.image,
                rootUrl: args.rootUrl,
                files,
                secretArns,
                database: { host: databaseHost, port: args.database.port, name: args.database.name, user: args.database.user },
                signIn: args.signIn && signInSettings(args.signIn),
                managedPrometheusUrl: ampUrl,
                ampPluginVersion: args.ampPluginVersion,
                logGroup: logGroupName,
                region: args.region,
            })])),
            tags,
        }, { parent: this, dependsOn: parameters });
        const service = new aws.ecs.Service(name, {
            cluster: args.clusterArn,
            taskDefinition: taskDefinition.arn,
            ...SINGLE_TASK_SERVICE,
            healthCheckGracePeriodSeconds: 90,
            networkConfiguration: { subnets: args.subnetIds, securityGroups: [args.securityGroupId], assignPublicIp: false },
            serviceRegistries: { registryArn: discovery.arn },
            loadBalancers: [{ targetGroupArn: args.targetGroupArn, containerName: "grafana", containerPort: GRAFANA_PORT }],
            // A task reads its secrets when it starts: a changed password (a basic-auth rotation)
            // starts a new task, by the parameters' versions rather than their values.
            forceNewDeployment: true,
            triggers: { secrets: pulumi.all(parameters.map((p) => p.version)).apply((versions) => versions.join("-")) },
            tags,
        }, { parent: this, dependsOn: args.listenerRules });

        const planned = (value: pulumi.Input<string> | undefined, what: string) => typeof value === "string" ? value : `<${what}>`;
        this.plannedSettings = {
            ...grafanaEnvironment({
                rootUrl: args.rootUrl,
                database: { host: planned(args.database.address, "the database's address"), port: args.database.port, name: args.database.name, user: args.database.user },
                signIn: args.signIn && signInSettings(args.signIn),
                managedPrometheusUrl: args.managedPrometheus && planned(args.managedPrometheus.prometheusUrl, "the AMP workspace's URL"),
                ampPluginVersion: args.ampPluginVersion,
            }),
            ...Object.fromEntries(Object.entries(secrets).map(([key, secret]) => [GRAFANA_SECRET_ENV[key as GrafanaSecret], `<SSM ${secret.name}>`])),
        };
        this.adminPassword = pulumi.secret(admin.result);
        this.serviceName = service.name;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}
