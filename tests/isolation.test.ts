// Tenants and the platform kept apart, as properties over every platform rule and route, shown on
// promtool and amtool with hostile tenants: rules recording the series platform rules select,
// alerts named like the platform's, forged labels, platform alerts about a tenant's target.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import type * as LezerPromql from "@prometheus-io/lezer-promql" with { "resolution-mode": "import" };
import {
    ALERT_GROUPS, allAlerts, EXPECTED_RULE_FILE, renderAlertRules, renderExpectedRules, RULE_OWNER_LABEL, TENANT_RULE_OWNER,
} from "../components/render/alertRules";
import { RECEIVERS, tenantReceiverName } from "../components/render/alertmanagerConfig";
import { vectorSelectors } from "../components/render/promql";
import { tenantJob } from "../components/render/scrapeJobs";
import { renderTenantRules, Tenant, tenantRuleFileName, validateTenant } from "../infra/tenants";
import { previewValue } from "../scripts/lib/offline";
import { freePort } from "../rehearsals/lib/net";
import { Processes } from "../rehearsals/lib/processes";
import { remapAlertmanagerConfig } from "../rehearsals/lib/remap";
import { observe, request, waitFor } from "../rehearsals/lib/wait";
import { plannedStack, STACKS } from "./helpers/stacks";
import { expectSuccess, requireTool, run } from "./helpers/tools";

const { parser } = require("@prometheus-io/lezer-promql") as typeof LezerPromql;

const RUNBOOKS = "https://runbooks.invalid/runbooks.md";
const VICTIM_PREFIX = "tenants/victim/eu-west-1";

/** A series a selector selects: its metric name and matchers' labels (a regex takes its first alternative). */
function seriesSelectedBy(selector: string): { name: string; labels: Record<string, string> } {
    let name = "";
    const labels: Record<string, string> = {};
    const tree = parser.parse(selector);
    tree.iterate({
        enter: (node) => {
            if (node.name === "Identifier" && name === "") {
                name = selector.slice(node.from, node.to);
            }
            if (node.name !== "UnquotedLabelMatcher") {
                return;
            }
            const label = node.node.getChild("LabelName");
            const op = node.node.getChild("MatchOp")?.firstChild?.name;
            const value = node.node.getChild("StringLiteral");
            if (!label || !value || (op !== "EqlSingle" && op !== "EqlRegex")) {
                return;
            }
            const text = JSON.parse(selector.slice(value.from, value.to)) as string;
            labels[selector.slice(label.from, label.to)] = op === "EqlSingle" ? text : text.split("|")[0].replace(/\.\*/g, "");
        },
    });
    return { name, labels };
}

interface Recording { record: string; expr: string; labels: Record<string, string> }

/** Recordings of every series any platform rule selects, each once, at one value. */
function shadowsOfPlatformSeries(value: string): Recording[] {
    const seen = new Map<string, Recording>();
    for (const rule of allAlerts()) {
        for (const selector of vectorSelectors(rule.expr)) {
            const { name, labels } = seriesSelectedBy(selector);
            seen.set(JSON.stringify([name, labels]), { record: name, expr: `vector(${value})`, labels });
        }
    }
    return [...seen.values()];
}

function hostileTenant(name: string, recordings: Recording[]): Tenant {
    return validateTenant({
        description: "records what the platform reads",
        stacks: ["dev"],
        receivers: { hook: { kind: "webhook" } },
        routing: { page: { receiver: "hook", severities: ["critical"] }, ticket: { receiver: "hook", severities: ["warning"] } },
        rules: { groups: [{ name: "shadows", rules: recordings }] },
        tests: [{ interval: "1m", promql_expr_test: [{ expr: "vector(1)", eval_time: "0m", exp_samples: [{ value: 1 }] }] }],
    }, `tenants/${name}.yaml`, name);
}

const HOSTILE_TENANTS = [
    hostileTenant("shadows-at-zero", shadowsOfPlatformSeries("0")),
    hostileTenant("shadows-at-high", [
        ...shadowsOfPlatformSeries("1e9"),
        // The cases: two Alertmanagers "up" so the page for Alertmanagers down never fires,
        // here with the labels a rule could not set forged through the expression instead; and another
        // tenant's targets made to look fresh.
        {
            record: "up",
            expr: `label_replace(label_replace(vector(1), "tenant", "", "", ""), "${RULE_OWNER_LABEL}", "", "", "")`,
            labels: { job: "alertmanager", instance: "forged" },
        },
        { record: "platform_targets_newest_file_timestamp_seconds", expr: "vector(1e9)", labels: { job: "prometheus_node", prefix: VICTIM_PREFIX } },
    ]),
];

/** What the platform's alerts are after 25 hours of one Alertmanager up out of three and a victim tenant's stale targets. */
const EXPECTED_FIRING: Record<string, Record<string, string>[]> = {
    RE_Observe_Heartbeat: [{ severity: "heartbeat" }],
    RE_Observe_AlertManager_Below_Threshold: [{ severity: "page" }],
    RE_Observe_Target_Down: [
        { job: "alertmanager", instance: "am-1", severity: "ticket" },
        { job: "alertmanager", instance: "am-2", severity: "ticket" },
    ],
    RE_Observe_Tenant_Targets_Stale: [{ prefix: VICTIM_PREFIX, severity: "ticket" }],
    RE_Observe_Grafana_Down: [{ job: "grafana", severity: "ticket" }],
};

function platformRuleTest(ruleFiles: string[]): string {
    const series = (selector: string, values: string) => ({ series: selector, values });
    return yaml.dump({
        rule_files: ruleFiles,
        evaluation_interval: "1m",
        tests: [{
            interval: "1m",
            input_series: [
                series('up{job="alertmanager", instance="am-1"}', "0x1500"),
                series('up{job="alertmanager", instance="am-2"}', "0x1500"),
                series('up{job="alertmanager", instance="am-3"}', "1x1500"),
                series(`platform_targets_newest_file_timestamp_seconds{job="prometheus_node", instance="prom-1", prefix="${VICTIM_PREFIX}"}`, "0x1500"),
            ],
            alert_rule_test: allAlerts().map(({ alert }) => ({
                eval_time: "25h",
                alertname: alert,
                exp_alerts: (EXPECTED_FIRING[alert] ?? []).map((labels) => ({ exp_labels: labels })),
            })),
        }],
    }, { lineWidth: -1, noRefs: true });
}

describe("isolation between tenants and the platform", function () {
    this.timeout(120000);

    it("every selector of every platform rule, as rendered, reads only series no tenant rule wrote", () => {
        const rendered = yaml.load(renderAlertRules(RUNBOOKS)) as { groups: { rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] };
        // An empty label is removed: no platform alert carries a tenant label, whatever the series it fires on.
        assert.deepEqual(rendered.groups.flatMap((g) => g.rules.filter((r) => r.labels.tenant !== "").map((r) => r.alert)), []);
        const selectors = rendered.groups.flatMap((g) => g.rules.flatMap((r) => vectorSelectors(r.expr).map((s) => [r.alert, s])));
        assert.ok(selectors.length >= allAlerts().length, `only ${selectors.length} selectors found`);
        const unguarded = selectors.filter(([, s]) => !s.includes(`${RULE_OWNER_LABEL}=""`));
        assert.deepEqual(unguarded, []);
    });

    it("every rule of a tenant writes its tenant and owner labels, over what the expression yields", () => {
        for (const tenant of HOSTILE_TENANTS) {
            const rules = (yaml.load(renderTenantRules(tenant)) as { groups: { rules: Recording[] }[] }).groups.flatMap((g) => g.rules);
            assert.equal(rules.length, tenant.rules.groups[0].rules.length);
            for (const rule of rules) {
                assert.equal(rule.labels.tenant, tenant.name, rule.record);
                assert.equal(rule.labels[RULE_OWNER_LABEL], TENANT_RULE_OWNER, rule.record);
            }
        }
    });

    describe("on promtool, with tenants recording every series the platform's rules select", () => {
        let work: string;
        const rulesWith = (platformRules: string) => {
            fs.writeFileSync(path.join(work, "platform.yml"), platformRules);
            fs.writeFileSync(path.join(work, EXPECTED_RULE_FILE), renderExpectedRules({ tenantPrefixes: [VICTIM_PREFIX], discovery: [] }));
            for (const tenant of HOSTILE_TENANTS) {
                fs.writeFileSync(path.join(work, tenantRuleFileName(tenant.name)), renderTenantRules(tenant));
            }
        };
        const test = (promtool: string, ruleFiles: string[]) => {
            fs.writeFileSync(path.join(work, "test.yml"), platformRuleTest(ruleFiles));
            return run(promtool, ["test", "rules", "test.yml"], { cwd: work });
        };
        const tenantFiles = HOSTILE_TENANTS.map((t) => tenantRuleFileName(t.name));
        beforeEach(() => { work = fs.mkdtempSync(path.join(os.tmpdir(), "isolation-")); });
        afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

        it("without the tenants, the platform's alerts are the expected ones", function () {
            const promtool = requireTool(this, "promtool");
            rulesWith(renderAlertRules(RUNBOOKS, ALERT_GROUPS, { annotations: false }));
            expectSuccess(test(promtool, ["platform.yml", EXPECTED_RULE_FILE]), "promtool test rules (platform alone)");
        });

        it("with them, every platform alert is the same", function () {
            const promtool = requireTool(this, "promtool");
            rulesWith(renderAlertRules(RUNBOOKS, ALERT_GROUPS, { annotations: false }));
            expectSuccess(test(promtool, ["platform.yml", EXPECTED_RULE_FILE, ...tenantFiles]), "promtool test rules (with hostile tenants)");
        });

        it("while platform rules without the owner matcher would be changed by them", function () {
            const promtool = requireTool(this, "promtool");
            const unguarded = renderAlertRules(RUNBOOKS, ALERT_GROUPS, { annotations: false })
                .replaceAll(`, ${RULE_OWNER_LABEL}=""`, "").replaceAll(`{${RULE_OWNER_LABEL}=""}`, "");
            assert.ok(!unguarded.includes(RULE_OWNER_LABEL), "the control still holds the matcher");
            rulesWith(unguarded);
            const result = test(promtool, ["platform.yml", EXPECTED_RULE_FILE, ...tenantFiles]);
            assert.notEqual(result.status, 0, "the hostile recordings changed nothing even without the matcher");
            const changed = allAlerts().map((a) => a.alert).filter((alert) => `${result.stdout}${result.stderr}`.includes(`alertname: ${alert},`));
            for (const alert of ["RE_Observe_AlertManager_Below_Threshold", "RE_Observe_Tenant_Targets_Stale", "RE_Observe_Target_Down", "RE_Observe_Grafana_Down"]) {
                assert.ok(changed.includes(alert), `${alert} was not changed by the hostile recordings (changed: ${changed.join(", ")})`);
            }
        });
    });

    for (const stack of STACKS) {
        it(`${stack}: amtool routes every tenant alert to its tenant only, and every platform alert to the platform, whatever the names and labels`, async function () {
            const amtool = requireTool(this, "amtool");
            const { platform } = await plannedStack(stack);
            const work = fs.mkdtempSync(path.join(os.tmpdir(), `isolation-${stack}-`));
            try {
                const config = path.join(work, "alertmanager.yml");
                fs.writeFileSync(config, (await previewValue(platform.alertmanagerConfig))!);
                const routed = (labels: string[]) => {
                    const result = run(amtool, ["config", "routes", "test", `--config.file=${config}`, ...labels]);
                    expectSuccess(result, `amtool config routes test ${labels.join(" ")}`);
                    return result.stdout.trim().split(",");
                };
                const platformAlerts = allAlerts();
                if (stack === "dev") {
                    assert.ok(platform.tenants.length >= 2, "dev has no two tenants to keep apart");
                }
                for (const tenant of platform.tenants) {
                    const own = Object.keys(tenant.receivers).map((r) => tenantReceiverName(tenant.name, r));
                    const severities = ["page", "ticket", "heartbeat", ...tenant.routing.page.severities, ...tenant.routing.ticket.severities];
                    for (const { alert } of platformAlerts) {
                        for (const severity of severities) {
                            // Whatever else a rule's expression carries (a platform job, a forged owner), the rule's labels win.
                            const receivers = routed([`alertname=${alert}`, `severity=${severity}`, "job=alertmanager", `tenant=${tenant.name}`, `${RULE_OWNER_LABEL}=${TENANT_RULE_OWNER}`]);
                            assert.ok(receivers.every((r) => own.includes(r)), `${tenant.name}'s ${alert} (${severity}) reached ${receivers.join(", ")}`);
                        }
                    }
                }
                const platformReceivers: string[] = Object.values(RECEIVERS);
                const tenantJobs = [tenantJob("someone"), ...platform.tenants.map((t) => tenantJob(t.name))];
                for (const { alert, severity } of platformAlerts) {
                    for (const job of tenantJobs) {
                        // A platform alert about a tenant's target carries that target's labels, but no tenant label (its rule removes it).
                        const receivers = routed([`alertname=${alert}`, `severity=${severity}`, `job=${job}`, "instance=10.0.0.1:8080"]);
                        assert.ok(receivers.every((r) => platformReceivers.includes(r)), `${alert} about a ${job} target reached ${receivers.join(", ")}`);
                        assert.ok(receivers.includes(severity === "page" ? RECEIVERS.page : severity === "ticket" ? RECEIVERS.ticket : RECEIVERS.heartbeat), `${alert}: ${receivers.join(", ")}`);
                    }
                }
            } finally {
                fs.rmSync(work, { recursive: true, force: true });
            }
        });
    }

    it("dev on the real Alertmanager: a tenant's alert silences only that tenant's alerts, whatever it is named", async function () {
        const binary = requireTool(this, "alertmanager");
        const { platform } = await plannedStack("dev");
        const [tenant] = platform.tenants;
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "inhibition-"));
        const processes = new Processes(work);
        try {
            const configFile = path.join(work, "alertmanager.yml");
            // Receivers point at a closed port: this test reads inhibition from the API, it sends nothing.
            fs.writeFileSync(configFile, remapAlertmanagerConfig((await previewValue(platform.alertmanagerConfig))!, 1, "http://127.0.0.1:9"));
            const port = await freePort("127.0.0.1");
            await processes.start("alertmanager", binary, [
                `--config.file=${configFile}`, `--storage.path=${path.join(work, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=",
            ], { address: { host: "127.0.0.1", port } });
            const api = (urlPath: string, method = "GET", body?: string) =>
                request({ host: "127.0.0.1", port, path: urlPath, method, body, headers: body ? { "content-type": "application/json" } : {} });
            await waitFor("Alertmanager to be ready", async () => (await api("/-/ready")).status === 200 || undefined, 60000)
                .catch((err: Error) => { throw new Error(`${err.message}; its log:\n${processes.log("alertmanager")}`); });

            const ofTenant = { tenant: tenant.name, [RULE_OWNER_LABEL]: TENANT_RULE_OWNER };
            const alerts: Record<string, Record<string, string>> = {
                tenantPageNamedLikePlatform: { alertname: "RE_Observe_Target_Down", severity: "page", instance: "i-1", ...ofTenant },
                platformTicket: { alertname: "RE_Observe_Target_Down", severity: "ticket", instance: "i-1" },
                tenantOverCapacity: { alertname: "RE_Observe_Prometheus_Over_Capacity", severity: "page", instance: "prom-1", ...ofTenant },
                platformHighLoad: { alertname: "RE_Observe_Prometheus_High_Load", severity: "ticket", instance: "prom-1" },
                platformPage: { alertname: "RE_Observe_Endpoint_Down", severity: "page", instance: "i-2" },
                platformTicketUnderPage: { alertname: "RE_Observe_Endpoint_Down", severity: "ticket", instance: "i-2" },
                tenantTicketUnderOwnPage: { alertname: "RE_Observe_Target_Down", severity: "ticket", instance: "i-1", ...ofTenant },
            };
            const endsAt = new Date(Date.now() + 3600000).toISOString();
            const post = async (names: string[]) => {
                const posted = await api("/api/v2/alerts", "POST", JSON.stringify(names.map((name) => ({ labels: { stack: "dev", ...alerts[name] }, endsAt }))));
                assert.equal(posted.status, 200, posted.body);
            };
            // The inhibitor takes alerts in the order they were posted, after the API answers: every
            // other alert first, then the platform's page. Once that page inhibits its ticket, the
            // inhibitor has seen every tenant alert too.
            await post(Object.keys(alerts).filter((name) => name !== "platformPage"));
            await post(["platformPage"]);
            const inhibitedNow = async () => {
                const listed = JSON.parse((await api("/api/v2/alerts")).body) as { labels: Record<string, string>; status: { inhibitedBy: string[] } }[];
                return Object.entries(alerts).filter(([, labels]) => {
                    const found = listed.find((a) => Object.entries(labels).every(([k, v]) => a.labels[k] === v) && Object.keys(a.labels).length === Object.keys(labels).length + 1);
                    assert.ok(found, `not listed: ${JSON.stringify(labels)}`);
                    return found.status.inhibitedBy.length > 0;
                }).map(([name]) => name).sort();
            };
            const inhibited = await observe("the platform page to inhibit its ticket", async () => {
                const names = await inhibitedNow();
                return names.includes("platformTicketUnderPage") ? names : undefined;
            }, 30000, 100);
            assert.deepEqual(inhibited, ["platformTicketUnderPage", "tenantTicketUnderOwnPage"]);
            assert.deepEqual(processes.verify(), []);
        } finally {
            await processes.stop("alertmanager");
            processes.stopAll();
            fs.rmSync(work, { recursive: true, force: true });
        }
    });
});
