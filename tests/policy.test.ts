import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { loadEnvironment } from "../infra/environment";
import { PolicyPackServer, readPolicyConfig, Violation } from "../scripts/lib/analyzer";
import { runProgram } from "../scripts/lib/offline";
import { policyConfigFile, renderPolicyConfig } from "../scripts/policyConfig";
import { FIXTURE_OFFICE } from "./fixtures/policy/base";
import { plannedStack, STACKS } from "./helpers/stacks";

const FIXTURES = path.resolve(__dirname, "fixtures", "policy");

/** Each fixture and the one rule it must trip. */
const EXPECTED: Record<string, string> = {
    "unencrypted-volume": "ebs-encryption",
    "unencrypted-root-device": "ebs-encryption",
    "unencrypted-launch-template": "ebs-encryption",
    "alerts-rule-without-source-ip": "office-ip-only-alb-rules",
    "alerts-rule-wider-than-office": "office-ip-only-alb-rules",
    "grafana-rule-wider-than-office": "office-ip-only-alb-rules",
    "forwarding-default-action": "office-ip-only-alb-rules",
    "alb-extra-port": "office-ip-only-alb-rules",
    "two-zones": "three-az-spread",
    "two-nodes-one-zone": "three-az-spread",
    "volume-in-other-zone": "three-az-spread",
    "shard-two-nodes-one-zone": "three-az-spread",
    "world-open-ssh": "no-ssh",
    "ssh-key": "no-ssh",
    "world-open-port": "no-public-ingress",
    "public-bucket": "s3-bucket-private",
    "imdsv1": "imdsv2-required",
    "wildcard-iam": "no-wildcard-iam",
    "shared-workspace": "amp-workspace-per-stack",
    "alerts-rule-too-many-cidrs": "alb-rule-condition-limits",
    "unencrypted-database": "rds-encrypted-private",
    "public-database": "rds-encrypted-private",
    "single-zone-database": "rds-encrypted-private",
    "public-grafana-without-sign-in": "sign-in-beyond-office",
};

function summary(violations: Violation[]): string {
    return violations.map((v) => `${v.level} ${v.policy}: ${v.message}`).join("\n");
}

describe("policy pack through the Analyzer RPCs", function () {
    this.timeout(180000);
    let server: PolicyPackServer;

    before(async () => {
        server = await PolicyPackServer.start();
        await server.configure(readPolicyConfig(path.join(FIXTURES, "config.json")));
    });
    after(() => server?.close());

    async function checkFixture(name: string): Promise<Violation[]> {
        const run = await runProgram({ stack: "fixture", program: path.join(FIXTURES, `${name}.ts`) });
        return server.check(run.resources);
    }

    it("passes the compliant fixture clean", async () => {
        const violations = await checkFixture("compliant");
        assert.deepEqual(violations, [], summary(violations));
    });

    it("passes two shards each spread over the three zones, and counts zones shard by shard", async () => {
        const violations = await checkFixture("two-shards");
        assert.deepEqual(violations, [], summary(violations));
        // Six nodes, two per zone: only shard-by-shard counting sees shard 2's two nodes in eu-west-1a.
        const uneven = await checkFixture("shard-two-nodes-one-zone");
        assert.deepEqual(uneven.map((v) => v.message).sort(), [
            "2 Prometheus nodes of shard 2 are in eu-west-1a; each zone must hold exactly one. Spread them one per zone over the three zones of environments/<stack>.yaml.",
            "the Prometheus nodes of shard 2 span 2 zones (eu-west-1c, eu-west-1a), not 3. Spread them one per zone over the three zones of environments/<stack>.yaml.",
        ], summary(uneven));
    });

    for (const [fixture, policy] of Object.entries(EXPECTED)) {
        it(`catches ${fixture} with ${policy} alone, as mandatory`, async () => {
            const violations = await checkFixture(fixture);
            assert.ok(violations.length > 0, `${fixture} passed`);
            assert.deepEqual([...new Set(violations.map((v) => v.policy))], [policy], summary(violations));
            assert.ok(violations.every((v) => v.level === "mandatory"), summary(violations));
            assert.ok(violations.every((v) => !/can't run/.test(v.message)), summary(violations));
        });
    }

    it("requires a Multi-AZ database only where the stack's config says data is protected, and says how to fix each", async () => {
        const [single] = await checkFixture("single-zone-database");
        assert.match(single.message, /^Instance 'grafana-db' runs in one zone \(multiAz is false\) in a stack whose data is protected\. Set multiAz: true/);
        const [open] = await checkFixture("public-database");
        assert.match(open.message, /is publicly accessible \(publiclyAccessible is true\)\. Set publiclyAccessible: false/);
        const unprotected = await PolicyPackServer.start();
        try {
            await unprotected.configure({ ...readPolicyConfig(path.join(FIXTURES, "config.json")), "rds-encrypted-private": { enforcementLevel: "mandatory", multiAz: false } });
            const run = await runProgram({ stack: "fixture", program: path.join(FIXTURES, "single-zone-database.ts") });
            assert.deepEqual(await unprotected.check(run.resources), []);
        } finally {
            unprotected.close();
        }
    });

    for (const fixture of ["public-grafana-signed-in-at-alb", "public-grafana-oauth-only"]) {
        it(`passes ${fixture} clean: Grafana from anywhere, with sign-in`, async () => {
            const violations = await checkFixture(fixture);
            assert.deepEqual(violations, [], summary(violations));
        });
    }

    it("names what lets a public Grafana take people who have not signed in, and both ways to fix it", async () => {
        const [violation] = await checkFixture("public-grafana-without-sign-in");
        assert.match(violation.urn, /ListenerRule::grafana$/);
        assert.match(violation.message, /^ListenerRule 'grafana' lets any address reach sign-in target group grafana without signing in: /);
        assert.ok(violation.message.includes("container grafana of Service 'grafana' runs with GF_AUTH_GENERIC_OAUTH_ENABLED=(unset), not true; "
            + "container grafana of Service 'grafana' runs with GF_AUTH_DISABLE_LOGIN_FORM=(unset), not true."), violation.message);
        assert.match(violation.message, /Add an authenticate-oidc action ordered before the forward, or run Grafana with GF_AUTH_GENERIC_OAUTH_ENABLED=true/);
    });

    it("names the offending CIDR and the office CIDRs when a rule reaches too wide", async () => {
        const [violation] = await checkFixture("alerts-rule-wider-than-office");
        assert.match(violation.message, /lets 203\.0\.112\.0\/23 reach office-only target group alerts-1; only 203\.0\.113\.0\/24 may/);
        assert.match(violation.urn, /ListenerRule::alerts-1$/);
    });

    it("covers Grafana as an office-only host: a rule open to the world is named", async () => {
        const violations = await checkFixture("grafana-rule-wider-than-office");
        assert.deepEqual(violations.map((v) => v.urn.replace(/^.*::/, "")), ["grafana"]);
        assert.match(violations[0].message, /lets 0\.0\.0\.0\/0 reach office-only target group grafana; only 203\.0\.113\.0\/24 may/);
    });

    it("names the zones when the spread is wrong", async () => {
        const messages = (await checkFixture("two-zones")).map((v) => v.message).join("\n");
        assert.match(messages, /2 Prometheus nodes are in eu-west-1b/);
        assert.match(messages, /2 Alertmanager services are in eu-west-1b/);
        assert.match(messages, /span 2 zones/);
    });

    for (const stack of STACKS) {
        it(`passes ${stack} clean in preview mode, with no "can't run during preview" escape`, async () => {
            const { run } = await plannedStack(stack);
            const own = await PolicyPackServer.start();
            try {
                await own.configure(readPolicyConfig(policyConfigFile(stack)));
                const violations = await own.check(run.resources);
                assert.deepEqual(violations, [], summary(violations));
            } finally {
                own.close();
            }
            assert.ok(run.resources.some((r) => Object.values(r.inputs).includes("04da6b54-80e4-46f7-96ec-b56ff0331ba9")),
                "the stack was checked with unknown values in it, as in a real preview");
        });
    }

    it("insists on the office CIDRs config for staging and production", async () => {
        const { run } = await plannedStack("staging");
        const bare = await PolicyPackServer.start();
        try {
            const violations = await bare.check(run.resources);
            assert.deepEqual(violations.map((v) => v.policy), ["office-ip-only-alb-rules"]);
            assert.match(violations[0].message, /--policy-pack-config policies\/config\/staging\.json/);
        } finally {
            bare.close();
        }
    });

    for (const stack of STACKS) {
        it(`keeps policies/config/${stack}.json equal to environments/${stack}.yaml`, () => {
            assert.equal(fs.readFileSync(policyConfigFile(stack), "utf8"), renderPolicyConfig(loadEnvironment(stack)),
                "run npm run policy-config");
            const config = readPolicyConfig(policyConfigFile(stack)) as any;
            assert.deepEqual(config["office-ip-only-alb-rules"].officeCidrs, loadEnvironment(stack).officeCidrs);
        });
    }

    it("uses fixture office CIDRs of its own", () => {
        assert.deepEqual((readPolicyConfig(path.join(FIXTURES, "config.json")) as any)["office-ip-only-alb-rules"].officeCidrs, FIXTURE_OFFICE);
    });
});

describe("the policy pack's server, started by the offline tools", function () {
    this.timeout(120000);

    it("ends when the process that started it is killed, so a crashed plan leaves no server behind", async () => {
        const ROOT = path.resolve(__dirname, "..");
        const starter = spawn(process.execPath, ["--import", "tsx", "-e",
            `require("./scripts/lib/analyzer").PolicyPackServer.start().then((s) => console.log(s.pid))`], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
        const serverPid = await new Promise<number>((resolve, reject) => {
            starter.stdout.once("data", (chunk) => resolve(Number(String(chunk).trim())));
            starter.once("exit", (code) => reject(new Error(`the starter exited (${code}) before the server served`)));
        });
        const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
        assert.equal(alive(serverPid), true, "the server runs while its parent does");
        starter.kill("SIGKILL");
        let polls = 0;
        while (alive(serverPid) && polls < 600) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            polls += 1;
        }
        const survived = alive(serverPid);
        if (survived) {
            process.kill(serverPid, "SIGKILL");
        }
        assert.equal(survived, false, `the server (pid ${serverPid}) outlived its killed parent`);
    });
});
