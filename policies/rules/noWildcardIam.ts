import { ResourceValidationPolicy } from "@pulumi/policy";
import { read } from "../lib";

const POLICY_TYPES = ["aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"];

interface Statement {
    Effect?: string;
    Action?: string | string[];
    NotAction?: unknown;
    Resource?: string | string[];
}

function list(value: string | string[] | undefined): string[] {
    return value === undefined ? [] : ([] as string[]).concat(value);
}

export const noWildcardIam: ResourceValidationPolicy = {
    name: "no-wildcard-iam",
    description: "No IAM policy allows every action of a service (or NotAction) on every resource.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (!POLICY_TYPES.includes(args.type)) {
            return;
        }
        const document = read(() => args.props.policy as string);
        if (!document.known) {
            return;
        }
        let statements: Statement[];
        try {
            statements = ([] as Statement[]).concat((JSON.parse(document.value) as { Statement?: Statement | Statement[] }).Statement ?? []);
        } catch {
            reportViolation(`The document of '${args.name}' is not valid JSON.`);
            return;
        }
        for (const statement of statements.filter((s) => s.Effect === "Allow" && list(s.Resource).includes("*"))) {
            const wide = list(statement.Action).filter((a) => a === "*" || a.endsWith(":*"));
            if (wide.length > 0 || statement.NotAction !== undefined) {
                reportViolation(`'${args.name}' allows ${wide.length > 0 ? wide.join(", ") : "NotAction"} on every resource. `
                    + "List the actions the code calls, and scope resources where the service allows it.");
            }
        }
    },
};
