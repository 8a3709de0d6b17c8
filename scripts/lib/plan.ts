// The offline plan as a library: runs a stack's program under mocks, writes what each node,
// Grafana and Alertmanager run to a folder, and describes the plan (scripts/plan.ts is its command).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { Platform } from "../../infra/platform";
import { ALB_LOG_PREFIX } from "../../components/accessLogsBucket";
import { dashboardQueries } from "../../components/dashboards";
import { DASHBOARDS_DIR, PROVISIONING_DIR } from "../../components/render/grafanaConfig";
import { SizingPlan } from "../../infra/sizing";
import { shardNodes, tenantShard } from "../../infra/shards";
import { PrometheusNodeSpec, renderNode } from "../../components/render/cloudInit";
import { encodeUserData } from "../../components/prometheusNode";
import { requiredSecretKeys } from "../../infra/secrets";
import { NodeConfigSource, RenderedNodeConfig } from "../../components/nodeConfigBucket";
import {
    ConfigSetReferences, nodeConfigSources, NodeReferences, nodeSpec, renderAlertmanagerYml, renderGrafanaFiles, renderNodeConfigSets,
} from "../../infra/rendering";
import { CONFIG_FILE } from "../../components/render/configSync";
import { RolloutFacts, rolloutFacts } from "./rollout";
import { Tenant, tenantRegions, tenantSecretKey } from "../../infra/tenants";
import { LoadedEnvironment } from "../../infra/environment";
import { tenantTargetsPrefix } from "../../components/render/prometheusConfig";
import { previewValue, ProgramRun, resolveForPreview, SECRET_PLACEHOLDER, UNKNOWN_PLACEHOLDER, unwrapSecrets } from "./offline";
import { runStackOffline } from "./stackRun";
import { PolicyPackServer } from "./analyzer";
import { checkResources, PolicyResult } from "./policyCheck";
import { STACKS } from "../policyConfig";
import { NODE_LOG_UNITS } from "../../infra/rendering";
import { hosts } from "../../infra/naming";

export const VOLUME_ID_PLACEHOLDER = "vol-00000000000000000";
/** Well-formed, and no password's hash: the htpasswd lines of a preview, whose passwords do not exist yet. */
export const BCRYPT_PLACEHOLDER = `$2y$10$${"knownafterapply".padEnd(53, ".")}`;

export interface RenderedNode {
    name: string;
    dir: string;
    files: string[];
    /** A Prometheus node's user data, gzipped as EC2 counts it. */
    userDataBytes?: number;
}

export const ROLLOUT_FILE = "rollout.json";

function writeFiles(dir: string, files: { path: string; content: string; encoding?: "b64" }[]): void {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const file of files) {
        const target = path.join(dir, file.path);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, file.encoding === "b64" ? Buffer.from(file.content, "base64") : file.content, { mode: 0o600 });
    }
}

/** The values the nodes' configuration sets name, as a preview knows them: passwords' hashes are placeholders. */
async function previewConfigSetReferences(platform: Platform): Promise<ConfigSetReferences> {
    const refs = (await resolveForPreview(platform.rendered.configSets)) as ConfigSetReferences;
    const hashes = refs.basicAuthHashes.map((hash) => [UNKNOWN_PLACEHOLDER, SECRET_PLACEHOLDER].includes(hash) ? BCRYPT_PLACEHOLDER : hash);
    return { ...refs, basicAuthHashes: hashes };
}

/** A node's spec as a preview knows it: unknown or secret parts replaced by placeholders. */
export async function previewNodeSpec(platform: Platform, node: Platform["nodes"][number]): Promise<PrometheusNodeSpec> {
    const plan = platform.env.nodes[platform.nodes.indexOf(node)];
    const refs = (await resolveForPreview(platform.rendered.nodes)) as NodeReferences;
    const volumeId = (await previewValue(node.dataVolumeId)) ?? VOLUME_ID_PLACEHOLDER;
    return { ...nodeSpec(platform.rendered.source, plan, refs, platform.rendered.source.project), volumeId };
}

/** What each node's configuration set is rendered from, as a preview knows it. */
export async function previewNodeConfigSources(platform: Platform): Promise<NodeConfigSource[]> {
    return nodeConfigSources(platform.rendered.source, await previewConfigSetReferences(platform));
}

/** Every node's configuration set as a preview knows it. */
export async function previewNodeConfigs(platform: Platform): Promise<RenderedNodeConfig> {
    return renderNodeConfigSets(platform.rendered.source, await previewConfigSetReferences(platform));
}

/** One node's prometheus.yml as a preview renders it. */
export async function previewPrometheusYml(platform: Platform, node: Platform["nodes"][number]): Promise<string> {
    return (await previewNodeConfigs(platform)).sets[node.name][CONFIG_FILE];
}

/** alertmanager.yml with the secrets a run has (placeholders offline); undefined while one is unknown. */
export async function previewAlertmanagerYml(platform: Platform): Promise<string | undefined> {
    const secrets = await previewValue(platform.rendered.alertmanagerSecrets);
    return secrets && renderAlertmanagerYml(platform.rendered.source, secrets);
}

/**
 * Writes each node's cloud-config and the files it carries under dir/<node>/, its configuration
 * set (what the node fetches from the config bucket) under dir/<node>/config/, and the
 * Alertmanager configuration under dir/alertmanager/ when every secret in it is a placeholder.
 */
export async function writeRendered(platform: Platform, dir: string, placeholderSecrets: string[]): Promise<{ nodes: RenderedNode[]; rollout: RolloutFacts }> {
    const written: RenderedNode[] = [];
    const configs = await previewNodeConfigs(platform);
    const userData: Record<string, string> = {};
    for (const node of platform.nodes) {
        const rendered = renderNode(await previewNodeSpec(platform, node));
        userData[node.name] = rendered.cloudConfig;
        const files = [{ path: "cloud-config.yaml", content: userData[node.name] },
            ...rendered.files.map((f) => ({ path: path.join("files", f.path), content: f.content, encoding: f.encoding })),
            ...Object.entries(configs.sets[node.name]).map(([file, content]) => ({ path: path.join("config", file), content }))];
        writeFiles(path.join(dir, node.name), files);
        const userDataBytes = Buffer.from(encodeUserData(rendered.cloudConfig, node.name), "base64").length;
        written.push({ name: node.name, dir: path.join(dir, node.name), files: files.map((f) => f.path), userDataBytes });
    }
    const grafanaFiles = renderGrafanaFiles(platform.rendered.source, platform.managedPrometheus !== undefined);
    const grafana = [
        ...Object.entries(grafanaFiles).map(([file, content]) => ({ path: file.replace(/^\//, ""), content })),
        { path: GRAFANA_SETTINGS_FILE, content: Object.entries(platform.grafana.plannedSettings).sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => `${name}=${value}\n`).join("") },
    ];
    writeFiles(path.join(dir, "grafana"), grafana);
    written.push({ name: "grafana", dir: path.join(dir, "grafana"), files: grafana.map((f) => f.path) });
    const secretsArePlaceholders = requiredSecretKeys(platform.env)
        .every((key) => placeholderSecrets.includes(`${pulumi.getProject()}:${key}`));
    const config = secretsArePlaceholders ? await previewAlertmanagerYml(platform) : undefined;
    const facts = await rolloutFacts(platform, configs.revision, userData);
    fs.writeFileSync(path.join(dir, ROLLOUT_FILE), `${JSON.stringify(facts, null, 2)}\n`);
    if (config !== undefined) {
        writeFiles(path.join(dir, "alertmanager"), [{ path: "alertmanager.yml", content: config }]);
        written.push({ name: "alertmanager", dir: path.join(dir, "alertmanager"), files: ["alertmanager.yml"] });
    }
    return { nodes: written, rollout: facts };
}

/** Grafana's settings (environment variables) as the plan shows them, beside its provisioning files. */
export const GRAFANA_SETTINGS_FILE = "settings.env";

/** The rollout facts a plan wrote: its output directory, or the rollout.json in it. */
export function readRolloutFacts(dirOrFile: string): RolloutFacts {
    const file = fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isDirectory() ? path.join(dirOrFile, ROLLOUT_FILE) : dirOrFile;
    if (!fs.existsSync(file)) {
        throw new Error(`--compare ${dirOrFile}: no ${ROLLOUT_FILE} there; plan the earlier version with --out ${dirOrFile} first`);
    }
    let facts: RolloutFacts | undefined;
    try {
        facts = JSON.parse(fs.readFileSync(file, "utf8")) as RolloutFacts;
    } catch {
        facts = undefined;
    }
    if (!Array.isArray(facts?.alertmanager?.order)) {
        throw new Error(`--compare ${dirOrFile}: ${file} is not the ${ROLLOUT_FILE} of a plan; name the folder an earlier plan wrote with --out`);
    }
    return facts;
}

/** The mark a plan leaves in the folder it writes to: a later plan may replace what is there. */
const PLAN_MARK = ".plan-output";

/** A folder a plan wrote: its mark, its rollout.json (plans before the mark), or only such folders (a --all run's). */
function isPlanOutput(dir: string): boolean {
    if (fs.existsSync(path.join(dir, PLAN_MARK)) || fs.existsSync(path.join(dir, ROLLOUT_FILE))) {
        return true;
    }
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    return entries.length > 0 && entries.every((entry) => entry.isDirectory() && isPlanOutput(path.join(dir, entry.name)));
}

/**
 * Makes sure a plan may write into `dir` before it plans: the folder is new, empty or an earlier
 * plan's output (nothing else is ever replaced), and it can be written.
 */
export function prepareOutDir(dir: string): void {
    if (fs.existsSync(dir)) {
        if (!fs.statSync(dir).isDirectory()) {
            throw new Error(`--out ${dir}: not a folder`);
        }
        const entries = fs.readdirSync(dir);
        if (entries.length > 0 && !isPlanOutput(dir)) {
            throw new Error(`--out ${dir}: holds files no plan wrote (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}), which a plan would replace; name an empty or new folder`);
        }
    }
    try {
        // One level at a time: a recursive mkdir under /proc loops forever on Node.
        const missing: string[] = [];
        for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
            missing.unshift(d);
        }
        missing.forEach((d) => fs.mkdirSync(d));
        fs.writeFileSync(path.join(dir, PLAN_MARK), "Written by npm run plan: a later plan replaces what is here.\n");
    } catch (err) {
        throw new Error(`--out ${dir}: cannot write there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
}

/** Grafana as the plan shows it: who reaches it and how, which image, its database, its data sources and its dashboards by folder. */
export function describeGrafana(platform: Platform): string[] {
    const files = platform.grafanaProvisioning;
    const sources = (yaml.load(files[`${PROVISIONING_DIR}/datasources/platform.yaml`]) as { datasources: { name: string; url: string; isDefault: boolean; basicAuth?: boolean; jsonData: { sigV4Auth?: boolean } }[] }).datasources;
    const providers = (yaml.load(files[`${PROVISIONING_DIR}/dashboards/platform.yaml`]) as { providers: { folder: string; options: { path: string } }[] }).providers;
    const folderOf = (file: string) => providers.find((p) => file.slice(0, file.lastIndexOf("/")) === p.options.path)?.folder ?? "?";
    const dashboards = Object.entries(files).filter(([file]) => file.startsWith(`${DASHBOARDS_DIR}/`))
        .map(([file, content]) => ({ folder: folderOf(file), json: JSON.parse(content) as Record<string, unknown> & { title: string; panels: { type: string }[] } }));
    const { access, sso, database } = platform.env.grafana;
    const roles = sso ? [...sso.adminGroups.map((g) => `${g}: Admin`), ...sso.editorGroups.map((g) => `${g}: Editor`), "others: Viewer"].join(", ") : "";
    return [
        `https://${hosts.grafana(platform.env)}/ (${access === "sso" && sso ? `from anywhere, signed in with ${sso.issuer} at the ALB and in Grafana; ${roles}` : "office CIDRs only"}), `
            + `${platform.env.grafana.image}:${platform.env.grafana.version}, one Fargate task; admin password: stack output grafanaAdminPassword (secret)`,
        `database: PostgreSQL ${database.engineVersion} on RDS ${database.instanceClass}, ${database.allocatedStorageGiB} GiB encrypted, TLS only, `
            + `backups kept ${database.backupRetentionDays} days, ${platform.env.protectData ? "Multi-AZ, deletion-protected" : "one zone"}`,
        ...sources.map((s) => `data source ${s.name}${s.isDefault ? " (default)" : ""}: ${s.url} `
            + `(${s.jsonData.sigV4Auth ? "SigV4 through the task role" : s.basicAuth ? "basic auth, password from SSM" : "no auth"})`),
        ...dashboards.map(({ folder, json }) => `dashboard ${json.title} (folder ${folder}): ${json.panels.filter((p) => p.type !== "row").length} panels, ${dashboardQueries(json).length} queries`),
    ];
}

/** Where the platform's logs are kept, and for how long: each planned log group, and the ALB's access logs. */
export function describeLogs(run: ProgramRun, platform: Platform): string[] {
    const nodeGroup = platform.nodeLogs.logGroupName;
    const groups = run.resources.filter((r) => r.type === "aws:cloudwatch/logGroup:LogGroup")
        .map((r) => unwrapSecrets<{ name: string; retentionInDays: number }>(r.inputs))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((g) => `${g.name}: ${g.retentionInDays} days${g.name === nodeGroup
            ? ` (the nodes' journals, streams prom-N/<unit> of ${NODE_LOG_UNITS.join(", ")})` : ""}`);
    return [...groups, `ALB access logs: the access-log bucket under ${ALB_LOG_PREFIX}/, ${platform.env.ingress.accessLogRetentionDays} days`];
}

export function describeTenants(tenants: Tenant[], placeholderSecrets: string[], env: Pick<LoadedEnvironment, "region" | "prometheus" | "nodes">): string[] {
    if (tenants.length === 0) {
        return ["none on this stack"];
    }
    return tenants.map((tenant) => {
        const receivers = Object.entries(tenant.receivers).map(([name, r]) => {
            if (r.kind === "email") {
                return `${name} (email to ${r.to} through the stack's mail relay)`;
            }
            const key = tenantSecretKey(tenant.name, name);
            const placeholder = placeholderSecrets.some((s) => s.endsWith(`:${key}`));
            return `${name} (${r.kind}${r.kind === "slack" ? ` ${r.channel}` : ""}, secret ${key}${placeholder ? ": placeholder" : ""})`;
        });
        const regions = tenantRegions(tenant, env);
        const rules = tenant.rules.groups.flatMap((g) => g.rules);
        const alerts = rules.filter((r) => r.alert !== undefined).length;
        const shard = tenantShard(env, tenant.name);
        const scrapedBy = env.prometheus.shards > 1
            ? `; scraped by shard ${shard} (${shardNodes(env, shard).map((n) => n.name).join(", ")}), ${tenant.expectedSeries} series expected` : "";
        return `${tenant.name}: ${alerts} alerts, ${rules.length - alerts} recording rules, ${tenant.tests.length} tests; `
            + `pages ${tenant.routing.page.severities.join("/")} to ${tenant.routing.page.receiver}, tickets ${tenant.routing.ticket.severities.join("/")} `
            + `to ${tenant.routing.ticket.receiver} ${tenant.supportHours.start}-${tenant.supportHours.end} ${tenant.supportHours.weekdays.join(",")} ${tenant.supportHours.location}; `
            + `receivers ${receivers.join(", ")}; targets under ${regions.map((r) => `${tenantTargetsPrefix(tenant.name, r)}/`).join(", ")}${scrapedBy}`;
    });
}

export interface BackupPlan {
    policy: string;
    /** The volumes carrying the policy's target tag. */
    volumes: string[];
}

export interface PlanResult {
    run: ProgramRun;
    rendered: RenderedNode[];
    rollout?: RolloutFacts;
    /** The tenants and Grafana, as the plan describes them. */
    tenants?: string[];
    grafana?: string[];
    /** Where the logs are kept, and for how long. */
    logs?: string[];
    policy: PolicyResult;
    backup?: BackupPlan;
    sizing?: SizingPlan;
}

/** What the snapshot policy will back up: the planned volumes that carry its tag. */
function backupPlan(run: ProgramRun, platform: Platform): BackupPlan {
    const { key, value } = platform.backup.targetTag;
    const volumes = run.resources
        .filter((r) => r.type === "aws:ebs/volume:Volume" && unwrapSecrets<{ tags?: Record<string, string> }>(r.inputs).tags?.[key] === value)
        .map((r) => r.name);
    return { policy: platform.backup.summary, volumes };
}

/** What a plan of one stack found, once it is rendered and checked. */
function planResult(run: ProgramRun, platform: Platform | undefined, written: Awaited<ReturnType<typeof writeRendered>> | undefined, policy: PolicyResult): PlanResult {
    return {
        run, policy,
        rendered: written?.nodes ?? [],
        rollout: written?.rollout,
        backup: platform ? backupPlan(run, platform) : undefined,
        sizing: platform?.sizing,
        tenants: platform ? describeTenants(platform.tenants, run.placeholderSecrets, platform.env) : undefined,
        grafana: platform ? describeGrafana(platform) : undefined,
        logs: platform ? describeLogs(run, platform) : undefined,
    };
}

export async function plan(stack: string, options: { program?: string; outDir?: string } = {}): Promise<PlanResult> {
    const outDir = options.outDir ?? path.join("out", stack);
    prepareOutDir(outDir);
    const { run, platform } = await runStackOffline(stack, { program: options.program });
    const written = platform ? await writeRendered(platform, outDir, run.placeholderSecrets) : undefined;
    return planResult(run, platform, written, await checkResources(run.resources, stack));
}

/** Every stack in one process, with one policy pack: what CI and a pull request's check run. */
export async function planAll(outDir = "out"): Promise<PlanResult[]> {
    prepareOutDir(outDir);
    // Pulumi captures a stack trace per promise; mapped through source maps, that is a third of
    // the run. Plain positions are enough here; the setting is restored afterwards.
    const sourceMaps = process.sourceMapsEnabled;
    process.setSourceMapsEnabled(false);
    // The pack starts (about a second) while the first stack is planned.
    const starting = PolicyPackServer.start();
    let server: PolicyPackServer | undefined;
    try {
        const results: Promise<PlanResult>[] = [];
        let checked: Promise<unknown> = Promise.resolve();
        for (const stack of STACKS) {
            // Stacks are planned one after another (the Pulumi runtime's state is global); each is
            // checked by the pack, one at a time, while the next one is planned.
            const { run, platform } = await runStackOffline(stack);
            const written = platform ? await writeRendered(platform, path.join(outDir, stack), run.placeholderSecrets) : undefined;
            const result = checked.then(async () => {
                server = await starting;
                return planResult(run, platform, written, await checkResources(run.resources, stack, undefined, server));
            });
            checked = result.catch(() => undefined);
            results.push(result);
        }
        return await Promise.all(results);
    } finally {
        (server ?? await starting.catch(() => undefined))?.close();
        process.setSourceMapsEnabled(sourceMaps);
    }
}
