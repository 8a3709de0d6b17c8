import { ResourceValidationPolicy } from "@pulumi/policy";
import { read, TYPES } from "../lib";

export const imdsv2Required: ResourceValidationPolicy = {
    name: "imdsv2-required",
    description: "EC2 instances and launch templates require IMDSv2 session tokens (metadataOptions.httpTokens: required).",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.type !== TYPES.instance && args.type !== TYPES.launchTemplate) {
            return;
        }
        const tokens = read(() => args.props.metadataOptions?.httpTokens as string | undefined);
        if (!tokens.known || tokens.value !== "required") {
            reportViolation(`${args.type.split(":").pop()} '${args.name}' allows IMDSv1 (httpTokens is `
                + `${tokens.known ? tokens.value ?? "not set" : "not known"}). Set metadataOptions.httpTokens: required.`);
        }
    },
};
