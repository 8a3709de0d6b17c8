import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceTrustPolicy } from "./iamDocuments";

export const SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore";

export interface NodeRoleArgs {
    /** Policies the nodes get beyond SSM Session Manager, e.g. reading the targets bucket. */
    readonly policyArns: pulumi.Input<string>[];
    readonly partition?: string;
    readonly tags?: Record<string, string>;
}

/** The instance role and profile of the Prometheus nodes: SSM Session Manager plus what is passed in. */
export class NodeRole extends pulumi.ComponentResource {
    readonly roleName: pulumi.Output<string>;
    readonly roleArn: pulumi.Output<string>;
    readonly instanceProfileName: pulumi.Output<string>;

    constructor(name: string, args: NodeRoleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:prometheus:NodeRole", name, {}, opts);
        const parent = { parent: this };
        const role = new aws.iam.Role(name, {
            description: "Prometheus nodes: SSM Session Manager and the policies attached beside it",
            assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
            tags: args.tags,
        }, parent);
        const managed = `arn:${args.partition ?? "aws"}:iam::aws:policy/${SSM_CORE_POLICY}`;
        [managed, ...args.policyArns].forEach((policyArn, i) => {
            new aws.iam.RolePolicyAttachment(`${name}-${i}`, { role: role.name, policyArn }, parent);
        });
        const profile = new aws.iam.InstanceProfile(name, { role: role.name, tags: args.tags }, parent);

        this.roleName = role.name;
        this.roleArn = role.arn;
        this.instanceProfileName = profile.name;
        this.registerOutputs({ roleArn: this.roleArn, instanceProfileName: this.instanceProfileName });
    }
}
