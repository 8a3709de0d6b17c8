// Offline plan: runs the real program under mocks in preview mode, prints the resource tree and
// a summary, and writes each Prometheus node's rendered configuration to out/<stack>/.
//
//   npm run plan -- --stack dev [--json] [--out DIR]
//   npm run plan -- --stack dev --program tests/fixtures/some-program.ts
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { Platform } from "../infra/platform";
import { runStack } from "../infra/stack";
import { prometheusNodeFiles, renderNodeCloudConfig } from "../components/render/cloudInit";
import { CapturedResource, previewValue, ProgramRun, runProgram } from "./lib/offline";

export const VOLUME_ID_PLACEHOLDER = "vol-00000000000000000";

export interface RenderedNode {
    name: string;
    dir: string;
    files: string[];
}

/** Writes each node's cloud-config and the files it carries under dir/<node>/. */
export async function writeRenderedNodes(platform: Platform, dir: string): Promise<RenderedNode[]> {
    const written: RenderedNode[] = [];
    for (const node of platform.nodes) {
        const spec = await previewValue(node.spec);
        if (spec === undefined) {
            throw new Error(`${node.name}: its configuration is not known in a preview`);
        }
        const volumeId = (await previewValue(node.dataVolumeId)) ?? VOLUME_ID_PLACEHOLDER;
        const full = { ...spec, volumeId };
        const nodeDir = path.join(dir, node.name);
        fs.rmSync(nodeDir, { recursive: true, force: true });
        const files = [{ path: "cloud-config.yaml", content: renderNodeCloudConfig(full) },
            ...prometheusNodeFiles(full).map((f) => ({ path: path.join("files", f.path), content: f.content }))];
        for (const file of files) {
            const target = path.join(nodeDir, file.path);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, file.content, { mode: 0o600 });
        }
        written.push({ name: node.name, dir: nodeDir, files: files.map((f) => f.path) });
    }
    return written;
}

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

export interface PlanResult {
    run: ProgramRun;
    rendered: RenderedNode[];
}

export async function plan(stack: string, options: { program?: string; outDir?: string } = {}): Promise<PlanResult> {
    let platform: Platform | undefined;
    const run = await runProgram({
        stack,
        program: options.program ?? (() => runStack((p) => { platform = p; })),
    });
    const rendered = platform ? await writeRenderedNodes(platform, options.outDir ?? path.join("out", stack)) : [];
    return { run, rendered };
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            program: { type: "string" },
            out: { type: "string" },
            json: { type: "boolean", default: false },
        },
    });
    if (!values.stack) {
        throw new Error("usage: npm run plan -- --stack <dev|staging|production> [--json] [--program PATH] [--out DIR]");
    }
    const { run, rendered } = await plan(values.stack, { program: values.program, outDir: values.out });
    const counts = summary(run.resources);
    if (values.json) {
        process.stdout.write(`${JSON.stringify({
            stack: run.stack,
            project: run.project,
            resources: run.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, protect: r.protect })),
            summary: { total: run.resources.length, byType: counts },
            rendered: rendered.map((n) => ({ node: n.name, dir: n.dir, files: n.files })),
            placeholderSecrets: run.placeholderSecrets,
        }, null, 2)}\n`);
        return;
    }
    console.log(`Offline plan of stack ${run.stack} (project ${run.project}), preview mode, mocked provider:`);
    console.log(tree(run.resources).join("\n"));
    console.log(`\n${run.resources.length} resources to create:`);
    for (const [type, count] of Object.entries(counts)) {
        console.log(`  ${String(count).padStart(3)}  ${type}`);
    }
    for (const key of run.placeholderSecrets) {
        console.log(`secret ${key}: cannot be decrypted offline, planned with a placeholder`);
    }
    for (const node of rendered) {
        console.log(`rendered ${node.name}: ${node.files.length} files in ${node.dir}/`);
    }
    if (rendered.length > 0) {
        console.log(`(data volume IDs are known only after apply: the rendered files use ${VOLUME_ID_PLACEHOLDER})`);
    }
}

if (require.main === module) {
    main().catch((err: Error) => {
        console.error(`plan failed: ${err.message}`);
        process.exit(1);
    });
}
