import * as crypto from "crypto";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { ACCESS_TAG, TLS_POLICY } from "../components/loadBalancer";
import { alertmanagerConfig, PLATFORM_PAGE_HOURS, PLATFORM_SUPPORT_HOURS, RECEIVERS } from "../components/render/alertmanagerConfig";
import { ALERT_GROUPS, allAlerts, renderAlertRules, runbookAnchor } from "../components/render/alertRules";
import { htpasswdLine } from "../components/render/nginxConfig";
import { previewValue } from "../scripts/lib/offline";
import { previewNodeSpec } from "../scripts/lib/plan";
import { byUrn, inputsOf, named, ofType, plannedStack, source, STACKS } from "./helpers/stacks";
import { shapedPlaceholder } from "../infra/secrets";

const RUNBOOKS = fs.readFileSync(path.resolve(__dirname, "..", "docs", "runbooks.md"), "utf8");

/** Anchors of the sections before `# Procedures` (one per alert), or of the procedures after it. */
function runbookAnchors(part: "alerts" | "procedures" = "alerts"): Set<string> {
    const [alerts, procedures = ""] = RUNBOOKS.split(/^# Procedures$/m);
    return new Set([...(part === "alerts" ? alerts : procedures).matchAll(/^## (.+)$/gm)]
        .map((m) => m[1].trim().toLowerCase().replace(/[^a-z0-9_ -]/g, "").replace(/ /g, "-")));
}

for (const stack of STACKS) {
    describe(`alerting and ingress of ${stack}`, function () {
        this.timeout(120000);

        it("runs one Alertmanager task per zone, each service pinned to its zone's private subnet", async () => {
            const { run, env } = await plannedStack(stack);
            const services = ofType(run, "aws:ecs/service:Service").filter((r) => r.name.startsWith("alertmanager-"));
            assert.equal(services.length, 3);
            const zones = services.map((service, i) => {
                const inputs = inputsOf(service);
                assert.equal(inputs.desiredCount, 1);
                assert.equal(inputs.launchType, "FARGATE");
                assert.equal(inputs.networkConfiguration.assignPublicIp, false);
                const subnets = service.propertyDependencies.networkConfiguration
                    .map((urn) => byUrn(run, urn)).filter((r) => r.type === "aws:ec2/subnet:Subnet");
                assert.deepEqual(subnets.map((s) => s.name), [`platform-private-${i + 1}`]);
                return inputsOf(subnets[0]).availabilityZone;
            });
            assert.deepEqual(zones, env.availabilityZones);
        });

        it("meshes on 9094 TCP and UDP between the Alertmanagers only, and serves 9093 to the ALB and nodes", async () => {
            const { run } = await plannedStack(stack);
            const rules = ofType(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                .filter((r) => source(run, r, "securityGroupId").name === "platform-alertmanager");
            const described = rules.map((r) => {
                const inputs = inputsOf(r);
                assert.equal(inputs.cidrIpv4, undefined);
                assert.equal(inputs.cidrIpv6, undefined);
                return `${inputs.ipProtocol}/${inputs.fromPort}-${inputs.toPort} from ${source(run, r, "referencedSecurityGroupId").name}`;
            }).sort();
            assert.deepEqual(described, [
                "tcp/9093-9093 from platform-alb",
                "tcp/9093-9093 from platform-prometheus",
                "tcp/9094-9094 from platform-alertmanager",
                "udp/9094-9094 from platform-alertmanager",
            ]);
        });

        it("hands the configuration to the tasks as a secret, never in their environment", async () => {
            const { run, platform, env } = await plannedStack(stack);
            for (const n of [1, 2, 3]) {
                assert.equal(inputsOf(named(run, "aws:ssm/parameter:Parameter", `alertmanager-${n}-config`)).type, "SecureString");
            }
            const config = await previewValue(platform.alertmanagerConfig);
            assert.ok(config, "the Alertmanager configuration is known in a preview (its secrets are config values)");
            const secretValues = [shapedPlaceholder("pagerdutyRoutingKey", stack)!, shapedPlaceholder("heartbeatUrl", stack)!];
            for (const value of secretValues) {
                assert.ok(config.includes(value), "the placeholders reach the configuration");
            }
            for (const task of ofType(run, "aws:ecs/taskDefinition:TaskDefinition").filter((r) => r.name.startsWith("alertmanager-"))) {
                const serialized = JSON.stringify(task.inputs);
                for (const value of secretValues) {
                    assert.ok(!serialized.includes(value), `${task.name} carries a secret value`);
                }
                const [container] = JSON.parse(inputsOf(task).containerDefinitions);
                // Only the configuration's HMAC under the stack's random key (the offline engine's stand-in
                // here): a new configuration is a new task definition, and no plain hash to test guesses against.
                const key = ofType(run, "random:index/randomPassword:RandomPassword").find((r) => r.name === "alertmanager-config-hash-key");
                assert.deepEqual(inputsOf(key!), { length: 64, special: false });
                assert.deepEqual(container.environment, [{
                    name: "ALERTMANAGER_CONFIG_HMAC",
                    value: crypto.createHmac("sha256", "placeholder-random-password-alertmanager-config-hash-key").update(config).digest("hex"),
                }]);
                assert.ok(!serialized.includes(crypto.createHash("sha256").update(config).digest("hex")), `${task.name} carries the plain hash`);
                assert.deepEqual(container.secrets, [{
                    name: "ALERTMANAGER_CONFIG",
                    valueFrom: `arn:aws:ssm:${env.region}:123456789012:parameter/prometheus-platform/${stack}/alertmanager/member-${task.name.split("-")[1]}/config`,
                }]);
                assert.deepEqual(container.portMappings.map((p: any) => `${p.containerPort}/${p.protocol}`), ["9093/tcp", "9094/tcp", "9094/udp"]);
                assert.equal(container.image, `quay.io/prometheus/alertmanager:v${env.alertmanager.version}`);
                assert.match(container.command[0], new RegExp(`--cluster\\.peer='alertmanager\\.${stack}\\.monitoring\\.internal:9094'`));
                assert.match(container.command[0], /--cluster\.advertise-address="\$ip:9094"/);
                // Healthy once meshed and settled: what a rollout waits for before the next member.
                assert.deepEqual(container.healthCheck.command, ["CMD-SHELL", `wget -q -O - http://127.0.0.1:9093/api/v2/status | grep -q '"status":"ready"'`]);
                assert.equal(container.logConfiguration.logDriver, "awslogs");
            }
            const logs = named(run, "aws:cloudwatch/logGroup:LogGroup", "alertmanager");
            assert.equal(inputsOf(logs).retentionInDays, env.alertmanager.logRetentionDays);
        });

        it("forwards alerts-N to Alertmanager N only from the office CIDRs, and prom-N to node N", async () => {
            const { run, env } = await plannedStack(stack);
            const listenerRules = ofType(run, "aws:lb/listenerRule:ListenerRule");
            const host = (rule: typeof listenerRules[number]) => inputsOf(rule).conditions[0].hostHeader.values[0];
            const forwardedTo = (rule: typeof listenerRules[number]) => {
                const [action] = inputsOf(rule).actions;
                assert.equal(action.type, "forward");
                return source(run, rule, "actions");
            };
            for (const zone of env.zones) {
                const alerts = listenerRules.filter((r) => host(r) === `alerts-${zone.index}.${env.domain}`);
                assert.ok(alerts.length >= 1);
                const cidrs = alerts.flatMap((rule) => {
                    const conditions = inputsOf(rule).conditions;
                    assert.equal(conditions.length, 2, "host and source-ip");
                    assert.equal(forwardedTo(rule).name, `platform-alerts-${zone.index}`);
                    return conditions[1].sourceIp.values as string[];
                });
                assert.deepEqual(cidrs, env.officeCidrs);

                const [prom] = listenerRules.filter((r) => host(r) === `prom-${zone.index}.${env.domain}`);
                const group = forwardedTo(prom);
                assert.equal(inputsOf(group).tags[ACCESS_TAG], "basic-auth-proxy");
                const attachment = ofType(run, "aws:lb/targetGroupAttachment:TargetGroupAttachment")
                    .find((a) => source(run, a, "targetGroupArn").urn === group.urn);
                assert.ok(attachment);
                assert.equal(source(run, attachment, "targetId").name, `prom-${zone.index}`);
                assert.equal(inputsOf(attachment).port, 80);
            }
            for (const group of ofType(run, "aws:lb/targetGroup:TargetGroup").filter((g) => g.name.includes("alerts"))) {
                assert.equal(inputsOf(group).tags[ACCESS_TAG], "office-only");
                assert.equal(inputsOf(group).healthCheck.path, "/-/healthy");
            }
        });

        it("answers unknown hosts with a fixed 404, redirects HTTP, and uses a modern TLS policy", async () => {
            const { run } = await plannedStack(stack);
            const https = inputsOf(named(run, "aws:lb/listener:Listener", "platform-https"));
            assert.deepEqual(https.defaultActions.map((a: any) => a.type), ["fixed-response"]);
            assert.equal(https.defaultActions[0].fixedResponse.statusCode, "404");
            assert.equal(https.sslPolicy, TLS_POLICY);
            assert.equal(source(run, named(run, "aws:lb/listener:Listener", "platform-https"), "certificateArn").type,
                "aws:acm/certificateValidation:CertificateValidation");
            const http = inputsOf(named(run, "aws:lb/listener:Listener", "platform-http"));
            assert.deepEqual(http.defaultActions[0].redirect, { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" });
            const alb = inputsOf(named(run, "aws:lb/loadBalancer:LoadBalancer", "platform"));
            assert.equal(alb.accessLogs.enabled, true);
            assert.equal(alb.dropInvalidHeaderFields, true);
        });

        it("publishes DNS-only records of every host to the ALB, and validates the certificate through Cloudflare", async () => {
            const { run, env } = await plannedStack(stack);
            const records = ofType(run, "cloudflare:index/dnsRecord:DnsRecord");
            const hosts = records.filter((r) => inputsOf(r).type === "CNAME").map((r) => {
                const inputs = inputsOf(r);
                assert.equal(inputs.proxied, false);
                assert.equal(inputs.zoneId, env.cloudflareZoneId);
                assert.equal(source(run, r, "content").type, "aws:lb/loadBalancer:LoadBalancer");
                return inputs.name;
            });
            assert.deepEqual(hosts.sort(), [1, 2, 3].map((n) => `alerts-${n}.${env.domain}`).concat(env.nodes.map((n) => `${n.name}.${env.domain}`))
                .concat(`alerts.${env.domain}`, `grafana.${env.domain}`).sort());
            const validation = named(run, "cloudflare:index/dnsRecord:DnsRecord", "platform-validation");
            assert.equal(inputsOf(validation).proxied, false);
            assert.equal(source(run, validation, "content").type, "aws:acm/certificate:Certificate");
        });

        it("configures each node's nginx: office passes, others need basic auth, only the ALB is trusted", async () => {
            const { platform, env } = await plannedStack(stack);
            const spec = await previewNodeSpec(platform, platform.nodes[0]);
            const conf = spec.extraFiles!.find((f) => f.path === "/etc/nginx/nginx.conf")!.content;
            const rootLocation = /location \/ \{([\s\S]*?)\n {8}\}/.exec(conf)![1];
            assert.match(rootLocation, /satisfy any;/);
            assert.deepEqual([...rootLocation.matchAll(/allow (\S+);/g)].map((m) => m[1]), env.officeCidrs);
            assert.match(rootLocation, /deny all;[\s\S]*auth_basic "Prometheus";[\s\S]*auth_basic_user_file \/etc\/nginx\/htpasswd;/);
            assert.deepEqual([...conf.matchAll(/set_real_ip_from (\S+);/g)].map((m) => m[1]), env.zones.map((z) => z.publicSubnetCidr));
            const health = /location = \/health \{([\s\S]*?)\n {8}\}/.exec(conf)![1];
            assert.deepEqual([...health.matchAll(/allow (\S+);/g)].map((m) => m[1]), env.zones.map((z) => z.publicSubnetCidr));
            assert.match(conf, /listen 127\.0\.0\.1:8080;/, "the paas-proxy listens on loopback only");
            assert.match(conf, /proxy_set_header X-CF-APP-INSTANCE "\$arg_cf_app_guid:\$arg_cf_app_instance_index";/);
            assert.match(conf, /proxy_set_header Authorization "Bearer \$arg_cf_app_guid";/);
        });

        it("exports every node's URL and the three Alertmanagers', the peer name and the basic-auth credentials, the password as a secret", async () => {
            const { run, env } = await plannedStack(stack);
            const outputs = run.outputs as Record<string, any>;
            assert.deepEqual(outputs.prometheusUrls, env.nodes.map((n) => `https://${n.name}.${env.domain}/`));
            assert.deepEqual(outputs.prometheusUrls.slice(0, 3), [1, 2, 3].map((n) => `https://prom-${n}.${env.domain}/`));
            assert.deepEqual(outputs.alertmanagerUrls, [1, 2, 3].map((n) => `https://alerts-${n}.${env.domain}/`));
            assert.equal(outputs.alertmanagerPeerName, `alertmanager.${stack}.monitoring.internal`);
            assert.equal(outputs.basicAuthUser, env.ingress.basicAuthUsers[0]);
            assert.equal(await pulumi.isSecret(outputs.basicAuthPassword), true);
            const password = inputsOf(named(run, "random:index/randomPassword:RandomPassword", `basic-auth-${env.ingress.basicAuthUsers[0]}`));
            assert.ok(password.length >= 24);
        });
    });
}

describe("alertmanager.yml routing", () => {
    const config = alertmanagerConfig({
        pagerdutyRoutingKey: "key",
        heartbeatUrl: "https://switch.invalid/ping",
        ticket: { kind: "webhook", url: "https://tickets.invalid/hook" },
        platformHours: { support: { location: "Europe/London", weekdays: ["monday:friday"], start: "09:30", end: "18:00" } },
        slack: { webhookUrl: "https://slack.invalid/hook", channel: "#alerts" },
    }) as any;

    // Where each alert goes is checked by amtool on every stack's rendered alertmanager.yml
    // (tests/realBinaries.test.ts), not by a router of our own.

    it("beats often and never sends the heartbeat resolved", () => {
        const heartbeat = config.route.routes[0];
        assert.equal(heartbeat.repeat_interval, "1m");
        const receiver = config.receivers.find((r: any) => r.name === RECEIVERS.heartbeat);
        assert.deepEqual(receiver.webhook_configs, [{ url: "https://switch.invalid/ping", send_resolved: false }]);
    });

    it("sends the platform's tickets, and anything unlabelled, in its support hours; pages at any hour unless page hours are set", () => {
        const last = config.route.routes[config.route.routes.length - 1];
        assert.deepEqual(last, { receiver: RECEIVERS.ticket, active_time_intervals: [PLATFORM_SUPPORT_HOURS] });
        assert.deepEqual(config.time_intervals.find((t: any) => t.name === PLATFORM_SUPPORT_HOURS).time_intervals,
            [{ weekdays: ["monday:friday"], times: [{ start_time: "09:30", end_time: "18:00" }], location: "Europe/London" }]);
        const page = config.route.routes.find((r: any) => r.receiver === RECEIVERS.page);
        assert.equal(page.active_time_intervals, undefined);
        const withPageHours = alertmanagerConfig({
            pagerdutyRoutingKey: "key", heartbeatUrl: "https://switch.invalid/ping", ticket: { kind: "webhook", url: "https://tickets.invalid/hook" },
            platformHours: { support: { location: "UTC", weekdays: ["monday:friday"], start: "09:00", end: "17:00" }, page: { location: "UTC", weekdays: ["sunday:saturday"], start: "07:00", end: "23:00" } },
        }) as any;
        assert.deepEqual(withPageHours.route.routes.find((r: any) => r.receiver === RECEIVERS.page).active_time_intervals, [PLATFORM_PAGE_HOURS]);
        const heartbeat = config.route.routes.find((r: any) => r.receiver === RECEIVERS.heartbeat);
        assert.equal(heartbeat.active_time_intervals, undefined, "the heartbeat beats at every hour");
    });

    it("lets a page inhibit the ticket of the same alert", () => {
        assert.deepEqual(config.inhibit_rules[0].source_matchers, ['severity="page"']);
        assert.deepEqual(config.inhibit_rules[0].target_matchers, ['severity="ticket"']);
        assert.ok(config.inhibit_rules[0].equal.includes("alertname"));
    });

    it("shows the runbook in Slack and PagerDuty", () => {
        const slack = config.receivers.find((r: any) => r.name === RECEIVERS.slack).slack_configs[0];
        assert.match(slack.text, /\.Annotations\.runbook_url/);
        const pagerduty = config.receivers.find((r: any) => r.name === RECEIVERS.page).pagerduty_configs[0];
        assert.match(pagerduty.links[0].href, /runbook_url/);
    });
});

describe("alert rules", () => {
    const anchors = runbookAnchors();

    it("covers every alert of the source manuals and the HA meta-monitoring essentials", () => {
        const names = allAlerts().map((a) => a.alert);
        for (const expected of [
            "RE_Observe_Heartbeat", "RE_Observe_AlertManager_Below_Threshold", "RE_Observe_Prometheus_Below_Threshold",
            "RE_Observe_No_FileSd_Targets", "RE_Observe_Prometheus_Disk_Predicted_To_Fill", "RE_Observe_Prometheus_High_Load",
            "RE_Observe_Prometheus_Over_Capacity", "RE_Observe_Target_Down", "RE_Observe_Grafana_Down",
            "PrometheusNotConnectedToAlertmanagers", "PrometheusBadConfig", "PrometheusRuleFailures",
            "PrometheusErrorSendingAlertsToAnyAlertmanager", "AlertmanagerMembersInconsistent", "AlertmanagerConfigInconsistent",
            "AlertmanagerFailedToSendAlerts", "AlertmanagerFailedReload",
        ]) {
            assert.ok(names.includes(expected), expected);
        }
        assert.equal(new Set(names).size, names.length, "alert names are unique");
    });

    it("gives every alert a severity, a summary and a runbook section that exists", () => {
        const rendered = yaml.load(renderAlertRules("https://example.invalid/runbooks.md")) as any;
        const rules = rendered.groups.flatMap((g: any) => g.rules);
        assert.equal(rules.length, allAlerts().length);
        for (const rule of rules) {
            assert.ok(["page", "ticket", "heartbeat"].includes(rule.labels.severity), rule.alert);
            assert.ok(rule.annotations.summary.length > 10, rule.alert);
            const url = new URL(rule.annotations.runbook_url);
            assert.equal(url.hash.slice(1), runbookAnchor(rule.alert));
            assert.ok(anchors.has(url.hash.slice(1)), `docs/runbooks.md has no section ${url.hash}`);
        }
        assert.equal(anchors.size, allAlerts().length, "every runbook section before Procedures belongs to an alert");
        assert.deepEqual([...runbookAnchors("procedures")], ["restore-a-nodes-data-from-a-snapshot", "restore-grafanas-database", "rotate-the-basic-auth-password",
            "the-monitoring-service-itself-has-a-problem", "a-tenant-reports-a-problem"]);
    });

    it("uses current metric names", () => {
        const exprs = ALERT_GROUPS.flatMap((g) => g.rules.map((r) => r.expr)).join("\n");
        assert.doesNotMatch(exprs, /node_filesystem_avail\{|node_filesystem_avail\[/);
        assert.match(exprs, /node_filesystem_avail_bytes/);
    });
});

describe("htpasswd line", () => {
    it("joins the user and the bcrypt hash, and refuses a user that would break the file", () => {
        assert.equal(htpasswdLine("grafana", "$2a$10$abc"), "grafana:$2a$10$abc\n");
        assert.throws(() => htpasswdLine("graf:ana", "$2a$10$abc"), /may only hold/);
    });
});
