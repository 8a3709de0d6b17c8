// Tenants as code: validation, the tenant label the platform owns, routing, secrets.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { loadEnvironment } from "../infra/environment";
import { createPlatform } from "../infra/platform";
import { requiredSecretKeys, tenantSecretKeys } from "../infra/secrets";
import { checkTenantsOnStack, loadTenants, renderTenantRules, TENANTS_DIR, tenantRegions, validateTenant } from "../infra/tenants";
import { alertmanagerConfig } from "../components/render/alertmanagerConfig";
import { EXPECTED_RULE_FILE, renderExpectedRules, TENANT_TARGETS_EXPECTED } from "../components/render/alertRules";
import { previewValue, ProgramError, runProgram } from "../scripts/lib/offline";
import { previewNodeConfigSources, previewPrometheusYml } from "../scripts/lib/plan";
import { inputsOf, named, plannedStack } from "./helpers/stacks";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { TenantFileError } from "../infra/inputErrors";
import { checkPlacement, tenantShard } from "../infra/shards";

const example = () => yaml.load(fs.readFileSync(`${TENANTS_DIR}/checkout-web.yaml`, "utf8")) as Record<string, any>;

describe("tenants", function () {
    this.timeout(120000);

    describe("placement on a stack's shards", () => {
        const dev = loadEnvironment("dev");
        const devTenants = () => loadTenants("dev");
        const refused = (env: typeof dev, tenants: ReturnType<typeof loadTenants>) => {
            try {
                checkPlacement(env, tenants);
            } catch (err) {
                return { file: (err as TenantFileError).file, problems: (err as TenantFileError).problems };
            }
            return undefined;
        };

        it("accepts dev's placement: each tenant placed, each with its expected series", () => {
            assert.equal(refused(dev, devTenants()), undefined);
            assert.deepEqual(devTenants().map((t) => [t.name, tenantShard(dev, t.name), t.expectedSeries]), [["checkout-web", 1, 20000], ["orders-queue", 2, 5000]]);
        });

        it("refuses a tenant of a sharded stack without expected series, naming its file", () => {
            const tenants = devTenants().map((t) => t.name === "orders-queue" ? { ...t, expectedSeries: undefined } : t);
            assert.deepEqual(refused(dev, tenants), { file: "tenants/orders-queue.yaml",
                problems: ["expectedSeries: missing; stack dev has 2 shards, which are chosen and sized by their tenants' expected series"] });
        });

        it("refuses a placement of a tenant the stack does not have, naming the environment file and the key", () => {
            const env = { ...dev, prometheus: { ...dev.prometheus, tenantShards: { ...dev.prometheus.tenantShards, "payments-api": 2 } } };
            assert.deepEqual(refused(env, devTenants()), { file: "environments/dev.yaml",
                problems: ["prometheus.tenantShards.payments-api: no tenant payments-api is on stack dev (tenants/payments-api.yaml, stacks)"] });
        });

        it("refuses a tenant dashboard naming a node of another shard, which never scrapes that tenant", () => {
            const [checkout, orders] = devTenants();
            const panel = { type: "timeseries", title: "depth", datasource: { type: "prometheus", uid: "prom-2" }, targets: [{ expr: "up" }] };
            const dashboard = { file: "tenants/orders-queue/dashboards/depth.json", uid: "orders-queue-depth", title: "Depth", json: { uid: "orders-queue-depth", panels: [panel] } };
            assert.deepEqual(refused(dev, [checkout, { ...orders, dashboards: [dashboard] }]), { file: "tenants/orders-queue/dashboards/depth.json",
                problems: ["panels: data source prom-2 does not scrape orders-queue on stack dev; its shard's nodes are prom-s2-1, prom-s2-2, prom-s2-3; "
                    + "or use amp or a data source variable ($datasource)"] });
            const ownShard = { ...dashboard, json: { ...dashboard.json, panels: [{ ...panel, datasource: { type: "prometheus", uid: "prom-s2-2" } }] } };
            assert.equal(refused(dev, [checkout, { ...orders, dashboards: [ownShard] }]), undefined);
        });
    });

    it("loads the example tenants, both on dev only", () => {
        assert.deepEqual(loadTenants().map((t) => [t.name, t.stacks]), [["checkout-web", ["dev"]], ["orders-queue", ["dev"]]]);
        assert.deepEqual(loadTenants("production"), []);
        const defaults = loadTenants("dev")[1].supportHours;
        assert.deepEqual(defaults, { location: "Europe/London", weekdays: ["monday:friday"], start: "09:30", end: "18:00" });
    });

    const cases: [string, (t: Record<string, any>) => void, RegExp][] = [
        ["a rule that sets the tenant label", (t) => { t.rules.groups[0].rules[1].labels.tenant = "orders-queue"; },
            /^rules\.groups\[0\]\.rules\[1\]\.labels\.tenant: set by the platform to the tenant's name; remove it$/],
        ["a rule that sets the label marking what tenants' rules write", (t) => { t.rules.groups[0].rules[1].labels.rule_owner = "platform"; },
            /^rules\.groups\[0\]\.rules\[1\]\.labels\.rule_owner: set by the platform on everything a tenant's rule writes; remove it$/],
        ["an alert without a routed severity", (t) => { t.rules.groups[0].rules[2].labels.severity = "info"; },
            /^rules\.groups\[0\]\.rules\[2\]\.labels\.severity: info; an alert needs one of the routed severities \(critical, warning\)$/],
        ["routing to a receiver it does not have", (t) => { t.routing.page.receiver = "pager"; }, /^routing\.page\.receiver: pager is not one of receivers \(oncall, chat\)$/],
        ["a severity that both pages and tickets", (t) => { t.routing.ticket.severities = ["critical"]; }, /^routing\.ticket\.severities: critical also pages/],
        ["an unknown stack", (t) => { t.stacks = ["qa"]; }, /^stacks\.0: must be one of dev, staging, production$/],
        ["an unknown key", (t) => { t.team = "x"; }, /^team: unknown key$/],
        ["a Slack receiver without a channel", (t) => { t.receivers.chat = { kind: "slack" }; }, /^receivers\.chat(\.channel)?: /],
        ["no tests", (t) => { delete t.tests; }, /^tests: missing$/],
        ["an email receiver without an address", (t) => { t.receivers.chat = { kind: "email", to: "checkout team" }; }, /^receivers\.chat(\.to)?: /],
        ["a region that is not one", (t) => { t.regions = ["europe"]; }, /^regions\.0: /],
        ["an expression that does not parse", (t) => { t.rules.groups[0].rules[0].expr = "sum(rate(x[5m]) >"; },
            /^rules\.groups\[0\]\.rules\[0\]\.expr: in group availability, job:http_requests:ratio_5xx_rate5m does not parse as PromQL at line 1, column 18 \(near "the end of the expression"\)$/],
        ["two groups of one name", (t) => { t.rules.groups.push(structuredClone(t.rules.groups[0])); },
            /^rules\.groups\[1\]\.name: availability is also the name of rules\.groups\[0\]; each group needs its own name$/],
        ["a time zone that does not exist", (t) => { t.supportHours.location = "Mars/Olympus_Mons"; }, /^supportHours\.location: Mars\/Olympus_Mons is not a time zone of the IANA database/],
        ["a weekday that does not exist", (t) => { t.supportHours.weekdays = ["monday:funday"]; }, /^supportHours\.weekdays\[0\]: funday is not a weekday/],
        ["a weekday range that runs backwards", (t) => { t.supportHours.weekdays = ["friday:monday"]; }, /^supportHours\.weekdays\[0\]: friday:monday runs backwards/],
        ["hours that end before they start", (t) => { t.supportHours.start = "18:00"; t.supportHours.end = "09:00"; }, /^supportHours\.end: 09:00 is not after supportHours\.start 18:00/],
        ["a test that is not a promtool test group", (t) => { t.tests = [{ name: "x", expect: "quiet" }]; }, /^tests\.0(\.expect|\.interval)?: /],
    ];
    for (const [what, mutate, expected] of cases) {
        it(`refuses ${what}, naming the file and the key`, () => {
            const tenant = example();
            mutate(tenant);
            try {
                validateTenant(tenant, "tenants/checkout-web.yaml", "checkout-web");
                assert.fail("accepted");
            } catch (err) {
                assert.ok(err instanceof TenantFileError, String(err));
                assert.equal(err.file, "tenants/checkout-web.yaml");
                assert.match(err.message, /^tenant file tenants\/checkout-web\.yaml is not valid:\n/);
                assert.ok(err.problems.some((p) => expected.test(p)), err.problems.join("\n"));
            }
        });
    }

    /** Loads tenants from a scratch directory holding these files. */
    const loadFrom = (files: Record<string, string>) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenants-"));
        try {
            Object.entries(files).forEach(([name, content]) => {
                fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
                fs.writeFileSync(path.join(dir, name), content);
            });
            return loadTenants(undefined, dir);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };
    const exampleText = () => fs.readFileSync(`${TENANTS_DIR}/checkout-web.yaml`, "utf8");

    it("refuses any file in tenants/ that is not <tenant>.yaml, naming it", () => {
        assert.throws(() => loadFrom({ "checkout-web.yml": exampleText() }), (err: TenantFileError) => {
            assert.match(err.message, /^tenant file \S*checkout-web\.yml is not valid:\n {2}- \(file name\): only <tenant>\.yaml files, and a <tenant>\/ directory beside each, belong in .*rename it to checkout-web\.yaml/);
            return true;
        });
        assert.throws(() => loadFrom({ "checkout-web.yaml": exampleText(), "orders/dashboards/a.json": "{}" }),
            /orders is not valid:\n {2}- \(file name\): .*no tenant file of that name, or move it elsewhere/);
    });

    describe("a tenant's dashboards as code (tenants/<name>/dashboards/*.json)", () => {
        const dashboard = (changes: Record<string, unknown> = {}) => JSON.stringify({
            uid: "checkout-web-latency", title: "Latency",
            panels: [{ type: "timeseries", title: "p99", targets: [{ expr: "histogram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval])))" }] }],
            ...changes,
        });
        const withDashboard = (file: string, content: string) => loadFrom({ "checkout-web.yaml": exampleText(), [`checkout-web/${file}`]: content });

        it("loads each into the tenant, with its uid and title, queries using Grafana's interval variables included", () => {
            const [tenant] = withDashboard("dashboards/latency.json", dashboard());
            assert.deepEqual(tenant.dashboards?.map((d) => [d.uid, d.title, path.basename(d.file)]), [["checkout-web-latency", "Latency", "latency.json"]]);
            const [none] = loadFrom({ "checkout-web.yaml": exampleText() });
            assert.deepEqual(none.dashboards, []);
        });

        const cases: [string, string, string, RegExp][] = [
            ["a file that is no JSON", "dashboards/latency.json", "{ uid: ", /latency\.json is not valid:\n {2}- \(top level\): not JSON: /],
            ["a dashboard with no uid", "dashboards/latency.json", dashboard({ uid: undefined }), /latency\.json is not valid:\n {2}- uid: missing; set one of at most 40/],
            ["a uid of another team's", "dashboards/latency.json", dashboard({ uid: "orders-latency" }), /- uid: orders-latency must start with checkout-web- \(the tenant's name\)/],
            ["a dashboard with no title", "dashboards/latency.json", dashboard({ title: "" }), /- title: missing; a dashboard needs a title/],
            ["a dashboard with no panels", "dashboards/latency.json", dashboard({ panels: undefined }), /- panels: missing; a dashboard shows panels/],
            ["a query that is no PromQL", "dashboards/latency.json", dashboard({ panels: [{ type: "row", title: "r", panels: [{ title: "p99", targets: [{ expr: "sum(rate(x[5m])" }] }] }] }),
                /- panels \(p99\): sum\(rate\(x\[5m\]\) does not parse as PromQL at line 1, column \d+/],
            ["a data source of another Grafana's", "dashboards/latency.json",
                dashboard({ panels: [{ type: "timeseries", title: "p99", datasource: { type: "prometheus", uid: "P1809F7CD0C75ACF3" }, targets: [{ expr: "up" }] }] }),
                /- panels: data source P1809F7CD0C75ACF3 is none of the platform's \(prom-1, prom-2, prom-3, prom-s2-1 and on, amp\); use one of them, or a data source variable/],
            ["a file that is no dashboard", "dashboards/notes.md", "# notes", /notes\.md is not valid:\n {2}- \(file name\): a dashboard is a \.json file/],
            ["anything but dashboards/ in the tenant's directory", "targets.json", "[]", /targets\.json is not valid:\n {2}- \(file name\): only dashboards\/ belongs in/],
        ];
        for (const [what, file, content, expected] of cases) {
            it(`refuses ${what}, naming the file and the key`, () => {
                assert.throws(() => withDashboard(file, content), (err: TenantFileError) => {
                    assert.match(err.message, expected);
                    assert.equal(err.problems.length, 1, err.message);
                    return true;
                });
            });
        }

        it("refuses two dashboards with one uid, naming both files", () => {
            assert.throws(() => loadFrom({ "checkout-web.yaml": exampleText(), "checkout-web/dashboards/a.json": dashboard(), "checkout-web/dashboards/b.json": dashboard() }),
                /b\.json is not valid:\n {2}- uid: checkout-web-latency is also the uid of \S*a\.json; choose another/);
        });
    });

    it("refuses YAML anchors and aliases, naming the line, so no alias can expand when the rules are rendered", () => {
        const bomb = `${exampleText()}\nx-bomb: &a [1, 1, 1]\n`;
        assert.throws(() => loadFrom({ "checkout-web.yaml": bomb }), (err: TenantFileError) => {
            assert.match(err.problems[0], /^\(line \d+\): the anchor &a; YAML anchors and aliases are not accepted here/);
            return true;
        });
    });

    it("refuses two tenants whose receivers would share one name and secret, naming both files", () => {
        const team = exampleText().replace(/receivers:\n {2}oncall: \{ kind: webhook \}\n {2}chat:/, "receivers:\n  ops-chat: { kind: webhook }\n  chat:")
            .replace("receiver: oncall", "receiver: ops-chat");
        const teamOps = exampleText();
        assert.throws(() => loadFrom({ "team.yaml": team, "team-ops.yaml": teamOps }), (err: TenantFileError) => {
            assert.match(err.message, /\/team\.yaml is not valid:\n {2}- receivers\.ops-chat: makes the receiver and secret tenant-team-ops-chat, as receivers\.chat of \S*\/team-ops\.yaml does; rename one of them/);
            return true;
        });
    });

    it("puts tenant=<name> on every rule it renders, so no series label can redirect an alert", () => {
        const [tenant] = loadTenants("dev");
        const rendered = yaml.load(renderTenantRules(tenant)) as { groups: { name: string; rules: { labels: Record<string, string> }[] }[] };
        assert.deepEqual(rendered.groups.map((g) => g.name), ["checkout-web/availability"]);
        assert.ok(rendered.groups.flatMap((g) => g.rules).every((r) => r.labels.tenant === "checkout-web"));
    });

    it("gives each tenant a targets job whose series carry its name, and strips it and the rule owner label from every file", async () => {
        const { platform } = await plannedStack("dev");
        const config = yaml.load(await previewPrometheusYml(platform, platform.nodes[0])) as any;
        const job = config.scrape_configs.find((j: any) => j.job_name === "tenant_checkout_web");
        assert.deepEqual(job.file_sd_configs[0].files, ["/etc/prometheus/targets/tenants/checkout-web/eu-west-1/*.json"]);
        assert.deepEqual(job.relabel_configs, [{ action: "labeldrop", regex: "tenant|rule_owner" }, { target_label: "tenant", replacement: "checkout-web" }]);
        assert.deepEqual(config.scrape_configs.find((j: any) => j.job_name === "file_sd").relabel_configs, [{ action: "labeldrop", regex: "tenant|rule_owner" }]);
    });

    it("routes a tenant's alerts to its receivers only: pages any time, tickets in support hours", async () => {
        const { platform } = await plannedStack("dev");
        const config = yaml.load((await previewValue(platform.alertmanagerConfig))!) as any;
        const route = config.route.routes.find((r: any) => r.matchers?.[0] === 'tenant="checkout-web"');
        assert.equal(route.continue, false, "a tenant's alert never reaches the platform's receivers");
        assert.ok(config.route.routes.indexOf(route) < config.route.routes.findIndex((r: any) => r.receiver === "pagerduty"));
        assert.deepEqual(route.routes, [
            { receiver: "tenant-checkout-web-oncall", matchers: ['severity=~"critical"'] },
            { receiver: "tenant-checkout-web-chat", matchers: ['severity=~"warning"'], active_time_intervals: ["checkout-web-support-hours"] },
        ]);
        assert.deepEqual(config.time_intervals.find((t: any) => t.name === "checkout-web-support-hours").time_intervals,
            [{ weekdays: ["monday:friday"], times: [{ start_time: "09:30", end_time: "18:00" }], location: "Europe/London" }]);
        const chat = config.receivers.find((r: any) => r.name === "tenant-checkout-web-chat");
        assert.equal(chat.slack_configs[0].channel, "#checkout-alerts");
        assert.equal(chat.slack_configs[0].api_url, "https://placeholder.invalid/dev/tenant-checkout-web-chat");
    });

    it("gives each tenant a writer role limited to its own targets prefix", async () => {
        const { run } = await plannedStack("dev");
        for (const tenant of ["checkout-web", "orders-queue"]) {
            const policy = JSON.parse(inputsOf(named(run, "aws:iam/policy:Policy", `targets-write-${tenant}`)).policy);
            const bucketArn = policy.Statement[0].Resource[0];
            assert.deepEqual(policy.Statement.map((s: any) => [s.Effect, s.Action, s.Resource, s.Condition]), [
                ["Allow", ["s3:ListBucket"], [bucketArn], { StringLike: { "s3:prefix": [`tenants/${tenant}/*`] } }],
                ["Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [`${bucketArn}/tenants/${tenant}/*`], undefined],
            ]);
            const role = named(run, "aws:iam/role:Role", `targets-writer-${tenant}`);
            assert.deepEqual(JSON.parse(inputsOf(role).assumeRolePolicy).Statement[0].Principal, { AWS: ["arn:aws:iam::123456789012:root"] });
        }
        assert.deepEqual(Object.keys((run.outputs as any).tenantTargetsWriterRoleArns), ["checkout-web", "orders-queue"]);
    });

    it("reads a tenant's targets per region: its regions must be the stack's targets regions", () => {
        const staging = loadEnvironment("staging");
        const env = { ...staging, targets: { ...staging.targets, regions: ["eu-west-2"] } };
        const tenant = validateTenant({ ...example(), stacks: ["staging"] }, "tenants/checkout-web.yaml", "checkout-web");
        assert.deepEqual(tenantRegions(tenant, env), [env.region], "unset: the stack's own region");
        const both = { ...tenant, regions: [env.region, ...env.targets.regions] };
        checkTenantsOnStack([both], env);
        assert.deepEqual(tenantRegions(both, env), ["eu-west-1", "eu-west-2"]);
        assert.throws(() => checkTenantsOnStack([{ ...tenant, regions: ["eu-west-1", "us-east-1"] }], env), (err: TenantFileError) => {
            assert.equal(err.file, "tenants/checkout-web.yaml");
            assert.deepEqual(err.problems, ["regions[1]: us-east-1 is not a targets region of stack staging (eu-west-1, eu-west-2; "
                + "see environments/staging.yaml region and targets.regions)"]);
            return true;
        });
    });

    it("lists every prefix the tenants register in, so one that never had a file is stale too", async () => {
        const { platform } = await plannedStack("dev");
        const [prom1] = (await previewNodeConfigSources(platform));
        const rules = yaml.load(String(prom1.ruleFiles[EXPECTED_RULE_FILE])) as any;
        assert.deepEqual(rules.groups[0].rules.filter((r: any) => r.record === TENANT_TARGETS_EXPECTED), ["checkout-web", "orders-queue"].map((tenant) => (
            { record: TENANT_TARGETS_EXPECTED, expr: "vector(1)", labels: { prefix: `tenants/${tenant}/eu-west-1` } })));
        assert.deepEqual(yaml.load(renderExpectedRules({ tenantPrefixes: [], discovery: [] })), { groups: [] });
    });

    it("sends an email receiver through the stack's mail relay, with no secret of its own, and refuses it where there is no relay", () => {
        const tenant = validateTenant({ ...example(), stacks: ["dev", "production"], receivers: { ...example().receivers, desk: { kind: "email", to: "checkout@example.net" } } },
            "tenants/checkout-web.yaml", "checkout-web");
        assert.deepEqual(tenantSecretKeys([tenant]), ["tenant-checkout-web-oncall", "tenant-checkout-web-chat"]);
        checkTenantsOnStack([tenant], loadEnvironment("production"));
        assert.throws(() => checkTenantsOnStack([tenant], loadEnvironment("dev")), (err: TenantFileError) => {
            assert.equal(err.file, "tenants/checkout-web.yaml");
            assert.match(err.problems[0], /^receivers\.desk: email goes through the stack's mail relay, and stack dev has none \(environments\/dev\.yaml receivers\.email\)/);
            return true;
        });
        const relay = { kind: "email" as const, to: "tickets@example.net", from: "am@example.net", smarthost: "smtp.example.net:587", authUsername: "user", authPassword: "secret" };
        const config = alertmanagerConfig({
            pagerdutyRoutingKey: "k", heartbeatUrl: "https://hb.invalid/", ticket: relay, platformHours: { support: { location: "Europe/London", weekdays: ["monday:friday"], start: "09:30", end: "18:00" } },
            tenants: [{ name: "checkout-web", receivers: { desk: { kind: "email", to: "checkout@example.net" } },
                page: { receiver: "desk", severities: ["critical"] }, ticket: { receiver: "desk", severities: ["warning"] }, supportHours: tenant.supportHours }],
        }) as any;
        assert.deepEqual(config.receivers.find((r: any) => r.name === "tenant-checkout-web-desk").email_configs, [{
            to: "checkout@example.net", from: "am@example.net", smarthost: "smtp.example.net:587", auth_username: "user", auth_password: "secret",
            require_tls: true, send_resolved: true,
        }]);
    });

    it("names a tenant's missing secret before anything is created", async () => {
        const env = loadEnvironment("dev");
        const error = await runProgram({
            stack: "dev",
            program: () => createPlatform(env),
            ...placeholderSecretOptions("dev"),
            placeholderSecrets: requiredSecretKeys(env).filter((key) => key !== "tenant-orders-queue-chat"),
        }).then(() => undefined, (err: Error) => err);
        assert.ok(error, "the program ran without the secret");
        assert.match(error.message, /prometheus-platform:tenant-orders-queue-chat: missing secret \(a tenant receiver's URL or key\); set it with: pulumi config set --secret tenant-orders-queue-chat <value>/);
        assert.doesNotMatch(error.message, /placeholder/);
        assert.deepEqual((error as ProgramError).resources, [], "nothing was registered");
    });
});
