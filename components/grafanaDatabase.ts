import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export const DATABASE_PORT = 5432;
export const DATABASE_NAME = "grafana";
export const DATABASE_USER = "grafana";

export interface GrafanaDatabaseArgs {
    readonly vpcId: pulumi.Input<string>;
    /** Private subnets, one per zone. */
    readonly subnetIds: pulumi.Input<string>[];
    /** Grafana's tasks: the only ones that reach the database. */
    readonly clientSecurityGroupId: pulumi.Input<string>;
    readonly instanceClass: string;
    readonly allocatedStorageGiB: number;
    /** PostgreSQL's major version, e.g. "17". */
    readonly engineVersion: string;
    readonly backupRetentionDays: number;
    /** Multi-AZ, deletion-protected and a final snapshot kept, where the stack's data is protected. */
    readonly protectData: boolean;
    readonly physicalNamePrefix: string;
    readonly tags?: Record<string, string>;
}

/**
 * Grafana's PostgreSQL on RDS: encrypted, private, TLS only (rds.force_ssl), reached by Grafana's
 * tasks alone, with automated backups. Where data is protected it runs Multi-AZ, cannot be deleted,
 * and leaves a final snapshot if it is ever replaced.
 */
export class GrafanaDatabase extends pulumi.ComponentResource {
    readonly address: pulumi.Output<string>;
    readonly port: number = DATABASE_PORT;
    readonly name: string = DATABASE_NAME;
    readonly user: string = DATABASE_USER;
    readonly password: pulumi.Output<string>;
    readonly instanceIdentifier: pulumi.Output<string>;

    constructor(name: string, args: GrafanaDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:observability:GrafanaDatabase", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags };
        const identifier = `${args.physicalNamePrefix}-${name}`;

        const securityGroup = new aws.ec2.SecurityGroup(name, {
            vpcId: args.vpcId,
            description: "Grafana's database: PostgreSQL from Grafana's tasks only",
            tags: { ...tags, Name: identifier },
        }, parent);
        new aws.vpc.SecurityGroupIngressRule(`${name}-from-grafana`, {
            securityGroupId: securityGroup.id, ipProtocol: "tcp", fromPort: DATABASE_PORT, toPort: DATABASE_PORT,
            referencedSecurityGroupId: args.clientSecurityGroupId, description: "PostgreSQL, from Grafana",
        }, parent);
        const subnets = new aws.rds.SubnetGroup(name, {
            name: identifier,
            description: "Grafana's database: the private subnets",
            subnetIds: args.subnetIds,
            tags,
        }, parent);
        const parameters = new aws.rds.ParameterGroup(name, {
            name: `${identifier}-postgres${args.engineVersion}`,
            family: `postgres${args.engineVersion}`,
            description: "Grafana's database: TLS only",
            parameters: [{ name: "rds.force_ssl", value: "1" }],
            tags,
        }, parent);
        const password = new random.RandomPassword(`${name}-password`, { length: 40, special: false }, parent);

        const instance = new aws.rds.Instance(name, {
            identifier,
            engine: "postgres",
            engineVersion: args.engineVersion,
            autoMinorVersionUpgrade: true,
            instanceClass: args.instanceClass,
            allocatedStorage: args.allocatedStorageGiB,
            storageType: "gp3",
            storageEncrypted: true,
            dbName: DATABASE_NAME,
            username: DATABASE_USER,
            password: password.result,
            port: DATABASE_PORT,
            dbSubnetGroupName: subnets.name,
            vpcSecurityGroupIds: [securityGroup.id],
            parameterGroupName: parameters.name,
            publiclyAccessible: false,
            multiAz: args.protectData,
            deletionProtection: args.protectData,
            skipFinalSnapshot: !args.protectData,
            finalSnapshotIdentifier: args.protectData ? `${identifier}-final` : undefined,
            backupRetentionPeriod: args.backupRetentionDays,
            // UTC, before the data volumes' snapshots and outside office hours.
            backupWindow: "01:00-01:30",
            maintenanceWindow: "sun:01:30-sun:02:30",
            copyTagsToSnapshot: true,
            tags,
        }, { parent: this, protect: args.protectData });

        this.address = instance.address;
        this.password = pulumi.secret(password.result);
        this.instanceIdentifier = instance.identifier;
        this.registerOutputs({ address: this.address, instanceIdentifier: this.instanceIdentifier });
    }
}
