// What a real `pulumi up` would hit and mocks alone do not show: AWS's own limits and naming rules.
import { strict as assert } from "assert";
import * as aws from "@pulumi/aws";
import { ALB_VALUES_PER_CONDITION, ALB_VALUES_PER_RULE } from "../policies/rules/albRuleConditionLimits";
import { DLM_SERVICE_POLICY } from "../components/dataVolumeBackup";
import { LoadBalancer, MAX_OFFICE_SLICES, SOURCE_CIDRS_PER_RULE } from "../components/loadBalancer";
import { SSM_HEADROOM, SSM_TIER_LIMIT_BYTES } from "../components/alertmanagerCluster";
import { renderAlertmanagerConfig } from "../components/render/alertmanagerConfig";
import { DISCOVERY_PERIOD_SECONDS, DISCOVERY_RUNTIME } from "../components/targetDiscovery";
import { loadEnvironment } from "../infra/environment";
import { createPlatform } from "../infra/platform";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { PolicyPackServer, readPolicyConfig } from "../scripts/lib/analyzer";
import { CapturedResource, ProgramError, ProgramRun, runProgram } from "../scripts/lib/offline";
import { inputsOf, named, ofType, plannedStack, source, STACKS } from "./helpers/stacks";
import * as path from "path";
import { checkParameterSize } from "../infra/rendering";

/** Input properties that name a resource in its account and region (not Pulumi's autonaming). */
const PHYSICAL_NAME_PROPERTIES = ["name", "bucket", "functionName", "alias", "roleName"];
/** Properties that name resources of one type only (an RDS parameter group's family is its engine's, not a name). */
const TYPE_NAME_PROPERTIES: Record<string, string[]> = {
    "aws:ecs/taskDefinition:TaskDefinition": ["family"],
    "aws:rds/instance:Instance": ["identifier", "finalSnapshotIdentifier"],
};
/** Types whose names are unique only inside another resource, and the property naming it. */
const NAME_SCOPE: Record<string, string> = {
    "aws:servicediscovery/service:Service": "namespaceId",
    "cloudflare:index/dnsRecord:DnsRecord": "zoneId",
};

function physicalNames(run: ProgramRun): { key: string; resource: CapturedResource }[] {
    return run.resources.filter((r) => r.custom).flatMap((resource) => {
        const inputs = inputsOf(resource);
        const scopeProperty = NAME_SCOPE[resource.type];
        const scope = scopeProperty === undefined ? ""
            : typeof inputs[scopeProperty] === "string" && !resource.propertyDependencies[scopeProperty]?.length
                ? inputs[scopeProperty] : (resource.propertyDependencies[scopeProperty] ?? []).join(",");
        // A value that came from another resource refers to that resource's name; it names nothing new.
        return [...PHYSICAL_NAME_PROPERTIES, ...TYPE_NAME_PROPERTIES[resource.type] ?? []]
            .filter((property) => typeof inputs[property] === "string" && !resource.propertyDependencies[property]?.length)
            .map((property) => ({ key: `${resource.type} ${scope} ${property}=${inputs[property]}`, resource }));
    });
}

describe("deploy day: three stacks in one account and region", function () {
    this.timeout(180000);

    it("gives no two resources of one type the same physical name", async () => {
        const seen = new Map<string, string>();
        const clashes: string[] = [];
        let named = 0;
        for (const stack of STACKS) {
            const { run } = await plannedStack(stack);
            for (const { key, resource } of physicalNames(run)) {
                named++;
                const other = seen.get(key);
                if (other !== undefined) {
                    clashes.push(`${key}: ${other} and ${resource.urn}`);
                }
                seen.set(key, resource.urn);
            }
        }
        assert.deepEqual(clashes, []);
        assert.ok(named >= 3 * 8, `only ${named} named resources were compared`);
    });

    for (const stack of STACKS) {
        it(`${stack}: names the log groups, task families and parameters of Alertmanager and Grafana after the stack`, async () => {
            const { run } = await plannedStack(stack);
            const logGroup = inputsOf(named(run, "aws:cloudwatch/logGroup:LogGroup", "alertmanager"));
            assert.equal(logGroup.name, `/ecs/prometheus-platform-${stack}/alertmanager`);
            assert.equal(inputsOf(named(run, "aws:cloudwatch/logGroup:LogGroup", "grafana")).name, `/ecs/prometheus-platform-${stack}/grafana`);
            assert.deepEqual(ofType(run, "aws:ecs/taskDefinition:TaskDefinition").map((t) => inputsOf(t).family).sort(),
                [...[1, 2, 3].map((n) => `prometheus-platform-${stack}-alertmanager-${n}`), `prometheus-platform-${stack}-grafana`].sort());
            const container = JSON.parse(inputsOf(named(run, "aws:ecs/taskDefinition:TaskDefinition", "alertmanager-1")).containerDefinitions)[0];
            assert.equal(container.logConfiguration.options["awslogs-group"], logGroup.name);
            assert.deepEqual(ofType(run, "aws:ssm/parameter:Parameter").map((p) => inputsOf(p).name).sort(), [
                ...[1, 2, 3].map((n) => `/prometheus-platform/${stack}/alertmanager/member-${n}/config`),
                `/prometheus-platform/${stack}/grafana/admin-password`,
                `/prometheus-platform/${stack}/grafana/database-password`,
                ...(stack === "dev" ? [`/prometheus-platform/${stack}/grafana/oidc-client-secret`] : []),
                `/prometheus-platform/${stack}/grafana/prometheus-password`,
                `/prometheus-platform/${stack}/grafana/secret-key`,
            ]);
        });
    }
});

describe("deploy day: limits of the services", function () {
    this.timeout(180000);

    for (const stack of STACKS) {
        it(`${stack}: tags the root volume through rootBlockDevice, never volumeTags, so the data volume's tags stay its own`, async () => {
            const { run } = await plannedStack(stack);
            for (const instance of ofType(run, "aws:ec2/instance:Instance")) {
                const inputs = inputsOf(instance);
                assert.equal(inputs.volumeTags, undefined);
                assert.equal(inputs.rootBlockDevice.tags.Name, `${instance.name}-root`);
                const attachment = ofType(run, "aws:ec2/volumeAttachment:VolumeAttachment")
                    .find((a) => source(run, a, "instanceId").urn === instance.urn)!;
                assert.equal(inputsOf(source(run, attachment, "volumeId")).tags.Name, `${instance.name}-data`);
            }
        });
    }

    for (const stack of STACKS.filter((s) => loadEnvironment(s).discovery.enabled)) {
        it(`${stack}: runs discovery one at a time without reserved concurrency, on Node 24`, async () => {
            const { run } = await plannedStack(stack);
            const fn = inputsOf(named(run, "aws:lambda/function:Function", "target-discovery"));
            assert.equal(fn.reservedConcurrentExecutions, undefined, "reserved concurrency fails in accounts with a low quota");
            assert.equal(fn.runtime, DISCOVERY_RUNTIME);
            assert.equal(DISCOVERY_RUNTIME, "nodejs24.x");
            assert.ok(fn.timeout < DISCOVERY_PERIOD_SECONDS, `timeout ${fn.timeout}s must end a run before the next is due`);
            const invokeConfig = inputsOf(named(run, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "target-discovery"));
            assert.equal(invokeConfig.maximumRetryAttempts, 0);
            const target = inputsOf(named(run, "aws:cloudwatch/eventTarget:EventTarget", "target-discovery"));
            assert.deepEqual(target.retryPolicy, { maximumRetryAttempts: 0, maximumEventAgeInSeconds: DISCOVERY_PERIOD_SECONDS });
        });
    }

    for (const stack of STACKS) {
        it(`${stack}: keeps the Alertmanager config in its SSM tier (Standard unless tenants need more), with room to spare at real secret lengths`, async () => {
            const { run, env, platform } = await plannedStack(stack);
            const tier = env.alertmanager.configParameterTier;
            for (const n of [1, 2, 3]) {
                assert.equal(inputsOf(named(run, "aws:ssm/parameter:Parameter", `alertmanager-${n}-config`)).tier, tier);
            }
            assert.equal(tier, platform.tenants.length > 0 ? "Advanced" : "Standard");
            // Real lengths: PagerDuty keys are 32 characters, SES passwords 44, Slack and Cronitor URLs about 80.
            const config = renderAlertmanagerConfig({
                pagerdutyRoutingKey: "x".repeat(32),
                platformHours: { support: env.alertmanager.supportHours, page: env.alertmanager.pageHours },
                heartbeatUrl: `https://cronitor.link/p/${"x".repeat(32)}/prometheus-${stack}`,
                ticket: env.receivers.email
                    ? { kind: "email", ...env.receivers.email, authUsername: "AKIAIOSFODNN7EXAMPLE", authPassword: "x".repeat(44) }
                    : { kind: "webhook", url: `https://tickets.example.net/hooks/${"x".repeat(40)}` },
                slack: env.receivers.slackChannel
                    ? { webhookUrl: `https://hooks.slack.com/services/T0000000/B0000000/${"x".repeat(24)}`, channel: env.receivers.slackChannel }
                    : undefined,
                tenants: platform.tenants.map((tenant) => ({
                    name: tenant.name,
                    receivers: Object.fromEntries(Object.entries(tenant.receivers).map(([name, r]) => [name, {
                        ...r, secret: r.kind === "pagerduty" ? "x".repeat(32) : `https://hooks.slack.com/services/T0000000/B0000000/${"x".repeat(24)}`,
                    }])),
                    page: tenant.routing.page,
                    ticket: tenant.routing.ticket,
                    supportHours: tenant.supportHours,
                })),
            });
            const bytes = Buffer.byteLength(config);
            assert.ok(bytes < SSM_TIER_LIMIT_BYTES[tier] * SSM_HEADROOM, `${bytes} bytes`);
            assert.doesNotThrow(() => checkParameterSize(env, bytes));
        });
    }

    it("refuses, before any resource is registered, a tier too small for the tenants' receivers at their longest plausible secrets, naming the tenant file", async () => {
        const dev = loadEnvironment("dev");
        const env = { ...dev, alertmanager: { ...dev.alertmanager, configParameterTier: "Standard" as const } };
        const error = await runProgram({ stack: "dev", program: () => createPlatform(env), ...placeholderSecretOptions("dev") })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError, "accepted");
        assert.match(error.message, /^environment file environments\/dev\.yaml is not valid:\n {2}- alertmanager\.configParameterTier: alertmanager\.yml is \d+ bytes with every secret at its longest plausible length, once the receivers of \S*tenants\/(checkout-web|orders-queue)\.yaml are added, over 90% of the SSM Standard tier's 4096; set alertmanager\.configParameterTier: Advanced/);
        assert.deepEqual(error.resources, [], "nothing was registered");
    });

    it("fails the plan before a configuration reaches its tier's limit, naming the setting", () => {
        const env = loadEnvironment("production");
        const nearStandard = Math.ceil(SSM_TIER_LIMIT_BYTES.Standard * SSM_HEADROOM);
        assert.doesNotThrow(() => checkParameterSize(env, nearStandard - 1));
        assert.throws(() => checkParameterSize(env, nearStandard),
            /environment file environments\/production\.yaml is not valid:\n {2}- alertmanager\.configParameterTier: alertmanager\.yml is 3687 bytes, over 90% of the SSM Standard tier's 4096; set alertmanager\.configParameterTier: Advanced/);
        const advanced = { ...env, alertmanager: { ...env.alertmanager, configParameterTier: "Advanced" as const } };
        assert.doesNotThrow(() => checkParameterSize(advanced, nearStandard));
        assert.throws(() => checkParameterSize(advanced, 7400), /Advanced tier's 8192; shorten the receivers/);
    });
});

describe("deploy day: backups and access logs", function () {
    this.timeout(180000);

    for (const stack of STACKS) {
        it(`${stack}: snapshots every data volume daily through a DLM policy of its own, kept as the stack says`, async () => {
            const { run, env } = await plannedStack(stack);
            const policy = inputsOf(named(run, "aws:dlm/lifecyclePolicy:LifecyclePolicy", "prometheus-data"));
            assert.equal(policy.state, "ENABLED");
            assert.deepEqual(policy.policyDetails.resourceTypes, ["VOLUME"]);
            const [schedule] = policy.policyDetails.schedules;
            assert.deepEqual(schedule.createRule, { interval: 24, intervalUnit: "HOURS", times: env.backup.snapshotTime });
            assert.deepEqual(schedule.retainRule, { interval: env.backup.retainDays, intervalUnit: "DAYS" });
            assert.equal(schedule.copyTags, true);
            const targetTags = Object.entries(policy.policyDetails.targetTags as Record<string, string>);
            assert.deepEqual(targetTags, [["platform:backup", `prometheus-platform-${stack}-prometheus-data`]]);
            const volumes = ofType(run, "aws:ebs/volume:Volume");
            assert.deepEqual(volumes.map((v) => inputsOf(v).tags["platform:backup"]), volumes.map(() => targetTags[0][1]));
            for (const instance of ofType(run, "aws:ec2/instance:Instance")) {
                assert.equal(inputsOf(instance).rootBlockDevice.tags["platform:backup"], undefined, "root volumes are not backed up");
            }
            const role = named(run, "aws:iam/role:Role", "prometheus-data");
            assert.equal(JSON.parse(inputsOf(role).assumeRolePolicy).Statement[0].Principal.Service, "dlm.amazonaws.com");
            const attachment = inputsOf(named(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "prometheus-data"));
            assert.equal(attachment.policyArn, `arn:aws:iam::aws:policy/${DLM_SERVICE_POLICY}`);
        });

        it(`${stack}: restores one node's data volume from a snapshot, replacing that node alone`, async () => {
            const env = loadEnvironment(stack);
            env.prometheus.rolloutNode = 2;
            env.prometheus.restoreSnapshots = { 2: "snap-0123456789abcdef0" };
            const run = await runProgram({ stack, program: () => createPlatform(env), ...placeholderSecretOptions(stack) });
            const byName = (type: string) => ofType(run, type).sort((a, b) => a.name.localeCompare(b.name));
            assert.deepEqual(byName("aws:ebs/volume:Volume").map((v) => [v.name, inputsOf(v).snapshotId]),
                env.nodes.map((n) => [`${n.name}-data`, n.name === "prom-2" ? "snap-0123456789abcdef0" : undefined]).sort());
            // Zone 2's node of every shard takes updates; only prom-2's volume is restored.
            const held = ["ami", "instanceType", "userDataBase64"];
            assert.deepEqual(byName("aws:ec2/instance:Instance").map((i) => [i.name, i.ignoreChanges]),
                env.nodes.map((n) => [n.name, n.zone.index === 2 ? [] : held]).sort());
            // The replaced volume: kept where data is protected, otherwise deleted after its final snapshot.
            assert.ok(ofType(run, "aws:ebs/volume:Volume").every((v) => v.retainOnDelete === env.protectData && inputsOf(v).finalSnapshot === true));
        });

        it(`${stack}: logs access to the targets bucket into the access-log bucket, which the log services may write`, async () => {
            const { run } = await plannedStack(stack);
            const logging = named(run, "aws:s3/bucketLogging:BucketLogging", "targets-access-logs");
            assert.equal(source(run, logging, "bucket").name, "targets");
            assert.equal(source(run, logging, "targetBucket").name, "access-logs");
            assert.equal(inputsOf(logging).targetPrefix, "s3/targets/");
            const loggedBuckets = ofType(run, "aws:s3/bucketLogging:BucketLogging").map((l) => source(run, l, "bucket").name);
            assert.deepEqual(loggedBuckets.sort(), ["node-config", "targets"], "the access-log bucket does not log its own deliveries");
            assert.deepEqual(ofType(run, "aws:s3/bucket:Bucket").map((b) => b.name).sort(), ["access-logs", "node-config", "targets"]);
            const policy = JSON.parse(inputsOf(named(run, "aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy")).policy);
            const s3Delivery = policy.Statement.find((s: any) => s.Sid === "S3ServerAccessLogDelivery");
            assert.deepEqual(s3Delivery.Principal, { Service: "logging.s3.amazonaws.com" });
            assert.match(s3Delivery.Resource, /^arn:aws:s3:::access-logs-[0-9a-f]{7}\/s3\/\*$/);
            assert.deepEqual(s3Delivery.Condition, { StringEquals: { "aws:SourceAccount": "123456789012" } });
            const alb = inputsOf(named(run, "aws:lb/loadBalancer:LoadBalancer", "platform"));
            assert.equal(alb.accessLogs.prefix, "alb");
            assert.match(policy.Statement.find((s: any) => s.Sid === "ElbLogDelivery").Resource, /\/alb\/\*$/);
        });
    }
});

/** An ingress alone, with `count` office CIDRs inside 198.18.0.0/15 and `nodes` Prometheus hosts. */
function ingressProgram(count: number, nodes = 3): () => void {
    const officeCidrs = Array.from({ length: count }, (_, i) => `198.18.${i}.0/24`);
    const members = Array.from({ length: nodes }, (_, i) => i + 1);
    return () => {
        const logsPolicy = new aws.s3.BucketPolicy("logs", { bucket: "logs", policy: "{}" });
        new LoadBalancer("platform", {
            vpcId: "vpc-1",
            publicSubnetIds: ["subnet-1", "subnet-2", "subnet-3"],
            securityGroupId: "sg-1",
            certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/1",
            officeCidrs,
            prometheusNodes: members.map((n) => ({ name: `prom-${n}`, host: `prom-${n}.example.net` })),
            prometheusInstanceIds: members.map((n) => `i-${n}`),
            alertmanagerHosts: [1, 2, 3].map((n) => `alerts-${n}.example.net`),
            alertmanagerHost: "alerts.example.net",
            alertmanagerPort: 9093,
            grafanaHost: "grafana.example.net",
            grafanaPort: 3000,
            accessLogsBucketName: "logs",
            accessLogsReady: logsPolicy,
        });
    };
}

describe("a stack you can remove", function () {
    this.timeout(120000);
    for (const stack of STACKS) {
        it(`${stack}: destroy removes what is not protected (buckets emptied, volumes after a final snapshot) and keeps what is`, async () => {
            const { run, env } = await plannedStack(stack);
            const buckets = ofType(run, "aws:s3/bucket:Bucket");
            const volumes = ofType(run, "aws:ebs/volume:Volume");
            assert.ok(buckets.length >= 3 && volumes.length === env.nodes.length);
            assert.ok(volumes.every((v) => inputsOf(v).finalSnapshot === true), "a deleted volume leaves a final snapshot");
            if (env.protectData) {
                assert.ok(buckets.every((b) => b.protect && inputsOf(b).forceDestroy === false), "protected buckets stay, objects and all");
                assert.ok(volumes.every((v) => v.protect && v.retainOnDelete), "protected volumes stay, also when replaced");
            } else {
                assert.deepEqual(buckets.filter((b) => inputsOf(b).forceDestroy !== true).map((b) => b.name), [], "every bucket is emptied on destroy");
                assert.deepEqual(run.resources.filter((r) => r.protect || r.retainOnDelete).map((r) => r.name), [], "nothing is protected or left behind");
            }
        });
    }
});

describe("listener rules that stay where they are", function () {
    this.timeout(120000);
    const rulesOf = async (count: number, nodes = 3) => new Map(ofType(await runProgram({ stack: "fixture", program: ingressProgram(count, nodes) }),
        "aws:lb/listenerRule:ListenerRule").map((r) => [r.name, inputsOf(r).priority as number]));

    it("keeps every rule's name and priority when the office list grows from 2 to 5 CIDRs, and when a host is added", async () => {
        const two = await rulesOf(2);
        for (const [what, next] of [["5 office CIDRs", await rulesOf(5)], ["a fourth Prometheus host", await rulesOf(2, 4)]] as const) {
            const moved = [...two].filter(([name, priority]) => next.get(name) !== priority).map(([name, priority]) => `${name} ${priority} -> ${next.get(name)}`);
            assert.deepEqual(moved, [], `with ${what}`);
            assert.ok(next.size > two.size, `${what} adds rules`);
            const priorities = [...next.values()];
            assert.equal(new Set(priorities).size, priorities.length, `with ${what}: no two rules share a priority`);
            // ALB: priorities 1 to 50000, at most 100 rules per listener (its default quota) besides the default action.
            assert.ok(priorities.every((p) => Number.isInteger(p) && p >= 1 && p <= 50000), `with ${what}: ${priorities.join(", ")}`);
            assert.ok(next.size <= 100, `with ${what}: ${next.size} rules`);
        }
    });

    it("stays within 100 rules at the longest office list the environment accepts", async () => {
        const longest = await rulesOf(MAX_OFFICE_SLICES * SOURCE_CIDRS_PER_RULE);
        assert.equal(longest.size, 3 + 5 * MAX_OFFICE_SLICES);
        assert.ok(longest.size <= 100);
    });
});

describe("deploy day: office CIDRs within the ALB's condition limits", function () {
    this.timeout(120000);
    let server: PolicyPackServer;
    before(async () => {
        server = await PolicyPackServer.start();
        await server.configure(readPolicyConfig(path.resolve(__dirname, "fixtures", "policy", "config.json")));
    });
    after(() => server?.close());

    for (const count of [3, 4, 7]) {
        it(`splits ${count} office CIDRs into rules the ALB accepts, each office CIDR reaching every alerts host and Grafana`, async () => {
            const run = await runProgram({ stack: "fixture", program: ingressProgram(count) });
            const officeCidrs = Array.from({ length: count }, (_, i) => `198.18.${i}.0/24`);
            const rules = ofType(run, "aws:lb/listenerRule:ListenerRule").map(inputsOf);
            const officeRules = rules.filter((r) => r.conditions.some((c: any) => c.sourceIp));
            const hosts = ["alerts-1", "alerts-2", "alerts-3", "alerts", "grafana"].map((h) => `${h}.example.net`);
            assert.equal(officeRules.length, hosts.length * Math.ceil(count / ALB_VALUES_PER_CONDITION));
            for (const host of hosts) {
                const forHost = officeRules.filter((r) => r.conditions[0].hostHeader.values[0] === host);
                assert.deepEqual(forHost.flatMap((r) => r.conditions[1].sourceIp.values).sort(), [...officeCidrs].sort());
            }
            for (const rule of rules) {
                const values = rule.conditions.map((c: any) => (c.hostHeader ?? c.sourceIp).values.length);
                assert.ok(values.every((n: number) => n <= ALB_VALUES_PER_CONDITION), JSON.stringify(rule.conditions));
                assert.ok(values.reduce((a: number, b: number) => a + b, 0) <= ALB_VALUES_PER_RULE);
            }
            assert.equal(new Set(rules.map((r) => r.priority)).size, rules.length, "priorities are unique");
            const violations = (await server.check(run.resources)).filter((v) => v.policy === "alb-rule-condition-limits");
            assert.deepEqual(violations, []);
        });
    }
});
