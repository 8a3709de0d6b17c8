import { StackValidationPolicy } from "@pulumi/policy";
import { describe, read, stackOf } from "../lib";

const WORKSPACE = "aws:amp/workspace:Workspace";

export const ampWorkspacePerStack: StackValidationPolicy = {
    name: "amp-workspace-per-stack",
    description: "Each stack has at most one AMP workspace, named after the stack, so no workspace is shared across stacks.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const workspaces = args.resources.filter((r) => r.type === WORKSPACE);
        if (workspaces.length > 1) {
            reportViolation(`${workspaces.length} AMP workspaces in one stack (${workspaces.map((w) => w.name).join(", ")}). Keep one per stack.`);
        }
        for (const workspace of workspaces) {
            const stack = stackOf(workspace.urn);
            const alias = read(() => workspace.props.alias as string | undefined);
            if (!alias.known || !alias.value || !alias.value.split(/[^a-zA-Z0-9]+/).includes(stack)) {
                reportViolation(`${describe(workspace)} has alias ${alias.known ? JSON.stringify(alias.value) : "(unknown)"}, which does not name `
                    + `stack ${stack}. Name the workspace after its stack (e.g. <project>-${stack}).`, workspace.urn);
            }
        }
    },
};
