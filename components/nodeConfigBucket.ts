import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { configRevision, MANIFEST, nodeConfigFiles, renderManifest } from "./render/configSync";
import { PrometheusConfigInput, renderPrometheusConfig } from "./render/prometheusConfig";
import { bucketReadPolicy, createVersionedBucket, VersionedBucketArgs } from "./privateBucket";

/** What one node's configuration set is rendered from. */
export interface NodeConfigSource {
    /** The node's name, and its prefix in the bucket (<name>/). */
    name: string;
    prometheus: PrometheusConfigInput;
    ruleFiles: Record<string, string>;
    htpasswd: string;
}

/** The bucket keeps replaced sets as noncurrent versions for `noncurrentVersionDays`: what was live when. */
export interface NodeConfigBucketArgs extends VersionedBucketArgs {
    /** Each node's name and the paths of its set (MANIFEST aside), known before their content: each object is a resource of its own. */
    readonly nodes: readonly { readonly name: string; readonly paths: readonly string[] }[];
    /** The rendered sets. */
    readonly sets: pulumi.Output<RenderedNodeConfig>;
}

export interface RenderedNodeConfig {
    revision: string;
    /** Node name to its set (relative path to content), MANIFEST included. */
    sets: Record<string, Record<string, string>>;
}

/** Every node's set and one revision over all of them: pure, so the plan and rehearsals render the same. */
export function renderNodeConfigs(nodes: NodeConfigSource[]): RenderedNodeConfig {
    return sealNodeConfigs(Object.fromEntries(nodes.map((node) => [node.name, nodeConfigFiles({
        prometheusYml: renderPrometheusConfig(node.prometheus),
        ruleFiles: node.ruleFiles,
        htpasswd: node.htpasswd,
    })])));
}

/** Adds the revision over all sets and each set's MANIFEST. */
export function sealNodeConfigs(files: Record<string, Record<string, string>>): RenderedNodeConfig {
    const revision = configRevision(files);
    return {
        revision,
        sets: Object.fromEntries(Object.entries(files).map(([node, set]) => [node, { ...set, [MANIFEST]: renderManifest(revision, set) }])),
    };
}

export function nodeConfigPrefix(node: string): string {
    return `${node}/`;
}

/**
 * The Prometheus nodes' configuration as data: prometheus.yml, the rule files and the htpasswd
 * file of each node under <node>/ in a private, versioned bucket, with a MANIFEST written after
 * them. Nodes fetch, check and reload it on a timer, so a change replaces no instance.
 */
export class NodeConfigBucket extends pulumi.ComponentResource {
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    readonly readPolicyArn: pulumi.Output<string>;
    /** The platform-wide revision the nodes report once they run it. */
    readonly revision: pulumi.Output<string>;
    /** Every object of every set: instances wait for them, so a new node finds its set. */
    readonly objects: pulumi.Resource[];

    constructor(name: string, args: NodeConfigBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:prometheus:NodeConfigBucket", name, {}, opts);
        const parent = { parent: this };
        const { bucket, arn: bucketArn, versioning } = createVersionedBucket(name, args, this);
        const readPolicy = new aws.iam.Policy(`${name}-read`, {
            description: "Read the Prometheus nodes' configuration sets",
            policy: bucketArn.apply((arn) => JSON.stringify(bucketReadPolicy(arn))),
        }, parent);

        const rendered = args.sets;
        this.objects = [];
        args.nodes.forEach(({ name: node, paths }) => {
            const objectOf = (file: string, dependsOn: pulumi.Resource[] = []) => new aws.s3.BucketObjectv2(`${name}-${node}-${file.replace(/[/.]/g, "-")}`, {
                bucket: bucket.id,
                key: `${nodeConfigPrefix(node)}${file}`,
                content: rendered.apply((r) => r.sets[node][file]),
                contentType: "text/plain",
                tags: args.tags,
            }, { parent: this, dependsOn: [versioning, ...dependsOn] });
            const files = paths.map((file) => objectOf(file));
            // Written after the files: a node that sees the new manifest also sees the new files.
            this.objects.push(...files, objectOf(MANIFEST, files));
        });

        this.bucketName = bucket.bucket;
        this.bucketArn = bucketArn;
        this.readPolicyArn = readPolicy.arn;
        // A hash of the sets, not a secret, though the htpasswd file in them is.
        this.revision = pulumi.unsecret(rendered.apply((r) => r.revision));
        this.registerOutputs({ bucketName: this.bucketName, readPolicyArn: this.readPolicyArn, revision: this.revision });
    }
}
