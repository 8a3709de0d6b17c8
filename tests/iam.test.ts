// Least privilege proven, not read: every IAM document the plans render is checked against AWS's
// IAM reference data, and a who-can-do-what table is evaluated with those documents by an IAM
// policy simulator (@cloud-copilot/iam-simulate, AGPL-3.0: a test-only dependency, never shipped).
import { strict as assert } from "assert";
import { runSimulation, Simulation } from "@cloud-copilot/iam-simulate";
import { DISCOVERY_PREFIX, tenantTargetsPrefix } from "../components/render/prometheusConfig";
import { MOCK_ACCOUNT, ProgramRun } from "../scripts/lib/offline";
import { loadEnvironment } from "../infra/environment";
import { bucket, PolicyDocument, policyProblems, POLICY_INPUTS, renderedPolicies, roleDocuments } from "./helpers/iamPolicies";
import { appliedRun, inputsOf, ofType, STACKS } from "./helpers/stacks";

type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";

interface Row {
    /** Who asks, as the table reads. */
    readonly who: string;
    readonly role: string;
    readonly action: string;
    /** The resource, from the stack's own names. */
    resource(names: Names): string;
    readonly context?: Record<string, string | string[]>;
    /** Over plain HTTP (aws:SecureTransport false) instead of TLS. */
    readonly insecure?: boolean;
    readonly bucket?: keyof Names["buckets"];
    readonly expect: Decision;
    /** Only on stacks with this on. */
    readonly when?: "remoteWrite";
}

interface Names {
    buckets: { targets: string; config: string };
    region: string;
    stack: string;
    workspace?: string;
    logGroup: string;
}

const object = (bucketName: string, key: string) => `arn:aws:s3:::${bucketName}/${key}`;
const ssmParameter = (n: Names, name: string) => `arn:aws:ssm:${n.region}:${MOCK_ACCOUNT}:parameter/prometheus-platform/${n.stack}/${name}`;

/** Who may do what, and who may not. Tenants: checkout-web and orders-queue (dev). */
const MATRIX: readonly Row[] = [
    // The nodes read their configuration and the targets; they write neither.
    { who: "node", role: "prometheus-node", action: "s3:GetObject", bucket: "config", resource: (n) => object(n.buckets.config, "prom-1/prometheus.yml"), expect: "Allowed" },
    { who: "node", role: "prometheus-node", action: "s3:ListBucket", bucket: "config", resource: (n) => `arn:aws:s3:::${n.buckets.config}`, expect: "Allowed" },
    { who: "node", role: "prometheus-node", action: "s3:PutObject", bucket: "config", resource: (n) => object(n.buckets.config, "prom-1/prometheus.yml"), expect: "ImplicitlyDenied" },
    { who: "node", role: "prometheus-node", action: "s3:DeleteObject", bucket: "config", resource: (n) => object(n.buckets.config, "prom-1/MANIFEST"), expect: "ImplicitlyDenied" },
    { who: "node", role: "prometheus-node", action: "s3:GetObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("checkout-web", "eu-west-1")}/app.json`), expect: "Allowed" },
    { who: "node", role: "prometheus-node", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, "app.json"), expect: "ImplicitlyDenied" },
    { who: "node", role: "prometheus-node", action: "logs:PutLogEvents", resource: (n) => `arn:aws:logs:${n.region}:${MOCK_ACCOUNT}:log-group:${n.logGroup}:log-stream:prom-1/prometheus.service`, expect: "Allowed" },
    { who: "node", role: "prometheus-node", action: "logs:PutLogEvents", resource: (n) => `arn:aws:logs:${n.region}:${MOCK_ACCOUNT}:log-group:/aws/lambda/other:log-stream:x`, expect: "ImplicitlyDenied" },
    { who: "node", role: "prometheus-node", action: "aps:RemoteWrite", resource: (n) => n.workspace!, expect: "Allowed", when: "remoteWrite" },
    { who: "node", role: "prometheus-node", action: "aps:QueryMetrics", resource: (n) => n.workspace!, expect: "ImplicitlyDenied", when: "remoteWrite" },
    // Without TLS, the buckets refuse even what the role may do.
    { who: "node over HTTP", role: "prometheus-node", action: "s3:GetObject", bucket: "config", insecure: true, resource: (n) => object(n.buckets.config, "prom-1/prometheus.yml"), expect: "ExplicitlyDenied" },
    { who: "node over HTTP", role: "prometheus-node", action: "s3:GetObject", bucket: "targets", insecure: true, resource: (n) => object(n.buckets.targets, "app.json"), expect: "ExplicitlyDenied" },
    // A tenant's writer: its own prefix only.
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("checkout-web", "eu-west-1")}/app.json`), expect: "Allowed" },
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("orders-queue", "eu-west-1")}/app.json`), expect: "ImplicitlyDenied" },
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:DeleteObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("orders-queue", "eu-west-1")}/app.json`), expect: "ImplicitlyDenied" },
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, "app.json"), expect: "ImplicitlyDenied" },
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${DISCOVERY_PREFIX}eu-west-1.json`), expect: "ImplicitlyDenied" },
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:ListBucket", bucket: "targets", context: { "s3:prefix": "tenants/checkout-web/" }, resource: (n) => `arn:aws:s3:::${n.buckets.targets}`, expect: "Allowed" },
    { who: "tenant checkout-web", role: "targets-writer-checkout-web", action: "s3:ListBucket", bucket: "targets", context: { "s3:prefix": "tenants/orders-queue/" }, resource: (n) => `arn:aws:s3:::${n.buckets.targets}`, expect: "ImplicitlyDenied" },
    { who: "tenant orders-queue", role: "targets-writer-orders-queue", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("checkout-web", "eu-west-1")}/app.json`), expect: "ImplicitlyDenied" },
    // The platform's writer: the bucket's own files, never a tenant's or discovery's.
    { who: "platform writer", role: "targets-writer", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, "app.json"), expect: "Allowed" },
    { who: "platform writer", role: "targets-writer", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("checkout-web", "eu-west-1")}/app.json`), expect: "ExplicitlyDenied" },
    { who: "platform writer", role: "targets-writer", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${DISCOVERY_PREFIX}eu-west-1.json`), expect: "ExplicitlyDenied" },
    { who: "platform writer", role: "targets-writer", action: "s3:DeleteObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${DISCOVERY_PREFIX}status/eu-west-1.json`), expect: "ExplicitlyDenied" },
    { who: "platform writer", role: "targets-writer", action: "s3:PutObject", bucket: "config", resource: (n) => object(n.buckets.config, "prom-1/prometheus.yml"), expect: "ImplicitlyDenied" },
    // Discovery: writes discovery/ only, lists only what it lists.
    { who: "discovery", role: "target-discovery", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${DISCOVERY_PREFIX}eu-west-1.json`), expect: "Allowed" },
    { who: "discovery", role: "target-discovery", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, "app.json"), expect: "ImplicitlyDenied" },
    { who: "discovery", role: "target-discovery", action: "s3:PutObject", bucket: "targets", resource: (n) => object(n.buckets.targets, `${tenantTargetsPrefix("checkout-web", "eu-west-1")}/app.json`), expect: "ImplicitlyDenied" },
    { who: "discovery", role: "target-discovery", action: "s3:ListBucket", bucket: "targets", context: { "s3:prefix": DISCOVERY_PREFIX }, resource: (n) => `arn:aws:s3:::${n.buckets.targets}`, expect: "Allowed" },
    { who: "discovery", role: "target-discovery", action: "s3:ListBucket", bucket: "targets", context: { "s3:prefix": "tenants/" }, resource: (n) => `arn:aws:s3:::${n.buckets.targets}`, expect: "ImplicitlyDenied" },
    { who: "discovery", role: "target-discovery", action: "ecs:ListTasks", resource: () => "*", expect: "Allowed" },
    { who: "discovery", role: "target-discovery", action: "ecs:RunTask", resource: (n) => `arn:aws:ecs:${n.region}:${MOCK_ACCOUNT}:task-definition/app:1`, expect: "ImplicitlyDenied" },
    { who: "discovery", role: "target-discovery", action: "servicediscovery:ListInstances", resource: () => "*", expect: "Allowed" },
    // Grafana queries its workspace only; its execution role reads Grafana's secrets only.
    { who: "grafana", role: "grafana-task", action: "aps:QueryMetrics", resource: (n) => n.workspace!, expect: "Allowed", when: "remoteWrite" },
    { who: "grafana", role: "grafana-task", action: "aps:QueryMetrics", resource: (n) => `arn:aws:aps:${n.region}:${MOCK_ACCOUNT}:workspace/ws-00000000-0000-0000-0000-000000000000`, expect: "ImplicitlyDenied" },
    { who: "grafana", role: "grafana-task", action: "aps:RemoteWrite", resource: (n) => n.workspace!, expect: "ImplicitlyDenied", when: "remoteWrite" },
    { who: "grafana", role: "grafana-task", action: "s3:GetObject", bucket: "targets", resource: (n) => object(n.buckets.targets, "app.json"), expect: "ImplicitlyDenied" },
    { who: "grafana's execution", role: "grafana-execution", action: "ssm:GetParameters", resource: (n) => ssmParameter(n, "grafana/admin-password"), expect: "Allowed" },
    { who: "grafana's execution", role: "grafana-execution", action: "ssm:GetParameters", resource: (n) => ssmParameter(n, "alertmanager/member-1/config"), expect: "ImplicitlyDenied" },
    { who: "alertmanager's execution", role: "alertmanager-execution", action: "ssm:GetParameters", resource: (n) => ssmParameter(n, "alertmanager/member-2/config"), expect: "Allowed" },
    { who: "alertmanager's execution", role: "alertmanager-execution", action: "ssm:GetParameters", resource: (n) => ssmParameter(n, "grafana/admin-password"), expect: "ImplicitlyDenied" },
    // The producers may only remote-write.
    { who: "producers", role: "long-term-store-producer", action: "aps:RemoteWrite", resource: (n) => n.workspace!, expect: "Allowed", when: "remoteWrite" },
    { who: "producers", role: "long-term-store-producer", action: "aps:QueryMetrics", resource: (n) => n.workspace!, expect: "ImplicitlyDenied", when: "remoteWrite" },
    { who: "producers", role: "long-term-store-producer", action: "s3:GetObject", bucket: "targets", resource: (n) => object(n.buckets.targets, "app.json"), expect: "ImplicitlyDenied", when: "remoteWrite" },
];

function namesOf(run: ProgramRun, stack: string): Names {
    const workspaces = ofType(run, "aws:iam/policy:Policy").filter((p) => p.name === "long-term-store-remote-write");
    return {
        buckets: { targets: bucket(run, "targets").name, config: bucket(run, "node-config").name },
        region: loadEnvironment(stack).region,
        stack,
        workspace: workspaces.length ? JSON.parse(inputsOf(workspaces[0]).policy).Statement[0].Resource[0] : undefined,
        logGroup: `/ec2/prometheus-platform-${stack}/prometheus-nodes`,
    };
}

async function decide(run: ProgramRun, names: Names, row: Row): Promise<string> {
    const simulation: Simulation = {
        request: {
            principal: `arn:aws:iam::${MOCK_ACCOUNT}:role/${row.role}`,
            action: row.action,
            resource: { resource: row.resource(names), accountId: MOCK_ACCOUNT },
            contextVariables: { "aws:SecureTransport": row.insecure ? "false" : "true", ...row.context },
        },
        identityPolicies: roleDocuments(run, row.role),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: row.bucket ? bucket(run, row.bucket === "config" ? "node-config" : "targets").policy : undefined,
    };
    const result = await runSimulation(simulation, {});
    if (result.resultType === "error") {
        return `error: ${JSON.stringify(result.errors)}`;
    }
    return result.overallResult;
}

describe("IAM: every document the plans render is valid by AWS's reference", function () {
    this.timeout(300000);

    for (const stack of STACKS) {
        it(`${stack}: every action exists, every resource fits its action's resource types, every condition key applies`, async () => {
            const run = await appliedRun(stack);
            const policies = renderedPolicies(run);
            // Nothing that carries a document escapes the check.
            const carriers = run.resources.filter((r) => Object.keys(r.inputs).some((k) => /^(policy|assumeRolePolicy|inlinePolicies)$/.test(k)));
            assert.deepEqual(carriers.filter((r) => !(r.type in POLICY_INPUTS)).map((r) => `${r.type} ${r.name}`), []);
            assert.ok(policies.length >= 15, `${policies.length} documents`);
            const problems = (await Promise.all(policies.map(policyProblems))).flat();
            assert.deepEqual(problems, []);
        });
    }

    it("finds what is wrong with a document: an unknown action, a resource of the wrong type, a key that does not apply", async () => {
        const problems = await policyProblems({
            where: "fixture", kind: "identity",
            document: {
                Version: "2012-10-17",
                Statement: [
                    { Effect: "Allow", Action: ["s3:GetObjects"], Resource: ["arn:aws:s3:::bucket/*"] },
                    { Effect: "Allow", Action: ["s3:ListBucket"], Resource: ["arn:aws:s3:::bucket/*"] },
                    { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::bucket/*"], Condition: { StringLike: { "s3:prefix": ["a/*"] } } },
                    { Effect: "Allow", Action: ["aps:RemoteWrite"], Resource: ["arn:aws:amp:eu-west-1:123456789012:workspace/ws-1"] },
                ],
            },
        });
        assert.deepEqual(problems.map((p) => p.replace(/: .*$/, "")), ["fixture Statement[0]", "fixture Statement[1]", "fixture Statement[2]", "fixture Statement[3]"]);
        assert.match(problems[0], /s3:GetObjects: no such action$/);
        assert.match(problems[1], /s3:ListBucket on arn:aws:s3:::bucket\/\*: fits none of .*arn:\$\{Partition\}:s3:::\$\{BucketName\}$/);
        assert.match(problems[2], /s3:prefix: does not apply to s3:GetObject$/);
        assert.match(problems[3], /aps:RemoteWrite on arn:aws:amp:.*: fits none of arn:\$\{Partition\}:aps:/);
    });
});

/** The rows that apply to the stack: its tenants' (dev has them), and AMP's where it remote-writes. */
function rowsOf(stack: string, names: Names): Row[] {
    return MATRIX.filter((row) => row.when !== "remoteWrite" || names.workspace !== undefined)
        .filter((row) => stack === "dev" || !row.role.includes("-checkout-web") && !row.role.includes("-orders-queue"));
}

const rowName = (row: Row, names: Names) => `${row.who} ${row.action} ${row.resource(names)}${row.insecure ? " over HTTP" : ""}${row.context ? ` ${JSON.stringify(row.context)}` : ""}`;

/** Each row with the simulator's decision beside it, and the rows decided otherwise than the table says. */
async function misdecided(run: ProgramRun, stack: string): Promise<string[]> {
    const names = namesOf(run, stack);
    const decided = await Promise.all(rowsOf(stack, names).map(async (row) => ({ row, decision: await decide(run, names, row) })));
    return decided.filter(({ row, decision }) => decision !== row.expect).map(({ row, decision }) => `${rowName(row, names)}: ${decision}, the table says ${row.expect}`);
}

/** The run with one document changed, as a broken program would render it. */
function withDocument(run: ProgramRun, type: string, name: string, change: (document: PolicyDocument) => PolicyDocument): ProgramRun {
    const resources = run.resources.map((r) => r.type === type && r.name === name
        ? { ...r, inputs: { ...r.inputs, policy: JSON.stringify(change(JSON.parse(inputsOf(r).policy))) } }
        : r);
    assert.ok(resources.some((r, i) => r !== run.resources[i]), `${type} ${name} is in the run`);
    return { ...run, resources };
}

describe("IAM: who can do what, evaluated with the rendered documents", function () {
    this.timeout(300000);

    for (const stack of STACKS) {
        it(`${stack}: every row of the table, allow and deny, is the simulator's decision`, async () => {
            const run = await appliedRun(stack);
            const names = namesOf(run, stack);
            assert.deepEqual(await misdecided(run, stack), []);
            const rows = rowsOf(stack, names);
            assert.ok(rows.filter((r) => r.expect !== "Allowed").length >= 15, "deny rows are counted as much as allow rows");
            if (stack !== "dev") {
                assert.ok(names.workspace, `${stack} remote-writes: the AMP rows ran`);
            }
        });
    }

    it("turns red, naming the row or the document, when a policy is broken: a tenant's prefix widened, the TLS deny dropped, a deny removed, an action misspelt", async () => {
        const run = await appliedRun("dev");
        const widened = withDocument(run, "aws:iam/policy:Policy", "targets-write-checkout-web", (d) => ({
            ...d, Statement: d.Statement.map((st) => ({ ...st, Resource: [st.Resource].flat().map((r) => String(r).replace("/tenants/checkout-web/*", "/tenants/*")) })),
        }));
        assert.deepEqual((await misdecided(widened, "dev")).map((m) => m.replace(/ arn:\S+/, "")),
            ["tenant checkout-web s3:PutObject Allowed, the table says ImplicitlyDenied", "tenant checkout-web s3:DeleteObject Allowed, the table says ImplicitlyDenied"]);
        const plainHttp = withDocument(run, "aws:s3/bucketPolicy:BucketPolicy", "targets-policy", (d) => ({ ...d, Statement: d.Statement.filter((st) => st.Sid !== "DenyInsecureTransport") }));
        assert.deepEqual((await misdecided(plainHttp, "dev")).map((m) => m.replace(/ arn:\S+/, "")), ["node over HTTP s3:GetObject over HTTP: Allowed, the table says ExplicitlyDenied"]);
        const noDeny = withDocument(run, "aws:iam/policy:Policy", "targets-write", (d) => ({ ...d, Statement: d.Statement.filter((st) => st.Effect !== "Deny") }));
        assert.equal((await misdecided(noDeny, "dev")).length, 3, "the platform writer's three deny rows");
        const misspelt = withDocument(run, "aws:iam/policy:Policy", "targets-write-orders-queue", (d) => ({
            ...d, Statement: d.Statement.map((st) => ({ ...st, Action: [st.Action ?? []].flat().map((a) => a === "s3:PutObject" ? "s3:PutObjects" : a) })),
        }));
        const problems = (await Promise.all(renderedPolicies(misspelt).map(policyProblems))).flat();
        assert.deepEqual(problems, ["aws:iam/policy:Policy targets-write-orders-queue Statement[1] (WriteOwnTargets): s3:PutObjects: no such action"]);
    });
});
