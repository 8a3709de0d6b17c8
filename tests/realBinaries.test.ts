// Every artifact a stack renders, checked by the program that reads it in production.
import { strict as assert } from "assert";
import { renderAlertmanagerConfig, tenantReceiverName } from "../components/render/alertmanagerConfig";
import { loadEnvironment } from "../infra/environment";
import { renderGrafanaEntrypoint } from "../components/render/grafanaConfig";
import { BLACKBOX_CONFIG_FILE, BLACKBOX_UNIT } from "../components/render/blackbox";
import { FIXTURE_TENANTS_DIR } from "../rehearsals/lib/fixtures";
import { loadTenants, renderTenantRules, renderTenantRuleTests, tenantRuleFileName } from "../infra/tenants";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { ALERT_GROUPS, allAlerts, HEARTBEAT_ALERT, EXPECTED_RULE_FILE, renderAlertRules, renderExpectedRules } from "../components/render/alertRules";
import { htpasswdLine } from "../components/render/nginxConfig";
import { randomStyleBcryptHash } from "../scripts/lib/bcrypt";
import { remapNginxPaths } from "../rehearsals/lib/remap";
import { freePort } from "../rehearsals/lib/net";
import { Processes } from "../rehearsals/lib/processes";
import { observe, request } from "../rehearsals/lib/wait";
import { writeRendered } from "../scripts/lib/plan";
import { inputsOf, ofType, plannedStack, STACKS } from "./helpers/stacks";
import { expectSuccess, INSTALL_HINT, requireTool, run } from "./helpers/tools";

const RULE_TESTS = path.resolve(__dirname, "rules", "platform.test.yml");

function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true })
        .flatMap((entry) => entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)]);
}

for (const stack of STACKS) {
    describe(`${stack}'s rendered configuration, checked by the real binaries`, function () {
        this.timeout(120000);
        let out: string;
        // Every node of every shard: a further shard's configuration differs (its jobs, its rules, its labels) and is checked too.
        const nodes = loadEnvironment(stack).nodes.map((n) => n.name);

        before(async () => {
            out = fs.mkdtempSync(path.join(os.tmpdir(), `rendered-${stack}-`));
            const { platform, run: programRun } = await plannedStack(stack);
            await writeRendered(platform, out, programRun.placeholderSecrets);
        });
        after(() => fs.rmSync(out, { recursive: true, force: true }));

        it("promtool accepts each node's prometheus.yml with its rule files in place", function () {
            const promtool = requireTool(this, "promtool");
            for (const node of nodes) {
                // The set as the node installs it: prometheus.yml, and the rule files where it names them.
                const set = path.join(out, node, "config");
                const config = fs.readFileSync(path.join(set, "prometheus.yml"), "utf8")
                    .replaceAll("/etc/prometheus/rules/", `${set}/rules/`)
                    .replaceAll("/etc/prometheus/", `${set}/`);
                const remapped = path.join(set, "prometheus.remapped.yml");
                fs.writeFileSync(remapped, config);
                const said = expectSuccess(run(promtool, ["check", "config", remapped]), `promtool check config (${node})`);
                const ruleFiles = fs.readdirSync(path.join(set, "rules"));
                assert.equal(said.match(/SUCCESS: \d+ rules found/g)?.length, ruleFiles.length, `${node}: ${ruleFiles.join(", ")}`);
                if (ruleFiles.includes("platform.yml")) {
                    assert.match(said, new RegExp(`SUCCESS: ${allAlerts().length} rules found`));
                }
            }
        });

        it("promtool accepts the rule file", function () {
            const promtool = requireTool(this, "promtool");
            const rules = path.join(out, "prom-1", "config/rules/platform.yml");
            const said = expectSuccess(run(promtool, ["check", "rules", rules]), "promtool check rules");
            assert.match(said, new RegExp(`SUCCESS: ${allAlerts().length} rules found`));
        });

        it("amtool accepts alertmanager.yml and routes a page, a ticket and the heartbeat to their receivers", function () {
            const amtool = requireTool(this, "amtool");
            const config = path.join(out, "alertmanager", "alertmanager.yml");
            expectSuccess(run(amtool, ["check-config", config]), "amtool check-config");
            const slack = stack === "production" ? "slack," : "";
            const cases: [string[], string][] = [
                [["alertname=RE_Observe_Prometheus_Below_Threshold", "severity=page"], `${slack}pagerduty`],
                [["alertname=RE_Observe_Target_Down", "severity=ticket"], `${slack}ticket`],
                [[`alertname=${HEARTBEAT_ALERT}`, "severity=heartbeat"], "heartbeat"],
                [["alertname=SomethingUnlabelled"], "ticket"],
                // Each tenant's alerts reach its receivers and no one else's. Tickets only in its support
                // hours: amtool does not evaluate time, tests/supportHours.test.ts runs Alertmanager for that.
                ...loadTenants(stack).flatMap((tenant): [string[], string][] => [
                    [[`tenant=${tenant.name}`, `severity=${tenant.routing.page.severities[0]}`], tenantReceiverName(tenant.name, tenant.routing.page.receiver)],
                    [[`tenant=${tenant.name}`, `severity=${tenant.routing.ticket.severities[0]}`], tenantReceiverName(tenant.name, tenant.routing.ticket.receiver)],
                    [[`tenant=${tenant.name}`, "severity=page", "alertname=RE_Observe_Prometheus_Below_Threshold"], tenantReceiverName(tenant.name, tenant.routing.ticket.receiver)],
                ]),
            ];
            for (const [labels, receivers] of cases) {
                const result = run(amtool, ["config", "routes", "test", `--config.file=${config}`, `--verify.receivers=${receivers}`, ...labels]);
                expectSuccess(result, `amtool routes test ${labels.join(" ")} -> ${receivers}`);
                assert.equal(result.stdout.trim(), receivers);
            }
        });

        it("the blackbox exporter accepts each node's probe modules", function () {
            const blackbox = requireTool(this, "prometheus-blackbox-exporter");
            for (const node of nodes) {
                const config = path.join(out, node, "files", BLACKBOX_CONFIG_FILE.slice(1));
                const said = expectSuccess(run(blackbox, ["--config.check", `--config.file=${config}`]), `blackbox exporter --config.check (${node})`);
                assert.match(said, /Config file is ok/);
            }
        });

        it("nginx -t accepts each node's nginx.conf", function () {
            const nginx = requireTool(this, "nginx");
            for (const node of nodes) {
                const work = fs.mkdtempSync(path.join(os.tmpdir(), "nginx-"));
                try {
                    const config = remapNginxPaths(fs.readFileSync(path.join(out, node, "files/etc/nginx/nginx.conf"), "utf8"),
                        work, process.getuid?.() === 0);
                    fs.writeFileSync(path.join(work, "nginx.conf"), config);
                    fs.writeFileSync(path.join(work, "htpasswd"), "");
                    const said = expectSuccess(run(nginx, ["-t", "-p", work, "-e", `${work}/error.log`, "-c", `${work}/nginx.conf`]), `nginx -t (${node})`);
                    assert.match(said, /syntax is ok/);
                    assert.match(said, /test is successful/);
                } finally {
                    fs.rmSync(work, { recursive: true, force: true });
                }
            }
        });

        it("systemd accepts each node's units and timer, warning about nothing", function () {
            const systemdAnalyze = requireTool(this, "systemd-analyze");
            const work = fs.mkdtempSync(path.join(os.tmpdir(), "units-"));
            try {
                // Stand-ins for the binaries the units start, which the node installs at boot.
                const bin = path.join(work, "bin");
                fs.mkdirSync(bin);
                const unitsDir = path.join(out, "prom-1", "files/etc/systemd/system");
                const units = fs.readdirSync(unitsDir).filter((entry) => !entry.endsWith(".d"));
                assert.deepEqual(units.sort(), ["node_exporter.service", "platform-journal-shipper.service", "prometheus-config-sync.service", "prometheus-config-sync.timer",
                    "prometheus-targets-sync.service", "prometheus-targets-sync.timer", "prometheus.service"]);
                // Debian's blackbox exporter unit with the platform's drop-in, as systemd merges them.
                const dropIns = fs.readdirSync(path.join(unitsDir, `${BLACKBOX_UNIT}.d`));
                assert.deepEqual(dropIns, ["platform.conf"]);
                const packaged = ["/lib/systemd/system", "/usr/lib/systemd/system"].map((dir) => path.join(dir, BLACKBOX_UNIT)).find((f) => fs.existsSync(f));
                assert.ok(packaged, `Debian's ${BLACKBOX_UNIT} is not installed: ${INSTALL_HINT}`);
                const merged = `${fs.readFileSync(packaged, "utf8")}\n${fs.readFileSync(path.join(unitsDir, `${BLACKBOX_UNIT}.d`, "platform.conf"), "utf8")}`;
                fs.writeFileSync(path.join(work, BLACKBOX_UNIT), merged);
                units.push(BLACKBOX_UNIT);
                for (const unit of units.filter((u) => u !== BLACKBOX_UNIT)) {
                    const text = fs.readFileSync(path.join(unitsDir, unit), "utf8");
                    for (const [, command] of text.matchAll(/^ExecStart=\/usr\/local\/s?bin\/(\S+)/gm)) {
                        fs.writeFileSync(path.join(bin, command), "#!/bin/sh\n", { mode: 0o755 });
                    }
                    fs.writeFileSync(path.join(work, unit), text.replace(/\/usr\/local\/s?bin\//g, `${bin}/`));
                }
                const result = run(systemdAnalyze, ["verify", "--man=no", ...units.map((u) => path.join(work, u))]);
                expectSuccess(result, "systemd-analyze verify");
                assert.equal(`${result.stdout}${result.stderr}`.trim(), "", "systemd-analyze verify had something to say");
            } finally {
                fs.rmSync(work, { recursive: true, force: true });
            }
        });

        it("cloud-init accepts each node's user data", function () {
            const cloudInit = requireTool(this, "cloud-init");
            for (const node of nodes) {
                const said = expectSuccess(run(cloudInit, ["schema", "--config-file", path.join(out, node, "cloud-config.yaml")]), `cloud-init schema (${node})`);
                assert.match(said, /Valid cloud-config/);
            }
        });

        it("pyflakes finds nothing in the journal shipper each node runs, and its python3 compiles it", function () {
            const pyflakes = requireTool(this, "pyflakes3");
            for (const node of nodes) {
                const shipper = path.join(out, node, "files/usr/local/sbin/platform-journal-shipper");
                assert.match(fs.readFileSync(shipper, "utf8"), /^#!\/usr\/bin\/python3\n/);
                expectSuccess(run(pyflakes, [shipper]), `pyflakes3 (${node})`);
                expectSuccess(run("/usr/bin/python3", ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", shipper]), `python3 parses it (${node})`);
            }
        });

        it("shellcheck finds nothing in any script the nodes, the Alertmanager tasks or Grafana's task run", async function () {
            const shellcheck = requireTool(this, "shellcheck");
            const scripts = walk(path.join(out, "prom-1", "files")).filter((f) => f.endsWith(".sh"));
            assert.deepEqual(scripts.map((f) => path.basename(f)).sort(),
                ["bootstrap-prometheus-node.sh", "install-ssm-agent.sh", "mount-prometheus-data.sh", "sync-prometheus-config.sh", "sync-prometheus-targets.sh"]);
            for (const script of scripts) {
                expectSuccess(run(shellcheck, ["--shell=bash", "--severity=style", script]), `shellcheck ${path.basename(script)}`);
            }
            const { run: programRun, platform } = await plannedStack(stack);
            const entrypoints = ofType(programRun, "aws:ecs/taskDefinition:TaskDefinition").filter((task) => task.name.startsWith("alertmanager-"))
                .map((task): [string, string] => [task.name, JSON.parse(inputsOf(task).containerDefinitions)[0].command[0]]);
            // Grafana's, from its files: where the AMP workspace is new, its task definition is known only after apply.
            entrypoints.push(["grafana", renderGrafanaEntrypoint(Object.keys(platform.grafanaProvisioning).sort())]);
            assert.equal(entrypoints.length, 4);
            for (const [name, script] of entrypoints) {
                const entrypoint = path.join(out, `${name}-entrypoint.sh`);
                fs.writeFileSync(entrypoint, script);
                expectSuccess(run(shellcheck, ["--shell=sh", "--severity=style", entrypoint]), `shellcheck ${name}'s entrypoint`);
            }
        });
    });
}

describe("alert rule unit tests (promtool test rules)", function () {
    this.timeout(120000);

    it("fires every alert after its for: and keeps it quiet where it must", function () {
        const promtool = requireTool(this, "promtool");
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "rule-tests-"));
        try {
            fs.writeFileSync(path.join(work, "platform.yml"), renderAlertRules("https://runbooks.invalid/runbooks.md", ALERT_GROUPS));
            fs.writeFileSync(path.join(work, EXPECTED_RULE_FILE), renderExpectedRules({
                tenantPrefixes: ["tenants/a/eu-west-1", "tenants/b/eu-west-1", "tenants/c/eu-west-2"],
                discovery: [{ region: "eu-west-1", source: "ecs" }, { region: "eu-west-2", source: "ecs" }, { region: "eu-west-2", source: "cloudmap" }],
            }));
            fs.copyFileSync(RULE_TESTS, path.join(work, "platform.test.yml"));
            const said = expectSuccess(run(promtool, ["test", "rules", "platform.test.yml"], { cwd: work }), "promtool test rules");
            assert.match(said, /SUCCESS/);
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("asserts the annotations of every firing alert it expects: each template is evaluated by promtool", () => {
        const doc = yaml.load(fs.readFileSync(RULE_TESTS, "utf8")) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: { exp_annotations?: Record<string, string> }[] }[] }[] };
        const expected = doc.tests.flatMap((t) => t.alert_rule_test ?? []).flatMap((a) => a.exp_alerts.map((e) => [a.alertname, Object.keys(e.exp_annotations ?? {}).sort()]));
        assert.ok(expected.length >= allAlerts().length);
        assert.deepEqual(expected.filter(([, keys]) => (keys as string[]).join() !== "description,runbook_url,summary"), []);
    });

    it("tests every alert both firing and quiet", () => {
        const text = fs.readFileSync(RULE_TESTS, "utf8");
        for (const { alert } of allAlerts()) {
            const firing = new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`).test(text);
            const quiet = new RegExp(`alertname: ${alert}, exp_alerts: \\[\\]`).test(text);
            assert.ok(firing, `${alert} is never tested firing`);
            assert.ok(quiet || alert === HEARTBEAT_ALERT, `${alert} is never tested quiet`);
        }
    });
});

describe("tenant rules (promtool check rules, promtool test rules)", () => {
    for (const tenant of [...loadTenants(), ...loadTenants(undefined, FIXTURE_TENANTS_DIR)]) {
        it(`${tenant.name}: its rules as the nodes run them pass promtool, and its own tests pass`, function () {
            const promtool = requireTool(this, "promtool");
            const work = fs.mkdtempSync(path.join(os.tmpdir(), `tenant-${tenant.name}-`));
            try {
                fs.writeFileSync(path.join(work, tenantRuleFileName(tenant.name)), renderTenantRules(tenant));
                fs.writeFileSync(path.join(work, "tests.yml"), renderTenantRuleTests(tenant));
                const rules = tenant.rules.groups.flatMap((g) => g.rules).length;
                assert.match(expectSuccess(run(promtool, ["check", "rules", tenantRuleFileName(tenant.name)], { cwd: work }), "promtool check rules"),
                    new RegExp(`SUCCESS: ${rules} rules found`));
                assert.match(expectSuccess(run(promtool, ["test", "rules", "tests.yml"], { cwd: work }), "promtool test rules"), /SUCCESS/);
            } finally {
                fs.rmSync(work, { recursive: true, force: true });
            }
        });
    }
});

describe("a tenant's email receiver", () => {
    it("is accepted by amtool, sent through the stack's mail relay", function () {
        const amtool = requireTool(this, "amtool");
        const relay = loadEnvironment("production").receivers.email!;
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "tenant-email-"));
        try {
            const config = path.join(work, "alertmanager.yml");
            fs.writeFileSync(config, renderAlertmanagerConfig({
                pagerdutyRoutingKey: "key", heartbeatUrl: "https://heartbeat.invalid/", platformHours: { support: { location: "Europe/London", weekdays: ["monday:friday"], start: "09:30", end: "18:00" } },
                ticket: { kind: "email", ...relay, authUsername: "AKIAPLACEHOLDER23456", authPassword: "password" },
                tenants: [{
                    name: "billing", receivers: { desk: { kind: "email", to: "billing-oncall@example.net" }, hook: { kind: "webhook", secret: "https://hook.invalid/" } },
                    page: { receiver: "hook", severities: ["critical"] }, ticket: { receiver: "desk", severities: ["warning"] },
                    supportHours: { location: "Europe/London", weekdays: ["monday:friday"], start: "09:30", end: "18:00" },
                }],
            }));
            assert.match(expectSuccess(run(amtool, ["check-config", config]), "amtool check-config"), /SUCCESS[\s\S]*- 5 receivers/);
            const routed = run(amtool, ["config", "routes", "test", `--config.file=${config}`, "tenant=billing", "severity=warning"]);
            expectSuccess(routed, "amtool config routes test");
            assert.equal(routed.stdout.trim(), "tenant-billing-desk");
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });
});

describe("basic-auth htpasswd line, hashed as @pulumi/random hashes (bcryptjs, $2a$, cost 10)", function () {
    this.timeout(60000);

    it("lets the real nginx pass its user with the password and refuse a wrong one", async function () {
        const nginx = requireTool(this, "nginx");
        const password = "correct-horse-battery-staple";
        const hash = randomStyleBcryptHash(password);
        assert.match(hash, /^\$2a\$10\$[./A-Za-z0-9]{53}$/);
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "basic-auth-"));
        fs.chmodSync(work, 0o755);
        const processes = new Processes(work);
        try {
            const file = path.join(work, "htpasswd");
            fs.writeFileSync(file, htpasswdLine("grafana", hash), { mode: 0o644 });
            const port = await freePort("127.0.0.1");
            // A file served, not a return: return answers before the access phase where auth_basic runs.
            fs.mkdirSync(path.join(work, "www"), { mode: 0o755 });
            fs.writeFileSync(path.join(work, "www", "index.html"), "in\n", { mode: 0o644 });
            fs.writeFileSync(path.join(work, "nginx.conf"), `${process.getuid?.() === 0 ? "user root;\n" : ""}daemon off;
pid ${work}/nginx.pid;
error_log ${work}/error.log;
events {}
http {
    access_log off;
    client_body_temp_path ${work}/body;
    proxy_temp_path ${work}/proxy;
    fastcgi_temp_path ${work}/fastcgi;
    uwsgi_temp_path ${work}/uwsgi;
    scgi_temp_path ${work}/scgi;
    server {
        listen 127.0.0.1:${port};
        location / {
            auth_basic "prometheus";
            auth_basic_user_file ${file};
            root ${work}/www;
        }
    }
}
`);
            await processes.start("nginx", nginx, ["-p", work, "-c", path.join(work, "nginx.conf")], { address: { host: "127.0.0.1", port } });
            const status = (authorization?: string) => observe("nginx to answer", async () => {
                const answer = await request({ host: "127.0.0.1", port, path: "/", headers: authorization ? { authorization } : {} }).catch(() => undefined);
                return answer?.status;
            }, 30000);
            const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
            assert.deepEqual([await status(basic("grafana", password)), await status(basic("grafana", "wrong")), await status()], [200, 401, 401]);
        } finally {
            await processes.stop("nginx");
            processes.stopAll();
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("verifies against its password with Apache's htpasswd too", function () {
        const htpasswd = requireTool(this, "htpasswd");
        const password = "correct-horse-battery-staple";
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "htpasswd-"));
        try {
            const file = path.join(work, "htpasswd");
            fs.writeFileSync(file, htpasswdLine("grafana", randomStyleBcryptHash(password)));
            assert.match(expectSuccess(run(htpasswd, ["-vb", file, "grafana", password]), "htpasswd -vb"), /correct/);
            assert.notEqual(run(htpasswd, ["-vb", file, "grafana", "wrong"]).status, 0);
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });
});

