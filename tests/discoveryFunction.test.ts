// The discovery function's own tests, its AWS SDK clients mocked (aws-sdk-client-mock). Against
// moto's S3, with IAM on, and read by promtool: tests/moto.test.ts.
import { strict as assert } from "assert";
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, ListClustersCommand, ListTasksCommand } from "@aws-sdk/client-ecs";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ListInstancesCommand, ListServicesCommand, ListTagsForResourceCommand, ServiceDiscoveryClient } from "@aws-sdk/client-servicediscovery";
import { mockClient } from "aws-sdk-client-mock";
import { Clients, DiscoveryConfig, renderTargets, runDiscovery } from "../components/functions/discovery";
import { DISCOVERY_PREFIX, DISCOVERY_STATUS_PREFIX } from "../components/render/prometheusConfig";
import { ecsAccount, memoryS3, unaskedCloudMap } from "../rehearsals/lib/awsStandIns";

const CONFIG: DiscoveryConfig = { bucket: "targets", prefix: DISCOVERY_PREFIX, statusPrefix: DISCOVERY_STATUS_PREFIX, regions: ["eu-west-1"], namespaces: {} };
const LABELS = { PROMETHEUS_EXPORTER_PORT: "9102", PROMETHEUS_EXPORTER_PATH: "/internal/metrics", PROMETHEUS_EXPORTER_JOB_NAME: "api" };

function clients(ecs: (region: string) => ECSClient, s3: S3Client, sd: (region: string) => ServiceDiscoveryClient = unaskedCloudMap): Clients {
    return { ecs, serviceDiscovery: sd, s3 };
}

describe("discovery function (AWS SDK clients mocked)", () => {
    it("pages through every cluster and task and labels each exporter", async () => {
        const ecs = ecsAccount(5, 230, LABELS);
        const s3 = memoryS3();
        const results = await runDiscovery(CONFIG, clients(() => ecs.client, s3.client), () => undefined);
        assert.deepEqual(results, [{ region: "eu-west-1", source: "ecs", key: "discovery/eu-west-1-ecs.json", targets: 1150, written: true }]);
        assert.equal(ecs.mock.commandCalls(ListClustersCommand).length, 3);
        assert.equal(ecs.mock.commandCalls(ListTasksCommand).length, 15);
        assert.equal(ecs.mock.commandCalls(DescribeTasksCommand).length, 15);
        assert.equal(ecs.mock.commandCalls(DescribeTaskDefinitionCommand).length, 1, "definitions are cached");
        const groups = JSON.parse(s3.objects.get("discovery/eu-west-1-ecs.json")!);
        assert.equal(groups.length, 1150);
        const first = groups.find((g: any) => g.targets[0] === "10.0.0.0:9102" && g.labels.cluster === "c0");
        assert.deepEqual(first.labels, {
            __metrics_path__: "/internal/metrics", job: "api", cluster: "c0", service: "api",
            task_definition_family: "api", task_definition_revision: "7", container: "app", region: "eu-west-1",
        });
    });

    it("skips containers without a usable PROMETHEUS_EXPORTER_PORT label", async () => {
        for (const labels of [{}, { PROMETHEUS_EXPORTER_PORT: "http" }, { PROMETHEUS_EXPORTER_PATH: "/metrics" }] as Record<string, string>[]) {
            const s3 = memoryS3();
            const [result] = await runDiscovery(CONFIG, clients(() => ecsAccount(1, 3, labels).client, s3.client), () => undefined);
            assert.equal(result.targets, 0);
            assert.deepEqual(JSON.parse(s3.objects.get("discovery/eu-west-1-ecs.json")!), []);
        }
    });

    it("keeps a failing region's previous file and reports the error as a metric line", async () => {
        const s3 = memoryS3();
        s3.objects.set("discovery/eu-west-2-ecs.json", "previous\n");
        const failing = new ECSClient({ region: "eu-west-2" });
        mockClient(failing).on(ListClustersCommand).rejects(new Error("AccessDenied"));
        const lines: string[] = [];
        const results = await runDiscovery({ ...CONFIG, regions: ["eu-west-1", "eu-west-2"] },
            clients((region) => region === "eu-west-2" ? failing : ecsAccount(1, 2, LABELS).client, s3.client), (line) => lines.push(line));
        assert.deepEqual(results.map((r) => [r.region, r.written, r.error]), [["eu-west-1", true, undefined], ["eu-west-2", false, "AccessDenied"]]);
        assert.equal(s3.objects.get("discovery/eu-west-2-ecs.json"), "previous\n");
        assert.equal(JSON.parse(s3.objects.get("discovery/status/eu-west-1-ecs.json")!).targets, 2, "the region that succeeded records it");
        assert.equal(s3.objects.has("discovery/status/eu-west-2-ecs.json"), false, "the failing region records no success");
        assert.equal(lines.length, 1);
        const metric = JSON.parse(lines[0]);
        assert.equal(metric.DiscoveryErrors, 1);
        assert.equal(metric.Region, "eu-west-2");
        assert.equal(metric._aws.CloudWatchMetrics[0].Metrics[0].Name, "DiscoveryErrors");
    });

    for (const answer of [404, 403] as const) {
        it(`writes the first file when S3 answers ${answer} for the missing key, then leaves it alone`, async () => {
            const s3 = memoryS3(answer);
            const first = await runDiscovery(CONFIG, clients(() => ecsAccount(1, 2, LABELS).client, s3.client), () => undefined);
            assert.deepEqual(first.map((r) => [r.written, r.error]), [[true, undefined]]);
            assert.equal(JSON.parse(s3.objects.get("discovery/eu-west-1-ecs.json")!).length, 2);
            const second = await runDiscovery(CONFIG, clients(() => ecsAccount(1, 2, LABELS).client, s3.client), () => undefined);
            assert.deepEqual(second.map((r) => [r.written, r.error]), [[false, undefined]]);
        });
    }

    it("reports any other HeadObject failure instead of writing blind", async () => {
        const s3 = new S3Client({ region: "eu-west-1" });
        const s3Mock = mockClient(s3);
        s3Mock.on(HeadObjectCommand).rejects(Object.assign(new Error("SlowDown"), { name: "SlowDown", $metadata: { httpStatusCode: 503 } }));
        const results = await runDiscovery(CONFIG, clients(() => ecsAccount(1, 2, LABELS).client, s3), () => undefined);
        assert.deepEqual(results.map((r) => [r.written, r.error]), [[false, "SlowDown"]]);
        assert.equal(s3Mock.commandCalls(PutObjectCommand).length, 0, "no write after an unexplained HeadObject failure");
    });

    it("does not rewrite a file whose content is unchanged", async () => {
        const s3 = memoryS3();
        const ecs = ecsAccount(2, 5, LABELS);
        await runDiscovery(CONFIG, clients(() => ecs.client, s3.client), () => undefined);
        const [again] = await runDiscovery(CONFIG, clients(() => ecs.client, s3.client), () => undefined);
        assert.equal(again.written, false);
        const puts = (key: string) => s3.mock.commandCalls(PutObjectCommand, { Key: key }).length;
        assert.equal(puts("discovery/eu-west-1-ecs.json"), 1);
        assert.equal(puts("discovery/status/eu-west-1-ecs.json"), 2, "the status records every success, changed or not");
    });

    it("lists Cloud Map instances of services tagged METRICS_PORT", async () => {
        const sd = new ServiceDiscoveryClient({ region: "eu-west-1" });
        const sdMock = mockClient(sd);
        sdMock.on(ListServicesCommand).callsFake((input) => input.NextToken
            ? { Services: [{ Id: "srv-2", Arn: "arn:srv-2", Name: "untagged" }] }
            : { Services: [{ Id: "srv-1", Arn: "arn:srv-1", Name: "billing" }], NextToken: "p2" });
        sdMock.on(ListTagsForResourceCommand).callsFake((input) => ({
            Tags: input.ResourceARN === "arn:srv-1" ? [{ Key: "METRICS_PORT", Value: "8080" }, { Key: "METRICS_PATH", Value: "/m" }] : [],
        }));
        sdMock.on(ListInstancesCommand).resolves({ Instances: [{ Id: "i-1", Attributes: { AWS_INSTANCE_IPV4: "10.1.0.5" } }, { Id: "i-2", Attributes: {} }] });
        const s3 = memoryS3();
        const results = await runDiscovery({ ...CONFIG, namespaces: { "eu-west-1": ["ns-0123456789abcdef"] } },
            clients(() => ecsAccount(1, 1, {}).client, s3.client, () => sd), () => undefined);
        assert.equal(sdMock.commandCalls(ListServicesCommand).length, 2, "both pages of services are read");
        assert.deepEqual(results.map((r) => [r.source, r.targets]), [["ecs", 0], ["cloudmap", 1]]);
        assert.deepEqual(JSON.parse(s3.objects.get("discovery/eu-west-1-cloudmap.json")!), [{
            targets: ["10.1.0.5:8080"],
            labels: { __metrics_path__: "/m", namespace_id: "ns-0123456789abcdef", service: "billing", instance_id: "i-1", region: "eu-west-1" },
        }]);
    });

    it("never writes a malformed target", () => {
        assert.throws(() => renderTargets([{ targets: ["10.0.0.1"], labels: {} }]), /malformed/);
    });
});
