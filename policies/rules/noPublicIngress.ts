import { StackValidationPolicy } from "@pulumi/policy";
import { coversPort, describe, ingressRules, isWorld, loadBalancerGroups } from "../lib";

export const noPublicIngress: StackValidationPolicy = {
    name: "no-public-ingress",
    description: "No security group admits 0.0.0.0/0 or ::/0, except an ALB's on 80 and 443.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const albGroups = loadBalancerGroups(args.resources);
        for (const rule of ingressRules(args.resources)) {
            if (!rule.known) {
                continue;
            }
            const { resource, group, cidrs } = rule.value;
            // ALB groups are office-ip-only-alb-rules' to judge, port 22 no-ssh's.
            if ((group && albGroups.has(group.urn)) || coversPort(rule.value, 22)) {
                continue;
            }
            const world = cidrs.filter(isWorld);
            if (world.length > 0) {
                reportViolation(`${describe(resource)} admits ${world.join(" and ")} on ${rule.value.protocol} `
                    + `${rule.value.fromPort ?? "all"}-${rule.value.toPort ?? "all"}${group ? ` to '${group.name}'` : ""}. `
                    + "Admit the security group of the caller (e.g. the ALB's) instead of an address range.", resource.urn);
            }
        }
    },
};
