import { StackValidationPolicy } from "@pulumi/policy";
import { coversPort, describe, ingressRules, read, TYPES } from "../lib";

export const noSsh: StackValidationPolicy = {
    name: "no-ssh",
    description: "Nothing admits port 22 and no instance carries an SSH key: nodes are reached through SSM Session Manager.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const rule of ingressRules(args.resources)) {
            if (!rule.known) {
                continue;
            }
            if (coversPort(rule.value, 22)) {
                reportViolation(`${describe(rule.value.resource)} admits port 22 (${rule.value.protocol} `
                    + `${rule.value.fromPort ?? "all"}-${rule.value.toPort ?? "all"}). Remove it and use SSM Session Manager.`,
                rule.value.resource.urn);
            }
        }
        for (const instance of args.resources.filter((r) => r.type === TYPES.instance)) {
            const key = read(() => instance.props.keyName as string | undefined);
            if (!key.known || key.value !== undefined) {
                reportViolation(`${describe(instance)} has an SSH key pair. Remove keyName and use SSM Session Manager.`, instance.urn);
            }
        }
    },
};
