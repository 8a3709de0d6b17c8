// IAM trust documents shared by the components' roles.
import * as pulumi from "@pulumi/pulumi";

/** A role an AWS service assumes, e.g. ec2.amazonaws.com. */
export function serviceTrustPolicy(service: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
    });
}

/** A role the given IAM principals (role, user or account ARNs) assume. */
export function principalsTrustPolicy(principals: pulumi.Input<string>[]): pulumi.Output<string> {
    return pulumi.all(principals).apply((arns) => JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { AWS: arns }, Action: "sts:AssumeRole" }],
    }));
}
