// What only the cloud knows, asked before any resource is registered: the region and zones the
// stack names exist, who deploys, and the node image.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { LoadedEnvironment } from "./environment";
import { EnvironmentError, StackFileError } from "./inputErrors";

export interface CloudFacts {
    readonly accountId: string;
    readonly partition: string;
    readonly amiId: string;
}

/** Checks the stack's region and zones against the provider's, naming the file and key of a mismatch. */
export async function checkAgainstCloud(env: LoadedEnvironment): Promise<void> {
    const stackFile = `Pulumi.${env.stack}.yaml`;
    const region = new pulumi.Config("aws").get("region");
    if (region === undefined) {
        throw new StackFileError(stackFile, [`aws:region: missing; set it to ${env.region} (pulumi config set aws:region ${env.region})`]);
    }
    if (region !== env.region) {
        throw new EnvironmentError(env.file, [`region: ${env.region} differs from aws:region ${region} in ${stackFile}`]);
    }
    const zones = await aws.getAvailabilityZones({ state: "available" });
    const problems = env.availabilityZones
        .map((zone, i) => zones.names.includes(zone) ? undefined : `availabilityZones[${i}]: ${zone} is not an available zone of ${env.region} (available: ${zones.names.join(", ")})`)
        .filter((p): p is string => p !== undefined);
    if (problems.length > 0) {
        throw new EnvironmentError(env.file, problems);
    }
}

/** The account, its partition and the newest image matching the stack's AMI settings. */
export async function lookUpCloud(env: LoadedEnvironment): Promise<CloudFacts> {
    const identity = await aws.getCallerIdentity({});
    const partition = (await aws.getPartition({})).partition;
    const ami = await aws.ec2.getAmi({
        owners: [env.ami.owner],
        mostRecent: true,
        filters: [
            { name: "name", values: [env.ami.namePattern] },
            { name: "architecture", values: ["x86_64"] },
            { name: "root-device-type", values: ["ebs"] },
            { name: "virtualization-type", values: ["hvm"] },
        ],
    });
    return { accountId: identity.accountId, partition, amiId: ami.id };
}
