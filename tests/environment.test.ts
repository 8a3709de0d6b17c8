import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { createPlatform } from "../infra/platform";
import { environmentFile, loadEnvironment, parseEnvironmentYaml, validateEnvironment } from "../infra/environment";
import { requiredSecretKeys } from "../infra/secrets";
import { ProgramError, runProgram, stackConfig } from "../scripts/lib/offline";
import { placeholderSecretOptions } from "../scripts/lib/stackRun";
import { STACKS } from "./helpers/stacks";
import { EnvironmentError } from "../infra/inputErrors";

const FILE = "environments/test.yaml";
/** A complete provider, for the sign-in cases. */
const SSO = {
    issuer: "https://sso.example.net", authorizationEndpoint: "https://sso.example.net/authorize", tokenEndpoint: "https://sso.example.net/token",
    userInfoEndpoint: "https://sso.example.net/userinfo", clientId: "grafana",
};

function devSettings(): Record<string, any> {
    return yaml.load(fs.readFileSync(environmentFile("dev"), "utf8")) as Record<string, any>;
}

/** Validates dev's settings changed by `mutate`; returns the error's problems. */
function problemsAfter(mutate: (env: Record<string, any>) => void): string[] {
    const settings = devSettings();
    mutate(settings);
    try {
        validateEnvironment(settings, FILE, "test");
    } catch (err) {
        assert.ok(err instanceof EnvironmentError, `expected an EnvironmentError, got ${err}`);
        assert.match(err.message, new RegExp(`^environment file ${FILE} is not valid`));
        return err.problems;
    }
    assert.fail("the environment was accepted");
}

describe("environments", () => {
    for (const stack of STACKS) {
        it(`${stack}.yaml loads with three distinct zones in its region and non-overlapping subnets`, () => {
            const env = loadEnvironment(stack);
            assert.equal(env.zones.length, 3);
            assert.equal(new Set(env.zones.map((z) => z.availabilityZone)).size, 3);
            for (const zone of env.zones) {
                assert.ok(zone.availabilityZone.startsWith(env.region));
            }
            const cidrs = env.zones.flatMap((z) => [z.publicSubnetCidr, z.privateSubnetCidr]);
            assert.equal(new Set(cidrs).size, 6);
        });
    }

    it("places node N at .10 of private subnet N", () => {
        const env = loadEnvironment("dev");
        assert.deepEqual(env.zones.map((z) => [z.privateSubnetCidr, z.prometheusPrivateIp]), [
            ["10.30.128.0/20", "10.30.128.10"],
            ["10.30.144.0/20", "10.30.144.10"],
            ["10.30.160.0/20", "10.30.160.10"],
        ]);
        assert.deepEqual(env.zones.map((z) => z.publicSubnetCidr), ["10.30.0.0/20", "10.30.16.0/20", "10.30.32.0/20"]);
    });

    it("places each further shard's node N at .(9+shard) of private subnet N, shard 1 keeping its names and addresses", () => {
        const env = loadEnvironment("dev");
        assert.deepEqual(env.nodes.map((n) => [n.name, n.key, n.shard, n.zone.availabilityZone, n.privateIp]), [
            ["prom-1", "1", 1, "eu-west-1a", "10.30.128.10"],
            ["prom-2", "2", 1, "eu-west-1b", "10.30.144.10"],
            ["prom-3", "3", 1, "eu-west-1c", "10.30.160.10"],
            ["prom-s2-1", "s2-1", 2, "eu-west-1a", "10.30.128.11"],
            ["prom-s2-2", "s2-2", 2, "eu-west-1b", "10.30.144.11"],
            ["prom-s2-3", "s2-3", 2, "eu-west-1c", "10.30.160.11"],
        ]);
        assert.deepEqual(loadEnvironment("production").nodes.map((n) => n.name), ["prom-1", "prom-2", "prom-3"]);
    });

    it("fills defaults in one place", () => {
        const settings = devSettings();
        delete settings.targets;
        delete settings.natGateways;
        const env = validateEnvironment(settings, FILE, "test");
        assert.equal(env.targets.syncIntervalSeconds, 30);
        assert.deepEqual(env.targets.regions, []);
        assert.equal(env.natGateways, "perAz");
    });

    const cases: [string, (env: Record<string, any>) => void, RegExp][] = [
        ["an unknown key", (e) => { e.prometheus.retension = "15d"; }, /^prometheus\.retension: unknown key$/],
        ["the old single basic-auth user", (e) => { e.ingress = { basicAuthUser: "grafana" }; }, /^ingress\.basicAuthUser: replaced by ingress\.basicAuthUsers, a list/],
        ["a basic-auth user twice", (e) => { e.ingress = { basicAuthUsers: ["grafana", "grafana"] }; }, /^ingress\.basicAuthUsers: must NOT have duplicate items/],
        ["the targets' own S3 endpoint", (e) => { e.targets = { endpointUrl: "http://127.0.0.1:4569" }; }, /^targets\.endpointUrl: moved to s3EndpointUrl/],
        ["a config sync slower than a minute", (e) => { e.prometheus.configSyncIntervalSeconds = 90; }, /^prometheus\.configSyncIntervalSeconds: must be <= 60$/],
        ["a missing key", (e) => { delete e.officeCidrs; }, /^officeCidrs: missing$/],
        ["a wrong type", (e) => { e.prometheus.dataVolume.sizeGiB = "fifty"; }, /^prometheus\.dataVolume\.sizeGiB: must be integer$/],
        ["two availability zones", (e) => { e.availabilityZones = ["eu-west-1a", "eu-west-1b"]; }, /^availabilityZones: exactly three are needed.*got 2$/],
        ["a repeated availability zone", (e) => { e.availabilityZones = ["eu-west-1a", "eu-west-1a", "eu-west-1b"]; }, /^availabilityZones: must be distinct/],
        ["a zone of another region", (e) => { e.availabilityZones[2] = "eu-west-2c"; }, /^availabilityZones\[2\]: eu-west-2c is not an availability zone of region eu-west-1$/],
        ["a malformed office CIDR", (e) => { e.officeCidrs = ["203.0.113.0/33"]; }, /^officeCidrs\[0\]: 203\.0\.113\.0\/33 is not a valid CIDR/],
        ["an office CIDR with host bits", (e) => { e.officeCidrs = ["203.0.113.7/24"]; }, /^officeCidrs\[0\]: .*host bits are set \(the network is 203\.0\.113\.0\/24\)/],
        ["overlapping office CIDRs", (e) => { e.officeCidrs = ["203.0.113.0/24", "203.0.113.64/26"]; }, /^officeCidrs\[1\]: 203\.0\.113\.64\/26 overlaps 203\.0\.113\.0\/24$/],
        ["more office CIDRs than the ALB's rules hold", (e) => { e.officeCidrs = Array.from({ length: 31 }, (_, i) => `198.18.${i}.0/24`); },
            /^officeCidrs: 31 CIDRs; at most 30 fit the ALB's rules \(3 per rule, 10 rules per host\); merge neighbouring ranges$/],
        ["an office CIDR open to the world", (e) => { e.officeCidrs = ["0.0.0.0/0"]; }, /^officeCidrs\[0\]: 0\.0\.0\.0\/0 is wider than \/16/],
        ["a public VPC range", (e) => { e.vpcCidr = "8.8.0.0/16"; }, /^vpcCidr: 8\.8\.0\.0\/16 must be a private/],
        ["a VPC too small for six subnets", (e) => { e.vpcCidr = "10.0.0.0/26"; }, /^vpcCidr: .*from \/16 to \/22$/],
        ["a sync slower than a minute", (e) => { e.targets.syncIntervalSeconds = 120; }, /^targets\.syncIntervalSeconds: must be <= 60$/],
        ["a rollout of a fourth node", (e) => { e.prometheus.rolloutNode = 4; }, /^prometheus\.rolloutNode: must be <= 3$/],
        ["an unpinned version", (e) => { e.prometheus.version = "latest"; }, /^prometheus\.version: malformed value/],
        ["a bad retention", (e) => { e.prometheus.retentionTime = "15 days"; }, /^prometheus\.retentionTime: malformed value/],
        ["a bad NAT mode", (e) => { e.natGateways = "none"; }, /^natGateways: must be one of single, perAz$/],
        ["a Fargate memory the CPU cannot have (1024/1024)", (e) => { e.alertmanager.cpu = 1024; e.alertmanager.memory = 1024; },
            /^alertmanager\.memory: Fargate does not run 1024 MiB with cpu 1024; valid for cpu 1024: 2048, 3072, 4096, 5120, 6144, 7168, 8192$/],
        ["a Fargate memory above the CPU's range (256/4096)", (e) => { e.alertmanager.cpu = 256; e.alertmanager.memory = 4096; },
            /^alertmanager\.memory: Fargate does not run 4096 MiB with cpu 256; valid for cpu 256: 512, 1024, 2048$/],
        ["a Fargate CPU size that does not exist", (e) => { e.alertmanager.cpu = 768; }, /^alertmanager\.cpu: must be one of 256, 512, 1024, 2048, 4096, 8192, 16384$/],
        ["an SMTP user name in the environment", (e) => {
            e.receivers = { ticket: "email", email: { to: "a@example.net", from: "b@example.net", smarthost: "email-smtp.eu-west-1.amazonaws.com:587", authUsername: "alertmanager-smtp" } };
        }, /^receivers\.email\.authUsername: no longer read from here: .*pulumi config set --secret smtpUsername/],
        ["an unknown SSM tier", (e) => { e.alertmanager.configParameterTier = "Intelligent-Tiering"; }, /^alertmanager\.configParameterTier: must be one of Standard, Advanced$/],
        ["a snapshot time that is not HH:MM", (e) => { e.backup = { snapshotTime: "3am" }; }, /^backup\.snapshotTime: malformed value/],
        ["a restore of a node that is not the rollout node", (e) => { e.prometheus.restoreSnapshots = { 2: "snap-0123456789abcdef0" }; },
            /^prometheus\.restoreSnapshots\.2: node 2's volume is recreated, so zone 2 must be the rolloutNode \(set prometheus\.rolloutNode: 2\)/],
        ["a restore of a node of a shard the stack lacks", (e) => { e.prometheus.rolloutNode = 2; e.prometheus.restoreSnapshots = { "s3-2": "snap-0123456789abcdef0" }; },
            /^prometheus\.restoreSnapshots\.s3-2: there is no shard 3; prometheus\.shards is 2$/],
        ["a restore of a node that is not a node's key", (e) => { e.prometheus.rolloutNode = 2; e.prometheus.restoreSnapshots = { "s1-2": "snap-0123456789abcdef0" }; },
            /^prometheus\.restoreSnapshots\.s1-2: malformed key \(expected to match/],
        ["a tenant placed on a shard the stack lacks", (e) => { e.prometheus.tenantShards["orders-queue"] = 3; },
            /^prometheus\.tenantShards\.orders-queue: there is no shard 3; prometheus\.shards is 2$/],
        ["seven shards", (e) => { e.prometheus.shards = 7; }, /^prometheus\.shards: must be <= 6$/],
        ["shards without remote write", (e) => { e.remoteWrite.enabled = false; },
            /^prometheus\.shards: 2 shards need remoteWrite\.enabled: true; AMP is where their series meet for a global view$/],
        ["a restore from something that is not a snapshot", (e) => { e.prometheus.rolloutNode = 2; e.prometheus.restoreSnapshots = { 2: "vol-0123456789abcdef0" }; },
            /^prometheus\.restoreSnapshots\.2: malformed value/],
        ["an SSM agent signing key that is not a key", (e) => { e.ssmAgent = { signingKeyFile: "README.md" }; },
            /^ssmAgent\.signingKeyFile: README\.md is not a usable public key: not an ASCII-armoured PGP public key block$/],
        ["pinned node packages", (e) => { e.packages = { nginx: "1.24.0-2ubuntu7" }; }, /^packages: no longer set here: the nodes install their packages unpinned/],
        ["no expected load", (e) => { delete e.prometheus.expectedSeries; }, /^prometheus\.expectedSeries: missing$/],
        ["a throughput on gp2", (e) => { e.prometheus.dataVolume = { sizeGiB: 50, type: "gp2", throughputMiBps: 200 }; }, /^prometheus\.dataVolume\.throughputMiBps: only gp3/],
        ["sign-in with no provider", (e) => { e.grafana.access = "sso"; delete e.grafana.sso; },
            /^grafana\.sso: missing; grafana\.access is sso, so the provider's issuer, endpoints and clientId are needed$/],
        ["a provider where access is office", (e) => { e.grafana.sso = { ...SSO }; e.grafana.access = "office"; }, /^grafana\.sso: only used when grafana\.access is sso$/],
        ["a provider's token endpoint over http", (e) => { e.grafana.access = "sso"; e.grafana.sso = { ...SSO, tokenEndpoint: "http://sso.example.net/token" }; },
            /^grafana\.sso\.tokenEndpoint: malformed value \(expected to match \^https:/],
        ["sign-in scopes without openid", (e) => { e.grafana.access = "sso"; e.grafana.sso = { ...SSO, scopes: ["email", "groups"] }; },
            /^grafana\.sso\.scopes: email, groups lacks openid, without which the provider answers no OpenID Connect sign-in$/],
        ["a group that is both Admin and Editor", (e) => { e.grafana.access = "sso"; e.grafana.sso = { ...SSO, adminGroups: ["sre"], editorGroups: ["sre", "dev"] }; },
            /^grafana\.sso\.editorGroups: sre also in adminGroups; name each group once, under the role it gets$/],
        ["a group name with a quote, which would end the role expression", (e) => { e.grafana.access = "sso"; e.grafana.sso = { ...SSO, adminGroups: ["o'brien"] }; },
            /^grafana\.sso\.adminGroups\.0: malformed value/],
        ["a database backup kept 40 days (RDS keeps at most 35)", (e) => { e.grafana.database = { backupRetentionDays: 40 }; },
            /^grafana\.database\.backupRetentionDays: must be <= 35$/],
    ];
    for (const [what, mutate, expected] of cases) {
        it(`rejects ${what} with one error naming the file and the key`, () => {
            const problems = problemsAfter(mutate);
            assert.equal(problems.length, 1, `expected one problem, got: ${problems.join("; ")}`);
            assert.match(problems[0], expected);
        });
    }

    it("reports invalid YAML with the file name", () => {
        assert.throws(() => parseEnvironmentYaml("region: [eu-west-1\n", FILE, "test"),
            (err: Error) => err instanceof EnvironmentError && /^environment file environments\/test\.yaml is not valid:\n {2}- not valid YAML/.test(err.message));
    });

    it("names the missing file and the known stacks for an unknown stack", () => {
        assert.throws(() => loadEnvironment("qa"), /environments\/qa\.yaml.*no such file: stack qa has no environment \(known: dev, production, staging\)/s);
    });

    it("rejects a zone the region does not have before registering any resource", async () => {
        const env = loadEnvironment("dev");
        env.availabilityZones = ["eu-west-1a", "eu-west-1b", "eu-west-1d"];
        const error = await runProgram({ stack: "dev", program: () => createPlatform(env), ...placeholderSecretOptions("dev") })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.match(error.message, /^environment file environments\/dev\.yaml is not valid:\n {2}- availabilityZones\[2\]: eu-west-1d is not an available zone of eu-west-1/);
        assert.deepEqual(error.resources, []);
    });

    it("names every missing secret in the stack file before registering any resource", async () => {
        const error = await runProgram({ stack: "production", program: () => createPlatform(loadEnvironment("production")) })
            .then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.equal(error.message.split("\n")[0], "stack file Pulumi.production.yaml is not valid:");
        for (const key of ["pagerdutyRoutingKey", "heartbeatUrl", "smtpUsername", "smtpPassword", "slackWebhookUrl"]) {
            assert.match(error.message, new RegExp(`prometheus-platform:${key}: missing secret .*pulumi config set --secret ${key} <value>`));
        }
        assert.doesNotMatch(error.message, /ticketWebhookUrl/, "production mails its tickets");
        assert.deepEqual(error.resources, []);
    });

    for (const [what, username, accepted] of [
        ["an SES access key ID", "AKIAIOSFODNN7EXAMPLE", true],
        ["a plain user name", "alertmanager-smtp", false],
        ["a key ID one character short", "AKIAIOSFODNN7EXAMPL", false],
    ] as const) {
        it(`${accepted ? "accepts" : "rejects"} ${what} as the SES SMTP user name, never printing it`, async () => {
            const env = loadEnvironment("production");
            const error = await runProgram({
                stack: "production",
                secretConfig: { "prometheus-platform:smtpUsername": username },
                ...placeholderSecretOptions("production"),
                placeholderSecrets: requiredSecretKeys(env).filter((key) => key !== "smtpUsername"),
                program: () => createPlatform(env),
            }).then(() => undefined, (err: unknown) => err);
            if (accepted) {
                assert.equal(error, undefined, String(error));
                return;
            }
            assert.ok(error instanceof ProgramError);
            assert.match(error.message, /^stack file Pulumi\.production\.yaml is not valid:\n {2}- prometheus-platform:smtpUsername: not an SES SMTP user name \(receivers\.email\.smarthost email-smtp\.eu-west-1\.amazonaws\.com:587 is SES/);
            assert.equal(error.message.includes(username), false, "the secret must not be printed");
            assert.deepEqual(error.resources, []);
        });
    }

    it("rejects a stack whose aws:region differs from its environment", async () => {
        const error = await runProgram({
            stack: "dev",
            config: { "aws:region": "us-east-1" },
            program: () => createPlatform(loadEnvironment("dev")),
            ...placeholderSecretOptions("dev"),
        }).then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError);
        assert.match(error.message, /region: eu-west-1 differs from aws:region us-east-1 in Pulumi\.dev\.yaml/);
        assert.deepEqual(error.resources, []);
    });
});

describe("the stack's secrets, checked by kind before anything is created", function () {
    this.timeout(120000);

    /** The program's refusal of dev with these secret (or, with `plain`, plain-text) config values over shaped placeholders. */
    const refusal = async (values: Record<string, string>, plain: Record<string, string> = {}) => {
        const env = loadEnvironment("dev");
        const error = await runProgram({
            stack: "dev", program: () => createPlatform(env), ...placeholderSecretOptions("dev"), secretConfig: values, config: plain,
        }).then(() => undefined, (err: unknown) => err);
        assert.ok(error instanceof ProgramError, "accepted");
        assert.deepEqual(error.resources, [], "nothing was registered");
        for (const value of [...Object.values(values), ...Object.values(plain)]) {
            assert.equal(value.length > 3 && error.message.includes(value), false, "the value is not printed");
        }
        return error.message;
    };
    const key = (name: string) => `prometheus-platform:${name}`;

    for (const [what, name, value, expected] of [
        ["an empty PagerDuty key", "pagerdutyRoutingKey", "", /pagerdutyRoutingKey: empty/],
        ["a PagerDuty key of the wrong shape", "pagerdutyRoutingKey", "abc", /pagerdutyRoutingKey: not a PagerDuty Events API v2 routing key \(32 letters and digits/],
        ["an http Slack URL", "tenant-checkout-web-chat", "http://hooks.slack.invalid/services/T0/B0/x", /tenant-checkout-web-chat: a http URL; notifications carry alert details, so only https is accepted/],
        ["a heartbeat URL that is no URL", "heartbeatUrl", "not a url at all", /heartbeatUrl: not a URL; the value is not printed/],
        ["a webhook URL with user information", "ticketWebhookUrl", "https://user:hunter2secret@tickets.invalid/hook", /ticketWebhookUrl: an https URL with user information/],
    ] as const) {
        it(`refuses ${what}, naming the key and never the value`, async () => {
            assert.match(await refusal({ [key(name)]: value }), expected);
        });
    }

    it("refuses a secret stored in plain text, with the command that stores it encrypted", async () => {
        assert.match(await refusal({}, { [key("heartbeatUrl")]: "https://hb.invalid/ping/plain-text-value" }),
            /prometheus-platform:heartbeatUrl: stored in plain text; store it encrypted with: pulumi config set --secret heartbeatUrl <value>/);
    });

    it("names a key of the project that is no setting of it, with the closest one", async () => {
        assert.match(await refusal({ [key("pagerDutyRoutingKey")]: "0123456789abcdef0123456789abcdef" }),
            /prometheus-platform:pagerDutyRoutingKey: not a setting of this project; did you mean pagerdutyRoutingKey\?/);
    });
});

describe("a stack file that is not valid YAML", () => {
    it("is named with its line and column, and the line, which may hold a secret, is not printed", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-file-"));
        try {
            fs.writeFileSync(path.join(dir, "Pulumi.broken.yaml"), "config:\n  prometheus-platform:heartbeatUrl: https://hb.invalid/very-secret-token\n   aws:region: [eu-west-1\n");
            assert.throws(() => stackConfig(dir, "broken", "prometheus-platform"), (err: Error) => {
                assert.match(err.message, /Pulumi\.broken\.yaml:\d+:\d+: not valid YAML: .* \(the line is not printed\)$/);
                assert.equal(err.message.includes("very-secret-token"), false);
                return true;
            });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("settings AWS or Prometheus would refuse, refused first, each naming its key", () => {
    const manyTags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`tag-${i}`, "x"]));
    for (const [what, mutate, expected] of [
        ["60 tags", (s: Record<string, any>) => { s.tags = manyTags(60); }, /^tags: 60 tags and the platform's own 9 make 69, over AWS's 50 on one resource; keep at most 41$/],
        ["a tag key starting aws:", (s: Record<string, any>) => { s.tags = { "aws:owner": "x" }; }, /^tags\.aws:owner: the aws: prefix is AWS's own/],
        ["a tag the platform sets itself", (s: Record<string, any>) => { s.tags = { stack: "other" }; }, /^tags\.stack: set by the platform itself/],
        ["a 300-character tag value", (s: Record<string, any>) => { s.tags = { team: "x".repeat(300) }; }, /^tags\.team: a tag value is up to 256 .*\(this one is 300 characters\)$/],
        ["a 10 MB tag value", (s: Record<string, any>) => { s.tags = { team: "x".repeat(10 * 1024 * 1024) }; }, /^tags\.team: a tag value is up to 256 .*\(this one is 10485760 characters\)$/],
        ["a scrape interval of 0s", (s: Record<string, any>) => { s.prometheus.scrapeInterval = "0s"; }, /^prometheus\.scrapeInterval: 0s is outside 1s to 5m$/],
        ["a retention of 0s", (s: Record<string, any>) => { s.prometheus.retentionTime = "0s"; }, /^prometheus\.retentionTime: 0s is outside 2h to 10y$/],
        ["an evaluation interval of a year", (s: Record<string, any>) => { s.prometheus.evaluationInterval = "1y"; }, /^prometheus\.evaluationInterval: 1y is outside 1s to 5m$/],
        ["Prometheus 99.99.99", (s: Record<string, any>) => { s.prometheus.version = "99.99.99"; }, /^prometheus\.version: 99\.99\.99 is not a release the configurations are proven with \(3\.x from 3\.5\.0\)$/],
        ["support hours in a zone that does not exist", (s: Record<string, any>) => { s.alertmanager.supportHours = { location: "Mars/Olympus_Mons" }; },
            /^alertmanager\.supportHours\.location: Mars\/Olympus_Mons is not a time zone of the IANA database/],
        ["page hours that end before they start", (s: Record<string, any>) => {
            s.alertmanager.pageHours = { location: "UTC", weekdays: ["monday:friday"], start: "18:00", end: "08:00" };
        }, /^alertmanager\.pageHours\.end: 08:00 is not after alertmanager\.pageHours\.start 18:00/],
        ["an Alertmanager older than proven", (s: Record<string, any>) => { s.alertmanager.version = "0.27.0"; }, /^alertmanager\.version: 0\.27\.0 is older than 0\.33\.0/],
    ] as const) {
        it(`refuses ${what}`, () => {
            const problems = problemsAfter(mutate);
            assert.ok(problems.some((p) => expected.test(p)), problems.join("\n").slice(0, 2000));
            assert.ok(problems.every((p) => p.length < 1000), "no problem repeats a huge value");
        });
    }
});
