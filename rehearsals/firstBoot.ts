// First-boot rehearsal: boots a stack's node on Debian 13 under systemd-nspawn with the very user
// data the stack gives its instance, and checks what the node becomes; then boots it again on the
// same data volume (the replacement node), and once without any volume.
//
//   npm run boot -- --stack dev [--json] [--keep]
//
// What differs from AWS comes through stack settings (release downloads, the SSM agent's package
// and key, the targets bucket's endpoint, the volume wait) or through the machine around the node
// (its network, an apt proxy, S3 credentials where an instance profile would be); the rendered
// files are never edited.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SYSTEM_SET_PREFIX } from "../components/render/cloudInit";
import { nodeConfigPrefix, RenderedNodeConfig, sealNodeConfigs } from "../components/nodeConfigBucket";
import { decodeUserData } from "../components/prometheusNode";
import { MANIFEST } from "../components/render/configSync";
import { loadEnvironment, LoadedEnvironment } from "../infra/environment";
import { createPlatform, Platform } from "../infra/platform";
import { randomStyleBcryptHash } from "../scripts/lib/bcrypt";
import { previewValue, runProgram, unwrapSecrets } from "../scripts/lib/offline";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { debianMirror, startAptProxy } from "./lib/aptProxy";
import { CloudWatchLogsStandIn } from "./lib/cloudWatchLogs";
import { ensureDebianImage, unpackImage } from "./lib/debianImage";
import { publishSets } from "./lib/configBucket";
import { acquireLock } from "./lib/lock";
import { listen } from "./lib/net";
import { INSTALL_HINT, resolveCommand } from "./lib/processes";
import { DeclaredCheck, printReport, RehearsalCheck, Scenario } from "./lib/report";
import { Teardown } from "./lib/teardown";
import { TestHost } from "./lib/testHost";
import { tlsTarget } from "./lib/tlsTarget";
import { now, observe, request, sleep, waitFor } from "./lib/wait";
import { JOURNAL_SHIPPER_STOP_SECONDS } from "../components/render/journalShipper";
import { INGRESS_PORT, NODE_EXPORTER_PORT, PROMETHEUS_PORT } from "../components/ports";
import { NODE_PACKAGES } from "../infra/rendering";

/**
 * How long an ordered power-off may take before the node is killed: the bounds systemd itself
 * enforces on the chain, Prometheus's stop (systemd's default 90 s; it flushes its remote-write
 * queue first, which here, with no AMP to reach, lasts until its one-minute flush deadline) and
 * then the journal shipper's, with half a minute for the rest.
 */
const POWEROFF_BOUND_SECONDS = 90 + JOURNAL_SHIPPER_STOP_SECONDS + 30;

/** The stand-in credentials that take the instance profile's place inside the booted node. */
const STAND_IN_CREDENTIALS = "[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n";

const ROOT = path.resolve(__dirname, "..");
const CACHE = path.join(ROOT, "tools", "boot");
const TOOLS = path.join(ROOT, "tools", "debian", "usr", "bin");
/** The volume wait, scaled down: a boot without its volume fails within it. */
const VOLUME_WAIT_SECONDS = 15;
const PORTS = { aptProxy: 3142, releases: 8000, s3: 8001, logs: 8002 };
const OFFICE_CLIENT = "203.0.113.10";
const OUTSIDER = "198.18.0.10";

type Check = RehearsalCheck & { scenario: string };
export interface BootReport {
    stack: string;
    /** Each declared scenario, and whether it ran to its end. */
    scenarios: { name: string; completed: boolean }[];
    /** Every check, with the scenario it ran in ("setup" before the first). */
    checks: Check[];
    figures: Record<string, number | string>;
    ok: boolean;
}

function sh(command: string, args: string[], input?: string): string {
    const result = spawnSync(command, args, { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 });
    if (result.status !== 0) {
        throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}): ${result.stderr}`);
    }
    return result.stdout;
}

/** Release tarballs laid out as GitHub serves them, holding the real binaries, with sha256sums.txt. */
function buildReleases(dir: string, env: LoadedEnvironment): Map<string, string> {
    const files = new Map<string, string>();
    const release = (project: string, version: string, binaries: [string, string][]) => {
        const name = `${project}-${version}.linux-amd64`;
        const stage = path.join(dir, "stage", name);
        fs.mkdirSync(stage, { recursive: true });
        for (const [from, to] of binaries) {
            fs.copyFileSync(from, path.join(stage, to));
            fs.chmodSync(path.join(stage, to), 0o755);
        }
        const urlDir = `/${project}/releases/download/v${version}`;
        const tarball = path.join(dir, `${name}.tar.gz`);
        sh("tar", ["-czf", tarball, "-C", path.join(dir, "stage"), name]);
        const sum = crypto.createHash("sha256").update(fs.readFileSync(tarball)).digest("hex");
        const sums = path.join(dir, `${project}-sha256sums.txt`);
        fs.writeFileSync(sums, `${sum}  ${name}.tar.gz\n`);
        files.set(`${urlDir}/${name}.tar.gz`, tarball);
        files.set(`${urlDir}/sha256sums.txt`, sums);
    };
    release("prometheus", env.prometheus.version, [[path.join(TOOLS, "prometheus"), "prometheus"], [path.join(TOOLS, "promtool"), "promtool"]]);
    release("node_exporter", env.nodeExporter.version, [[path.join(TOOLS, "prometheus-node-exporter"), "node_exporter"]]);
    return files;
}

/** A stand-in SSM agent package (a service that idles) signed by a stand-in key; returns the served files and the key. */
function buildSsmAgentStandIn(dir: string): { files: Map<string, string>; keyFile: string } {
    const pkg = path.join(dir, "pkg");
    fs.mkdirSync(path.join(pkg, "DEBIAN"), { recursive: true });
    fs.mkdirSync(path.join(pkg, "usr", "lib", "systemd", "system"), { recursive: true });
    fs.writeFileSync(path.join(pkg, "DEBIAN", "control"), [
        "Package: amazon-ssm-agent", "Version: 0.0.0-standin", "Architecture: amd64", "Maintainer: rehearsal <rehearsal@example.invalid>",
        "Description: stand-in for the SSM agent in the first-boot rehearsal", ""].join("\n"));
    fs.writeFileSync(path.join(pkg, "usr", "lib", "systemd", "system", "amazon-ssm-agent.service"),
        "[Unit]\nDescription=SSM agent stand-in\n\n[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n");
    const deb = path.join(dir, "amazon-ssm-agent.deb");
    sh("dpkg-deb", ["--root-owner-group", "--build", pkg, deb]);
    const home = path.join(dir, "gnupg");
    fs.mkdirSync(home, { mode: 0o700 });
    const gpg = (args: string[]) => sh("gpg", ["--homedir", home, "--batch", "--quiet", "--passphrase", "", ...args]);
    gpg(["--quick-gen-key", "Rehearsal SSM agent signer <ssm-standin@example.invalid>", "rsa2048", "sign", "1d"]);
    gpg(["--detach-sign", "-o", `${deb}.sig`, deb]);
    const keyFile = path.join(dir, "standin-signer.asc");
    fs.writeFileSync(keyFile, gpg(["--armor", "--export", "ssm-standin@example.invalid"]));
    spawnSync("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]);
    return { files: new Map([["/ssm/amazon-ssm-agent.deb", deb], ["/ssm/amazon-ssm-agent.deb.sig", `${deb}.sig`]]), keyFile };
}

function fileServer(files: Map<string, string>): http.Server {
    return http.createServer((req, res) => {
        const file = files.get(req.url ?? "");
        if (!file) {
            res.writeHead(404).end("not found");
            return;
        }
        res.writeHead(200, { "content-length": fs.statSync(file).size });
        fs.createReadStream(file).pipe(res);
    });
}

/** The user data the stack gives node 1's instance, as EC2 would hand it over (decoded). */
interface NodeLaunch {
    userData: string;
    volumeId: string;
    targetsBucket: string;
    /** What `pulumi up` uploads for the node before it boots: its configuration set. */
    configBucket: string;
    /** prom-1's set as the program's objects hold it (its revision is the platform's, from the MANIFEST). */
    config: RenderedNodeConfig;
    /** prom-1's system set: every file but the bootstrap, one object the user data pins. */
    systemSet: { key: string; content: string };
    /** The log group `pulumi up` creates before the instance boots, and its retention. */
    logGroup: { name: string; retentionDays: number };
}

/** What the program launches prom-1 with, and the configuration objects it writes for it, computed as an update would. */
async function launchOf(env: LoadedEnvironment, stack: string, password: string): Promise<NodeLaunch> {
    const bcryptHash = randomStyleBcryptHash(password);
    let platform: Platform | undefined;
    const run = await runProgram({
        stack,
        preview: false,
        program: async () => { platform = await createPlatform(env); },
        ...placeholderSecretOptions(stack),
        computedState: (type) => type === "random:index/randomPassword:RandomPassword" ? { result: password, bcryptHash } : undefined,
    });
    const instance = run.resources.find((r) => r.type === "aws:ec2/instance:Instance" && r.name === "prom-1");
    const volume = run.resources.find((r) => r.type === "aws:ebs/volume:Volume" && r.name === "prom-1-data");
    const logGroup = run.resources.find((r) => r.type === "aws:cloudwatch/logGroup:LogGroup" && r.name === "prometheus-node-logs");
    if (!instance || !volume || !logGroup || !platform) {
        throw new Error("the program planned no prom-1 instance, data volume and log group");
    }
    const userData = decodeUserData(unwrapSecrets<{ userDataBase64: string }>(instance.inputs).userDataBase64);
    const allObjects = run.resources
        .filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2")
        .map((r) => unwrapSecrets<{ bucket: string; key: string; content: string }>(r.inputs));
    const objects = allObjects.filter((o) => o.key.startsWith(nodeConfigPrefix("prom-1")));
    const systemSet = allObjects.find((o) => o.key.startsWith(`${SYSTEM_SET_PREFIX}prom-1/`));
    if (!systemSet) {
        throw new Error("the program planned no system set for prom-1");
    }
    return {
        userData,
        volumeId: `${volume.name}-id`,
        targetsBucket: (await previewValue(platform.targets.bucketName))!,
        configBucket: objects[0].bucket,
        logGroup: { name: logGroup.inputs.name as string, retentionDays: logGroup.inputs.retentionInDays as number },
        systemSet: { key: systemSet.key, content: systemSet.content },
        config: {
            revision: /^revision (\S+)$/m.exec(objects.find((o) => o.key.endsWith(MANIFEST))!.content)![1],
            sets: { "prom-1": Object.fromEntries(objects.map((o) => [o.key.slice(nodeConfigPrefix("prom-1").length), o.content])) },
        },
    };
}

/** One boot of the node: a fresh root, the NoCloud seed, and optionally the data volume. */
class NodeBoot {
    private child?: ChildProcess;
    readonly root: string;
    readonly started = now();

    constructor(readonly name: string, work: string, private readonly host: TestHost) {
        this.root = path.join(work, name);
    }

    start(image: string, userData: string, trustedCa: string, volume?: { loop: string; devicePath: string }): void {
        unpackImage(image, this.root);
        fs.writeFileSync(path.join(this.root, "usr", "local", "share", "ca-certificates", "rehearsal-ca.crt"), trustedCa);
        sh("chroot", [this.root, "update-ca-certificates"]);
        const seed = path.join(this.root, "var", "lib", "cloud", "seed", "nocloud");
        fs.mkdirSync(seed, { recursive: true });
        fs.writeFileSync(path.join(seed, "user-data"), userData);
        fs.writeFileSync(path.join(seed, "meta-data"), `instance-id: i-${this.name}\nlocal-hostname: ${this.name}\n`);
        fs.writeFileSync(path.join(this.root, "etc", "cloud", "cloud.cfg.d", "90-datasource.cfg"), "datasource_list: [ NoCloud, None ]\n");
        // The machine around the node: its network is given from outside (as a VPC's is), apt
        // reaches the archive through the proxy, and S3 credentials stand for the instance profile.
        fs.writeFileSync(path.join(this.root, "etc", "apt", "apt.conf.d", "90-rehearsal-proxy"),
            `Acquire::http::Proxy "http://${this.host.addresses.gateway}:${PORTS.aptProxy}/";\n`);
        fs.mkdirSync(path.join(this.root, "root", ".aws"), { recursive: true });
        fs.writeFileSync(path.join(this.root, "root", ".aws", "credentials"), STAND_IN_CREDENTIALS);
        // Prometheus (user prometheus) signs remote write with the role's credentials, which it
        // fetches when it applies its configuration: without any it refuses the configuration.
        fs.mkdirSync(path.join(this.root, "etc", "rehearsal-aws"), { recursive: true });
        fs.writeFileSync(path.join(this.root, "etc", "rehearsal-aws", "credentials"), STAND_IN_CREDENTIALS, { mode: 0o644 });
        fs.mkdirSync(path.join(this.root, "etc", "systemd", "system", "prometheus.service.d"), { recursive: true });
        fs.writeFileSync(path.join(this.root, "etc", "systemd", "system", "prometheus.service.d", "rehearsal-credentials.conf"),
            "[Service]\nEnvironment=AWS_SHARED_CREDENTIALS_FILE=/etc/rehearsal-aws/credentials\n");
        fs.writeFileSync(path.join(this.root, "etc", "hostname"), `${this.name}\n`);
        const log = fs.openSync(path.join(path.dirname(this.root), `${this.name}.console.log`), "w");
        this.child = spawn("systemd-nspawn", [
            "-b", "--register=no", "--keep-unit", "--console=read-only", "-D", this.root, `--machine=${this.name}`,
            `--network-namespace-path=${this.host.namespacePath}`,
            ...(volume ? [`--bind=${volume.loop}`, `--bind=${volume.loop}:${volume.devicePath}`] : []),
        ], { stdio: ["ignore", log, log], detached: true });
        fs.closeSync(log);
    }

    /** The container's init: systemd-nspawn's child. */
    private initPid(): number | undefined {
        const pid = this.child?.pid;
        if (pid === undefined || this.child?.exitCode !== null) {
            return undefined;
        }
        try {
            const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((c) => c);
            return children.length === 1 ? Number(children[0]) : undefined;
        } catch {
            return undefined;
        }
    }

    /** Runs a command inside the node. */
    exec(args: string[]): { status: number | null; stdout: string; stderr: string } {
        const pid = this.initPid();
        if (pid === undefined) {
            return { status: null, stdout: "", stderr: "the node is not running" };
        }
        const result = spawnSync("nsenter", ["-t", String(pid), "-m", "-u", "-i", "-n", "-p", "--", ...args], { encoding: "utf8" });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** cloud-init's final status, once it has one. */
    async cloudInitResult(timeoutMs: number): Promise<{ status: string; errors: string[]; recoverable: string[] }> {
        return waitFor(`cloud-init on ${this.name} to finish`, async () => {
            const out = this.exec(["cloud-init", "status", "--format", "json"]);
            const status = JSON.parse(out.stdout);
            if (!["done", "error"].includes(status.status)) {
                return undefined;
            }
            const recoverable = Object.entries(status.recoverable_errors ?? {}).flatMap(([level, messages]) =>
                (messages as string[]).map((m) => `${level}: ${m}`));
            return { status: status.status, errors: status.errors ?? [], recoverable };
        }, timeoutMs, 1000);
    }

    /** Stops the node at once, with everything it runs: its init first (that ends its PID namespace), then nspawn. */
    kill(): void {
        const init = this.initPid();
        if (init !== undefined) {
            try { process.kill(init, "SIGKILL"); } catch { /* gone */ }
        }
        if (this.child?.pid !== undefined && this.child.exitCode === null) {
            try { process.kill(-this.child.pid, "SIGKILL"); } catch { /* gone */ }
        }
    }

    async stop(): Promise<void> {
        if (!this.child || this.child.exitCode !== null) {
            return;
        }
        const exited = new Promise((resolve) => this.child!.once("exit", resolve));
        // SIGTERM asks the container's systemd to power off in order, as a stopped instance does.
        this.child.kill("SIGTERM");
        await Promise.race([exited, sleep(POWEROFF_BOUND_SECONDS * 1000)]);
        if (this.child.exitCode === null && this.child.signalCode === null) {
            this.kill();
            await exited;
        }
    }
}

/** What an interrupted run must undo at once: the nodes, the loop device, the test host. */
const emergencyStops = new Set<() => void>();

/** One run's shared state: the stack as the node sees it, the stand-ins around it, the report. */
interface BootRun {
    readonly env: LoadedEnvironment;
    readonly launch: NodeLaunch;
    readonly password: string;
    readonly work: string;
    readonly host: TestHost;
    readonly image: string;
    readonly caCert: string;
    readonly volume: { loop: string; devicePath: string };
    readonly s3Client: S3Client;
    readonly logs: CloudWatchLogsStandIn;
    readonly boots: NodeBoot[];
    check(name: string, ok: boolean, detail: string): void;
    readonly figures: Record<string, number | string>;
}

/** The node's entries shipped to prom-1/<unit> by one instance, parsed. */
function shipped(run: BootRun, unit: string, instance: string): { message: string; instance: string }[] {
    return run.logs.events(run.launch.logGroup.name, `prom-1/${unit}`)
        .map((e) => JSON.parse(e.message) as { message: string; instance: string })
        .filter((m) => m.instance === instance);
}

/** The stack, pointed at what this machine serves in AWS's place. */
async function prepareStack(base: LoadedEnvironment, stack: string, work: string, gateway: string) {
    const releases = buildReleases(path.join(work, "releases"), base);
    const ssm = buildSsmAgentStandIn(path.join(work, "ssm"));
    const env: LoadedEnvironment = {
        ...base,
        prometheus: { ...base.prometheus, releaseBaseUrl: `http://${gateway}:${PORTS.releases}`, volumeWaitSeconds: VOLUME_WAIT_SECONDS },
        s3EndpointUrl: `http://${gateway}:${PORTS.s3}`,
        logsEndpointUrl: `http://${gateway}:${PORTS.logs}`,
        ssmAgent: { baseUrl: `http://${gateway}:${PORTS.releases}/ssm`, signingKeyFile: ssm.keyFile },
    };
    const password = crypto.randomBytes(18).toString("base64url");
    const launch = await launchOf(env, stack, password);
    fs.writeFileSync(path.join(work, "user-data"), launch.userData);
    return { env, password, launch, served: new Map([...releases, ...ssm.files]) };
}

/** What AWS would serve the node, on the test host's gateway: apt, releases, S3, CloudWatch Logs and a TLS target. */
async function startStandIns(work: string, gateway: string, prepared: Awaited<ReturnType<typeof prepareStack>>, teardown: (step: () => unknown) => void) {
    const { env, launch } = prepared;
    const apt = await startAptProxy(gateway, PORTS.aptProxy, debianMirror(), path.join(CACHE, "apt-cache"));
    teardown(() => apt.close());
    const files = fileServer(prepared.served);
    await listen(files, gateway, PORTS.releases);
    teardown(() => files.close());
    const S3rver = require("s3rver");
    const s3Server = new S3rver({ address: gateway, port: PORTS.s3, silent: true, directory: path.join(work, "s3"),
        configureBuckets: [{ name: launch.targetsBucket }, { name: launch.configBucket }] });
    await s3Server.run();
    teardown(() => s3Server.close());
    // What the update writes before the instance starts: the node's configuration set, MANIFEST last.
    const s3Client = new S3Client({ endpoint: `http://${gateway}:${PORTS.s3}`, region: env.region, forcePathStyle: true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    await publishSets(s3Client, launch.configBucket, launch.config);
    await s3Client.send(new PutObjectCommand({ Bucket: launch.configBucket, Key: launch.systemSet.key, Body: launch.systemSet.content, ContentType: "application/json" }));
    // CloudWatch Logs with the group the update creates; the node signs with the same stand-in credentials.
    const logs = new CloudWatchLogsStandIn(launch.logGroup.retentionDays);
    logs.createLogGroup(launch.logGroup.name);
    await logs.listen(gateway, PORTS.logs);
    teardown(() => logs.close());
    const target = tlsTarget(path.join(work, "tls"), gateway);
    await listen(target.server, gateway, 443);
    teardown(() => target.server.close());
    return { s3Client, logs, caCert: target.caCert };
}

/** cloud-init's result, the packages, the units, who owns which port, and the mounted volume; gives the volume's UUID. */
async function checkFirstBootState(run: BootRun, first: NodeBoot): Promise<string> {
    const { check } = run;
    const firstResult = await first.cloudInitResult(900000);
    check("first boot: cloud-init finishes with status done and no errors", firstResult.status === "done" && firstResult.errors.length === 0,
        `${firstResult.status}; errors: ${firstResult.errors.join("; ") || "none"}; recoverable: ${firstResult.recoverable.length}`);
    const versions = NODE_PACKAGES.map((pkg) => {
        const installed = first.exec(["dpkg-query", "-W", "-f", "${Version}", pkg]).stdout.trim();
        const candidate = /Candidate: (\S+)/.exec(first.exec(["apt-cache", "policy", pkg]).stdout)?.[1];
        return { pkg, installed, candidate };
    });
    check("first boot: every package is installed at the version the archive serves",
        versions.every((v) => v.installed !== "" && v.installed === v.candidate), versions.map((v) => `${v.pkg} ${v.installed || "missing"}`).join(", "));
    const units = ["prometheus.service", "node_exporter.service", "nginx.service", "prometheus-targets-sync.timer", "prometheus-config-sync.timer",
        "amazon-ssm-agent.service", "platform-journal-shipper.service"];
    const states = units.map((unit) => `${unit} ${first.exec(["systemctl", "is-active", unit]).stdout.trim()}`);
    check("first boot: prometheus, node_exporter, nginx, both sync timers, the SSM agent and the journal shipper are active",
        states.every((s) => s.endsWith(" active")), states.join(", "));
    // Each service is the one listening on its port.
    const listening = first.exec(["ss", "-Hltnp"]).stdout;
    const owners = ([[INGRESS_PORT, "nginx"], [PROMETHEUS_PORT, "prometheus"], [NODE_EXPORTER_PORT, "node_exporter"]] as const).map(([port, process]) => {
        const line = listening.split("\n").find((l) => new RegExp(`:${port}\\s`).test(l));
        return { port, process, ok: line !== undefined && line.includes(`(("${process}"`) };
    });
    check("first boot: nginx, prometheus and node_exporter each own their port", owners.every((o) => o.ok),
        owners.map((o) => `${o.port} ${o.ok ? o.process : "not " + o.process}`).join(", "));
    const mount = first.exec(["findmnt", "-n", "-o", "FSTYPE,LABEL", "/mnt"]).stdout.trim();
    const uuid = sh("blkid", ["-s", "UUID", "-o", "value", run.volume.loop]).trim();
    check("first boot: the blank data volume is formatted and mounted at /mnt", /^ext4 prometheus-data$/.test(mount) && uuid !== "", `${mount}, UUID ${uuid}`);
    return uuid;
}

/** The configuration set applied from the bucket, Prometheus ready through nginx, and nginx's rules. */
async function checkFirstBootServing(run: BootRun, first: NodeBoot): Promise<void> {
    const { check, figures, env, launch, password } = run;
    const node = run.host.nodeAddress;
    const gateway = run.host.addresses.gateway;
    // The configuration set came from the bucket, and node_exporter reports its revision.
    const revision = launch.config.revision;
    const reported = await observe("the applied revision in node_exporter", async () => {
        const metrics = (await request({ host: node, port: NODE_EXPORTER_PORT, path: "/metrics" })).body;
        return /^platform_node_config_applied_info\{revision="([^"]+)"\} 1$/m.exec(metrics)?.[1];
    }, 60000);
    check("first boot: the configuration set is fetched from the bucket, and node_exporter reports its revision", reported === revision,
        `applied ${reported ?? "nothing"}, the bucket's MANIFEST says ${revision}`);
    const ready = await waitFor("prometheus through nginx", async () =>
        (await request({ host: node, port: INGRESS_PORT, path: "/-/ready", localAddress: OFFICE_CLIENT })).status === 200 || undefined, 120000);
    figures.bootToReadySeconds = Number(((now() - first.started) / 1000).toFixed(1));
    check("first boot: Prometheus answers through nginx", ready, `${figures.bootToReadySeconds} s from boot to ready`);
    const basic = { authorization: `Basic ${Buffer.from(`${env.ingress.basicAuthUsers[0]}:${password}`).toString("base64")}` };
    const ingress: [string, http.RequestOptions, number][] = [
        ["an office address passes", { localAddress: OFFICE_CLIENT }, 200],
        ["another address needs basic auth", { localAddress: OUTSIDER }, 401],
        ["another address with the stack's password passes", { localAddress: OUTSIDER, headers: basic }, 200],
        ["the ALB forwarding an office client passes", { localAddress: gateway, headers: { "x-forwarded-for": OFFICE_CLIENT } }, 200],
        ["an office address cannot POST /-/quit", { localAddress: OFFICE_CLIENT, method: "POST", path: "/-/quit" }, 403],
    ];
    for (const [what, options, expected] of ingress) {
        const { status } = await request({ host: node, port: INGRESS_PORT, path: "/api/v1/status/buildinfo", ...options });
        check(`first boot, ingress: ${what}`, status === expected, `${status}`);
    }
}

/** When each run of the node's configuration sync started (epoch seconds), as its journal was shipped: systemd's "Starting" lines. */
function configSyncRunsStarted(run: BootRun, instance: string): number[] {
    return run.logs.events(run.launch.logGroup.name, "prom-1/prometheus-config-sync.service")
        .filter((event) => {
            const entry = JSON.parse(event.message) as { message: string; instance: string };
            return entry.instance === instance && /^Starting prometheus-config-sync\.service/.test(entry.message);
        })
        .map((event) => event.timestamp / 1000);
}

/** A rule change as the next update writes it: applied by the sync's next runs, reloaded by systemd's ExecReload, no restart. */
async function rehearseRuleReload(run: BootRun, first: NodeBoot): Promise<void> {
    const { check, figures, launch } = run;
    const node = run.host.nodeAddress;
    const mainPid = () => first.exec(["systemctl", "show", "-P", "MainPID", "prometheus.service"]).stdout.trim();
    const pidBefore = mainPid();
    const { [MANIFEST]: _, ...setFiles } = launch.config.sets["prom-1"];
    const changed = sealNodeConfigs({ "prom-1": { ...setFiles, "rules/boot-change.yml": "groups:\n  - name: boot-change\n    rules:\n      - record: boot:up:sum\n        expr: sum(up)\n" } });
    const published = now();
    // Epoch seconds, as the journal and the node's metrics count: from when the set began to be written.
    const publishedAt = Date.now() / 1000;
    await publishSets(run.s3Client, launch.configBucket, changed);
    figures.ruleChangePublishSeconds = Number(((now() - published) / 1000).toFixed(1));
    const loaded = await observe("the changed rules on the node", async () => {
        const groups = JSON.parse((await request({ host: node, port: PROMETHEUS_PORT, path: "/api/v1/rules" })).body).data.groups as { name: string }[];
        return groups.some((g) => g.name === "boot-change") ? now() : undefined;
    }, 180000);
    figures.ruleChangeOnNodeSeconds = loaded ? Number(((loaded - published) / 1000).toFixed(1)) : -1;
    // The sync reloads first and records what it applied after: read its metrics once they name the new revision.
    const metrics = await observe("the new revision in node_exporter", async () => {
        const body = (await request({ host: node, port: NODE_EXPORTER_PORT, path: "/metrics" })).body;
        return body.includes(`platform_node_config_applied_info{revision="${changed.revision}"} 1`) ? body : undefined;
    }, 120000) ?? "";
    const appliedAt = Number(/^platform_node_config_applied_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]);
    // Every run up to the applying one has been shipped once a later run's line has.
    const laterRunShipped = await observe("a config sync run after the applying one, shipped", async () =>
        configSyncRunsStarted(run, "i-prom-1").some((at) => at > appliedAt + 1) || undefined, 120000);
    // Runs that started while the set was being written may see it half written (its MANIFEST last)
    // and leave it for the next: it is applied within two runs started after the writing began.
    // The node records whole seconds: the applying run may have started within the second it applied.
    const runsUntilApplied = configSyncRunsStarted(run, "i-prom-1").filter((at) => at > publishedAt && at < appliedAt + 1).length;
    const pidAfter = mainPid();
    const syncLines = run.logs.events(run.launch.logGroup.name, "prom-1/prometheus-config-sync.service")
        .map((event) => `${new Date(event.timestamp).toISOString()} ${(JSON.parse(event.message) as { message: string }).message.slice(0, 60)}`);
    check("first boot: a changed rule set in the bucket is applied within two runs of the sync started after it was written, and loaded by systemctl reload, the same Prometheus process still running",
        loaded !== undefined && laterRunShipped === true && runsUntilApplied <= 2 && appliedAt > publishedAt && pidAfter === pidBefore && pidBefore !== "0",
        `${loaded ? `loaded ${figures.ruleChangeOnNodeSeconds} s after it was written, by ${runsUntilApplied === 0 ? "the run under way" : `sync run ${runsUntilApplied} started after it`} (written in ${figures.ruleChangePublishSeconds} s, applied at ${new Date(appliedAt * 1000).toISOString()}; a run every ${run.env.prometheus.configSyncIntervalSeconds} s)` : "not loaded within 180 s"}; MainPID ${pidBefore} -> ${pidAfter}`
            + (laterRunShipped === true && runsUntilApplied <= 2 ? "" : `; written at ${new Date(publishedAt * 1000).toISOString()}; the sync's shipped lines: ${syncLines.slice(-16).join(" | ")}`));
}

/** A target put into the bucket reaches file_sd and is scraped. */
async function rehearseBootTarget(run: BootRun): Promise<void> {
    const { check, env, launch, work } = run;
    const node = run.host.nodeAddress;
    const gateway = run.host.addresses.gateway;
    const targetFile = path.join(work, "boot-target.json");
    fs.writeFileSync(targetFile, JSON.stringify([{ targets: [`${gateway}:443`], labels: { app: "boot-rehearsal" } }]));
    const awsEnv = { ...process.env, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_EC2_METADATA_DISABLED: "true" };
    await new Promise<void>((resolve, reject) => spawn("aws", ["--endpoint-url", `http://${gateway}:${PORTS.s3}`, "--region", env.region,
        "s3", "cp", targetFile, `s3://${launch.targetsBucket}/boot-target.json`], { env: awsEnv, stdio: "ignore" })
        .on("exit", (code) => code === 0 ? resolve() : reject(new Error(`aws s3 cp exit ${code}`))));
    const scraped = await observe("the bucket's target to be scraped", async () => {
        const targets = JSON.parse((await request({ host: node, port: PROMETHEUS_PORT, path: "/api/v1/targets?state=active" })).body);
        const found = targets.data.activeTargets.find((t: { labels: Record<string, string> }) => t.labels.app === "boot-rehearsal");
        return found?.health === "up" ? found : undefined;
    }, 180000);
    check("first boot: a target put into the bucket is synced into file_sd and scraped, through the PaaS proxy over TLS", scraped !== undefined,
        scraped ? `job ${scraped.labels.job}, ${scraped.scrapeUrl} up` : "not up within 180 s");
}

/** The journal, off the instance: each unit's stream holds that unit's own lines, the boot's output among them. */
async function checkJournalShipped(run: BootRun): Promise<void> {
    const { check, launch } = run;
    const node = run.host.nodeAddress;
    const lifecycle = (unit: string) => new RegExp(`^(Started|Finished) ${unit.replace(/\./g, "\\.")}`);
    const expected: [string, RegExp][] = [
        ["cloud-init-main.service", /^data volume \S+ \(\S+\) mounted at \/mnt$/],
        ["prometheus.service", /Server is ready to receive web requests/],
        ...["node_exporter.service", "nginx.service", "prometheus-blackbox-exporter.service", "prometheus-config-sync.service",
            "prometheus-targets-sync.service", "amazon-ssm-agent.service"].map((unit): [string, RegExp] => [unit, lifecycle(unit)]),
    ];
    const unshipped = () => expected.filter(([unit, line]) => !shipped(run, unit, "i-prom-1").some((m) => line.test(m.message)));
    await observe("every unit's journal in CloudWatch Logs", async () => unshipped().length === 0 || undefined, 60000);
    check("first boot: each unit's journal reaches its stream prom-1/<unit> in the stack's log group, the bootstrap's own output included",
        unshipped().length === 0, `${launch.logGroup.name}: ${expected.map(([unit]) => `${unit} ${shipped(run, unit, "i-prom-1").length}`).join(", ")}`
            + (unshipped().length > 0 ? `; no line matching ${unshipped().map(([unit, line]) => `${line} in ${unit}`).join(", ")}` : ""));
    const validated = shipped(run, "cloud-init-main.service", "i-prom-1").find((m) => /^journal shipper configuration is valid: /.test(m.message));
    check("first boot: the bootstrap's check accepts the shipper's configuration before starting it", validated !== undefined,
        validated?.message ?? "no line of platform-journal-shipper --check in the boot's output");
    // The shipper counts a delivery once CloudWatch Logs has taken it: no earlier than the newest entry the stand-in holds was written.
    const newestShipped = Math.max(...expected.flatMap(([unit]) => run.logs.events(launch.logGroup.name, `prom-1/${unit}`).map((e) => e.timestamp / 1000)));
    const lastShipped = await observe("the shipper's last delivery in node_exporter", async () => {
        const value = /^platform_log_shipper_last_success_timestamp_seconds (\S+)$/m.exec((await request({ host: node, port: NODE_EXPORTER_PORT, path: "/metrics" })).body)?.[1];
        return value !== undefined && Number(value) >= newestShipped ? Number(value) : undefined;
    }, 60000);
    check("first boot: node_exporter reports the shipper's last delivery, no older than the newest entry it shipped", lastShipped !== undefined,
        lastShipped ? `delivered at ${new Date(lastShipped * 1000).toISOString()}, newest entry ${new Date(newestShipped * 1000).toISOString()}`
            : `no platform_log_shipper_last_success_timestamp_seconds at or after ${new Date(newestShipped * 1000).toISOString()}`);
}

/** The first boot on the blank volume; gives the volume's UUID and when a series was written before the node stopped. */
async function rehearseFirstNode(run: BootRun): Promise<{ uuid: string; writtenAt: number }> {
    const first = new NodeBoot("prom-1", run.work, run.host);
    run.boots.push(first);
    first.start(run.image, run.launch.userData, run.caCert, run.volume);
    const uuid = await checkFirstBootState(run, first);
    await checkFirstBootServing(run, first);
    await rehearseRuleReload(run, first);
    await rehearseBootTarget(run);
    await checkJournalShipped(run);
    const writtenAt = await waitFor("a node_exporter sample", async () => {
        const at = Date.now() / 1000;
        return (await seriesAt(run, at)).length > 0 ? at : undefined;
    }, 120000);
    await first.stop();
    // Powered off in order: the shipper stops after the services, so their last entries leave with it.
    const stopped = shipped(run, "prometheus.service", "i-prom-1").filter((m) => /^Stopped prometheus\.service/.test(m.message));
    run.check("first boot, shutdown: Prometheus's stop is shipped before the shipper itself stops", stopped.length > 0,
        stopped[0]?.message ?? `last entry: ${shipped(run, "prometheus.service", "i-prom-1").slice(-1)[0]?.message}`);
    return { uuid, writtenAt };
}

/** The node's own up series at a time. */
async function seriesAt(run: BootRun, at: number): Promise<unknown[]> {
    return JSON.parse((await request({ host: run.host.nodeAddress, port: PROMETHEUS_PORT,
        path: `/api/v1/query?query=${encodeURIComponent(`up{job="prometheus_node"}`)}&time=${at}` })).body).data.result as unknown[];
}

/** The replacement: a new instance, the same volume, the old series still there, its journal beside the first's. */
async function rehearseReplacement(run: BootRun, uuid: string, writtenAt: number): Promise<void> {
    const { check } = run;
    const node = run.host.nodeAddress;
    const loop = run.volume.loop;
    const second = new NodeBoot("prom-1-replacement", run.work, run.host);
    run.boots.push(second);
    second.start(run.image, run.launch.userData, run.caCert, run.volume);
    const secondResult = await second.cloudInitResult(900000);
    check("replacement boot: cloud-init finishes with status done and no errors", secondResult.status === "done" && secondResult.errors.length === 0,
        `${secondResult.status}; errors: ${secondResult.errors.join("; ") || "none"}`);
    const uuidAfter = sh("blkid", ["-s", "UUID", "-o", "value", loop]).trim();
    check("replacement boot: the volume is mounted again, not reformatted", uuidAfter === uuid
        && /^ext4 prometheus-data$/.test(second.exec(["findmnt", "-n", "-o", "FSTYPE,LABEL", "/mnt"]).stdout.trim()), `UUID ${uuidAfter}`);
    await waitFor("the replacement's Prometheus", async () => (await request({ host: node, port: PROMETHEUS_PORT, path: "/-/ready" })).status === 200 || undefined, 120000);
    const before = await seriesAt(run, writtenAt);
    check("replacement boot: a series written before the replacement can still be queried", before.length > 0,
        `${before.length} series of up{job="prometheus_node"} at ${new Date(writtenAt * 1000).toISOString()}`);
    const replacementShipped = await observe("the replacement's journal", async () =>
        shipped(run, "prometheus.service", "i-prom-1-replacement").length > 0 || undefined, 60000);
    check("replacement boot: its journal goes to the same streams, told apart by instance, beside the first instance's",
        replacementShipped === true && shipped(run, "prometheus.service", "i-prom-1").length > 0,
        `prom-1/prometheus.service: ${shipped(run, "prometheus.service", "i-prom-1").length} entries of i-prom-1, `
            + `${shipped(run, "prometheus.service", "i-prom-1-replacement").length} of i-prom-1-replacement`);
    await second.stop();
}

/** A boot without the volume fails loudly within the wait, Prometheus never starts, and why is shipped. */
async function rehearseWithoutVolume(run: BootRun): Promise<void> {
    const { check } = run;
    const third = new NodeBoot("prom-1-no-volume", run.work, run.host);
    run.boots.push(third);
    third.start(run.image, run.launch.userData, run.caCert);
    const thirdResult = await third.cloudInitResult(900000);
    const output = third.exec(["cat", "/var/log/cloud-init-output.log"]).stdout;
    const fatal = /FATAL: data volume \S+ is not attached after (\d+)s; not starting Prometheus/.exec(output);
    check("boot without the volume: cloud-init reports an error naming the missing volume",
        thirdResult.status === "error" && fatal !== null, fatal?.[0] ?? `status ${thirdResult.status}`);
    check(`boot without the volume: it gives up after the stack's wait (${VOLUME_WAIT_SECONDS}s)`, fatal !== null && Number(fatal[1]) === VOLUME_WAIT_SECONDS, fatal?.[1] ?? "-");
    const started = third.exec(["systemctl", "show", "prometheus.service", "-p", "ActiveEnterTimestampMonotonic", "--value"]).stdout.trim();
    check("boot without the volume: Prometheus never starts", started === "0" || started === "", `ActiveEnterTimestampMonotonic=${started}`);
    const fatalShipped = await observe("the failed boot's FATAL in CloudWatch Logs", async () =>
        shipped(run, "cloud-init-main.service", "i-prom-1-no-volume").find((m) => /^FATAL: data volume/.test(m.message)), 30000);
    check("boot without the volume: why it failed is in CloudWatch Logs, off the instance", fatalShipped !== undefined,
        fatalShipped?.message ?? "no FATAL line from i-prom-1-no-volume");
    await third.stop();
}

/** What one scenario hands the next: the first boot's volume and a time it wrote a sample at. */
interface Carried { uuid?: string; writtenAt?: number }

/** What a first-boot scenario is given: the rehearsal's setup, and what the scenarios before it carried. */
interface BootContext { run: BootRun; carried: Carried }

/** The checks made before the first scenario. */
export const BOOT_SETUP_CHECKS: readonly DeclaredCheck[] = ["the data volume starts blank"];

/** The scenarios, in the order they run. */
export const BOOT_SCENARIOS: readonly Scenario<BootContext>[] = [
    {
        name: "first boot", proves: "the user data alone makes a serving node on a blank volume, which applies changes and ships its journal",
        checks: [
            "first boot: cloud-init finishes with status done and no errors",
            "first boot: every package is installed at the version the archive serves",
            "first boot: prometheus, node_exporter, nginx, both sync timers, the SSM agent and the journal shipper are active",
            "first boot: nginx, prometheus and node_exporter each own their port",
            "first boot: the blank data volume is formatted and mounted at /mnt",
            "first boot: the configuration set is fetched from the bucket, and node_exporter reports its revision",
            "first boot: Prometheus answers through nginx",
            "first boot, ingress: an office address passes",
            "first boot, ingress: another address needs basic auth",
            "first boot, ingress: another address with the stack's password passes",
            "first boot, ingress: the ALB forwarding an office client passes",
            "first boot, ingress: an office address cannot POST /-/quit",
            "first boot: a changed rule set in the bucket is applied within two runs of the sync started after it was written, and loaded by systemctl reload, the same Prometheus process still running",
            "first boot: a target put into the bucket is synced into file_sd and scraped, through the PaaS proxy over TLS",
            "first boot: each unit's journal reaches its stream prom-1/<unit> in the stack's log group, the bootstrap's own output included",
            "first boot: the bootstrap's check accepts the shipper's configuration before starting it",
            "first boot: node_exporter reports the shipper's last delivery, no older than the newest entry it shipped",
            "first boot, shutdown: Prometheus's stop is shipped before the shipper itself stops",
        ],
        run: async ({ run, carried }) => { Object.assign(carried, await rehearseFirstNode(run)); },
    },
    {
        name: "replacement boot", proves: "a replacement instance mounts the same volume, keeps its series and ships beside the first",
        checks: [
            "replacement boot: cloud-init finishes with status done and no errors",
            "replacement boot: the volume is mounted again, not reformatted",
            "replacement boot: a series written before the replacement can still be queried",
            "replacement boot: its journal goes to the same streams, told apart by instance, beside the first instance's",
        ],
        run: ({ run, carried }) => rehearseReplacement(run, carried.uuid!, carried.writtenAt!),
    },
    {
        name: "boot without the volume", proves: "a node whose volume never arrives fails loudly, off the instance, and never serves",
        checks: [
            "boot without the volume: cloud-init reports an error naming the missing volume",
            /^boot without the volume: it gives up after the stack's wait \(\d+s\)$/,
            "boot without the volume: Prometheus never starts",
            "boot without the volume: why it failed is in CloudWatch Logs, off the instance",
        ],
        run: ({ run }) => rehearseWithoutVolume(run),
    },
    {
        name: "CloudWatch Logs", proves: "every call the nodes made to CloudWatch Logs was signed with a valid signature and within PutLogEvents' limits",
        checks: ["CloudWatch Logs: every call the nodes made was signed and within PutLogEvents' limits"],
        run: async ({ run }) => {
            run.check("CloudWatch Logs: every call the nodes made was signed and within PutLogEvents' limits", run.logs.problems.length === 0 && run.logs.puts.length > 0,
                run.logs.problems.length > 0 ? run.logs.problems.slice(0, 3).join("; ") : `${run.logs.puts.length} PutLogEvents calls, signed by ${[...run.logs.accessKeys].join(", ")}`);
        },
    },
];

export async function rehearseFirstBoot(stack: string, keep = false): Promise<BootReport> {
    const checks: Check[] = [];
    const figures: Record<string, number | string> = {};
    let current = "setup";
    const check = (name: string, ok: boolean, detail: string) => { checks.push({ name, ok, detail, scenario: current }); };
    const scenarios = BOOT_SCENARIOS.map((s) => ({ name: s.name, completed: false }));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `firstboot-${stack}-`));
    const teardown = new Teardown();
    const boots: NodeBoot[] = [];
    let loop: string | undefined;
    let release: () => void;
    try {
        release = acquireLock(path.join(CACHE, "first-boot.lock"), "first-boot rehearsal");
    } catch (err) {
        fs.rmSync(work, { recursive: true, force: true });
        return { stack, scenarios, checks: [{ name: "the first-boot rehearsal ran to its end", ok: false, detail: (err as Error).message, scenario: current }], figures, ok: false };
    }
    const base = loadEnvironment(stack);
    const zone = base.zones[0];
    const host = new TestHost("ppboot", {
        node: `${zone.prometheusPrivateIp}/${zone.privateSubnetCidr.split("/")[1]}`,
        // An address of the ALB's subnet: requests from it are trusted for X-Forwarded-For.
        gateway: base.zones[0].publicSubnetCidr.replace(/\.0\/\d+$/, ".5"),
        clients: [OFFICE_CLIENT, OUTSIDER],
    });
    const emergencyStop = () => {
        boots.forEach((boot) => boot.kill());
        if (loop) {
            spawnSync("losetup", ["-d", loop]);
        }
        host.destroy();
        release();
        if (!keep) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    };
    emergencyStops.add(emergencyStop);
    try {
        const missing = ["debootstrap", "systemd-nspawn", "nsenter", "losetup", "ip", "gpg", "dpkg-deb", "htpasswd", "aws", "openssl", "chroot",
            path.join(TOOLS, "prometheus"), path.join(TOOLS, "prometheus-node-exporter")].filter((tool) => resolveCommand(tool) === undefined);
        if (missing.length > 0) {
            throw new Error(`missing ${missing.join(", ")}: ${INSTALL_HINT}`);
        }
        const gateway = host.addresses.gateway;
        const prepared = await prepareStack(base, stack, work, gateway);
        const image = ensureDebianImage(CACHE);
        host.create();
        const standIns = await startStandIns(work, gateway, prepared, (step) => teardown.add(step));
        // The data volume: a blank disk, presented where the node waits for it.
        const disk = path.join(work, "data-volume.img");
        fs.writeFileSync(disk, "");
        fs.truncateSync(disk, 2 * 1024 ** 3);
        loop = sh("losetup", ["--find", "--show", disk]).trim();
        const volume = { loop, devicePath: `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${prepared.launch.volumeId.replace(/-/g, "")}` };
        check("the data volume starts blank", spawnSync("blkid", ["-p", loop]).status === 2, loop);
        const run: BootRun = { ...prepared, ...standIns, work, host, image, volume, boots, check, figures };
        const carried: Carried = {};
        for (const [i, scenario] of BOOT_SCENARIOS.entries()) {
            current = scenario.name;
            await scenario.run({ run, carried });
            scenarios[i].completed = true;
        }
    } catch (err) {
        check("the first-boot rehearsal ran to its end", false, (err as Error).message);
    } finally {
        for (const boot of boots) {
            await boot.stop().catch(() => undefined);
        }
        await teardown.run();
        if (loop) {
            spawnSync("losetup", ["-d", loop]);
        }
        host.destroy();
        release();
        emergencyStops.delete(emergencyStop);
        if (!keep) {
            fs.rmSync(work, { recursive: true, force: true });
        }
        figures.workDir = keep ? work : `${work} (removed)`;
    }
    return { stack, scenarios, checks, figures, ok: checks.every((c) => c.ok) && scenarios.every((s) => s.completed) };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { stack: { type: "string" }, json: { type: "boolean", default: false }, keep: { type: "boolean", default: false } } });
    if (!values.stack) {
        throw new Error("usage: npm run boot -- --stack <dev|staging|production> [--json] [--keep]");
    }
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(signal, () => {
            emergencyStops.forEach((stop) => stop());
            process.exit(1);
        });
    }
    const started = now();
    const report = await rehearseFirstBoot(values.stack, values.keep);
    report.figures.totalSeconds = Number(((now() - started) / 1000).toFixed(1));
    printReport(`First-boot rehearsal of stack ${report.stack}'s prom-1 on Debian 13 (systemd-nspawn)`, report, values.json ?? false);
    process.exit(report.ok ? 0 : 1);
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`first-boot rehearsal failed: ${err.message}`);
        process.exit(1);
    });
}
