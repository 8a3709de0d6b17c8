// Offline plan: runs the real program under mocks in preview mode, prints the resource tree and
// a summary, and writes each Prometheus node's rendered configuration to out/<stack>/.
//
//   npm run plan -- --stack dev [--json] [--out DIR]
//   npm run plan -- --stack dev --program tests/fixtures/some-program.ts
import * as path from "path";
import { performance } from "perf_hooks";
import { parseArgs } from "util";
import { CapturedResource } from "./lib/offline";
import { exitWhenFlushed } from "./lib/exit";
import { PlanResult, plan, planAll, readRolloutFacts, VOLUME_ID_PLACEHOLDER } from "./lib/plan";
import { describeRollout, describeRolloutRules } from "./lib/rollout";
import { describeSizing } from "../infra/sizing";
import { USER_DATA_LIMIT_BYTES } from "../components/prometheusNode";
import { formatViolations, mandatory } from "./lib/policyCheck";

function tree(resources: CapturedResource[]): string[] {
    const children = new Map<string, CapturedResource[]>();
    for (const r of resources) {
        const list = children.get(r.parent) ?? [];
        list.push(r);
        children.set(r.parent, list);
    }
    const lines: string[] = [];
    const walk = (parent: string, depth: number) => {
        const list = [...(children.get(parent) ?? [])].sort((a, b) => a.urn.localeCompare(b.urn));
        for (const r of list) {
            const marks = [r.protect ? "protected" : "", r.retainOnDelete ? "retained" : ""].filter((m) => m);
            lines.push(`${"  ".repeat(depth)}+ ${r.type} ${r.name}${marks.length ? ` [${marks.join(", ")}]` : ""}`);
            walk(r.urn, depth + 1);
        }
    };
    walk("", 0);
    return lines;
}

function summary(resources: CapturedResource[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of resources) {
        counts[r.type] = (counts[r.type] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

function printAll(results: PlanResult[], seconds: number): void {
    for (const { run, policy, backup, sizing } of results) {
        const blocking = mandatory(policy.violations).length;
        console.log(`stack ${run.stack}: ${run.resources.length} resources, ${policy.violations.length} policy violations `
            + `(${blocking} mandatory)${backup ? `; backups ${backup.policy}` : ""}`);
        if (sizing) {
            describeSizing(sizing).forEach((line) => console.log(`  ${line}`));
        }
        if (policy.violations.length > 0) {
            formatViolations(policy.violations).forEach((line) => console.log(`  ${line}`));
        }
    }
    console.log(`planned and checked ${results.length} stacks in ${seconds.toFixed(2)} s`);
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            program: { type: "string" },
            out: { type: "string" },
            json: { type: "boolean", default: false },
            all: { type: "boolean", default: false },
            compare: { type: "string" },
        },
    });
    const withoutAll = (["stack", "program", "compare", "json"] as const).filter((flag) => values[flag]);
    if (values.all && withoutAll.length > 0) {
        throw new Error(`--all plans every stack and prints a summary; ${withoutAll.map((flag) => `--${flag}`).join(", ")} go${withoutAll.length === 1 ? "es" : ""} with one stack (--stack) instead`);
    }
    if (values.all) {
        const started = performance.now();
        const results = await planAll(values.out);
        printAll(results, (performance.now() - started) / 1000);
        exitWhenFlushed(results.some((r) => mandatory(r.policy.violations).length > 0) ? 1 : 0);
        return;
    }
    if (!values.stack) {
        throw new Error("usage: npm run plan -- --stack <dev|staging|production> [--json] [--program PATH] [--out DIR] [--compare DIR] | --all [--out DIR]");
    }
    // Read before this plan writes its own: --compare may name the directory it writes to.
    const previous = values.compare ? readRolloutFacts(values.compare) : undefined;
    const { run, rendered, rollout, policy, backup, sizing, tenants: tenantLines, grafana, logs } = await plan(values.stack, { program: values.program, outDir: values.out });
    const changes = previous && rollout ? describeRollout(previous, rollout) : undefined;
    const counts = summary(run.resources);
    if (values.json) {
        process.stdout.write(`${JSON.stringify({
            stack: run.stack,
            project: run.project,
            resources: run.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, protect: r.protect })),
            summary: { total: run.resources.length, byType: counts },
            rendered: rendered.map((n) => ({ node: n.name, dir: n.dir, files: n.files })),
            placeholderSecrets: run.placeholderSecrets,
            backup,
            sizing,
            rollout,
            ...(changes ? { changes } : {}),
            ...(tenantLines ? { tenants: tenantLines } : {}),
            ...(grafana ? { grafana } : {}),
            ...(logs ? { logs } : {}),
            policy,
        }, null, 2)}\n`);
        exitWhenFlushed(mandatory(policy.violations).length > 0 ? 1 : 0);
        return;
    }
    console.log(`Offline plan of stack ${run.stack} (project ${run.project}), preview mode, mocked provider:`);
    console.log(tree(run.resources).join("\n"));
    console.log(`\n${run.resources.length} resources to create:`);
    for (const [type, count] of Object.entries(counts)) {
        console.log(`  ${String(count).padStart(3)}  ${type}`);
    }
    for (const key of run.placeholderSecrets) {
        console.log(`secret ${key}: not set or not decryptable offline, planned with a placeholder`);
    }
    for (const node of rendered) {
        const userData = node.userDataBytes === undefined ? ""
            : `; user data ${node.userDataBytes} bytes gzipped, ${(100 * node.userDataBytes / USER_DATA_LIMIT_BYTES).toFixed(0)}% of EC2's ${USER_DATA_LIMIT_BYTES}`;
        console.log(`rendered ${node.name}: ${node.files.length} files in ${node.dir}/${userData}`);
    }
    if (rendered.length > 0) {
        console.log(`(data volume IDs are known only after apply: the rendered files use ${VOLUME_ID_PLACEHOLDER})`);
    }
    if (sizing) {
        console.log(`\nSizing: ${describeSizing(sizing).join("\n  ")}`);
    }
    if (rollout) {
        console.log(`\nRollout:\n  ${describeRolloutRules(rollout).join("\n  ")}`);
    }
    if (grafana) {
        console.log(`\nGrafana:\n  ${grafana.join("\n  ")}`);
    }
    if (logs) {
        console.log(`\nLogs, kept beyond the instances and tasks that wrote them:\n  ${logs.join("\n  ")}`);
    }
    if (tenantLines) {
        console.log(`\nTenants:\n  ${tenantLines.join("\n  ")}`);
    }
    if (changes) {
        console.log(`\nChanges against ${values.compare}:\n  ${changes.join("\n  ")}`);
    }
    if (backup) {
        console.log(`\nBackups: snapshots ${backup.policy}`);
        console.log(`  backed up: ${backup.volumes.join(", ") || "no volume (check the data volumes' tags)"}`);
    }
    console.log(`\nPolicy pack verdicts (${policy.configFile ? path.relative(process.cwd(), policy.configFile) : "no policy config"}):`);
    formatViolations(policy.violations).forEach((line) => console.log(`  ${line}`));
    exitWhenFlushed(mandatory(policy.violations).length > 0 ? 1 : 0);
}

if (require.main === module) {
    const fail = (err: unknown) => {
        console.error(`plan failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    };
    process.on("unhandledRejection", fail);
    main().catch(fail);
}
