import { strict as assert } from "assert";
import * as yaml from "js-yaml";
import { SSM_CORE_POLICY } from "../components/nodeRole";
import { ProgramRun } from "../scripts/lib/offline";
import { previewNodeSpec, previewPrometheusYml } from "../scripts/lib/plan";
import { inputsOf, named, ofType, plannedStack, source, STACKS } from "./helpers/stacks";
import { tenantsOfShard } from "../infra/shards";

const INSTANCE = "aws:ec2/instance:Instance";
const VOLUME = "aws:ebs/volume:Volume";
const ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

/** The bucket ARN as the read policy grants it: the autonamed bucket, known in a preview. */
function targetsBucketArn(run: ProgramRun): string {
    const arn = JSON.parse(inputsOf(named(run, "aws:iam/policy:Policy", "targets-read")).policy).Statement[0].Resource[0];
    assert.match(arn, /^arn:aws:s3:::targets-[0-9a-f]{7}$/);
    return arn;
}

function covers(rule: Record<string, any>, port: number): boolean {
    if (rule.ipProtocol === "-1") {
        return true;
    }
    return rule.fromPort <= port && port <= rule.toPort;
}

for (const stack of STACKS) {
    describe(`stack ${stack}`, function () {
        this.timeout(120000);

        it("runs three Prometheus nodes per shard, one in each configured zone, on that zone's private subnet", async () => {
            const { run, env } = await plannedStack(stack);
            const instances = ofType(run, INSTANCE);
            assert.equal(instances.length, 3 * env.prometheus.shards);
            assert.deepEqual(instances.map((i) => [i.name, inputsOf(i).availabilityZone, inputsOf(i).tags["prometheus-shard"]]),
                env.nodes.map((n) => [n.name, env.availabilityZones[n.zone.index - 1], String(n.shard)]));
            instances.forEach((instance, i) => {
                const zone = env.nodes[i].zone;
                const subnet = source(run, instance, "subnetId");
                assert.equal(subnet.name, `platform-private-${zone.index}`);
                assert.equal(inputsOf(subnet).availabilityZone, zone.availabilityZone);
                assert.equal(inputsOf(subnet).cidrBlock, zone.privateSubnetCidr);
                assert.equal(inputsOf(instance).privateIp, env.nodes[i].privateIp);
                assert.equal(inputsOf(instance).instanceType, env.prometheus.instanceType);
            });
        });

        it("gives each node an encrypted data volume in its own zone, attached to it, kept when it goes where data is protected", async () => {
            const { run, env } = await plannedStack(stack);
            const attachments = ofType(run, ATTACHMENT);
            assert.equal(attachments.length, env.nodes.length);
            for (const attachment of attachments) {
                const volume = source(run, attachment, "volumeId");
                const instance = source(run, attachment, "instanceId");
                assert.equal(volume.type, VOLUME);
                assert.equal(instance.type, INSTANCE);
                assert.equal(volume.name, `${instance.name}-data`);
                const volumeInputs = inputsOf(volume);
                assert.equal(volumeInputs.encrypted, true);
                assert.equal(volumeInputs.availabilityZone, inputsOf(instance).availabilityZone);
                assert.equal(volumeInputs.size, env.prometheus.dataVolume.sizeGiB);
                assert.equal(volume.retainOnDelete, env.protectData);
                assert.equal(volume.protect, stack === "production");
                assert.equal(env.protectData, stack === "production");
                assert.equal(inputsOf(attachment).deviceName, "/dev/sdf");
            }
            assert.equal(new Set(ofType(run, VOLUME).map((v) => inputsOf(v).availabilityZone)).size, 3);
        });

        it("hardens every instance: IMDSv2, encrypted root, no SSH key, no public address", async () => {
            const { run } = await plannedStack(stack);
            for (const instance of ofType(run, INSTANCE)) {
                const inputs = inputsOf(instance);
                assert.equal(inputs.metadataOptions.httpTokens, "required");
                assert.equal(inputs.rootBlockDevice.encrypted, true);
                assert.equal(inputs.keyName, undefined);
                assert.equal(inputs.associatePublicIpAddress, false);
                assert.equal(inputs.userDataReplaceOnChange, true);
                assert.equal(instance.deleteBeforeReplace, true);
            }
        });

        it("applies AMI, instance-type and user-data changes to the rollout node only", async () => {
            const { run, env } = await plannedStack(stack);
            for (const instance of ofType(run, INSTANCE)) {
                const rolling = instance.name === `prom-${env.prometheus.rolloutNode}`;
                assert.deepEqual(instance.ignoreChanges, rolling ? [] : ["ami", "instanceType", "userDataBase64"], instance.name);
            }
        });

        it("opens no port to the world on the nodes and port 22 nowhere", async () => {
            const { run } = await plannedStack(stack);
            const rules = ofType(run, INGRESS);
            for (const rule of rules) {
                const inputs = inputsOf(rule);
                assert.ok(!covers(inputs, 22), `${rule.name} admits port 22`);
                const group = source(run, rule, "securityGroupId");
                if (group.name !== "platform-alb") {
                    assert.equal(inputs.cidrIpv4, undefined, `${rule.name} admits an address range`);
                    assert.equal(inputs.cidrIpv6, undefined, `${rule.name} admits an address range`);
                } else {
                    assert.ok([80, 443].includes(inputs.fromPort) && inputs.fromPort === inputs.toPort, rule.name);
                }
            }
            const fromAlb = named(run, INGRESS, "platform-nodes-from-alb");
            assert.equal(source(run, fromAlb, "referencedSecurityGroupId").name, "platform-alb");
            assert.equal(source(run, fromAlb, "securityGroupId").name, "platform-prometheus");
            assert.equal(inputsOf(fromAlb).fromPort, 80);
            for (const [name, port] of [["platform-nodes-prometheus", 9090], ["platform-nodes-node-exporter", 9100]] as const) {
                const rule = named(run, INGRESS, name);
                assert.equal(source(run, rule, "referencedSecurityGroupId").name, "platform-prometheus");
                assert.equal(inputsOf(rule).fromPort, port);
                assert.equal(inputsOf(rule).toPort, port);
            }
        });

        it("routes each private subnet through NAT as the environment says", async () => {
            const { run, env } = await plannedStack(stack);
            const nats = ofType(run, "aws:ec2/natGateway:NatGateway");
            assert.equal(nats.length, env.natGateways === "perAz" ? 3 : 1);
            for (const i of [1, 2, 3]) {
                const route = named(run, "aws:ec2/route:Route", `platform-private-${i}-default`);
                const nat = source(run, route, "natGatewayId");
                const natIndex = env.natGateways === "perAz" ? i : 1;
                assert.equal(nat.name, `platform-nat-${natIndex}`);
                assert.equal(source(run, nat, "subnetId").name, `platform-public-${natIndex}`);
            }
        });

        it("keeps the targets bucket private, encrypted, versioned and TLS-only", async () => {
            const { run, env } = await plannedStack(stack);
            const bucket = named(run, "aws:s3/bucket:Bucket", "targets");
            assert.equal(bucket.protect, env.protectData);
            const block = inputsOf(named(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "targets-public-access"));
            for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
                assert.equal(block[flag], true, flag);
            }
            const encryption = inputsOf(named(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "targets-encryption"));
            assert.equal(encryption.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
            const versioning = inputsOf(named(run, "aws:s3/bucketVersioning:BucketVersioning", "targets-versioning"));
            assert.equal(versioning.versioningConfiguration.status, "Enabled");
            const lifecycle = inputsOf(named(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "targets-lifecycle"));
            assert.equal(lifecycle.rules[0].noncurrentVersionExpiration.noncurrentDays, env.targets.noncurrentVersionDays);

            const policy = JSON.parse(inputsOf(named(run, "aws:s3/bucketPolicy:BucketPolicy", "targets-policy")).policy);
            const bucketArn = targetsBucketArn(run);
            assert.deepEqual(policy.Statement, [{
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [bucketArn, `${bucketArn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            }]);
        });

        it("grants the nodes SSM, read access to the targets and config buckets, their log group and remote write when enabled, nothing else", async () => {
            const { run, env } = await plannedStack(stack);
            const attachments = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                .filter((a) => source(run, a, "role").name === "prometheus-node");
            const policyArns = attachments.map((a) => inputsOf(a).policyArn as string);
            assert.ok(policyArns.includes(`arn:aws:iam::aws:policy/${SSM_CORE_POLICY}`));
            const created = attachments.filter((a) => a.propertyDependencies.policyArn?.length === 1)
                .map((a) => source(run, a, "policyArn"));
            assert.deepEqual(created.map((p) => p.name).sort(), [...(env.remoteWrite.enabled ? ["long-term-store-remote-write"] : []), "node-config-read",
                "prometheus-node-logs-write", "targets-read"]);
            assert.equal(attachments.length, 1 + created.length);
            const readPolicy = created.find((p) => p.name === "targets-read")!;
            const document = JSON.parse(inputsOf(readPolicy).policy);
            const bucketArn = document.Statement[0].Resource[0];
            assert.match(bucketArn, /^arn:aws:s3:::targets-[0-9a-f]{7}$/);
            assert.deepEqual(document.Statement.map((s: any) => [s.Effect, s.Action, s.Resource]), [
                ["Allow", ["s3:ListBucket"], [bucketArn]],
                ["Allow", ["s3:GetObject"], [`${bucketArn}/*`]],
            ]);
            const profile = named(run, "aws:iam/instanceProfile:InstanceProfile", "prometheus-node");
            for (const instance of ofType(run, INSTANCE)) {
                assert.equal(source(run, instance, "iamInstanceProfile").urn, profile.urn);
            }
        });

        it("keeps the nodes' journals in one log group with the stack's retention, which the nodes may only add streams and events to", async () => {
            const { run, env } = await plannedStack(stack);
            const group = named(run, "aws:cloudwatch/logGroup:LogGroup", "prometheus-node-logs");
            const groupName = `/ec2/prometheus-platform-${stack}/prometheus-nodes`;
            assert.deepEqual([inputsOf(group).name, inputsOf(group).retentionInDays], [groupName, env.prometheus.logRetentionDays]);
            assert.equal((run.outputs as Record<string, unknown>).nodeLogGroupName, groupName);
            assert.equal(env.prometheus.logRetentionDays, stack === "production" ? 90 : 30);
            const policy = JSON.parse(inputsOf(named(run, "aws:iam/policy:Policy", "prometheus-node-logs-write")).policy);
            const arn = `arn:aws:logs:${env.region}:123456789012:log-group:${groupName}`;
            assert.deepEqual(policy.Statement.map((s: any) => [s.Effect, s.Action, s.Resource]), [
                ["Allow", ["logs:CreateLogStream"], [`${arn}:log-stream:*`]],
                ["Allow", ["logs:PutLogEvents"], [`${arn}:log-stream:*`]],
            ]);
            for (const instance of ofType(run, INSTANCE)) {
                assert.ok(instance.dependencies.includes(group.urn), `${instance.name} boots once its log group exists`);
            }
        });

        it("lets the writer role publish and delete targets only, assumed by the configured principals", async () => {
            const { run } = await plannedStack(stack);
            const writePolicy = JSON.parse(inputsOf(named(run, "aws:iam/policy:Policy", "targets-write")).policy);
            const bucketArn = writePolicy.Statement[0].Resource[0];
            assert.deepEqual(writePolicy.Statement.map((s: any) => [s.Effect, s.Action, s.Resource]), [
                ["Allow", ["s3:ListBucket"], [bucketArn]],
                ["Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [`${bucketArn}/*`]],
                ["Deny", ["s3:PutObject", "s3:DeleteObject"], [`${bucketArn}/tenants/*`, `${bucketArn}/discovery/*`]],
            ]);
            const trust = JSON.parse(inputsOf(named(run, "aws:iam/role:Role", "targets-writer")).assumeRolePolicy);
            assert.deepEqual(trust.Statement[0].Principal, { AWS: ["arn:aws:iam::123456789012:root"] });
        });

        it("renders shard 1's nodes a prometheus.yml scraping every node, the platform's jobs and its tenants, alerting without replica labels", async () => {
            const { platform, env } = await plannedStack(stack);
            const ips = env.nodes.map((n) => n.privateIp);
            for (const node of platform.nodes.filter((_, i) => env.nodes[i].shard === 1)) {
                const spec = await previewNodeSpec(platform, node);
                const config = yaml.load(await previewPrometheusYml(platform, node)) as Record<string, any>;
                assert.deepEqual(config.global.external_labels, { stack, cluster: stack, __replica__: node.name });
                const jobs = Object.fromEntries(config.scrape_configs.map((j: any) => [j.job_name, j]));
                assert.deepEqual(Object.keys(jobs), ["prometheus", "prometheus_node", "alertmanager", "probe", "grafana", "file_sd",
                    ...tenantsOfShard(env, platform.tenants, 1).map((t) => `tenant_${t.name.replace(/-/g, "_")}`), ...(env.discovery.enabled ? ["ecs_discovery"] : [])]);
                const peers = { names: [`alertmanager.${stack}.monitoring.internal`], type: "A", port: 9093, refresh_interval: "30s" };
                assert.deepEqual(jobs.alertmanager.dns_sd_configs, [peers]);
                assert.deepEqual(config.alerting.alertmanagers[0].dns_sd_configs, [peers], "alerts go to every member");
                assert.equal(jobs.file_sd.proxy_url, "http://127.0.0.1:8080", "PaaS targets are scraped through the paas-proxy");
                assert.deepEqual(config.rule_files, ["/etc/prometheus/rules/*.yml"]);
                assert.deepEqual(jobs.prometheus.static_configs.map((g: any) => g.targets[0]), ips.map((ip) => `${ip}:9090`));
                assert.deepEqual(jobs.prometheus_node.static_configs.map((g: any) => g.targets[0]), ips.map((ip) => `${ip}:9100`));
                assert.deepEqual(jobs.file_sd.file_sd_configs[0].files, ["/etc/prometheus/targets/*.json"]);
                assert.deepEqual(config.alerting.alert_relabel_configs, [{ action: "labeldrop", regex: "__replica__" }]);
                assert.equal(`arn:aws:s3:::${spec.targetsBucket}`, targetsBucketArn((await plannedStack(stack)).run));
            }
        });

        it("renders a further shard's nodes a prometheus.yml scraping its tenants' jobs alone, under the shard's own cluster label", async () => {
            const { platform, env } = await plannedStack(stack);
            const further = env.nodes.filter((n) => n.shard > 1);
            assert.equal(further.length, 3 * (env.prometheus.shards - 1));
            for (const plan of further) {
                const node = platform.nodes[env.nodes.indexOf(plan)];
                const config = yaml.load(await previewPrometheusYml(platform, node)) as Record<string, any>;
                assert.deepEqual(config.global.external_labels, { stack, cluster: `${stack}-shard-${plan.shard}`, __replica__: plan.name });
                assert.deepEqual(config.scrape_configs.map((j: any) => j.job_name),
                    tenantsOfShard(env, platform.tenants, plan.shard).map((t) => `tenant_${t.name.replace(/-/g, "_")}`));
                assert.deepEqual(config.remote_write[0].write_relabel_configs,
                    [{ source_labels: ["shard"], regex: "", target_label: "shard", replacement: String(plan.shard) }]);
            }
        });
    });
}
