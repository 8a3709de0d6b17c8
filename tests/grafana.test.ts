// Grafana: served office-only through the ALB, provisioned (data sources, dashboards) from code,
// its secrets out of the task definition, scraped by the nodes.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { managedPrometheusQueryPolicy } from "../components/grafana";
import { DASHBOARDS, dashboardQueries, DATASOURCE_VARIABLE, renderDashboard } from "../components/dashboards";
import { DASHBOARDS_DIR, grafanaContainer as grafanaContainerDefinition, PROVISIONING_DIR, roleAttributePath } from "../components/render/grafanaConfig";
import * as jmespath from "jmespath";
import { previewPrometheusYml } from "../scripts/lib/plan";
import { appliedRun, inputsOf, named, ofType, optedOutDev, plannedStack, source } from "./helpers/stacks";
import { mockDatabaseAddress, ProgramRun } from "../scripts/lib/offline";
import { requireTool, run } from "./helpers/tools";
import { GRAFANA_PORT } from "../components/ports";
import { publicUrls } from "../infra/rendering";

type Container = { image: string; environment: { name: string; value: string }[]; secrets: { name: string; valueFrom: string }[]; command: string[] };

function grafanaContainer(runResources: ProgramRun): Container {
    return JSON.parse(inputsOf(named(runResources, "aws:ecs/taskDefinition:TaskDefinition", "grafana")).containerDefinitions)[0];
}

/** The provisioning files as the entrypoint writes them: each one gunzipped from its variable. */
function unpack(container: Container): string[] {
    return container.environment.filter((e) => e.name.startsWith("GRAFANA_PROVISIONING_"))
        .map((e) => zlib.gunzipSync(Buffer.from(e.value, "base64")).toString("utf8"));
}

describe("Grafana", function () {
    this.timeout(120000);

    it("is served at grafana.<domain> through the ALB, from the office CIDRs where access is office, and named in DNS", async () => {
        const { run: program, env } = await plannedStack("staging");
        assert.equal(env.grafana.access, "office");
        const group = named(program, "aws:lb/targetGroup:TargetGroup", "platform-grafana");
        assert.deepEqual([inputsOf(group).port, inputsOf(group).targetType, inputsOf(group).tags["platform:access"], inputsOf(group).healthCheck.path],
            [GRAFANA_PORT, "ip", "office-only", "/api/health"]);
        const rule = inputsOf(named(program, "aws:lb/listenerRule:ListenerRule", "platform-grafana"));
        assert.deepEqual(rule.conditions, [{ hostHeader: { values: ["grafana.staging.monitoring.example.net"] } }, { sourceIp: { values: env.officeCidrs } }]);
        assert.deepEqual(rule.actions.map((a: { type: string }) => a.type), ["forward"]);
        const service = named(program, "aws:ecs/service:Service", "grafana");
        assert.equal(inputsOf(service).loadBalancers[0].containerPort, GRAFANA_PORT);
        assert.equal(source(program, service, "loadBalancers").name, "platform-grafana");
        assert.deepEqual([inputsOf(service).desiredCount, inputsOf(service).launchType], [1, "FARGATE"]);
        assert.ok(ofType(program, "cloudflare:index/dnsRecord:DnsRecord").some((r) => inputsOf(r).name === "grafana.staging.monitoring.example.net"));
        assert.equal(ofType(program, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").filter((r) => r.name.includes("identity-provider")).length, 0);
    });

    it("is served from anywhere where access is sso, after the ALB has signed the visitor in with the stack's provider", async () => {
        const { run: program, env } = await plannedStack("dev");
        const sso = env.grafana.sso!;
        assert.equal(env.grafana.access, "sso");
        const group = named(program, "aws:lb/targetGroup:TargetGroup", "platform-grafana");
        assert.equal(inputsOf(group).tags["platform:access"], "sign-in");
        const rule = inputsOf(named(program, "aws:lb/listenerRule:ListenerRule", "platform-grafana"));
        assert.deepEqual(rule.conditions, [{ hostHeader: { values: ["grafana.dev.monitoring.example.net"] } }], "no source-ip condition: from anywhere");
        assert.deepEqual(rule.actions.map((a: { type: string; order: number }) => [a.order, a.type]), [[1, "authenticate-oidc"], [2, "forward"]]);
        const { clientSecret, ...oidc } = rule.actions[0].authenticateOidc;
        assert.deepEqual(oidc, {
            issuer: sso.issuer, authorizationEndpoint: sso.authorizationEndpoint, tokenEndpoint: sso.tokenEndpoint, userInfoEndpoint: sso.userInfoEndpoint,
            clientId: sso.clientId, scope: "openid email profile groups", sessionTimeout: 43200, onUnauthenticatedRequest: "authenticate",
        });
        assert.equal(clientSecret, "placeholder-dev-grafanaOidcClientSecret", "the stack's secret grafanaOidcClientSecret (an offline placeholder here)");
        // The ALB calls the provider's token and user-info endpoints itself.
        const egress = inputsOf(named(program, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "platform-alb-to-identity-provider"));
        assert.deepEqual([egress.ipProtocol, egress.fromPort, egress.toPort, egress.cidrIpv4], ["tcp", 443, 443, "0.0.0.0/0"]);
        // The nodes' probe expects the ALB's redirect to the provider, not Grafana.
        const probes = (platform: Awaited<ReturnType<typeof plannedStack>>["platform"]) => publicUrls(platform.env).filter((t) => t.url.startsWith("https://grafana."));
        assert.deepEqual(probes((await plannedStack("dev")).platform).map((t) => t.module), ["sign_in"]);
        assert.deepEqual(probes((await plannedStack("staging")).platform).map((t) => t.module), ["office_only"]);
    });

    it("runs the pinned image; its secrets (passwords, secret key, database and OIDC client secrets) come from SSM, never from the task definition", async () => {
        const { platform } = await plannedStack("dev");
        const program = await appliedRun("dev");
        const container = grafanaContainer(program);
        assert.equal(container.image, "docker.io/grafana/grafana:13.1.2");
        assert.equal((container as Record<string, unknown>).healthCheck, undefined, "health is the target group's /api/health, whatever tools the image has");
        assert.deepEqual(container.secrets.map((s) => [s.name, s.valueFrom]), [
            ["GF_SECURITY_ADMIN_PASSWORD", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/admin-password"],
            ["PROMETHEUS_BASIC_AUTH_PASSWORD", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/prometheus-password"],
            ["GF_SECURITY_SECRET_KEY", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/secret-key"],
            ["GF_DATABASE_PASSWORD", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/database-password"],
            ["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/oidc-client-secret"],
        ]);
        assert.deepEqual(container.environment.filter((e) => /PASSWORD|SECRET/.test(e.name)), [], "no secret's value in the task definition");
        // The secret key is the stack's own random secret, not Grafana's public default.
        const secretKey = named(program, "aws:ssm/parameter:Parameter", "grafana-secretKey");
        assert.equal(source(program, secretKey, "value").name, "grafana-secret-key");
        assert.deepEqual(inputsOf(named(program, "random:index/randomPassword:RandomPassword", "grafana-secret-key")), { length: 48, special: false });
        // The definition is built from nothing a password comes from.
        const definition = named(program, "aws:ecs/taskDefinition:TaskDefinition", "grafana");
        const fromPasswords = (definition.propertyDependencies.containerDefinitions ?? [])
            .filter((urn) => urn.includes("random:index/randomPassword:RandomPassword"));
        assert.deepEqual(fromPasswords, []);
        // The data sources' password parameter holds the first basic-auth user's password.
        const parameter = named(program, "aws:ssm/parameter:Parameter", "grafana-prometheusPassword");
        assert.equal(source(program, parameter, "value").name, `basic-auth-${platform.env.ingress.basicAuthUsers[0]}`);
        // A changed password starts a new task: the service redeploys when either parameter's version changes.
        const service = named(program, "aws:ecs/service:Service", "grafana");
        assert.equal(inputsOf(service).forceNewDeployment, true);
        assert.deepEqual(service.propertyDependencies.triggers.map((urn) => urn.replace(/^.*::/, "")).sort(), ["grafana-adminPassword", "grafana-databasePassword", "grafana-oidcClientSecret", "grafana-prometheusPassword", "grafana-secretKey"]);
        const outputs = program.outputs as Record<string, any>;
        assert.equal(outputs.grafanaUrl, "https://grafana.dev.monitoring.example.net/");
        assert.equal(await pulumi.isSecret(outputs.grafanaAdminPassword), true, "the admin password is exported as a secret only");
    });

    it("provisions every node's Prometheus through its nginx with basic auth, and AMP through its SigV4 plugin, the default across shards", async () => {
        // dev (two shards), staging (one shard, AMP) and dev opted out of AMP altogether.
        for (const [stack, planned] of [["dev", plannedStack("dev")], ["staging", plannedStack("staging")], ["dev without remote write", optedOutDev()]] as const) {
            const { run: program, env, platform } = await planned;
            const files = platform.grafanaProvisioning;
            const sources = (yaml.load(files[`${PROVISIONING_DIR}/datasources/platform.yaml`]) as any).datasources;
            const sharded = env.prometheus.shards > 1;
            assert.deepEqual(sources.slice(0, env.nodes.length).map((s: any) => [s.uid, s.url, s.basicAuthUser, s.secureJsonData.basicAuthPassword, s.isDefault]),
                env.nodes.map((n, i) => [n.name, `http://${n.privateIp}:80`, env.ingress.basicAuthUsers[0], "${PROMETHEUS_BASIC_AUTH_PASSWORD}", i === 0 && !sharded]));
            const amp = sources.find((s: any) => s.uid === "amp");
            assert.equal(sources.filter((s: any) => s.isDefault).length, 1, "one default data source");
            assert.equal(amp?.isDefault === true, sharded, "AMP, which sees every shard, is the default where there are several");
            const policies = ofType(program, "aws:iam/rolePolicy:RolePolicy").filter((p) => p.name === "grafana-query-amp");
            if (env.remoteWrite.enabled) {
                // Grafana 13's core Prometheus data source has no SigV4: AMP goes through the plugin.
                assert.equal(amp.type, "grafana-amazonprometheus-datasource");
                assert.deepEqual(amp.jsonData, { httpMethod: "POST", sigV4Auth: true, sigV4AuthType: "default", sigV4Region: env.region, sigv4Service: "aps" });
                assert.equal(amp.url, "${AMP_PROMETHEUS_URL}", "Grafana reads the workspace's URL from its environment");
                // The workspace's ARN is known after apply: the policy is built from that workspace alone.
                assert.deepEqual(policies.map((p) => source(program, p, "policy").name), ["long-term-store"]);
                assert.deepEqual(managedPrometheusQueryPolicy("arn:aws:aps:eu-west-1:123456789012:workspace/ws-1").Statement, [{
                    Effect: "Allow",
                    Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"],
                    Resource: ["arn:aws:aps:eu-west-1:123456789012:workspace/ws-1"],
                }]);
                const definition = named(program, "aws:ecs/taskDefinition:TaskDefinition", "grafana");
                assert.ok(definition.propertyDependencies.containerDefinitions.some((urn) => urn.endsWith("::long-term-store")), "the task gets the workspace's URL");
                const container = grafanaContainerDefinition({
                    image: "docker.io/grafana/grafana:13.1.2", rootUrl: "https://grafana.example.net/", files: {},
                    secretArns: { adminPassword: "arn:a", prometheusPassword: "arn:b", secretKey: "arn:c", databasePassword: "arn:d" },
                    database: { host: "db.example", port: 5432, name: "grafana", user: "grafana" }, managedPrometheusUrl: "https://aps.example/ws/",
                    ampPluginVersion: env.grafana.ampPluginVersion, logGroup: "/ecs/grafana", region: "eu-west-1",
                }) as Container;
                assert.deepEqual(container.environment.filter((e) => /SIGV4|AMP|PLUGINS/.test(e.name)), [
                    { name: "AMP_PROMETHEUS_URL", value: "https://aps.example/ws/" },
                    { name: "GF_PLUGINS_PREINSTALL_SYNC", value: "grafana-amazonprometheus-datasource@3.0.0" },
                ]);
            } else {
                assert.equal(amp, undefined, `${stack} has no AMP data source`);
                assert.deepEqual(policies, [], `${stack}'s Grafana may query no workspace`);
            }
        }
    });

    it("reaches the nodes' nginx, and is reached by the ALB and scraped by the nodes, on its port only", async () => {
        const { run: program } = await plannedStack("dev");
        const ingress = (name: string) => {
            const rule = named(program, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name);
            return [inputsOf(rule).fromPort, source(program, rule, "securityGroupId").name, source(program, rule, "referencedSecurityGroupId").name];
        };
        assert.deepEqual(ingress("platform-nodes-from-grafana"), [80, "platform-prometheus", "platform-grafana"]);
        assert.deepEqual(ingress("platform-grafana-from-alb"), [GRAFANA_PORT, "platform-grafana", "platform-alb"]);
        assert.deepEqual(ingress("platform-grafana-from-nodes"), [GRAFANA_PORT, "platform-grafana", "platform-prometheus"]);
    });

    it("is scraped where Cloud Map names its task, as the job RE_Observe_Grafana_Down watches", async () => {
        const { platform } = await plannedStack("dev");
        const config = yaml.load(await previewPrometheusYml(platform, platform.nodes[0])) as any;
        const job = config.scrape_configs.find((j: any) => j.job_name === "grafana");
        assert.deepEqual(job.dns_sd_configs, [{ names: ["grafana.dev.monitoring.internal"], type: "A", port: GRAFANA_PORT, refresh_interval: "30s" }]);
    });

    it("writes every provisioning file as rendered when its entrypoint runs, then starts Grafana", async function () {
        const shellcheck = requireTool(this, "shellcheck");
        const program = await appliedRun("dev");
        const container = grafanaContainer(program);
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "grafana-entrypoint-"));
        try {
            const script = container.command[0];
            assert.equal(run(shellcheck, ["-s", "sh", "-"], { input: script }).status, 0, run(shellcheck, ["-s", "sh", "-"], { input: script }).stdout);
            // The same script, its paths moved under a temp dir and Grafana's start script stood in for.
            const local = script.replaceAll("/etc/grafana/", `${work}/etc/grafana/`).replaceAll("/var/lib/grafana/", `${work}/var/lib/grafana/`)
                .replace("exec /run.sh", `echo started > ${work}/started`);
            const env = Object.fromEntries(container.environment.map((e) => [e.name, e.value]));
            const ran = spawnSync("sh", ["-c", local], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
            assert.equal(ran.status, 0, ran.stderr);
            assert.equal(fs.readFileSync(path.join(work, "started"), "utf8"), "started\n");
            const written = unpack(container);
            const dashboards = (fs.readdirSync(path.join(work, DASHBOARDS_DIR.slice(1)), { recursive: true }) as string[])
                .filter((file) => file.endsWith(".json")).sort();
            assert.deepEqual(dashboards, [
                "folder-checkout-web/checkout-web-requests.json", "folder-checkout-web/tenant-checkout-web.json", "folder-orders-queue/tenant-orders-queue.json",
                ...DASHBOARDS.map((d) => `${d.uid}.json`),
            ].sort());
            const onDisk = [`${PROVISIONING_DIR}/dashboards/platform.yaml`, `${PROVISIONING_DIR}/datasources/platform.yaml`, ...dashboards.map((d) => `${DASHBOARDS_DIR}/${d}`)]
                .map((file) => fs.readFileSync(path.join(work, file.slice(1)), "utf8"));
            assert.deepEqual(onDisk.sort(), written.sort());
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("has three dashboards, every panel querying the chosen Prometheus through the data source variable", () => {
        assert.deepEqual(DASHBOARDS.map((d) => d.title), ["Platform SLI", "Prometheus servers", "Prometheus nodes"]);
        for (const spec of DASHBOARDS) {
            const json = renderDashboard(spec) as any;
            assert.equal(json.uid, spec.uid);
            assert.deepEqual(json.templating.list.map((v: any) => [v.name, v.type, v.query]), [[DATASOURCE_VARIABLE, "datasource", "prometheus"]]);
            const panels = json.panels.filter((p: any) => p.type !== "row");
            assert.equal(panels.length, spec.rows.flatMap((r) => r.panels).length);
            for (const panel of panels) {
                assert.equal(panel.type, "timeseries");
                assert.deepEqual(panel.datasource, { type: "prometheus", uid: `\${${DATASOURCE_VARIABLE}}` });
                assert.ok(panel.targets.length > 0 && panel.targets.every((t: any) => t.expr && t.datasource.uid === `\${${DATASOURCE_VARIABLE}}`), panel.title);
            }
            assert.equal(dashboardQueries(json).length, spec.rows.flatMap((r) => r.panels).flatMap((p) => p.queries).length);
        }
    });

    it("gives each tenant on the stack a folder, with the platform's overview of its targets and alerts and the dashboards it ships", async () => {
        const { platform } = await plannedStack("dev");
        const files = platform.grafanaProvisioning;
        const providers = (yaml.load(files[`${PROVISIONING_DIR}/dashboards/platform.yaml`]) as { providers: Record<string, any>[] }).providers;
        assert.deepEqual(providers.map((p) => [p.name, p.folder, p.folderUid, p.options.path, p.allowUiUpdates]), [
            ["platform", "Platform", undefined, DASHBOARDS_DIR, false],
            ["folder-checkout-web", "checkout-web", "folder-checkout-web", `${DASHBOARDS_DIR}/folder-checkout-web`, false],
            ["folder-orders-queue", "orders-queue", "folder-orders-queue", `${DASHBOARDS_DIR}/folder-orders-queue`, false],
        ]);
        const overview = JSON.parse(files[`${DASHBOARDS_DIR}/folder-orders-queue/tenant-orders-queue.json`]);
        assert.equal(overview.title, "orders-queue: targets and alerts");
        const queries = dashboardQueries(overview).map((query) => query.expr);
        assert.ok(queries.length >= 4 && queries.every((expr) => expr.includes('tenant="orders-queue"')), queries.join("\n"));
        const shipped = JSON.parse(files[`${DASHBOARDS_DIR}/folder-checkout-web/checkout-web-requests.json`]);
        assert.deepEqual(shipped, JSON.parse(fs.readFileSync("tenants/checkout-web/dashboards/checkout-web-requests.json", "utf8")), "provisioned as the tenant wrote it");
        // A stack without tenants has the platform's folder only.
        const staging = (await plannedStack("staging")).platform.grafanaProvisioning;
        assert.deepEqual((yaml.load(staging[`${PROVISIONING_DIR}/dashboards/platform.yaml`]) as { providers: { name: string }[] }).providers.map((p) => p.name), ["platform"]);
    });

    it("gives a signed-in user the role their provider groups name, Viewer otherwise, as JMESPath evaluates the rendered expression", () => {
        // Grafana evaluates role_attribute_path with go-jmespath; the jmespath package implements the same specification.
        const expression = roleAttributePath({ groupsClaim: "groups", adminGroups: ["observe-admins"], editorGroups: ["observe-engineers", "payments-devs"] });
        const roleOf = (claims: Record<string, unknown>) => jmespath.search(claims, expression);
        assert.equal(roleOf({ groups: ["observe-admins"] }), "Admin");
        assert.equal(roleOf({ groups: ["payments-devs", "observe-admins"] }), "Admin", "the higher role wins");
        assert.equal(roleOf({ groups: ["payments-devs"] }), "Editor");
        assert.equal(roleOf({ groups: ["observe-engineers"] }), "Editor");
        assert.equal(roleOf({ groups: ["payments-viewers"] }), "Viewer");
        assert.equal(roleOf({ groups: [] }), "Viewer");
        assert.equal(roleOf({ email: "someone@example.net" }), "Viewer", "no groups claim at all");
        assert.equal(roleOf({ groups: ["observe-admins-old"] }), "Viewer", "a group is matched whole, not by prefix");
        const noRoles = roleAttributePath({ groupsClaim: "roles", adminGroups: [], editorGroups: [] });
        assert.equal(jmespath.search({ roles: ["anything"] }, noRoles), "Viewer");
    });

    it("signs people in with the authorization code flow, complete at the ALB and in Grafana, with no other way in for people", async () => {
        const program = await appliedRun("dev");
        const { env } = await plannedStack("dev");
        const settings = Object.fromEntries(grafanaContainer(program).environment.map((e) => [e.name, e.value]));
        const secrets = grafanaContainer(program).secrets.map((s) => s.name);
        // The code flow: where to send the user, where to trade the code, where to read the user, who Grafana is.
        for (const key of ["AUTH_URL", "TOKEN_URL", "API_URL", "CLIENT_ID"]) {
            assert.match(settings[`GF_AUTH_GENERIC_OAUTH_${key}`] ?? "", key === "CLIENT_ID" ? /^\S+$/ : /^https:\/\//, key);
        }
        assert.ok(secrets.includes("GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"));
        assert.ok(settings.GF_AUTH_GENERIC_OAUTH_SCOPES.split(" ").includes("openid"));
        // The provider sends people back to <root_url>login/generic_oauth: the root URL must be the public one.
        assert.equal(settings.GF_SERVER_ROOT_URL, "https://grafana.dev.monitoring.example.net/");
        assert.deepEqual([settings.GF_AUTH_GENERIC_OAUTH_ENABLED, settings.GF_AUTH_DISABLE_LOGIN_FORM, settings.GF_AUTH_ANONYMOUS_ENABLED,
            settings.GF_USERS_ALLOW_SIGN_UP, settings.GF_AUTH_GENERIC_OAUTH_USE_PKCE], ["true", "true", "false", "false", "true"]);
        assert.equal(settings.GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH, roleAttributePath(env.grafana.sso!));
        // The ALB's own sign-in has every field its action needs, from the same provider.
        const rule = inputsOf(named(program, "aws:lb/listenerRule:ListenerRule", "platform-grafana"));
        const oidc = rule.actions.find((a: { type: string }) => a.type === "authenticate-oidc").authenticateOidc;
        for (const field of ["issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "clientId", "clientSecret"]) {
            assert.ok(typeof oidc[field] === "string" && oidc[field].length > 0, field);
        }
        assert.equal(oidc.authorizationEndpoint, settings.GF_AUTH_GENERIC_OAUTH_AUTH_URL);
        assert.equal(oidc.clientId, settings.GF_AUTH_GENERIC_OAUTH_CLIENT_ID);
        // An office stack has no provider: no OAuth settings and no client secret.
        const staging = grafanaContainer(await appliedRun("staging"));
        assert.deepEqual(staging.environment.filter((e) => e.name.startsWith("GF_AUTH_GENERIC_OAUTH") || e.name === "GF_AUTH_DISABLE_LOGIN_FORM"), []);
        assert.ok(!staging.secrets.some((s) => s.name === "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"));
    });

    it("keeps its state in the stack's PostgreSQL, over TLS, with the password from SSM", async () => {
        for (const stack of ["dev", "production"]) {
            const program = await appliedRun(stack);
            const instance = named(program, "aws:rds/instance:Instance", "grafana-db");
            const settings = Object.fromEntries(grafanaContainer(program).environment.map((e) => [e.name, e.value]));
            assert.deepEqual([settings.GF_DATABASE_TYPE, settings.GF_DATABASE_NAME, settings.GF_DATABASE_USER, settings.GF_DATABASE_SSL_MODE],
                ["postgres", inputsOf(instance).dbName, inputsOf(instance).username, "require"]);
            // The instance's address (the offline engine's stand-in for what RDS makes of the identifier).
            assert.equal(settings.GF_DATABASE_HOST, `${mockDatabaseAddress(inputsOf(instance).identifier, "eu-west-1")}:5432`);
            const definition = named(program, "aws:ecs/taskDefinition:TaskDefinition", "grafana");
            assert.ok(definition.propertyDependencies.containerDefinitions.some((urn) => urn.endsWith("GrafanaDatabase$aws:rds/instance:Instance::grafana-db")),
                "the host is the instance's address");
            const parameter = named(program, "aws:ssm/parameter:Parameter", "grafana-databasePassword");
            assert.equal(source(program, parameter, "value").name, "grafana-db-password");
            assert.equal(source(program, instance, "password").name, "grafana-db-password", "the instance and Grafana share one password");
            const group = inputsOf(named(program, "aws:rds/parameterGroup:ParameterGroup", "grafana-db"));
            assert.deepEqual(group.parameters, [{ name: "rds.force_ssl", value: "1" }]);
            assert.equal(group.family, `postgres${inputsOf(instance).engineVersion}`);
            const protect = stack === "production";
            assert.deepEqual([inputsOf(instance).multiAz, inputsOf(instance).deletionProtection, inputsOf(instance).skipFinalSnapshot, inputsOf(instance).storageEncrypted,
                inputsOf(instance).publiclyAccessible], [protect, protect, !protect, true, false], stack);
            // Only Grafana's tasks reach it.
            const ingress = ofType(program, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.name === "grafana-db-from-grafana");
            assert.equal(ingress.length, 1);
            assert.equal(source(program, ingress[0], "referencedSecurityGroupId").name, "platform-grafana");
            assert.equal(inputsOf(ingress[0]).fromPort, 5432);
        }
    });

    it("is refused a provisioning set the task definition cannot carry", () => {
        const big = { "/var/lib/grafana/dashboards/big.json": crypto.randomBytes(40000).toString("base64") };
        assert.throws(() => grafanaContainerDefinition({
            image: "docker.io/grafana/grafana:13.1.2", rootUrl: "https://grafana.example.net/", files: big,
            secretArns: { adminPassword: "arn:aws:ssm:::parameter/a", prometheusPassword: "arn:aws:ssm:::parameter/b", secretKey: "arn:aws:ssm:::parameter/c", databasePassword: "arn:aws:ssm:::parameter/d" },
            database: { host: "db.example", port: 5432, name: "grafana", user: "grafana" },
            ampPluginVersion: "3.0.0", logGroup: "/ecs/grafana", region: "eu-west-1",
        }), /Grafana's provisioning files take \d+ bytes packed, over the 32768 the task definition can carry/);
    });
});
