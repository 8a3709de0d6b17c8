import { StackValidationPolicy } from "@pulumi/policy";
import { cidrWithin } from "../../infra/addresses";
import {
    ACCESS, coversPort, describe, hasAccess, ingressRules, isWorld, listenerRuleSourceCidrs, loadBalancerGroups, read, sources, stackOf, TYPES,
} from "../lib";

/** Stacks that must be given the office CIDRs through --policy-pack-config. */
const CONFIG_REQUIRED = ["staging", "production"];

interface OfficeConfig {
    officeCidrs?: string[];
}

export const officeIpOnlyAlbRules: StackValidationPolicy = {
    name: "office-ip-only-alb-rules",
    description: "ALB rules reach office-only targets (Alertmanager, Grafana) only from the office CIDRs; default actions never forward; "
        + "ALB security groups open only 80 and 443. Target groups tagged basic-auth-proxy are nginx's to guard, and sign-in "
        + "ones sign-in-beyond-office's.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            officeCidrs: { type: "array", items: { type: "string" }, minItems: 1 },
        },
    },
    validateStack: (args, reportViolation) => {
        const config = args.getConfig<OfficeConfig>();
        const office = config.officeCidrs;
        const stack = args.resources.length > 0 ? stackOf(args.resources[0].urn) : "";
        if (office === undefined && CONFIG_REQUIRED.includes(stack)) {
            reportViolation(`Stack ${stack} must be checked with its office CIDRs: run with `
                + `--policy-pack-config policies/config/${stack}.json.`);
        }

        for (const listener of args.resources.filter((r) => r.type === TYPES.listener)) {
            const types = read(() => (listener.props.defaultActions ?? []).map((a: { type: string }) => a.type) as string[]);
            if (!types.known || types.value.includes("forward")) {
                reportViolation(`${describe(listener)} forwards by default (or its default action is not known). `
                    + "Make the default action a fixed 404 and route hosts with listener rules.", listener.urn);
            }
        }

        for (const rule of args.resources.filter((r) => r.type === TYPES.listenerRule)) {
            const groups = sources(rule, "actions", TYPES.targetGroup);
            const officeOnly = groups.filter((g) => !hasAccess(g, ACCESS.behindAuthProxy) && !hasAccess(g, ACCESS.signIn));
            if (officeOnly.length === 0) {
                continue;
            }
            const cidrs = listenerRuleSourceCidrs(rule);
            const names = officeOnly.map((g) => g.name).join(", ");
            if (cidrs === undefined) {
                reportViolation(`${describe(rule)} forwards to office-only target group ${names} without a source-ip condition. `
                    + "Add a source-ip condition listing the office CIDRs.", rule.urn);
            } else if (office !== undefined) {
                const outside = cidrs.filter((c) => !cidrWithin(c, office));
                if (outside.length > 0) {
                    reportViolation(`${describe(rule)} lets ${outside.join(", ")} reach office-only target group ${names}; `
                        + `only ${office.join(", ")} may. Narrow its source-ip condition to the office CIDRs.`, rule.urn);
                }
            } else if (cidrs.some(isWorld)) {
                reportViolation(`${describe(rule)} lets any address reach office-only target group ${names}. `
                    + "Narrow its source-ip condition to the office CIDRs.", rule.urn);
            }
        }

        const albGroups = loadBalancerGroups(args.resources);
        for (const rule of ingressRules(args.resources)) {
            if (!rule.known) {
                continue;
            }
            const { group } = rule.value;
            // Port 22 is no-ssh's to report.
            if (!group || !albGroups.has(group.urn) || coversPort(rule.value, 22)) {
                continue;
            }
            const port = rule.value.fromPort;
            if (rule.value.protocol !== "tcp" || port !== rule.value.toPort || (port !== 80 && port !== 443)) {
                reportViolation(`${describe(rule.value.resource)} opens ${rule.value.protocol} ${rule.value.fromPort}-${rule.value.toPort} `
                    + `on ALB security group '${group.name}'. An ALB security group may open only TCP 80 and 443.`, rule.value.resource.urn);
            }
        }
    },
};
