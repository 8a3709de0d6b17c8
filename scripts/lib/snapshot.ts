// The plan snapshot: every resource a stack's plan registers (type, name, parent, options and
// inputs, secrets masked and unknowns marked) and every file the plan writes to out/<stack>/,
// as reviewable text. tests/snapshots/<stack>/ holds the committed one; `npm run snapshot`
// refreshes it and tests/planSnapshot.test.ts fails while the plan differs from it.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as yaml from "js-yaml";
import { CapturedResource, ProgramRun, SECRET_SIG, SPECIAL_KEY, UNKNOWN } from "./offline";
import { writeRendered } from "./plan";
import { runStackOffline } from "./stackRun";

export const SNAPSHOT_ROOT = path.resolve(__dirname, "..", "..", "tests", "snapshots");
export const REFRESH_COMMAND = "npm run snapshot";

/** A snapshot: its files by path relative to the stack's snapshot folder. */
export type Snapshot = Record<string, string>;

export const SECRET_MARK = "[secret]";
export const UNKNOWN_MARK = "[unknown]";

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

/** Opaque base64 (user data, bundles): its decoded size and digest stand for it. */
function describeBase64(value: string): Record<string, unknown> | undefined {
    if (value.length < 256 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
        return undefined;
    }
    let decoded = Buffer.from(value, "base64");
    const gzip = decoded[0] === 0x1f && decoded[1] === 0x8b;
    if (gzip) {
        decoded = zlib.gunzipSync(decoded);
    }
    return { "(base64)": { gzip, bytes: decoded.length, sha256: sha256(decoded) } };
}

/** A JSON document held in a string (policies, container definitions), shown as structure. */
function describeJson(value: string): Record<string, unknown> | undefined {
    if (!/^\s*[[{]/.test(value)) {
        return undefined;
    }
    try {
        return { "(json)": reviewable(JSON.parse(value)) };
    } catch {
        return undefined;
    }
}

/** A wire value as a reviewer reads it: secrets masked, unknowns marked, opaque blobs by digest. */
export function reviewable(value: unknown): unknown {
    if (value === UNKNOWN) {
        return UNKNOWN_MARK;
    }
    if (typeof value === "string") {
        return describeBase64(value) ?? describeJson(value) ?? value;
    }
    if (Array.isArray(value)) {
        return value.map(reviewable);
    }
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[SPECIAL_KEY] === SECRET_SIG) {
            return SECRET_MARK;
        }
        if (record[SPECIAL_KEY] !== undefined && typeof record.text === "string") {
            return { "(asset)": { bytes: Buffer.byteLength(record.text), sha256: sha256(record.text) } };
        }
        const entries = Object.entries(record).filter(([key]) => key !== SPECIAL_KEY);
        return Object.fromEntries(entries.map(([key, v]) => [key, reviewable(v)]));
    }
    return value;
}

/** The part of a URN after the stack and project: the parent types, the type and the name. */
function shortUrn(urn: string): string {
    return urn.split("::").slice(2).join("::");
}

/** The URN of a resource of this type and name under a parent (or at the root). */
function childUrn(stackPrefix: string, parentUrn: string, type: string, name: string): string {
    const qualifiedType = parentUrn ? `${parentUrn.split("::")[2]}$${type}` : type;
    return `${stackPrefix}::${qualifiedType}::${name}`;
}

/**
 * The URNs a resource also answers to through aliases: its own (a new type or name), and its
 * place under each URN its parent answers to. A rename declared so replaces nothing.
 */
function formerUrns(resources: CapturedResource[]): Map<string, string[]> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const former = new Map<string, string[]>();
    const of = (resource: CapturedResource): string[] => {
        const known = former.get(resource.urn);
        if (known) {
            return known;
        }
        const stackPrefix = resource.urn.split("::").slice(0, 2).join("::");
        const parent = byUrn.get(resource.parent);
        const own = resource.aliases.map((alias) => alias.urn ?? childUrn(stackPrefix,
            alias.noParent ? "" : alias.parentUrn ?? resource.parent, alias.type ?? resource.type, alias.name ?? resource.name));
        const underParent = parent ? of(parent).map((urn) => childUrn(stackPrefix, urn, resource.type, resource.name)) : [];
        const urns = [...new Set([...own, ...underParent])].filter((urn) => urn !== resource.urn).sort();
        former.set(resource.urn, urns);
        return urns;
    };
    resources.forEach(of);
    return former;
}

function describeResource(resource: CapturedResource, formerly: string[]): Record<string, unknown> {
    const options = {
        ...(resource.protect ? { protect: true } : {}),
        ...(resource.retainOnDelete ? { retainOnDelete: true } : {}),
        ...(resource.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
        ...(resource.ignoreChanges.length ? { ignoreChanges: [...resource.ignoreChanges].sort() } : {}),
        ...(resource.provider ? { provider: shortUrn(resource.provider.split("::").slice(0, -1).join("::")) } : {}),
        ...(resource.dependencies.length ? { dependsOn: resource.dependencies.map(shortUrn).sort() } : {}),
        ...(formerly.length ? { formerly: formerly.map(shortUrn) } : {}),
    };
    return {
        type: resource.type,
        name: resource.name,
        parent: resource.parent ? shortUrn(resource.parent) : null,
        ...(Object.keys(options).length ? { options } : {}),
        inputs: reviewable(resource.inputs),
    };
}

const dump = (doc: unknown) => yaml.dump(doc, { sortKeys: true, lineWidth: -1, noRefs: true });

/** resources.yaml: every resource by its URN, in URN order. */
export function resourcesDocument(run: ProgramRun): string {
    const sorted = [...run.resources].sort((a, b) => a.urn.localeCompare(b.urn));
    const former = formerUrns(run.resources);
    const doc = Object.fromEntries(sorted.map((r) => [shortUrn(r.urn), describeResource(r, former.get(r.urn) ?? [])]));
    return `# Plan of stack ${run.stack}: ${run.resources.length} resources. Refresh with \`${REFRESH_COMMAND}\`.\n${dump(doc)}`;
}

function listFiles(dir: string, prefix = ""): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((entry) => {
        const relative = path.posix.join(prefix, entry.name);
        return entry.isDirectory() ? listFiles(path.join(dir, entry.name), relative) : [relative];
    });
}

/**
 * The files a plan wrote, each distinct text once under files/ (as <path>.snap, so that tools
 * reading the tree as source pass over them), and files.yaml naming every path: where its content
 * is kept (the first path with that content) or, for binary files, its digest.
 */
export function filesDocuments(outDir: string): Snapshot {
    const snapshot: Snapshot = {};
    const index: Record<string, string> = {};
    const firstWithContent = new Map<string, string>();
    for (const file of listFiles(outDir)) {
        const content = fs.readFileSync(path.join(outDir, file));
        const text = content.toString("utf8");
        if (!Buffer.from(text, "utf8").equals(content) || text.includes("\0")) {
            index[file] = `binary, ${content.length} bytes, sha256 ${sha256(content)}`;
            continue;
        }
        const digest = sha256(content);
        const first = firstWithContent.get(digest);
        if (first) {
            index[file] = `same as ${first}`;
        } else {
            firstWithContent.set(digest, file);
            index[file] = `files/${file}.snap`;
            snapshot[`files/${file}.snap`] = text;
        }
    }
    snapshot["files.yaml"] = `# What the plan writes to out/<stack>/, and where each file's content is kept here.\n${dump(index)}`;
    return snapshot;
}

/** The snapshot of one planned stack: its resources, and the files its plan wrote to outDir. */
export function buildSnapshot(run: ProgramRun, outDir: string): Snapshot {
    return { "resources.yaml": resourcesDocument(run), ...filesDocuments(outDir) };
}

export function snapshotDir(stack: string, root = SNAPSHOT_ROOT): string {
    return path.join(root, stack);
}

export function readSnapshot(dir: string): Snapshot {
    if (!fs.existsSync(dir)) {
        return {};
    }
    return Object.fromEntries(listFiles(dir).map((file) => [file, fs.readFileSync(path.join(dir, file), "utf8")]));
}

/** Replaces the snapshot folder with this snapshot, leaving no stale file behind. */
export function writeSnapshot(dir: string, snapshot: Snapshot): void {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const staging = fs.mkdtempSync(path.join(path.dirname(dir), `.${path.basename(dir)}-`));
    try {
        for (const [file, content] of Object.entries(snapshot)) {
            fs.mkdirSync(path.join(staging, path.dirname(file)), { recursive: true });
            fs.writeFileSync(path.join(staging, file), content);
        }
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(staging, dir);
    } catch (err) {
        fs.rmSync(staging, { recursive: true, force: true });
        throw err;
    }
}

/** Where two snapshots differ: a line per file added, removed, or changed (with its first changed line). */
export function compareSnapshots(expected: Snapshot, actual: Snapshot): string[] {
    const files = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    return files.flatMap((file) => {
        if (expected[file] === undefined) {
            return [`+ ${file} (new)`];
        }
        if (actual[file] === undefined) {
            return [`- ${file} (gone)`];
        }
        if (expected[file] === actual[file]) {
            return [];
        }
        const was = expected[file].split("\n");
        const now = actual[file].split("\n");
        const line = was.findIndex((l, i) => l !== now[i]);
        const at = line === -1 ? was.length : line;
        return [`~ ${file} line ${at + 1}: was ${JSON.stringify(was[at] ?? "")}, now ${JSON.stringify(now[at] ?? "")}`];
    });
}

/** A scratch folder for a plan's files, removed after use. */
export async function withScratchDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-snapshot-"));
    try {
        return await use(dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Plans the stack offline and takes its snapshot. */
export async function planSnapshot(stack: string): Promise<Snapshot> {
    const { run, platform } = await runStackOffline(stack);
    if (!platform) {
        throw new Error(`stack ${stack}: the program built no platform`);
    }
    return withScratchDir(async (dir) => {
        await writeRendered(platform, dir, run.placeholderSecrets);
        return buildSnapshot(run, dir);
    });
}
