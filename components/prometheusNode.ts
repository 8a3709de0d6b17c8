import * as zlib from "zlib";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { NodeSystemSet } from "./render/cloudInit";

export const DATA_DEVICE_NAME = "/dev/sdf";
/** Instance properties whose change replaces or stops the node: applied to the rollout node only. */
export const GATED_PROPERTIES = ["ami", "instanceType", "userDataBase64"] as const;

export interface DataVolumeArgs {
    readonly sizeGiB: number;
    readonly type: string;
    readonly iops?: number;
    readonly throughputMiBps?: number;
}

export interface PrometheusNodeArgs {
    /** The shard it scrapes for (1-based): tagged, so the three-zone rule holds per shard. */
    readonly shard: number;
    readonly availabilityZone: string;
    readonly subnetId: pulumi.Input<string>;
    /** Fixed address inside the subnet, so every node's config can name the others before they exist. */
    readonly privateIp: string;
    readonly securityGroupIds: pulumi.Input<string>[];
    readonly instanceProfileName: pulumi.Input<string>;
    readonly amiId: pulumi.Input<string>;
    readonly instanceType: string;
    readonly rootVolumeGiB: number;
    readonly dataVolume: DataVolumeArgs;
    /** KMS key for the volumes; the account's default EBS key when absent. */
    readonly kmsKeyId?: pulumi.Input<string>;
    /** The data volume cannot be deleted through Pulumi, and a replaced one is kept. Otherwise it is deleted after a final snapshot. */
    readonly protectData: boolean;
    /** Recreate the data volume from this snapshot (a restore); the old volume is kept where data is protected. */
    readonly dataVolumeSnapshotId?: string;
    /** Tags only the data volume carries, e.g. the one its snapshot policy targets. */
    readonly dataVolumeTags?: Record<string, string>;
    /**
     * Whether this update may apply a new AMI, instance type or user data to the node (replacing
     * or restarting it). Only one node at a time should: the others ignore such changes.
     */
    readonly applyUpdates: boolean;
    /** What the node fetches at first boot (its configuration set): created before the instance. */
    readonly bootDependsOn?: pulumi.Resource[];
    /**
     * The node's rendered cloud-config and system set, given its data volume's ID (the volume is this
     * component's own). The cloud-config holds the bootstrap, which fetches the system set from
     * `systemSetBucket` and checks it against the sha256 it names.
     */
    readonly render: (volumeId: pulumi.Output<string>) => pulumi.Output<{ cloudConfig: string; systemSet: NodeSystemSet }>;
    readonly systemSetBucket: pulumi.Input<string>;
    readonly tags?: Record<string, string>;
}

/** EC2 takes at most 16 KiB of user data, counted before base64. */
export const USER_DATA_LIMIT_BYTES = 16384;
/** The share of it user data may take, so the next script or unit does not break a deploy. */
export const USER_DATA_HEADROOM = 0.75;

/** cloud-init accepts gzip user data; it keeps the rendered document under EC2's limit, or the node is named. */
export function encodeUserData(cloudConfig: string, node = "a node"): string {
    const gzipped = zlib.gzipSync(Buffer.from(cloudConfig, "utf8"), { level: 9 });
    if (gzipped.length > USER_DATA_LIMIT_BYTES) {
        throw new Error(`${node}: its user data is ${gzipped.length} bytes gzipped, over EC2's ${USER_DATA_LIMIT_BYTES}`);
    }
    return gzipped.toString("base64");
}

/** The cloud-config an instance's userDataBase64 holds (what cloud-init reads). */
export function decodeUserData(userDataBase64: string): string {
    return zlib.gunzipSync(Buffer.from(userDataBase64, "base64")).toString("utf8");
}

/**
 * One Prometheus server: an EC2 instance (SSM, IMDSv2, encrypted root, no SSH key) and its own
 * encrypted data volume in the same zone, attached at /mnt and kept when the instance goes.
 */
export class PrometheusNode extends pulumi.ComponentResource {
    readonly name: string;
    readonly instanceId: pulumi.Output<string>;
    readonly privateIp: pulumi.Output<string>;
    readonly availabilityZone: string;
    readonly dataVolumeId: pulumi.Output<string>;

    constructor(name: string, args: PrometheusNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:prometheus:PrometheusNode", name, {}, opts);
        const tags = { ...args.tags, Name: name, "prometheus-replica": name, "prometheus-shard": String(args.shard) };

        const dataVolume = new aws.ebs.Volume(`${name}-data`, {
            availabilityZone: args.availabilityZone,
            size: args.dataVolume.sizeGiB,
            type: args.dataVolume.type,
            iops: args.dataVolume.iops,
            throughput: args.dataVolume.throughputMiBps,
            encrypted: true,
            kmsKeyId: args.kmsKeyId,
            snapshotId: args.dataVolumeSnapshotId,
            finalSnapshot: true,
            tags: { ...tags, ...args.dataVolumeTags, Name: `${name}-data` },
        }, { parent: this, protect: args.protectData, retainOnDelete: args.protectData });

        const rendered = args.render(dataVolume.id);
        // Content-addressed: a new set is a new object, and the old one stays until the update is done.
        const systemSet = new aws.s3.BucketObjectv2(`${name}-system-set`, {
            bucket: args.systemSetBucket,
            key: rendered.apply((r) => r.systemSet.key),
            content: rendered.apply((r) => r.systemSet.content),
            contentType: "application/json",
            tags: args.tags,
        }, { parent: this });
        const cloudConfig = rendered.apply((r) => r.cloudConfig);

        const instance = new aws.ec2.Instance(name, {
            ami: args.amiId,
            instanceType: args.instanceType,
            availabilityZone: args.availabilityZone,
            subnetId: args.subnetId,
            privateIp: args.privateIp,
            vpcSecurityGroupIds: args.securityGroupIds,
            iamInstanceProfile: args.instanceProfileName,
            associatePublicIpAddress: false,
            monitoring: true,
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
            rootBlockDevice: {
                encrypted: true,
                kmsKeyId: args.kmsKeyId,
                volumeType: "gp3",
                volumeSize: args.rootVolumeGiB,
                deleteOnTermination: true,
                // Not volumeTags: those would also claim the data volume's tags and flip them on every refresh.
                tags: { ...tags, Name: `${name}-root` },
            },
            userDataBase64: cloudConfig.apply((config) => encodeUserData(config, name)),
            userDataReplaceOnChange: true,
            tags,
        }, {
            parent: this,
            dependsOn: [...(args.bootDependsOn ?? []), systemSet],
            // The fixed private IP and the data volume can only move once the old instance is gone.
            deleteBeforeReplace: true,
            ignoreChanges: args.applyUpdates ? [] : [...GATED_PROPERTIES],
        });

        new aws.ec2.VolumeAttachment(`${name}-data`, {
            deviceName: DATA_DEVICE_NAME,
            instanceId: instance.id,
            volumeId: dataVolume.id,
            stopInstanceBeforeDetaching: true,
        }, { parent: this, deleteBeforeReplace: true });

        this.name = name;
        this.instanceId = instance.id;
        this.privateIp = pulumi.output(args.privateIp);
        this.availabilityZone = args.availabilityZone;
        this.dataVolumeId = dataVolume.id;
        this.registerOutputs({
            instanceId: this.instanceId,
            privateIp: this.privateIp,
            dataVolumeId: this.dataVolumeId,
        });
    }
}
