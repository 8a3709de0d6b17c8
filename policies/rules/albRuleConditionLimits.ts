import { ResourceValidationPolicy } from "@pulumi/policy";
import { read, TYPES } from "../lib";

/** Elastic Load Balancing's limits on a listener rule's conditions. */
export const ALB_VALUES_PER_CONDITION = 3;
export const ALB_VALUES_PER_RULE = 5;
/** Condition kinds a rule may hold once at most; http-header and query-string may repeat. */
const SINGLE_KINDS = ["hostHeader", "httpRequestMethod", "pathPattern", "sourceIp"];

interface Condition {
    hostHeader?: { values?: string[] };
    httpHeader?: { values?: string[] };
    httpRequestMethod?: { values?: string[] };
    pathPattern?: { values?: string[] };
    sourceIp?: { values?: string[] };
    queryStrings?: unknown[];
}

function kindsAndValues(condition: Condition): [string, number][] {
    return Object.entries(condition)
        .filter(([, value]) => value !== undefined && value !== null)
        .map(([kind, value]) => [kind, kind === "queryStrings" ? (value as unknown[]).length : ((value as { values?: string[] }).values ?? []).length]);
}

export const albRuleConditionLimits: ResourceValidationPolicy = {
    name: "alb-rule-condition-limits",
    description: `ALB listener rules stay within Elastic Load Balancing's limits: at most ${ALB_VALUES_PER_CONDITION} values per condition, `
        + `${ALB_VALUES_PER_RULE} per rule, and host-header, http-request-method, path-pattern and source-ip once each.`,
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.type !== TYPES.listenerRule) {
            return;
        }
        const conditions = read(() => (args.props.conditions ?? []) as Condition[]);
        if (!conditions.known) {
            reportViolation(`ListenerRule '${args.name}' has conditions that are not known; its limits cannot be checked.`);
            return;
        }
        const counted = conditions.value.flatMap(kindsAndValues);
        for (const [kind, values] of counted.filter(([, n]) => n > ALB_VALUES_PER_CONDITION)) {
            reportViolation(`ListenerRule '${args.name}' has ${values} values in its ${kind} condition; the ALB accepts `
                + `${ALB_VALUES_PER_CONDITION}. Split the values over several rules with the same action.`);
        }
        const total = counted.reduce((sum, [, n]) => sum + n, 0);
        if (total > ALB_VALUES_PER_RULE) {
            reportViolation(`ListenerRule '${args.name}' evaluates ${total} condition values; the ALB accepts ${ALB_VALUES_PER_RULE} per rule. `
                + "Split it into several rules with the same action.");
        }
        for (const kind of SINGLE_KINDS) {
            const count = counted.filter(([k]) => k === kind).length;
            if (count > 1) {
                reportViolation(`ListenerRule '${args.name}' has ${count} ${kind} conditions; the ALB accepts one. Merge them, or split the rule.`);
            }
        }
    },
};
