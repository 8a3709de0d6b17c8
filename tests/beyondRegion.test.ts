// AMP long-term store, ECS / Cloud Map discovery and the serverless producer role, under mocks.
import { strict as assert } from "assert";
import * as vm from "vm";
import * as yaml from "js-yaml";
import { bundleDiscoveryFunction, DISCOVERY_SCHEDULE } from "../components/targetDiscovery";
import { loadEnvironment } from "../infra/environment";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { runStack } from "../infra/stack";
import { MOCK_ACCOUNT, previewValue, ProgramRun, runProgram } from "../scripts/lib/offline";
import { previewNodeConfigSources, previewPrometheusYml } from "../scripts/lib/plan";
import { EXPECTED_RULE_FILE } from "../components/render/alertRules";
import { inputsOf, named, ofType, optedOutDev, plannedStack, source, STACKS } from "./helpers/stacks";

const BEYOND = ["aws:amp/workspace:Workspace", "aws:lambda/function:Function", "aws:cloudwatch/eventRule:EventRule"];

/** The stack run as an update would, so that documents built from ARNs can be read. */
const applied = new Map<string, Promise<ProgramRun>>();
function appliedStack(stack: string): Promise<ProgramRun> {
    if (!applied.has(stack)) {
        applied.set(stack, plannedStack(stack).then(() => runProgram({
            stack, preview: false, program: () => runStack(), ...placeholderSecretOptions(stack),
        })));
    }
    return applied.get(stack)!;
}

describe("the scrapers' egress addresses, for tenants' safelists", function () {
    this.timeout(120000);
    for (const stack of STACKS) {
        it(`${stack}: exports every NAT gateway's public address as scraperEgressAddresses`, async () => {
            const run = await appliedStack(stack);
            const env = loadEnvironment(stack);
            const eips = ofType(run, "aws:ec2/eip:Eip");
            assert.equal(eips.length, env.natGateways === "perAz" ? 3 : 1);
            const exported = await Promise.all(((run.outputs as Record<string, any>).scraperEgressAddresses as unknown[]).map((a) => previewValue(a)));
            assert.equal(exported.length, eips.length);
            assert.ok(exported.every((a) => typeof a === "string" && /^192\.0\.2\.\d+$/.test(a)), exported.join(", "));
            assert.equal(new Set(exported).size, exported.length);
        });
    }
});

describe("a stack that opts out (dev as one shard, without remote write and discovery)", function () {
    this.timeout(120000);

    it("creates no workspace, function or schedule, and its nodes neither remote-write, scrape discovered targets nor expect a discovery", async () => {
        const { run, platform } = await optedOutDev();
        for (const type of BEYOND) {
            assert.deepEqual(ofType(run, type), [], type);
        }
        const config = yaml.load(await previewPrometheusYml(platform, platform.nodes[0])) as any;
        assert.equal(config.remote_write, undefined);
        assert.ok(!config.scrape_configs.some((j: any) => j.job_name === "ecs_discovery"));
        const [sources] = await previewNodeConfigSources(platform);
        assert.ok(!String(sources.ruleFiles[EXPECTED_RULE_FILE]).includes("platform:discovery_expected"));
        assert.equal((run.outputs as any).ampWorkspaceId, undefined);
    });
});

for (const stack of STACKS.filter((s) => loadEnvironment(s).remoteWrite.enabled)) {
    describe(`AMP long-term store of ${stack}`, function () {
        this.timeout(120000);

        it("creates one workspace whose alias names the stack", async () => {
            const { run } = await plannedStack(stack);
            const workspaces = ofType(run, "aws:amp/workspace:Workspace");
            assert.equal(workspaces.length, 1);
            assert.equal(inputsOf(workspaces[0]).alias, `prometheus-platform-${stack}`);
        });

        it("lets the nodes remote-write into that workspace only", async () => {
            const run = await appliedStack(stack);
            const workspace = named(run, "aws:amp/workspace:Workspace", "long-term-store");
            const policy = named(run, "aws:iam/policy:Policy", "long-term-store-remote-write");
            assert.deepEqual(source(run, policy, "policy").urn, workspace.urn);
            const document = JSON.parse(inputsOf(policy).policy);
            assert.equal(document.Statement.length, 1);
            assert.deepEqual([document.Statement[0].Effect, document.Statement[0].Action], ["Allow", ["aps:RemoteWrite"]]);
            assert.equal(document.Statement[0].Resource.length, 1);
            assert.match(document.Statement[0].Resource[0], /^arn:aws:aps:eu-west-1:123456789012:workspace\/ws-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "the mock's ARN of the workspace");
            const attachment = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                .find((a) => source(run, a, "role").name === "prometheus-node" && a.propertyDependencies.policyArn?.[0] === policy.urn);
            assert.ok(attachment, "the node role carries the remote-write policy");
        });

        it("gives each node a native SigV4 remote_write, a queue_config, and AMP's deduplication labels", async () => {
            const { platform, run } = await plannedStack(stack);
            for (const node of platform.nodes) {
                const config = yaml.load(await previewPrometheusYml(platform, node)) as any;
                assert.equal(config.remote_write.length, 1);
                const [remote] = config.remote_write;
                assert.deepEqual(remote.sigv4, { region: "eu-west-1" });
                assert.ok(remote.queue_config.max_samples_per_send > 0 && remote.queue_config.capacity >= remote.queue_config.max_samples_per_send);
                const shard = platform.env.nodes[platform.nodes.indexOf(node)].shard;
                assert.equal(config.global.external_labels.cluster, shard === 1 ? stack : `${stack}-shard-${shard}`, "one cluster per shard: AMP keeps one replica of each");
                assert.equal(config.global.external_labels.__replica__, node.name);
                assert.deepEqual(config.alerting.alert_relabel_configs, [{ action: "labeldrop", regex: "__replica__" }]);
            }
            for (const instance of ofType(run, "aws:ec2/instance:Instance")) {
                // Prometheus runs on the host: one hop reaches IMDSv2 for the role's credentials.
                assert.equal(inputsOf(instance).metadataOptions.httpPutResponseHopLimit, 1);
            }
            const applied = await appliedStack(stack);
            const outputs = applied.outputs as Record<string, any>;
            const remoteWriteUrl = await new Promise((resolve) => outputs.ampRemoteWriteUrl.apply(resolve));
            assert.equal(remoteWriteUrl, "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/long-term-store-id/api/v1/remote_write");
            const queryUrl = await new Promise((resolve) => outputs.ampQueryUrl.apply(resolve));
            assert.equal(queryUrl, "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/long-term-store-id/api/v1/query");
        });

        it("keeps samples in the workspace for the stack's retentionDays", async () => {
            const run = await appliedStack(stack);
            const configuration = named(run, "aws:amp/workspaceConfiguration:WorkspaceConfiguration", "long-term-store");
            assert.equal(inputsOf(configuration).retentionPeriodInDays, loadEnvironment(stack).remoteWrite.retentionDays);
            assert.equal(source(run, configuration, "workspaceId").type, "aws:amp/workspace:Workspace");
        });

        it("offers serverless producers a role that may only remote-write into the workspace", async () => {
            const run = await appliedStack(stack);
            const role = named(run, "aws:iam/role:Role", "long-term-store-producer");
            const trust = JSON.parse(inputsOf(role).assumeRolePolicy);
            assert.deepEqual(trust.Statement[0].Principal, { AWS: ["arn:aws:iam::123456789012:root"] });
            const attachments = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => source(run, a, "role").urn === role.urn);
            assert.deepEqual(attachments.map((a) => source(run, a, "policyArn").name), ["long-term-store-remote-write"]);
            assert.match(String(await previewValue((run.outputs as any).ampProducerRoleArn)), new RegExp(`^arn:aws:iam::${MOCK_ACCOUNT}:role/long-term-store-producer-[0-9a-f]{7}$`));
        });
    });
}

for (const stack of STACKS.filter((s) => loadEnvironment(s).discovery.enabled)) {
    describe(`ECS / Cloud Map target discovery of ${stack}`, function () {
        this.timeout(120000);

        it("runs the packaged function every minute, invoked by its schedule only", async () => {
            const { run, env } = await plannedStack(stack);
            const fn = named(run, "aws:lambda/function:Function", "target-discovery");
            const inputs = inputsOf(fn);
            assert.equal(inputs.handler, "index.handler");
            assert.match(inputs.runtime, /^nodejs2\d\.x$/);
            assert.equal(inputs.environment.variables.TARGETS_PREFIX, "discovery/");
            assert.equal(inputs.environment.variables.DISCOVERY_REGIONS, env.discovery.regions.join(","));
            const rule = named(run, "aws:cloudwatch/eventRule:EventRule", "target-discovery");
            assert.equal(inputsOf(rule).scheduleExpression, DISCOVERY_SCHEDULE);
            assert.equal(DISCOVERY_SCHEDULE, "rate(1 minute)");
            const target = named(run, "aws:cloudwatch/eventTarget:EventTarget", "target-discovery");
            assert.equal(source(run, target, "arn").urn, fn.urn);
            const permission = named(run, "aws:lambda/permission:Permission", "target-discovery");
            assert.equal(inputsOf(permission).principal, "events.amazonaws.com");
            assert.equal(source(run, permission, "sourceArn").urn, rule.urn);
        });

        it("grants the function only the calls it makes and writes under its own prefix", async () => {
            const run = await appliedStack(stack);
            const document = JSON.parse(inputsOf(named(run, "aws:iam/rolePolicy:RolePolicy", "target-discovery")).policy);
            const actions = document.Statement.flatMap((s: any) => s.Action).sort();
            assert.deepEqual(actions, [
                "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListClusters", "ecs:ListTasks",
                "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket", "s3:PutObject",
                "servicediscovery:ListInstances", "servicediscovery:ListServices", "servicediscovery:ListTagsForResource",
            ]);
            const write = document.Statement.find((s: any) => s.Action.includes("s3:PutObject"));
            const bucketArn = JSON.parse(inputsOf(named(run, "aws:iam/policy:Policy", "targets-read")).policy).Statement[0].Resource[0];
            assert.deepEqual(write.Resource, [`${bucketArn}/discovery/*`]);
            assert.ok(actions.every((a: string) => !a.endsWith("*")), "no wildcard action");
        });

        it("lets the nodes scrape what it writes, without the PaaS proxy", async () => {
            const { platform } = await plannedStack(stack);
            const config = yaml.load(await previewPrometheusYml(platform, platform.nodes[0])) as any;
            const job = config.scrape_configs.find((j: any) => j.job_name === "ecs_discovery");
            assert.deepEqual(job.file_sd_configs[0].files, ["/etc/prometheus/targets/discovery/*.json"]);
            assert.equal(job.proxy_url, undefined);
        });

        it("records each success where the nodes read it, and the nodes expect every region and source: no alarm that notifies nobody", async () => {
            const { run, env, platform } = await plannedStack(stack);
            const variables = inputsOf(named(run, "aws:lambda/function:Function", "target-discovery")).environment.variables;
            assert.equal(variables.STATUS_PREFIX, "discovery/status/");
            assert.deepEqual(ofType(run, "aws:cloudwatch/metricAlarm:MetricAlarm"), []);
            const [sources] = await previewNodeConfigSources(platform);
            const expected = (yaml.load(String(sources.ruleFiles[EXPECTED_RULE_FILE])) as any).groups[0].rules
                .filter((r: any) => r.record === "platform:discovery_expected").map((r: any) => `${r.labels.region} ${r.labels.source}`);
            assert.deepEqual(expected, env.discovery.regions.flatMap((region) => [`${region} ecs`,
                ...((env.discovery.cloudMapNamespaces[region] ?? []).length > 0 ? [`${region} cloudmap`] : [])]));
        });
    });
}

describe("the packaged discovery function", function () {
    this.timeout(60000);

    it("bundles into one file that exports its handler, the same bytes every time", () => {
        const code = bundleDiscoveryFunction();
        assert.equal(code, bundleDiscoveryFunction(), "deterministic, so an unchanged function is not redeployed");
        const module = { exports: {} as Record<string, unknown> };
        vm.runInNewContext(code, { module, exports: module.exports, require, process, console, Buffer, setTimeout, clearTimeout, URL, TextEncoder, TextDecoder });
        assert.equal(typeof module.exports.handler, "function");
    });
});
