// The outside-in probe of a certificate, with the real blackbox exporter and the nodes' probe
// modules, against an HTTPS endpoint whose certificate expires in 5 days; then the platform's
// alert, with the real promtool, on the expiry the exporter measured.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { ALERT_GROUPS, renderAlertRules } from "../components/render/alertRules";
import { PROBE_JOB, renderBlackboxConfig } from "../components/render/blackbox";
import { freePort, listen } from "../rehearsals/lib/net";
import { Processes } from "../rehearsals/lib/processes";
import { issueCertificate, tlsTarget } from "../rehearsals/lib/tlsTarget";
import { request, waitFor } from "../rehearsals/lib/wait";
import { expectSuccess, requireTool, run } from "./helpers/tools";

const DAY = 86400;

describe("the certificate probe, on the real blackbox exporter", function () {
    this.timeout(120000);
    let work: string;
    let processes: Processes;
    let target: https.Server | undefined;

    afterEach(() => {
        processes?.stopAll();
        target?.close();
        if (work) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("reads the expiry of the certificate served, which RE_Observe_Certificate_Expiring tickets under 14 days; an untrusted one fails the probe", async function () {
        const exporter = requireTool(this, "prometheus-blackbox-exporter");
        const promtool = requireTool(this, "promtool");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "certificate-probe-"));
        processes = new Processes(work);
        const tls = tlsTarget(path.join(work, "tls"), "127.0.0.1", 5);
        target = tls.server;
        const targetPort = await listen(tls.server, "127.0.0.1");
        const config = path.join(work, "platform-blackbox.yml");
        fs.writeFileSync(config, renderBlackboxConfig([{ url: "https://127.0.0.1/", module: "auth_proxy" }]));
        const url = `https://127.0.0.1:${targetPort}/`;

        const probe = async (name: string, env: NodeJS.ProcessEnv) => {
            const port = await freePort("127.0.0.1");
            await processes.start(name, exporter, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`], { env, address: { host: "127.0.0.1", port } });
            await waitFor(`${name} ready`, async () => (await request({ host: "127.0.0.1", port, path: "/metrics" }).catch(() => ({ status: 0 }))).status === 200 || undefined, 20000);
            const { body } = await request({ host: "127.0.0.1", port, path: `/probe?module=auth_proxy&target=${encodeURIComponent(url)}` });
            const value = (metric: string) => Number(new RegExp(`^${metric} (\\S+)$`, "m").exec(body)?.[1]);
            return { success: value("probe_success"), expiry: value("probe_ssl_earliest_cert_expiry"), body };
        };

        // The CA trusted, as ACM's is by the nodes' image.
        const trusted = await probe("exporter-trusting", { SSL_CERT_FILE: tls.caFile });
        assert.equal(trusted.success, 1, trusted.body);
        const now = Date.now() / 1000;
        const left = trusted.expiry - now;
        assert.ok(Math.abs(left - 5 * DAY) < DAY, `the exporter reads the served certificate's expiry: ${(left / DAY).toFixed(2)} days left`);

        // The platform's rule on that value: quiet for 10 minutes, then a ticket naming the URL.
        const rules = path.join(work, "platform.yml");
        fs.writeFileSync(rules, renderAlertRules("https://runbooks.invalid/runbooks.md", ALERT_GROUPS, { annotations: false }));
        const tests = path.join(work, "certificate.test.yml");
        // promtool's clock starts at 0: the expiry is given as the seconds left from then.
        fs.writeFileSync(tests, yaml.dump({
            rule_files: [rules],
            tests: [{
                interval: "1m",
                input_series: [{ series: `probe_ssl_earliest_cert_expiry{job="${PROBE_JOB}", instance="prom-1", url="${url}"}`, values: `${Math.round(left)}x30` }],
                alert_rule_test: [
                    { eval_time: "9m", alertname: "RE_Observe_Certificate_Expiring", exp_alerts: [] },
                    { eval_time: "11m", alertname: "RE_Observe_Certificate_Expiring", exp_alerts: [{ exp_labels: { url, severity: "ticket" } }] },
                ],
            }],
        }));
        assert.match(expectSuccess(run(promtool, ["test", "rules", tests]), "promtool test rules on the measured expiry"), /SUCCESS/);

        // Not trusted: the probe fails, so a certificate the nodes cannot verify pages as an endpoint down.
        const untrusted = await probe("exporter-default-cas", { SSL_CERT_FILE: path.join(work, "no-such-ca.crt") });
        assert.equal(untrusted.success, 0, untrusted.body);
        assert.deepEqual(processes.verify(), []);
    });

    it("passes a URL behind the ALB's sign-in only on the redirect to the provider, with the nodes' modules", async function () {
        const exporterBinary = requireTool(this, "prometheus-blackbox-exporter");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "sign-in-probe-"));
        processes = new Processes(work);
        const { keyFile, certFile, caFile } = issueCertificate(path.join(work, "tls"), "127.0.0.1", 5);
        // Stands for the ALB: /signed-in-only redirects to the provider, as authenticate-oidc does; /open answers Grafana's 200.
        target = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (req, res) => {
            if (req.url === "/signed-in-only") {
                res.writeHead(302, { location: "https://sso.example.net/authorize?client_id=grafana" }).end();
            } else {
                res.writeHead(200).end("grafana");
            }
        });
        const targetPort = await listen(target, "127.0.0.1");
        const config = path.join(work, "platform-blackbox.yml");
        const grafana = `https://127.0.0.1:${targetPort}/signed-in-only`;
        // The modules a sign-in stack renders: the ALB's default 404 for office-only hosts, the redirect for Grafana.
        fs.writeFileSync(config, renderBlackboxConfig([{ url: "https://alerts.invalid/", module: "office_only" }, { url: grafana, module: "sign_in" }]));
        const port = await freePort("127.0.0.1");
        await processes.start("exporter", exporterBinary, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`],
            { env: { SSL_CERT_FILE: caFile }, address: { host: "127.0.0.1", port } });
        await waitFor("exporter ready", async () => (await request({ host: "127.0.0.1", port, path: "/metrics" }).catch(() => ({ status: 0 }))).status === 200 || undefined, 20000);
        const success = async (module: string, url: string) => {
            const { body } = await request({ host: "127.0.0.1", port, path: `/probe?module=${module}&target=${encodeURIComponent(url)}` });
            return Number(/^probe_success (\S+)$/m.exec(body)?.[1]);
        };
        assert.equal(await success("sign_in", grafana), 1, "the redirect to the provider is the sign-in's answer");
        assert.equal(await success("sign_in", `https://127.0.0.1:${targetPort}/open`), 0, "a Grafana answering without sign-in fails the probe");
        assert.equal(await success("office_only", grafana), 0, "the redirect is not followed to the provider's page");
        assert.deepEqual(processes.verify(), []);
    });
});
