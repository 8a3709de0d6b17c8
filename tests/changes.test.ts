// Changing the platform without replacing it: configuration as data, rollouts in order, rotation.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import { decodeUserData } from "../components/prometheusNode";
import { configRevision, MANIFEST, nodeConfigFiles, renderConfigSyncScript, renderManifest } from "../components/render/configSync";
import { EXPECTED_RULE_FILE } from "../components/render/alertRules";
import { renderHtpasswd } from "../components/render/nginxConfig";
import { loadEnvironment, LoadedEnvironment } from "../infra/environment";
import { createPlatform, platformOutputs } from "../infra/platform";
import { ProgramRun, runProgram, unwrapSecrets } from "../scripts/lib/offline";
import { describeRollout, RolloutFacts } from "../scripts/lib/rollout";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { BCRYPT_PLACEHOLDER, previewNodeConfigSources } from "../scripts/lib/plan";
import { inputsOf, named, ofType, plannedStack } from "./helpers/stacks";

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

/** The program for a changed environment, as an update computes it (IDs known, passwords fixed). */
async function update(env: LoadedEnvironment, secrets: Record<string, string> = {}): Promise<ProgramRun> {
    return runProgram({
        stack: env.stack,
        preview: false,
        program: async () => platformOutputs(await createPlatform(env)),
        ...placeholderSecretOptions(env.stack),
        secretConfig: secrets,
        computedState: (type, name) => type === "random:index/randomPassword:RandomPassword"
            ? { result: `password-of-${name}`, bcryptHash: `$2a$10$${sha256(name).slice(0, 53).padEnd(53, "x")}` } : undefined,
    });
}

const userData = (run: ProgramRun) => Object.fromEntries(ofType(run, "aws:ec2/instance:Instance")
    .map((i) => [i.name, decodeUserData(unwrapSecrets<{ userDataBase64: string }>(i.inputs).userDataBase64)]));
const objects = (run: ProgramRun) => Object.fromEntries(ofType(run, "aws:s3/bucketObjectv2:BucketObjectv2")
    .map((o) => unwrapSecrets<{ key: string; content: string }>(o.inputs)).map((o) => [o.key, o.content]));

describe("node configuration as data", function () {
    this.timeout(120000);

    it("renders a set per node with a manifest of sha256sum lines and one revision over all nodes", () => {
        const files = nodeConfigFiles({ prometheusYml: "global: {}\n", ruleFiles: { "b.yml": "groups: []\n", "a.yml": "groups: []\n" }, htpasswd: "u:h\n" });
        assert.deepEqual(Object.keys(files), ["prometheus.yml", "rules/a.yml", "rules/b.yml", "htpasswd"]);
        const manifest = renderManifest("abc", files).trim().split("\n");
        assert.equal(manifest[0], "revision abc");
        assert.equal(manifest[1], `${sha256("global: {}\n")}  prometheus.yml`);
        const one = configRevision({ "prom-1": files, "prom-2": files });
        assert.equal(one, configRevision({ "prom-2": files, "prom-1": files }), "independent of order");
        assert.notEqual(one, configRevision({ "prom-1": files, "prom-2": { ...files, htpasswd: "u:other\n" } }), "any file of any node counts");
        assert.throws(() => nodeConfigFiles({ prometheusYml: "", ruleFiles: { "../x.yml": "" }, htpasswd: "" }), /plain \*\.yml names: \.\.\/x\.yml/);
    });

    it("writes each node's files, then its MANIFEST, before any instance starts: the platform's rules on shard 1, each tenant's on its shard", async () => {
        const { run } = await plannedStack("dev");
        const written = ofType(run, "aws:s3/bucketObjectv2:BucketObjectv2");
        const shardFiles = (node: string) => node.startsWith("prom-s2-")
            ? [`${node}/rules/tenant-orders-queue.yml`]
            : [`${node}/rules/${EXPECTED_RULE_FILE}`, `${node}/rules/platform.yml`, `${node}/rules/tenant-checkout-web.yml`];
        for (const node of ["prom-1", "prom-2", "prom-3", "prom-s2-1", "prom-s2-2", "prom-s2-3"]) {
            const mine = written.filter((o) => inputsOf(o).key.startsWith(`${node}/`));
            assert.deepEqual(mine.map((o) => inputsOf(o).key).sort(), [`${node}/MANIFEST`, `${node}/htpasswd`, `${node}/prometheus.yml`, ...shardFiles(node)].sort());
            const manifest = mine.find((o) => inputsOf(o).key.endsWith(MANIFEST))!;
            for (const file of mine.filter((o) => o !== manifest)) {
                assert.ok(manifest.dependencies.includes(file.urn), `${node}'s MANIFEST waits for ${inputsOf(file).key}`);
            }
            const instance = named(run, "aws:ec2/instance:Instance", node);
            const sets = written.filter((o) => !o.name.endsWith("-system-set"));
            assert.ok(sets.every((o) => instance.dependencies.includes(o.urn)), `${node} boots after every set is written`);
            // And after its own system set (its scripts and units), which its user data pins.
            assert.ok(instance.dependencies.includes(named(run, "aws:s3/bucketObjectv2:BucketObjectv2", `${node}-system-set`).urn));
        }
    });

    it("changes the sets, not the user data, when a rule changes: no node is replaced", async () => {
        const env = loadEnvironment("staging");
        const before = await update(env);
        const after = await update({ ...env, runbookBaseUrl: "https://runbooks.example.net/changed.md" });
        assert.deepEqual(userData(after), userData(before), "user data unchanged, so no instance is replaced");
        const [old, changed] = [objects(before), objects(after)];
        for (const node of ["prom-1", "prom-2", "prom-3"]) {
            assert.notEqual(changed[`${node}/rules/platform.yml`], old[`${node}/rules/platform.yml`]);
            assert.match(changed[`${node}/rules/platform.yml`], /runbook_url: https:\/\/runbooks\.example\.net\/changed\.md#/);
            assert.equal(changed[`${node}/prometheus.yml`], old[`${node}/prometheus.yml`]);
            assert.notEqual(changed[`${node}/MANIFEST`].split("\n")[0], old[`${node}/MANIFEST`].split("\n")[0], "a new revision");
        }
    });

    it("accepts two basic-auth users during a rotation, exports the first, and names the old key", async () => {
        const env = loadEnvironment("dev");
        const run = await update({ ...env, ingress: { ...env.ingress, basicAuthUsers: ["grafana-next", "grafana"] } });
        assert.deepEqual(ofType(run, "random:index/randomPassword:RandomPassword").map((p) => p.name).filter((n) => n.startsWith("basic-auth-")).sort(),
            ["basic-auth-grafana", "basic-auth-grafana-next"]);
        const htpasswd = objects(run)["prom-1/htpasswd"];
        assert.deepEqual(htpasswd.trim().split("\n").map((line) => line.split(":")[0]), ["grafana-next", "grafana"]);
        assert.equal((run.outputs as Record<string, unknown>).basicAuthUser, "grafana-next");
        assert.throws(() => renderHtpasswd([{ user: "a", bcryptHash: "x" }, { user: "a", bcryptHash: "y" }]), /a appears twice, and nginx would check only its first password/);
    });

    it("fills a preview's unknown password hashes with a placeholder the node's own htpasswd check accepts", async () => {
        const { platform } = await plannedStack("production");
        const [source] = await previewNodeConfigSources(platform);
        assert.equal(source.htpasswd, `grafana:${BCRYPT_PLACEHOLDER}\n`);
        const script = renderConfigSyncScript({
            bucket: "b", prefix: "prom-1/", region: "eu-west-1", stateDir: "/s", textfileDir: "/t", promtool: "/p", configFile: "/c",
            rulesDir: "/r", htpasswdFile: "/h", htpasswdGroup: "www-data", prometheusUrl: "http://127.0.0.1:9090", reloadTimeoutSeconds: 30,
        });
        const pattern = /^bcrypt_line='(.*)'$/m.exec(script)![1].replace(/\\\$/g, "\\$");
        assert.match(source.htpasswd.trim(), new RegExp(pattern));
        assert.doesNotMatch("grafana:plaintext", new RegExp(pattern));
    });
});

describe("Alertmanager rollouts", function () {
    this.timeout(120000);

    it("restarts members one at a time: each service waits for steady state and the one before it", async () => {
        const { run } = await plannedStack("production");
        const services = ["alertmanager-1", "alertmanager-2", "alertmanager-3"].map((name) => named(run, "aws:ecs/service:Service", name));
        for (const [i, service] of services.entries()) {
            const inputs = inputsOf(service);
            assert.equal(inputs.waitForSteadyState, true);
            assert.equal(inputs.deploymentCircuitBreaker, undefined, "a rollback would count as steady and let the next member restart");
            assert.equal(inputs.deploymentMinimumHealthyPercent, 0);
            assert.equal(service.dependencies.includes(services[i - 1]?.urn ?? ""), i > 0, `${service.name} waits for the member before it`);
        }
        const registry = inputsOf(named(run, "aws:servicediscovery/service:Service", "alertmanager"));
        assert.deepEqual(registry.healthCheckCustomConfig, {}, "the peer name answers with healthy members only");
    });

    it("puts a new configuration's keyed hash into every task definition, so ECS starts new tasks", async () => {
        const env = loadEnvironment("dev");
        const containers = async (secrets: Record<string, string>) => Object.fromEntries(ofType(await update(env, secrets), "aws:ecs/taskDefinition:TaskDefinition")
            .map((t) => [t.name, JSON.parse(inputsOf(t).containerDefinitions)[0]]));
        const before = await containers({});
        const after = await containers({ "prometheus-platform:pagerdutyRoutingKey": "0123456789abcdef0123456789abcdef" });
        for (const member of ["alertmanager-1", "alertmanager-2", "alertmanager-3"]) {
            const hash = (c: any) => c.environment.find((e: any) => e.name === "ALERTMANAGER_CONFIG_HMAC").value;
            assert.notEqual(hash(after[member]), hash(before[member]), `${member} gets a new revision`);
            assert.ok(!JSON.stringify(after[member]).includes("0123456789abcdef0123456789abcdef"), "the key itself stays in SSM");
            assert.deepEqual({ ...after[member], environment: [] }, { ...before[member], environment: [] }, "nothing else changes");
        }
    });

    it("writes member N's configuration only after member N-1 runs the new one, so an unrolled member restarts on its own", async () => {
        const { run } = await plannedStack("dev");
        const urn = (type: string, name: string) => named(run, type, name).urn;
        for (const n of [1, 2, 3]) {
            const parameter = named(run, "aws:ssm/parameter:Parameter", `alertmanager-${n}-config`);
            const [container] = JSON.parse(inputsOf(named(run, "aws:ecs/taskDefinition:TaskDefinition", `alertmanager-${n}`)).containerDefinitions);
            assert.equal(container.secrets[0].valueFrom.split(":parameter")[1], inputsOf(parameter).name, `member ${n} reads its own parameter`);
            assert.deepEqual(parameter.dependencies, n === 1 ? [] : [urn("aws:ecs/service:Service", `alertmanager-${n - 1}`)]);
            assert.ok(named(run, "aws:ecs/taskDefinition:TaskDefinition", `alertmanager-${n}`).dependencies.includes(parameter.urn),
                `member ${n}'s task definition is registered after its parameter is written`);
        }
        // No other member reads another's parameter.
        assert.equal(new Set(ofType(run, "aws:ssm/parameter:Parameter").filter((p) => p.name.startsWith("alertmanager-")).map((p) => inputsOf(p).name)).size, 3);
    });

    it("says which members a change restarts, in order, and what it does not restart", () => {
        const facts: RolloutFacts = {
            stack: "dev",
            alertmanager: { order: ["alertmanager-1", "alertmanager-2", "alertmanager-3"], configHash: "a" },
            nodeConfigRevision: "r1",
            rolloutNode: 2,
            nodes: [1, 2, 3].map((index) => ({ name: `prom-${index}`, index, userDataSha256: "u", instanceType: "t3.large", amiPattern: "o/debian-13-*" })),
        };
        assert.deepEqual(describeRollout(facts, facts), ["nothing restarts or is replaced"]);
        const unknown = describeRollout(facts, { ...facts, alertmanager: { ...facts.alertmanager, configHash: undefined } });
        assert.deepEqual(unknown, ["alertmanager.yml: not known in one of the plans, so whether its members restart cannot be said"]);
        const am = describeRollout(facts, { ...facts, alertmanager: { ...facts.alertmanager, configHash: "b" } });
        assert.equal(am.length, 1);
        assert.match(am[0], /^alertmanager\.yml changed: restarts alertmanager-1, then alertmanager-2, then alertmanager-3, one at a time/);
        const rules = describeRollout(facts, { ...facts, nodeConfigRevision: "r2" });
        assert.deepEqual(rules, ["node configuration changed (revision r1 -> r2): prom-1, prom-2, prom-3 fetch, check and reload it on their timer; no process restarts"]);
        const bigger = describeRollout(facts, { ...facts, nodes: facts.nodes.map((n) => ({ ...n, instanceType: "m6i.xlarge" })) });
        const newUserData = describeRollout(facts, { ...facts, nodes: facts.nodes.map((n) => ({ ...n, userDataSha256: "v" })) });
        assert.equal(newUserData[1], "prom-2 is replaced (user data (bootstrap)): it is the rollout node; its data volume is kept and reattached");
        assert.deepEqual(bigger, [
            "prom-1: instance type t3.large -> m6i.xlarge held back; applied when prometheus.rolloutNode is 1",
            "prom-2 is stopped and started again (instance type t3.large -> m6i.xlarge): it is the rollout node",
            "prom-3: instance type t3.large -> m6i.xlarge held back; applied when prometheus.rolloutNode is 3",
        ]);
    });
});
