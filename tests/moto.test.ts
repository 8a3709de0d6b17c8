// The runtime paths to AWS against moto (Debian 13's python3-moto, tools/moto) with IAM on: each
// runs with the credentials of a principal holding exactly the identity policies the plan renders
// for its role, over TLS. Each does its work, is refused (AccessDenied) where it reaches beyond its
// policy, and fails with a wrong secret (moto verifies SigV4). The awscli of the nodes' syncs,
// botocore of the journal shipper, the AWS SDK v3 of the discovery function.
// What moto does not evaluate (its iam/access_control.py says so): conditions, and the resource of
// any call but S3's. Its bucket policies would deny every request (the TLS-only statement's
// condition ignored), so its buckets carry none; a condition (a tenant's s3:prefix) is read as
// always true; CloudWatch Logs calls are authorized against "*", so the node's logs statements are
// given with Resource "*" and moto proves their actions, not their log group.
// tests/iam.test.ts's simulator evaluates all three.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { ECSClient } from "@aws-sdk/client-ecs";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ServiceDiscoveryClient } from "@aws-sdk/client-servicediscovery";
import { DiscoveryConfig, runDiscovery } from "../components/functions/discovery";
import { prometheusNodeFiles } from "../components/render/cloudInit";
import { JOURNAL_SHIPPER, JOURNAL_SHIPPER_SOURCE_FILE } from "../components/render/journalShipper";
import { DISCOVERY_PREFIX, DISCOVERY_STATUS_PREFIX, tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { NODE_PATHS, S3_ENDPOINT_OVERRIDE } from "../components/render/nodeScripts";
import { NODE_LOG_UNITS } from "../infra/rendering";
import { AwsKey, Moto, motoInstalled, motoVersion } from "../rehearsals/lib/moto";
import { ecsAccount, unaskedCloudMap } from "../rehearsals/lib/awsStandIns";
import { Processes } from "../rehearsals/lib/processes";
import { replaceAll } from "../rehearsals/lib/remap";
import { Teardown } from "../rehearsals/lib/teardown";
import { waitFor } from "../rehearsals/lib/wait";
import { previewNodeSpec } from "../scripts/lib/plan";
import { bucket, NamedDocument, roleDocuments } from "./helpers/iamPolicies";
import { PYTHON, requireShipperTools, writeJournal } from "./helpers/journal";
import { appliedRun, plannedStack } from "./helpers/stacks";
import { expectSuccess, requireReady, requireTool, run } from "./helpers/tools";

const STACK = "dev";
const LOG_GROUP = `/ec2/prometheus-platform-${STACK}/prometheus-nodes`;

const EXPORTER_LABELS = { PROMETHEUS_EXPORTER_PORT: "9102", PROMETHEUS_EXPORTER_PATH: "/internal/metrics", PROMETHEUS_EXPORTER_JOB_NAME: "api" };

/**
 * Documents as moto evaluates them: it authorizes CloudWatch Logs calls against the resource "*"
 * (only S3's name their resource), so a logs statement is given with Resource "*"; moto then proves
 * its actions, not its log group (the IAM simulator's table does that).
 */
function documentsMotoEvaluates(documents: readonly NamedDocument[]): NamedDocument[] {
    return documents.map(({ name, policy }) => ({
        name,
        policy: { ...policy, Statement: policy.Statement.map((st) => [st.Action].flat().every((a) => String(a).startsWith("logs:")) ? { ...st, Resource: "*" } : st) },
    }));
}

const wrongSecret = (key: AwsKey): AwsKey => ({ ...key, secretAccessKey: `${key.secretAccessKey.slice(0, -4)}XXXX` });

describe("AWS paths against moto with IAM on, as the rendered policies allow", function () {
    this.timeout(300000);
    let work: string;
    let processes: Processes;
    let teardown: Teardown;
    let moto: Moto;
    let buckets: { targets: string; config: string };
    const keys = new Map<string, AwsKey>();

    /** The key of a principal holding the documents the plan renders for `role`, as moto can evaluate them; `without` leaves some out. */
    async function principalOf(role: string, without: string[] = []): Promise<AwsKey> {
        const name = [role, ...without.map((w) => `without-${w}`)].join("-");
        if (!keys.has(name)) {
            const documents = roleDocuments(await appliedRun(STACK), role).filter((d) => !without.includes(d.name));
            keys.set(name, await moto.principal(name, documentsMotoEvaluates(documents)));
        }
        return keys.get(name)!;
    }

    before(async function () {
        requireTool(this, "aws");
        requireReady(this, "moto in tools/moto (python3-moto 5.1.1 of Debian 13)", motoInstalled() && /^5\.1\.1-/.test(motoVersion() ?? ""));
        work = fs.mkdtempSync(path.join(os.tmpdir(), "moto-"));
        processes = new Processes(work);
        teardown = new Teardown();
        moto = await Moto.start(processes, work, (step) => teardown.add(step));
        const run = await appliedRun(STACK);
        buckets = { targets: bucket(run, "targets").name, config: bucket(run, "node-config").name };
        for (const name of Object.values(buckets)) {
            await moto.must(moto.admin, ["s3api", "create-bucket", "--bucket", name, "--create-bucket-configuration", `LocationConstraint=${moto.region}`]);
        }
    });

    after(async () => {
        processes?.stopAll();
        await teardown?.run();
        if (work) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    const put = (key: AwsKey, bucketName: string, objectKey: string, body = "[]\n") =>
        moto.aws(key, ["s3", "cp", "--only-show-errors", "-", `s3://${bucketName}/${objectKey}`], body);

    it("the nodes' targets sync (awscli) fetches the bucket as rendered, and may not write it", async function () {
        requireTool(this, "rsync");
        const node = await principalOf("prometheus-node");
        const tenantFile = `${tenantTargetsPrefix("checkout-web", moto.region)}/app.json`;
        for (const objectKey of ["app.json", tenantFile]) {
            await moto.must(moto.admin, ["s3", "cp", "--only-show-errors", "-", `s3://${buckets.targets}/${objectKey}`], '[{"targets":["10.0.0.1:9100"]}]\n');
        }
        const { platform } = await plannedStack(STACK);
        const files = prometheusNodeFiles({ ...(await previewNodeSpec(platform, platform.nodes[0])), volumeId: "vol-0abc123def4567890" });
        const dirs = { targets: path.join(work, "targets"), staging: path.join(work, "targets-staging"), textfile: path.join(work, "textfile") };
        const script = path.join(work, "sync-prometheus-targets.sh");
        fs.writeFileSync(script, replaceAll(files.find((f) => f.path === `${NODE_PATHS.scriptsDir}/sync-prometheus-targets.sh`)!.content, [
            [NODE_PATHS.targetsDir, dirs.targets], [NODE_PATHS.targetsStagingDir, dirs.staging], [NODE_PATHS.textfileDir, dirs.textfile],
        ]));
        const sync = (key: AwsKey) => spawnSync("bash", [script], { env: { ...process.env, ...moto.env(key), [S3_ENDPOINT_OVERRIDE]: moto.endpoint }, encoding: "utf8" });

        const synced = sync(node);
        assert.equal(synced.status, 0, synced.stderr);
        assert.deepEqual([fs.existsSync(path.join(dirs.targets, "app.json")), fs.existsSync(path.join(dirs.targets, tenantFile))], [true, true]);
        assert.match(fs.readFileSync(path.join(dirs.textfile, "platform_targets.prom"), "utf8"), /^platform_targets_newest_file_timestamp_seconds\{prefix="tenants\/checkout-web\/eu-west-1"\} \d/m);

        const write = await put(node, buckets.targets, "app.json");
        assert.notEqual(write.status, 0);
        assert.match(write.stderr, /AccessDenied/);
        const configWrite = await put(node, buckets.config, "prom-1/prometheus.yml", "global: {}\n");
        assert.match(configWrite.stderr, /AccessDenied/);
        const forged = sync(wrongSecret(node));
        assert.notEqual(forged.status, 0);
        assert.match(forged.stderr, /SignatureDoesNotMatch/);
    });

    it("the writers (awscli): each tenant writes its own prefix only, the platform's writer neither a tenant's nor discovery's", async () => {
        const checkout = await principalOf("targets-writer-checkout-web");
        const platformWriter = await principalOf("targets-writer");
        const own = await put(checkout, buckets.targets, `${tenantTargetsPrefix("checkout-web", moto.region)}/web.json`);
        assert.equal(own.status, 0, own.stderr);
        const decisions = await Promise.all([
            put(checkout, buckets.targets, `${tenantTargetsPrefix("orders-queue", moto.region)}/web.json`),
            put(checkout, buckets.targets, "web.json"),
            put(platformWriter, buckets.targets, `${tenantTargetsPrefix("checkout-web", moto.region)}/x.json`),
            put(platformWriter, buckets.targets, `${DISCOVERY_PREFIX}eu-west-1-ecs.json`),
        ]);
        assert.deepEqual(decisions.map((d) => /AccessDenied/.test(d.stderr)), [true, true, true, true], decisions.map((d) => d.stderr).join("\n"));
        const platformOwn = await put(platformWriter, buckets.targets, "platform.json");
        assert.equal(platformOwn.status, 0, platformOwn.stderr);
    });

    it("the journal shipper (botocore) writes the node's streams with the node's logs policy, and nothing without it", async function () {
        requireShipperTools(this);
        const node = await principalOf("prometheus-node");
        await moto.must(moto.admin, ["logs", "create-log-group", "--log-group-name", LOG_GROUP]);
        const journalDir = path.join(work, "journal");
        fs.mkdirSync(journalDir, { recursive: true });
        writeJournal(journalDir, [{ unit: "prometheus.service", message: "Server is ready to receive web requests.", atMs: Date.now() - 5000 }]);
        fs.writeFileSync(path.join(work, "instance-id"), "i-0123456789abcdef0\n");
        const shipper = async (name: string, key: AwsKey, logGroup: string) => {
            const dir = path.join(work, name);
            fs.mkdirSync(dir);
            const config = path.join(dir, "journal-shipper.json");
            fs.writeFileSync(config, JSON.stringify({
                logGroup, region: moto.region, node: "prom-1", units: NODE_LOG_UNITS, stateDir: path.join(dir, "state"),
                textfile: path.join(dir, JOURNAL_SHIPPER.textfileName), flushSeconds: 1, endpointUrl: moto.endpoint,
                journalDirectory: journalDir, instanceIdFile: path.join(work, "instance-id"),
            }));
            await processes.start(name, PYTHON, [JOURNAL_SHIPPER_SOURCE_FILE, "--config", config], { env: moto.env(key) });
            const metrics = () => fs.existsSync(path.join(dir, JOURNAL_SHIPPER.textfileName)) ? fs.readFileSync(path.join(dir, JOURNAL_SHIPPER.textfileName), "utf8") : "";
            return { metrics, output: () => processes.log(name), stop: () => processes.stop(name) };
        };

        const own = await shipper("shipper", node, LOG_GROUP);
        await waitFor("the shipper's delivery", async () => /^platform_log_shipper_last_success_timestamp_seconds \d/m.test(own.metrics()) || undefined, 60000, 250)
            .catch((err) => { throw new Error(`${err.message}\n${own.output()}`); });
        await own.stop();
        const events = JSON.parse((await moto.must(moto.admin, ["logs", "get-log-events", "--log-group-name", LOG_GROUP, "--log-stream-name", "prom-1/prometheus.service"])).stdout).events;
        assert.deepEqual(events.map((e: { message: string }) => JSON.parse(e.message).message), ["Server is ready to receive web requests."]);

        for (const [name, key, refusal] of [
            ["shipper-without-logs-policy", await principalOf("prometheus-node", ["prometheus-node-logs-write"]), /AccessDenied/],
            ["shipper-forged", wrongSecret(node), /InvalidSignatureException|SignatureDoesNotMatch|UnrecognizedClient/],
        ] as const) {
            const refused = await shipper(name, key, LOG_GROUP);
            await waitFor(`${name}'s refusal`, async () => /^platform_log_shipper_delivery_failures_total [1-9]/m.test(refused.metrics()) || undefined, 60000, 250);
            await refused.stop();
            assert.match(refused.output(), refusal);
            assert.doesNotMatch(refused.metrics(), /^platform_log_shipper_last_success_timestamp_seconds/m, `no success while refused:\n${refused.metrics()}\n${refused.output()}`);
        }
    });

    it("the discovery function (AWS SDK v3) lists ECS and writes discovery/ only", async () => {
        const discovery = await principalOf("target-discovery");
        await moto.must(moto.admin, ["ecs", "create-cluster", "--cluster-name", "apps"]);
        const agent = new https.Agent({ ca: fs.readFileSync(moto.caFile) });
        const clientsFor = (key: AwsKey) => {
            const options = { endpoint: moto.endpoint, region: moto.region, credentials: key, requestHandler: { httpsAgent: agent }, maxAttempts: 1 };
            return {
                ecs: () => new ECSClient(options),
                serviceDiscovery: () => new ServiceDiscoveryClient(options),
                s3: new S3Client({ ...options, forcePathStyle: true }),
            };
        };
        const config: DiscoveryConfig = { bucket: buckets.targets, prefix: DISCOVERY_PREFIX, statusPrefix: DISCOVERY_STATUS_PREFIX, regions: [moto.region], namespaces: {} };
        const [written] = await runDiscovery(config, clientsFor(discovery), () => undefined);
        assert.deepEqual([written.key, written.written, written.error], [`${DISCOVERY_PREFIX}${moto.region}-ecs.json`, true, undefined]);
        const stored = await moto.must(moto.admin, ["s3", "cp", `s3://${buckets.targets}/${written.key}`, "-"]);
        assert.deepEqual(JSON.parse(stored.stdout), []);

        const [beyond] = await runDiscovery({ ...config, prefix: `${tenantTargetsPrefix("checkout-web", moto.region)}/` }, clientsFor(discovery), () => undefined);
        assert.equal(beyond.written, false);
        assert.match(String(beyond.error), /^Access ?Denied$/);
        // Signed with a wrong secret, the run writes nothing (moto answers ECS's JSON protocol in XML,
        // which the SDK cannot read); its S3 client is told why.
        const forgedClients = clientsFor(wrongSecret(discovery));
        const [forged] = await runDiscovery(config, forgedClients, () => undefined);
        assert.deepEqual([forged.written, forged.targets], [false, 0]);
        await assert.rejects(forgedClients.s3.send(new PutObjectCommand({ Bucket: buckets.targets, Key: written.key, Body: "[]" })), { name: "SignatureDoesNotMatch" });
    });

    it("moto refuses a signed listing under a prefix holding '/' (getmoto/moto#5948): why the rehearsals, whose config sync lists prom-N/, stay on s3rver", async () => {
        // When a fixed moto passes this listing, this test fails: move the rehearsals' S3 to moto then.
        const [plain, slashed] = await Promise.all(["prom-1", "prom-1/"].map((prefix) =>
            moto.aws(moto.admin, ["s3api", "list-objects-v2", "--bucket", buckets.config, "--prefix", prefix])));
        assert.equal(plain.status, 0, plain.stderr);
        assert.match(slashed.stderr, /SignatureDoesNotMatch/);
    });

    it("the discovery function writes once, leaves unchanged content alone, and Prometheus discovers what it wrote", async function () {
        const promtool = requireTool(this, "promtool");
        const discovery = await principalOf("target-discovery");
        const agent = new https.Agent({ ca: fs.readFileSync(moto.caFile) });
        const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: discovery, requestHandler: { httpsAgent: agent }, forcePathStyle: true });
        // ECS's tasks from the mocked account (moto runs no task without container instances); S3 is moto's.
        const ecs = ecsAccount(1, 3, EXPORTER_LABELS);
        const clients = { ecs: () => ecs.client, serviceDiscovery: unaskedCloudMap, s3 };
        const config: DiscoveryConfig = { bucket: buckets.targets, prefix: DISCOVERY_PREFIX, statusPrefix: DISCOVERY_STATUS_PREFIX, regions: ["eu-west-2"], namespaces: {} };
        const [first] = await runDiscovery(config, clients, () => undefined);
        const [second] = await runDiscovery(config, clients, () => undefined);
        assert.deepEqual([first.written, second.written, first.targets], [true, false, 3]);

        const targetsDir = path.join(work, "discovered");
        fs.mkdirSync(targetsDir);
        const object = await moto.must(moto.admin, ["s3", "cp", `s3://${buckets.targets}/${first.key}`, "-"]);
        fs.writeFileSync(path.join(targetsDir, "eu-west-2-ecs.json"), object.stdout);
        const prometheusConfig = path.join(work, "discovery-prometheus.yml");
        fs.writeFileSync(prometheusConfig, `scrape_configs:\n  - job_name: ecs_discovery\n    file_sd_configs:\n      - files: ["${targetsDir}/*.json"]\n`);
        const said = expectSuccess(run(promtool, ["check", "service-discovery", prometheusConfig, "ecs_discovery", "--timeout=5s"]), "promtool check service-discovery");
        const discovered = JSON.parse(said.slice(said.indexOf("[")));
        assert.deepEqual(discovered.map((t: any) => t.labels.__address__).sort(), ["10.0.0.0:9102", "10.0.0.1:9102", "10.0.0.2:9102"]);
        assert.deepEqual([discovered[0].labels.job, discovered[0].labels.__metrics_path__, discovered[0].labels.task_definition_family], ["api", "/internal/metrics", "api"]);
    });
});
