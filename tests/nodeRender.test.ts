import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { encodeUserData, USER_DATA_HEADROOM, USER_DATA_LIMIT_BYTES } from "../components/prometheusNode";
import { NodeFile, PrometheusNodeSpec, prometheusNodeFiles, renderNode } from "../components/render/cloudInit";
import { CREDENTIAL_TRIES, renderMountScript, shellQuote, WHILE_CREDENTIALS_PROPAGATE } from "../components/render/nodeScripts";
import { previewNodeSpec } from "../scripts/lib/plan";
import { plannedStack, STACKS } from "./helpers/stacks";
import { NODE_LOG_UNITS } from "../infra/rendering";

const VOLUME_ID = "vol-0abc123def4567890";

async function nodeSpec(stack: string, index: number): Promise<PrometheusNodeSpec> {
    const { platform } = await plannedStack(stack);
    return { ...(await previewNodeSpec(platform, platform.nodes[index])), volumeId: VOLUME_ID };
}

/** The timer runs its service at least once a minute. */
function assertAtMostEveryMinute(files: NodeFile[], timerUnit: string, stack: string): void {
    const timer = files.find((f) => f.path.endsWith(timerUnit))!.content;
    const seconds = Number(/^OnUnitActiveSec=(\d+)s$/m.exec(timer)?.[1]);
    assert.ok(seconds > 0 && seconds <= 60, `${stack} ${timerUnit}: every ${seconds}s`);
}

describe("Prometheus node rendering", function () {
    this.timeout(120000);

    it("writes a cloud-config with unpinned Debian packages and the bootstrap, which installs the system set it pins", async () => {
        const spec = await nodeSpec("production", 1);
        const rendered = renderNode(spec);
        const text = rendered.cloudConfig;
        assert.ok(text.startsWith("#cloud-config\n"));
        const doc = yaml.load(text) as Record<string, any>;
        assert.equal(doc.hostname, "prom-2");
        assert.deepEqual(doc.packages, ["nginx", "awscli", "rsync", "curl", "ca-certificates", "gpgv", "prometheus-blackbox-exporter",
            "python3-systemd", "python3-botocore"]);
        assert.equal(doc.package_upgrade, true, "security updates published since the AMI apply at first boot");
        // User data holds the bootstrap alone; it fetches the system set, checks its sha256 and installs it.
        assert.deepEqual(doc.write_files.map((f: any) => f.path), ["/usr/local/sbin/bootstrap-prometheus-node.sh"]);
        assert.deepEqual(doc.runcmd, [["/usr/local/sbin/bootstrap-prometheus-node.sh"]]);
        const bootstrapScript = doc.write_files[0].content;
        assert.equal(rendered.systemSet.key, `system/prom-2/${rendered.systemSet.sha256}.json`);
        const setCheck = bootstrapScript.indexOf(`'${rendered.systemSet.sha256}'"  $system_set" | sha256sum --check --strict`);
        const setInstall = bootstrapScript.indexOf(`python3 - "$system_set"`);
        const firstUse = bootstrapScript.indexOf("platform-journal-shipper --check");
        assert.ok(bootstrapScript.includes(`'s3://${spec.config.bucket}/${rendered.systemSet.key}'`));
        // The set's own check (not the release tarballs'), then its install, then the first of its files run.
        assert.ok(setCheck > 0 && setCheck < setInstall && setInstall < firstUse, `check at ${setCheck}, install at ${setInstall}, first use at ${firstUse}`);
        // The set: every other file, as base64 with its mode and owner. No prometheus.yml, rules or
        // htpasswd: those are data the node fetches, so changing them replaces nothing.
        const set = JSON.parse(rendered.systemSet.content) as { files: { path: string; permissions: string; owner: string; content: string }[] };
        assert.equal(createHash("sha256").update(rendered.systemSet.content).digest("hex"), rendered.systemSet.sha256);
        const files = set.files.map((f) => ({ ...f, content: f.path.endsWith(".gpg") ? f.content : Buffer.from(f.content, "base64").toString("utf8") }));
        assert.deepEqual(files.map((f) => f.path), [
            "/usr/local/sbin/sync-prometheus-config.sh",
            "/usr/local/sbin/mount-prometheus-data.sh",
            "/usr/local/sbin/sync-prometheus-targets.sh",
            "/etc/systemd/system/prometheus.service",
            "/etc/systemd/system/node_exporter.service",
            "/etc/systemd/system/prometheus-targets-sync.service",
            "/etc/systemd/system/prometheus-targets-sync.timer",
            "/etc/systemd/system/prometheus-config-sync.service",
            "/etc/systemd/system/prometheus-config-sync.timer",
            "/etc/nginx/nginx.conf",
            "/etc/prometheus/platform-blackbox.yml",
            "/etc/systemd/system/prometheus-blackbox-exporter.service.d/platform.conf",
            "/usr/local/sbin/platform-journal-shipper",
            "/etc/platform/journal-shipper.json",
            "/etc/systemd/system/platform-journal-shipper.service",
            "/usr/local/share/keyrings/amazon-ssm-agent.gpg",
            "/usr/local/sbin/install-ssm-agent.sh",
        ]);
        assert.deepEqual(files.map((f) => f.path), rendered.files.slice(0, -1).map((f) => f.path));
        const keyring = files.find((f) => f.path.endsWith("amazon-ssm-agent.gpg"))!;
        assert.equal(Buffer.from(keyring.content, "base64")[0] & 0x80, 0x80, "a binary OpenPGP packet, as gpgv reads it");
        const ssmScript = files.find((f) => f.path.endsWith("install-ssm-agent.sh"))!;
        assert.equal(ssmScript.permissions, "0755");
        assert.match(ssmScript.content, /^base_url='https:\/\/s3\.eu-west-1\.amazonaws\.com\/amazon-ssm-eu-west-1\/latest\/debian_amd64'$/m);
        assert.ok(bootstrapScript.indexOf("install-ssm-agent.sh") < bootstrapScript.indexOf("mount-prometheus-data.sh"),
            "the agent comes first, so a node whose boot fails later can still be reached");
        const shipperStart = bootstrapScript.indexOf("systemctl enable --now platform-journal-shipper.service");
        assert.ok(bootstrapScript.indexOf("/usr/local/sbin/platform-journal-shipper --check --config /etc/platform/journal-shipper.json") < shipperStart
            && shipperStart < bootstrapScript.indexOf("install-ssm-agent.sh"),
            "the journal shipper is checked and started before anything that can fail, so a failed boot's journal leaves the instance");
        const shipperConfig = JSON.parse(files.find((f) => f.path === "/etc/platform/journal-shipper.json")!.content);
        assert.deepEqual(shipperConfig, {
            logGroup: "/ec2/prometheus-platform-production/prometheus-nodes", region: "eu-west-1", node: "prom-2", units: NODE_LOG_UNITS,
            stateDir: "/var/lib/platform-journal-shipper", textfile: "/var/lib/node_exporter/textfile/platform_log_shipper.prom", flushSeconds: 5,
        });
        const shipperUnit = files.find((f) => f.path === "/etc/systemd/system/platform-journal-shipper.service")!.content;
        const outlives = /^Before=(.*)$/m.exec(shipperUnit)![1].split(" ");
        assert.ok(["prometheus.service", "nginx.service", "node_exporter.service", "prometheus-config-sync.service"].every((u) => outlives.includes(u)),
            "stops after the services, so their last entries leave with it");
        assert.ok(!outlives.some((u) => u.startsWith("cloud-")), "no ordering against cloud-init, which runs before the network is up");
        assert.ok(doc.write_files.every((f: any) => f.defer === true), "the bootstrap is written after the packages are installed");
        const configSync = files.find((f) => f.path.endsWith("sync-prometheus-config.sh"))!.content;
        assert.match(configSync, /^\s*install -m 0640 -o root -g "\$htpasswd_group" "\$1\/htpasswd" "\$htpasswd_file"$/m, "htpasswd readable by nginx's workers only");
        assert.match(configSync, /^htpasswd_group='www-data'$/m);
        assert.ok(bootstrapScript.indexOf("sync-prometheus-config.sh") < bootstrapScript.indexOf("promtool check config"),
            "the first configuration set is applied before it is checked and anything starts");
        const blackboxCheck = bootstrapScript.indexOf("/usr/bin/prometheus-blackbox-exporter --config.check --config.file=/etc/prometheus/platform-blackbox.yml");
        assert.ok(blackboxCheck > 0 && blackboxCheck < bootstrapScript.indexOf("systemctl restart"), "the probe modules are checked before anything starts");
        assert.match(bootstrapScript, /^systemctl restart .*prometheus-blackbox-exporter\.service/m, "the exporter restarts with the platform's drop-in");
        const dropIn = files.find((f) => f.path.endsWith("platform.conf"))!.content;
        assert.match(dropIn, /^ExecStart=\nExecStart=\/usr\/bin\/prometheus-blackbox-exporter --config\.file=\/etc\/prometheus\/platform-blackbox\.yml --web\.listen-address=0\.0\.0\.0:9115$/m);
        assert.deepEqual(doc.runcmd, [["/usr/local/sbin/bootstrap-prometheus-node.sh"]]);
    });

    it("retries the steps that need the instance role's credentials, as rendered: until one succeeds, or 12 tries and a FATAL line", async () => {
        const bootstrap = renderNode(await nodeSpec("dev", 0)).files.find((f) => f.path.endsWith("bootstrap-prometheus-node.sh"))!.content;
        const retry = new RegExp(`^${WHILE_CREDENTIALS_PROPAGATE}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, "m").exec(bootstrap)?.[0];
        assert.ok(retry, "the bootstrap defines the retry");
        // Both steps go through it: the system set's fetch and the first configuration sync.
        assert.equal(bootstrap.split(`\n${WHILE_CREDENTIALS_PROPAGATE} "`).length - 1, 2);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-retry-"));
        try {
            // A step that fails `failures` times, then succeeds; sleep counts instead of waiting.
            const run = (failures: number) => spawnSync("bash", ["-c", `set -euo pipefail
sleep() { echo slept >> ${dir}/sleeps; }
step() { echo try >> ${dir}/tries; [ "$(wc -l < ${dir}/tries)" -gt ${failures} ]; }
${retry}
${WHILE_CREDENTIALS_PROPAGATE} "the step never worked" step
echo done`], { encoding: "utf8" });
            const counts = () => ["tries", "sleeps"].map((f) => fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8").split("\n").length - 1 : 0);
            const recovered = run(3);
            assert.deepEqual([recovered.status, recovered.stdout, counts()], [0, "done\n", [4, 3]]);
            ["tries", "sleeps"].forEach((f) => fs.rmSync(path.join(dir, f), { force: true }));
            const never = run(100);
            assert.deepEqual([never.status, never.stdout, never.stderr, counts()], [1, "", "FATAL: the step never worked\n", [CREDENTIAL_TRIES, CREDENTIAL_TRIES - 1]]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("installs the stack's pinned Prometheus and node_exporter releases, checksum-verified", async () => {
        const spec = await nodeSpec("dev", 0);
        const bootstrap = prometheusNodeFiles(spec).find((f) => f.path.endsWith("bootstrap-prometheus-node.sh"))!.content;
        assert.match(bootstrap, /^install_release prometheus '3\.5\.3' ''$/m);
        assert.match(bootstrap, /^install_release node_exporter '1\.9\.1' ''$/m);
        assert.match(bootstrap, /sha256sum --check --strict/);
        assert.doesNotMatch(bootstrap, /latest/);
        const pinned = prometheusNodeFiles({ ...spec, prometheusSha256: "a".repeat(64) })
            .find((f) => f.path.endsWith("bootstrap-prometheus-node.sh"))!.content;
        assert.match(pinned, new RegExp(`^install_release prometheus '3\\.5\\.3' '${"a".repeat(64)}'$`, "m"));
        assert.ok(bootstrap.indexOf("mount-prometheus-data.sh") < bootstrap.indexOf("install_release prometheus"),
            "the data volume is mounted before anything is installed");
    });

    it("keeps Prometheus off the root disk: its unit requires the data mount", async () => {
        const spec = await nodeSpec("production", 0);
        const unit = prometheusNodeFiles(spec).find((f) => f.path.endsWith("/prometheus.service"))!.content;
        assert.match(unit, /^RequiresMountsFor=\/mnt\/prometheus$/m);
        assert.match(unit, /--storage\.tsdb\.path=\/mnt\/prometheus/);
        assert.match(unit, /--storage\.tsdb\.retention\.time=60d/);
        assert.match(unit, /--storage\.tsdb\.retention\.size=450GB/);
        assert.match(unit, /--web\.external-url=https:\/\/prom-1\.monitoring\.example\.net\//);
    });

    it("fetches its configuration set from its own prefix at most every 60 s, checks it with promtool and reloads without a restart", async () => {
        for (const stack of STACKS) {
            const spec = await nodeSpec(stack, 1);
            const files = prometheusNodeFiles(spec);
            assertAtMostEveryMinute(files, "prometheus-config-sync.timer", stack);
            const script = files.find((f) => f.path.endsWith("sync-prometheus-config.sh"))!.content;
            assert.match(script, new RegExp(`^bucket=${shellQuote(spec.config.bucket)}$`, "m"));
            assert.match(script, /^prefix='prom-2\/'$/m);
            assert.match(script, /promtool" check config --syntax-only/);
            assert.match(script, /promtool" check rules/);
            assert.match(script, /^reload_prometheus\(\) \{ systemctl reload prometheus\.service; \}$/m);
            assert.doesNotMatch(script, /restart/);
            const unit = files.find((f) => f.path.endsWith("/prometheus.service"))!.content;
            assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
            const exporter = files.find((f) => f.path.endsWith("/node_exporter.service"))!.content;
            assert.match(exporter, /--collector\.textfile\.directory=\/var\/lib\/node_exporter\/textfile/);
        }
    });

    it("syncs the targets bucket at most every 60 s, deleting removed targets", async () => {
        for (const stack of STACKS) {
            const spec = await nodeSpec(stack, 0);
            const files = prometheusNodeFiles(spec);
            assertAtMostEveryMinute(files, "prometheus-targets-sync.timer", stack);
            const sync = files.find((f) => f.path.endsWith("sync-prometheus-targets.sh"))!.content;
            assert.match(sync, new RegExp(`^bucket=${shellQuote(spec.targetsBucket)}$`, "m"));
            assert.match(sync, /s3 sync --delete/);
            assert.match(sync, /rsync .*--delete --delay-updates/);
        }
    });

    it("finds the data volume by its volume ID", async () => {
        const spec = await nodeSpec("dev", 2);
        const mount = prometheusNodeFiles(spec).find((f) => f.path.endsWith("mount-prometheus-data.sh"))!.content;
        assert.match(mount, new RegExp(`^volume_id='${VOLUME_ID}'$`, "m"));
        assert.match(mount, /nvme-Amazon_Elastic_Block_Store_\$\{volume_id\/\/-\/\}/);
        assert.doesNotMatch(mount, /\/dev\/xvdf|\/dev\/nvme1n1/);
    });

    it("keeps every node's user data within 75% of EC2's 16 KiB (gzipped, counted before base64)", async () => {
        for (const stack of STACKS) {
            for (const index of [0, 1, 2]) {
                const raw = Buffer.from(encodeUserData(renderNode(await nodeSpec(stack, index)).cloudConfig), "base64");
                assert.ok(raw.length <= USER_DATA_HEADROOM * USER_DATA_LIMIT_BYTES, `${stack} node ${index + 1}: ${raw.length} bytes`);
            }
        }
    });

    it("refuses user data over EC2's limit, naming the node", () => {
        const incompressible = require("crypto").randomBytes(USER_DATA_LIMIT_BYTES).toString("base64");
        assert.throws(() => encodeUserData(`#cloud-config\n# ${incompressible}\n`, "prom-2"),
            /^Error: prom-2: its user data is \d+ bytes gzipped, over EC2's 16384$/);
    });
});

describe("data volume mount script (run by bash)", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "mount-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("gives up after its bounded wait with a loud error when the volume never appears", () => {
        const script = path.join(dir, "mount.sh");
        fs.writeFileSync(script, renderMountScript({
            volumeId: VOLUME_ID, mountPoint: path.join(dir, "mnt"), dataDir: path.join(dir, "mnt", "prometheus"),
            waitSeconds: 0, deviceDir: path.join(dir, "by-id"),
        }));
        const started = Date.now();
        const result = spawnSync("bash", [script], { encoding: "utf8", timeout: 20000 });
        assert.equal(result.status, 1);
        assert.match(result.stderr, /FATAL: data volume vol-0abc123def4567890 is not attached after 0s; not starting Prometheus/);
        assert.ok(Date.now() - started < 10000);
        assert.ok(!fs.existsSync(path.join(dir, "mnt")), "nothing was mounted or created");
    });
});
