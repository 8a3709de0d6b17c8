import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DeepInput } from "./prometheusNode";
import { CONFIG_FILE, configRevision, HTPASSWD_FILE, MANIFEST, nodeConfigFiles, renderManifest, RULES_PREFIX } from "./render/configSync";
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
    /** Names and rule file names are plain strings: each object is a resource of its own. */
    nodes: { name: string; prometheus: DeepInput<PrometheusConfigInput>; ruleFiles: Record<string, pulumi.Input<string>>; htpasswd: pulumi.Input<string> }[];
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
    /** The sources as given, Outputs unresolved: offline tools resolve what a preview knows. */
    readonly sources: NodeConfigBucketArgs["nodes"];
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

        const rendered = pulumi.output(args.nodes).apply((nodes) => renderNodeConfigs(nodes as NodeConfigSource[]));
        this.objects = [];
        args.nodes.forEach(({ name: node, ruleFiles }) => {
            const objectOf = (file: string, dependsOn: pulumi.Resource[] = []) => new aws.s3.BucketObjectv2(`${name}-${node}-${file.replace(/[/.]/g, "-")}`, {
                bucket: bucket.id,
                key: `${nodeConfigPrefix(node)}${file}`,
                content: rendered.apply((r) => r.sets[node][file]),
                contentType: "text/plain",
                tags: args.tags,
            }, { parent: this, dependsOn: [versioning, ...dependsOn] });
            const files = [CONFIG_FILE, ...Object.keys(ruleFiles).map((f) => `${RULES_PREFIX}${f}`), HTPASSWD_FILE].map((file) => objectOf(file));
            // Written after the files: a node that sees the new manifest also sees the new files.
            this.objects.push(...files, objectOf(MANIFEST, files));
        });

        this.bucketName = bucket.bucket;
        this.bucketArn = bucketArn;
        this.readPolicyArn = readPolicy.arn;
        // A hash of the sets, not a secret, though the htpasswd file in them is.
        this.revision = pulumi.unsecret(rendered.apply((r) => r.revision));
        this.sources = args.nodes;
        this.registerOutputs({ bucketName: this.bucketName, readPolicyArn: this.readPolicyArn, revision: this.revision });
    }
}
