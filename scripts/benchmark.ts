// Prints performance figures (not a test): the policy check's throughput through the Analyzer
// RPCs on a generated program of ~5,000 resources, and plan + policy check time per stack.
//   npm run benchmark [-- --resources 5000]
import { performance } from "perf_hooks";
import { parseArgs } from "util";
import * as aws from "@pulumi/aws";
import { PolicyPackServer, readPolicyConfig } from "./lib/analyzer";
import { runProgram } from "./lib/offline";
import { runStackOffline } from "./lib/stackRun";
import * as os from "os";
import * as path from "path";
import { planAll } from "./lib/plan";
import { checkResources } from "./lib/policyCheck";
import { policyConfigFile, STACKS } from "./policyConfig";

/** About `count` resources: groups of a subnet, an encrypted instance with a volume, and an ingress rule. */
function generatedProgram(count: number): () => void {
    return () => {
        const vpc = new aws.ec2.Vpc("vpc", { cidrBlock: "10.0.0.0/8" });
        const group = new aws.ec2.SecurityGroup("group", { vpcId: vpc.id });
        for (let i = 0; (i + 1) * 5 <= count; i++) {
            const zone = `eu-west-1${"abc"[i % 3]}`;
            const subnet = new aws.ec2.Subnet(`subnet-${i}`, { vpcId: vpc.id, availabilityZone: zone, cidrBlock: `10.${i >> 8}.${i & 255}.0/24` });
            const instance = new aws.ec2.Instance(`instance-${i}`, {
                ami: "ami-0123456789abcdef0", instanceType: "t3.micro", subnetId: subnet.id,
                metadataOptions: { httpTokens: "required" }, rootBlockDevice: { encrypted: true },
            });
            const volume = new aws.ebs.Volume(`volume-${i}`, { availabilityZone: zone, size: 10, encrypted: true });
            new aws.ec2.VolumeAttachment(`attachment-${i}`, { deviceName: "/dev/sdf", instanceId: instance.id, volumeId: volume.id });
            new aws.vpc.SecurityGroupIngressRule(`rule-${i}`, {
                securityGroupId: group.id, ipProtocol: "tcp", fromPort: 9100, toPort: 9100, referencedSecurityGroupId: group.id,
            });
        }
    };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { resources: { type: "string", default: "5000" } } });
    const wanted = Number(values.resources);

    let started = performance.now();
    const generated = await runProgram({ stack: "benchmark", program: generatedProgram(wanted) });
    const registerSeconds = (performance.now() - started) / 1000;
    const server = await PolicyPackServer.start();
    try {
        await server.configure(readPolicyConfig(policyConfigFile("dev")));
        started = performance.now();
        const custom = generated.resources.filter((r) => r.custom);
        for (const resource of custom) {
            await server.analyze(resource);
        }
        const analyzeSeconds = (performance.now() - started) / 1000;
        started = performance.now();
        await server.analyzeStack(generated.resources);
        const stackSeconds = (performance.now() - started) / 1000;
        console.log(`generated program: ${generated.resources.length} resources registered under mocks in ${registerSeconds.toFixed(2)} s`);
        console.log(`Analyze (per resource): ${custom.length} calls in ${analyzeSeconds.toFixed(2)} s = ${(custom.length / analyzeSeconds).toFixed(0)} resources/s`);
        console.log(`AnalyzeStack: ${generated.resources.length} resources in ${stackSeconds.toFixed(2)} s = ${(generated.resources.length / stackSeconds).toFixed(0)} resources/s`);
    } finally {
        server.close();
    }

    for (const stack of STACKS) {
        started = performance.now();
        const { run } = await runStackOffline(stack);
        const planSeconds = (performance.now() - started) / 1000;
        started = performance.now();
        const result = await checkResources(run.resources, stack);
        const policySeconds = (performance.now() - started) / 1000;
        console.log(`stack ${stack}: ${run.resources.length} resources, plan ${planSeconds.toFixed(2)} s, policy check ${policySeconds.toFixed(2)} s `
            + `(incl. pack start), ${result.violations.length} violations`);
    }
    started = performance.now();
    const all = await planAll(path.join(os.tmpdir(), "benchmark-plan"));
    const allSeconds = (performance.now() - started) / 1000;
    console.log(`plan --all: ${all.length} stacks planned and checked in one process with one policy pack in ${allSeconds.toFixed(2)} s`);
    const memory = process.memoryUsage();
    console.log(`peak-ish memory of this process: rss ${(memory.rss / 2 ** 20).toFixed(0)} MiB, heap ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB`);
}

main().catch((err: Error) => {
    console.error(`benchmark failed: ${err.message}`);
    process.exit(1);
});
