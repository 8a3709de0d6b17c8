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
import { DASHBOARDS_DIR, grafanaContainer as grafanaContainerDefinition, PROVISIONING_DIR } from "../components/render/grafanaConfig";
import { previewPrometheusYml } from "../scripts/lib/plan";
import { inputsOf, named, ofType, plannedStack, source } from "./helpers/stacks";
import { requireTool, run } from "./helpers/tools";
import { GRAFANA_PORT } from "../components/ports";

type Container = { image: string; environment: { name: string; value: string }[]; secrets: { name: string; valueFrom: string }[]; command: string[] };

function grafanaContainer(runResources: Awaited<ReturnType<typeof plannedStack>>["run"]): Container {
    return JSON.parse(inputsOf(named(runResources, "aws:ecs/taskDefinition:TaskDefinition", "grafana")).containerDefinitions)[0];
}

/** The provisioning files as the entrypoint writes them: each one gunzipped from its variable. */
function unpack(container: Container): string[] {
    return container.environment.filter((e) => e.name.startsWith("GRAFANA_PROVISIONING_"))
        .map((e) => zlib.gunzipSync(Buffer.from(e.value, "base64")).toString("utf8"));
}

describe("Grafana", function () {
    this.timeout(120000);

    it("is served at grafana.<domain> through the ALB, from the office CIDRs only, and named in DNS", async () => {
        const { run: program, env } = await plannedStack("dev");
        const group = named(program, "aws:lb/targetGroup:TargetGroup", "platform-grafana");
        assert.deepEqual([inputsOf(group).port, inputsOf(group).targetType, inputsOf(group).tags["platform:access"], inputsOf(group).healthCheck.path],
            [GRAFANA_PORT, "ip", "office-only", "/api/health"]);
        const rule = inputsOf(named(program, "aws:lb/listenerRule:ListenerRule", "platform-grafana"));
        assert.deepEqual(rule.conditions, [{ hostHeader: { values: ["grafana.dev.monitoring.example.net"] } }, { sourceIp: { values: env.officeCidrs } }]);
        const service = named(program, "aws:ecs/service:Service", "grafana");
        assert.equal(inputsOf(service).loadBalancers[0].containerPort, GRAFANA_PORT);
        assert.equal(source(program, service, "loadBalancers").name, "platform-grafana");
        assert.deepEqual([inputsOf(service).desiredCount, inputsOf(service).launchType], [1, "FARGATE"]);
        assert.ok(ofType(program, "cloudflare:index/dnsRecord:DnsRecord").some((r) => inputsOf(r).name === "grafana.dev.monitoring.example.net"));
    });

    it("runs the pinned image; its admin and data-source passwords and its secret key come from SSM, never from the task definition", async () => {
        const { run: program, platform } = await plannedStack("dev");
        const container = grafanaContainer(program);
        assert.equal(container.image, "docker.io/grafana/grafana:13.1.2");
        assert.equal((container as Record<string, unknown>).healthCheck, undefined, "health is the target group's /api/health, whatever tools the image has");
        assert.deepEqual(container.secrets.map((s) => [s.name, s.valueFrom]), [
            ["GF_SECURITY_ADMIN_PASSWORD", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/admin-password"],
            ["PROMETHEUS_BASIC_AUTH_PASSWORD", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/prometheus-password"],
            ["GF_SECURITY_SECRET_KEY", "arn:aws:ssm:eu-west-1:123456789012:parameter/prometheus-platform/dev/grafana/secret-key"],
        ]);
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
        assert.deepEqual(service.propertyDependencies.triggers.map((urn) => urn.replace(/^.*::/, "")).sort(), ["grafana-adminPassword", "grafana-prometheusPassword", "grafana-secretKey"]);
        const outputs = program.outputs as Record<string, any>;
        assert.equal(outputs.grafanaUrl, "https://grafana.dev.monitoring.example.net/");
        assert.equal(await pulumi.isSecret(outputs.grafanaAdminPassword), true, "the admin password is exported as a secret only");
    });

    it("provisions the three Prometheus servers through their nginx with basic auth, and AMP through its SigV4 plugin where remote write is on", async () => {
        for (const stack of ["dev", "staging"]) {
            const { run: program, env, platform } = await plannedStack(stack);
            const files = platform.grafanaProvisioning;
            const sources = (yaml.load(files[`${PROVISIONING_DIR}/datasources/platform.yaml`]) as any).datasources;
            assert.deepEqual(sources.slice(0, 3).map((s: any) => [s.uid, s.url, s.basicAuthUser, s.secureJsonData.basicAuthPassword, s.isDefault]),
                env.zones.map((z, i) => [`prom-${i + 1}`, `http://${z.prometheusPrivateIp}:80`, env.ingress.basicAuthUsers[0], "${PROMETHEUS_BASIC_AUTH_PASSWORD}", i === 0]));
            const amp = sources.find((s: any) => s.uid === "amp");
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
                    secretArns: { adminPassword: "arn:a", prometheusPassword: "arn:b", secretKey: "arn:c" }, managedPrometheusUrl: "https://aps.example/ws/",
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
        const { run: program } = await plannedStack("dev");
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
            const dashboards = fs.readdirSync(path.join(work, DASHBOARDS_DIR.slice(1))).sort();
            assert.deepEqual(dashboards, DASHBOARDS.map((d) => `${d.uid}.json`).sort());
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

    it("is refused a provisioning set the task definition cannot carry", () => {
        const big = { "/var/lib/grafana/dashboards/big.json": crypto.randomBytes(40000).toString("base64") };
        assert.throws(() => grafanaContainerDefinition({
            image: "docker.io/grafana/grafana:13.1.2", rootUrl: "https://grafana.example.net/", files: big,
            secretArns: { adminPassword: "arn:aws:ssm:::parameter/a", prometheusPassword: "arn:aws:ssm:::parameter/b", secretKey: "arn:aws:ssm:::parameter/c" },
            ampPluginVersion: "3.0.0", logGroup: "/ecs/grafana", region: "eu-west-1",
        }), /Grafana's provisioning files take \d+ bytes packed, over the 32768 the task definition can carry/);
    });
});
