// Tenants: the teams the platform monitors, one file each under tenants/, validated before any
// resource is registered. A file holds the tenant's stacks, receivers, routing, rules and rule tests.
import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv";
import * as yaml from "js-yaml";
import { promqlSyntaxError } from "../components/render/promql";
import { loadWithoutAliases } from "./yamlInput";
import { hoursProblems } from "./hours";
import { tenantReceiverName } from "../components/render/alertmanagerConfig";
import { RULE_OWNER_LABEL, TENANT_RULE_OWNER } from "../components/render/alertRules";
import { TENANT_RULE_FILE_PREFIX } from "../components/render/configSync";
import { LoadedEnvironment } from "./environment";
import { PROJECT_ROOT } from "./paths";
import { TenantFileError } from "./inputErrors";
import { describeSchemaError, keyOf } from "./environmentSchema";
import { Tenant, TENANT_NAME, TENANT_SCHEMA, TenantReceiver } from "./tenantSchema";
import { checkDashboardUids, loadTenantDashboards } from "./tenantDashboards";
import { DASHBOARDS, tenantFolderUid, tenantOverviewUid } from "../components/dashboards";

export type { Tenant, TenantReceiver, TenantRule } from "./tenantSchema";

export const TENANTS_DIR = path.join(PROJECT_ROOT, "tenants");
/** The label the platform sets on every series and alert of a tenant; tenants never set it. */
export const TENANT_LABEL = "tenant";

const validateShape = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(TENANT_SCHEMA);

/** Every rule's expression parses as PromQL, and each group's name is its own. */
function ruleProblems(tenant: Omit<Tenant, "name" | "file">): string[] {
    const problems: string[] = [];
    const groupNames = new Map<string, number>();
    tenant.rules.groups.forEach((group, g) => {
        const first = groupNames.get(group.name);
        if (first !== undefined) {
            problems.push(`rules.groups[${g}].name: ${group.name} is also the name of rules.groups[${first}]; each group needs its own name`);
        }
        groupNames.set(group.name, first ?? g);
        group.rules.forEach((rule, r) => {
            const error = promqlSyntaxError(rule.expr);
            if (error) {
                problems.push(`rules.groups[${g}].rules[${r}].expr: in group ${group.name}, ${rule.alert ?? rule.record ?? "a rule"} does not parse as PromQL `
                    + `at line ${error.line}, column ${error.column} (near "${error.near}")`);
            }
        });
    });
    return problems;
}

function semanticProblems(tenant: Omit<Tenant, "name" | "file">): string[] {
    const problems: string[] = [...hoursProblems(tenant.supportHours, "supportHours"), ...ruleProblems(tenant)];
    for (const kind of ["page", "ticket"] as const) {
        const receiver = tenant.routing[kind].receiver;
        if (!(receiver in tenant.receivers)) {
            problems.push(`routing.${kind}.receiver: ${receiver} is not one of receivers (${Object.keys(tenant.receivers).join(", ")})`);
        }
    }
    const both = tenant.routing.page.severities.filter((s) => tenant.routing.ticket.severities.includes(s));
    if (both.length > 0) {
        problems.push(`routing.ticket.severities: ${both.join(", ")} also pages; a severity either pages or tickets`);
    }
    const routed = [...tenant.routing.page.severities, ...tenant.routing.ticket.severities];
    tenant.rules.groups.forEach((group, g) => group.rules.forEach((rule, r) => {
        const key = `rules.groups[${g}].rules[${r}]`;
        if ((rule.alert === undefined) === (rule.record === undefined)) {
            problems.push(`${key}: needs exactly one of alert and record`);
        }
        if (rule.labels && TENANT_LABEL in rule.labels) {
            problems.push(`${key}.labels.${TENANT_LABEL}: set by the platform to the tenant's name; remove it`);
        }
        if (rule.labels && RULE_OWNER_LABEL in rule.labels) {
            problems.push(`${key}.labels.${RULE_OWNER_LABEL}: set by the platform on everything a tenant's rule writes; remove it`);
        }
        if (rule.alert !== undefined && !routed.includes(rule.labels?.severity ?? "")) {
            problems.push(`${key}.labels.severity: ${rule.labels?.severity ?? "missing"}; an alert needs one of the routed severities (${routed.join(", ")})`);
        }
    }));
    return problems;
}

export function validateTenant(raw: unknown, file: string, name: string): Tenant {
    if (!new RegExp(TENANT_NAME).test(name)) {
        throw new TenantFileError(file, [`(file name): ${name} is not a tenant name (lower case, digits and -, 3 to 32 characters)`]);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new TenantFileError(file, ["(top level): must be a mapping of settings"]);
    }
    const data = structuredClone(raw) as Record<string, unknown>;
    if (!validateShape(data)) {
        // oneOf reports every branch; the branch errors name the key well enough.
        const problems = (validateShape.errors ?? []).filter((e) => e.keyword !== "oneOf").map((e) => `${keyOf(e)}: ${describeSchemaError(e)}`);
        throw new TenantFileError(file, [...new Set(problems)]);
    }
    const tenant = data as unknown as Omit<Tenant, "name" | "file">;
    const problems = semanticProblems(tenant);
    if (problems.length > 0) {
        throw new TenantFileError(file, problems);
    }
    return { ...tenant, name, file };
}

/** Every tenant file, validated; `stack` keeps those on that stack. */
export function loadTenants(stack?: string, dir = TENANTS_DIR): Tenant[] {
    if (!fs.existsSync(dir)) {
        return [];
    }
    const shown = (entry: string) => path.relative(process.cwd(), path.resolve(dir, entry)) || entry;
    const all = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    const entries = all.filter((entry) => entry.isFile() && entry.name.endsWith(".yaml"));
    // Beside each tenant's file, a directory of its own: tenants/<name>/dashboards/.
    const stray = all.find((entry) => !entries.includes(entry) && !(entry.isDirectory() && entries.some((e) => e.name === `${entry.name}.yaml`)));
    if (stray) {
        throw new TenantFileError(shown(stray.name), [`(file name): only <tenant>.yaml files, and a <tenant>/ directory beside each, belong in ${shown("")}; `
            + `${stray.isFile() ? `rename it to ${stray.name.replace(/\.[^.]*$/, "")}.yaml if it is a tenant's` : "no tenant file of that name"}, or move it elsewhere`]);
    }
    const tenants = entries.map((entry) => {
        const file = shown(entry.name);
        const { value, problems } = loadWithoutAliases(fs.readFileSync(path.join(dir, entry.name), "utf8"), file);
        if (problems.length > 0) {
            throw new TenantFileError(file, problems);
        }
        const name = entry.name.replace(/\.yaml$/, "");
        return { ...validateTenant(value, file, name), dashboards: loadTenantDashboards(name, path.join(dir, name), shown) };
    });
    checkReceiverNames(tenants);
    checkDashboardUids(tenants.flatMap((t) => t.dashboards), [...DASHBOARDS.map((d) => d.uid), ...tenants.flatMap((t) => [tenantOverviewUid(t.name), tenantFolderUid(t.name)])]);
    return tenants.filter((tenant) => stack === undefined || (tenant.stacks as readonly string[]).includes(stack));
}

/** Receiver names (and so secret keys) join the tenant's name and the receiver's: two tenants must never make the same one. */
function checkReceiverNames(tenants: Tenant[]): void {
    const owners = new Map<string, { tenant: Tenant; receiver: string }>();
    for (const tenant of tenants) {
        for (const receiver of Object.keys(tenant.receivers)) {
            const name = tenantReceiverName(tenant.name, receiver);
            const owner = owners.get(name);
            if (owner) {
                throw new TenantFileError(tenant.file, [`receivers.${receiver}: makes the receiver and secret ${name}, as receivers.${owner.receiver} of ${owner.tenant.file} does; rename one of them`]);
            }
            owners.set(name, { tenant, receiver });
        }
    }
}

/**
 * What a tenant needs of a stack it is on: its regions among the stack's targets regions, and for
 * an email receiver the stack's mail relay. Checked before any resource is registered.
 */
export function checkTenantsOnStack(tenants: Tenant[], env: LoadedEnvironment): void {
    for (const tenant of tenants) {
        const problems: string[] = [];
        const stackRegions = [env.region, ...env.targets.regions];
        (tenant.regions ?? []).forEach((region, i) => {
            if (!stackRegions.includes(region)) {
                problems.push(`regions[${i}]: ${region} is not a targets region of stack ${env.stack} (${stackRegions.join(", ")}; see environments/${env.stack}.yaml region and targets.regions)`);
            }
        });
        for (const [receiver, r] of Object.entries(tenant.receivers)) {
            if (r.kind === "email" && env.receivers.email === undefined) {
                problems.push(`receivers.${receiver}: email goes through the stack's mail relay, and stack ${env.stack} has none `
                    + `(environments/${env.stack}.yaml receivers.email); use a webhook, Slack or PagerDuty receiver there`);
            }
        }
        if (problems.length > 0) {
            throw new TenantFileError(tenant.file, problems);
        }
    }
}

/** The targets regions a tenant registers in on this stack. */
export function tenantRegions(tenant: Tenant, env: Pick<LoadedEnvironment, "region">): string[] {
    return tenant.regions ?? [env.region];
}

/** Whether a receiver has a secret (a URL or a routing key); email receivers use the stack's relay. */
export function hasSecret(receiver: TenantReceiver): boolean {
    return receiver.kind !== "email";
}

/** The secret holding a tenant receiver's URL or key: named as the receiver is in alertmanager.yml. */
export function tenantSecretKey(tenant: string, receiver: string): string {
    return tenantReceiverName(tenant, receiver);
}

export function tenantRuleFileName(tenant: string): string {
    return `${TENANT_RULE_FILE_PREFIX}${tenant}.yml`;
}

/**
 * The tenant's rule file as the nodes run it: everything its rules write carries tenant="<name>" and
 * rule_owner="tenant", set here over whatever the expression yields. Platform rules read no series
 * with rule_owner, and its alerts route by tenant to its receivers only.
 */
export function renderTenantRules(tenant: Tenant): string {
    const groups = tenant.rules.groups.map((group) => ({
        ...group,
        name: `${tenant.name}/${group.name}`,
        rules: group.rules.map((rule) => ({ ...rule, labels: { ...rule.labels, [TENANT_LABEL]: tenant.name, [RULE_OWNER_LABEL]: TENANT_RULE_OWNER } })),
    }));
    return yaml.dump({ groups }, { lineWidth: -1, noRefs: true });
}

/** A promtool test file for the tenant's tests against its rendered rule file. */
export function renderTenantRuleTests(tenant: Tenant): string {
    return yaml.dump({ rule_files: [tenantRuleFileName(tenant.name)], evaluation_interval: "1m", tests: tenant.tests }, { lineWidth: -1, noRefs: true });
}
