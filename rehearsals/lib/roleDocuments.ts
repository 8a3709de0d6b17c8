// The IAM documents a run of the program gives a role: its inline policies and the policies of the
// program attached to it (AWS-managed ones are named by ARN only and are not here).
import { CapturedResource, ProgramRun, unwrapSecrets } from "../../scripts/lib/offline";

export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: unknown;
    Action?: string | string[];
    NotAction?: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
}
export interface PolicyDocument { Version: string; Statement: PolicyStatement[] }
export interface NamedDocument { name: string; policy: PolicyDocument }

const inputs = (resource: CapturedResource) => unwrapSecrets<Record<string, any>>(resource.inputs);

/** The one resource a property's value came from. */
function sourceOf(run: ProgramRun, resource: CapturedResource, property: string): CapturedResource | undefined {
    const urns = resource.propertyDependencies[property] ?? [];
    return urns.length === 1 ? run.resources.find((r) => r.urn === urns[0]) : undefined;
}

function parsed(resource: CapturedResource): PolicyDocument {
    const text = inputs(resource).policy;
    if (typeof text !== "string") {
        throw new Error(`${resource.type} ${resource.name}: its policy is not known in this run (${JSON.stringify(text)}); run the program as an update`);
    }
    return JSON.parse(text);
}

export function roleDocuments(run: ProgramRun, role: string): NamedDocument[] {
    const roleResource = run.resources.find((r) => r.type === "aws:iam/role:Role" && r.name === role);
    if (!roleResource) {
        throw new Error(`no role ${role} in the run`);
    }
    const ofRole = (r: CapturedResource) => sourceOf(run, r, "role")?.urn === roleResource.urn;
    const inline = run.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && ofRole(r)).map((p) => ({ name: p.name, policy: parsed(p) }));
    const attached = run.resources.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && ofRole(r))
        .map((a) => sourceOf(run, a, "policyArn"))
        .filter((p): p is CapturedResource => p !== undefined)
        .map((p) => ({ name: p.name, policy: parsed(p) }));
    return [...inline, ...attached];
}
