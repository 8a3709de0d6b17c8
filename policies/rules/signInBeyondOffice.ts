import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { cidrWithin } from "../../infra/addresses";
import { ACCESS, describe, hasAccess, isWorld, listenerRuleSourceCidrs, read, sources, TYPES } from "../lib";

interface OfficeConfig {
    officeCidrs?: string[];
}

const AUTHENTICATE = ["authenticate-oidc", "authenticate-cognito"];

/** Grafana's settings that make its own login the provider's alone: each variable and the value it must have. */
export const OAUTH_ONLY: Record<string, string> = {
    GF_AUTH_GENERIC_OAUTH_ENABLED: "true",
    GF_AUTH_DISABLE_LOGIN_FORM: "true",
    GF_AUTH_ANONYMOUS_ENABLED: "false",
    GF_USERS_ALLOW_SIGN_UP: "false",
};

/** Whether the rule's actions sign the visitor in before they forward (by order, or by place when no order is set). */
function authenticatesFirst(rule: PolicyResource): boolean {
    const actions = read(() => (rule.props.actions ?? []) as { type: string; order?: number }[]);
    if (!actions.known) {
        return false;
    }
    const rank = (i: number) => actions.value[i].order ?? i;
    const forwards = actions.value.map((a, i) => a.type === "forward" ? rank(i) : Infinity);
    const firstForward = Math.min(...forwards);
    return actions.value.some((a, i) => AUTHENTICATE.includes(a.type) && rank(i) < firstForward);
}

/** Why the Grafana behind `group` may take people who have not signed in: none when its task runs OAuth-only. */
function oauthOnlyProblems(group: PolicyResource, resources: PolicyResource[]): string[] {
    const services = resources.filter((r) => r.type === TYPES.ecsService
        && sources(r, "loadBalancers", TYPES.targetGroup).some((g) => g.urn === group.urn));
    if (services.length === 0) {
        return ["no ECS service serves it, so no Grafana settings can be read"];
    }
    return services.flatMap((service) => {
        const definitions = sources(service, "taskDefinition", TYPES.taskDefinition);
        const containers = definitions.map((definition) => read(() => JSON.parse(definition.props.containerDefinitions as string) as
            { name: string; environment?: { name: string; value: string }[] }[]));
        if (definitions.length === 0 || containers.some((c) => !c.known)) {
            return [`the task definition of ${describe(service)} is not known`];
        }
        return containers.flatMap((c) => c.known ? c.value : []).flatMap((container) => {
            const env = Object.fromEntries((container.environment ?? []).map((e) => [e.name, e.value]));
            return Object.entries(OAUTH_ONLY).filter(([name, value]) => env[name] !== value)
                .map(([name, value]) => `container ${container.name} of ${describe(service)} runs with ${name}=${env[name] ?? "(unset)"}, not ${value}`);
        });
    });
}

export const signInBeyondOffice: StackValidationPolicy = {
    name: "sign-in-beyond-office",
    description: "A listener rule that forwards to a sign-in target group (Grafana reached from anywhere) from beyond the office CIDRs "
        + "signs the visitor in first (an authenticate-oidc or authenticate-cognito action before the forward), or forwards to a Grafana "
        + "whose task signs people in with OAuth only: its login form, anonymous access and sign-up off.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            officeCidrs: { type: "array", items: { type: "string" }, minItems: 1 },
        },
    },
    validateStack: (args, reportViolation) => {
        const office = args.getConfig<OfficeConfig>().officeCidrs;
        for (const rule of args.resources.filter((r) => r.type === TYPES.listenerRule)) {
            const groups = sources(rule, "actions", TYPES.targetGroup).filter((g) => hasAccess(g, ACCESS.signIn));
            if (groups.length === 0) {
                continue;
            }
            const cidrs = listenerRuleSourceCidrs(rule);
            const beyond = cidrs === undefined ? ["any address"]
                : cidrs.filter((c) => office ? !cidrWithin(c, office) : isWorld(c));
            if (beyond.length === 0 || authenticatesFirst(rule)) {
                continue;
            }
            const problems = groups.flatMap((g) => oauthOnlyProblems(g, args.resources));
            if (problems.length > 0) {
                reportViolation(`${describe(rule)} lets ${beyond.join(", ")} reach sign-in target group ${groups.map((g) => g.name).join(", ")} `
                    + `without signing in: ${problems.join("; ")}. Add an authenticate-oidc action ordered before the forward, `
                    + `or run Grafana with ${Object.entries(OAUTH_ONLY).map(([n, v]) => `${n}=${v}`).join(", ")}.`, rule.urn);
            }
        }
    },
};
