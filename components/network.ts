import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NetworkZone {
    availabilityZone: string;
    publicSubnetCidr: string;
    privateSubnetCidr: string;
}

export interface NetworkArgs {
    readonly vpcCidr: string;
    /** Exactly three zones, in order: zone N hosts node N and Alertmanager member N. */
    readonly zones: NetworkZone[];
    /** "single": one NAT gateway in the first zone (cheaper); "perAz": one per zone (zone-independent). */
    readonly natGateways: "single" | "perAz";
    readonly tags?: Record<string, string>;
}

/** A VPC with one public and one private subnet per zone, an internet gateway and NAT. */
export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly vpcCidr: string;
    readonly publicSubnetIds: pulumi.Output<string>[];
    readonly privateSubnetIds: pulumi.Output<string>[];
    readonly publicSubnetCidrs: string[];
    readonly privateSubnetCidrs: string[];
    readonly availabilityZones: string[];
    /** The NAT gateways' public addresses: where the nodes' scrapes of outside targets come from. */
    readonly natEgressAddresses: pulumi.Output<string>[];

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:network:Network", name, {}, opts);
        if (args.zones.length !== 3) {
            throw new Error(`Network ${name}: exactly three zones are needed, got ${args.zones.length}`);
        }
        const parent = { parent: this };
        const tags = (suffix: string, extra: Record<string, string> = {}) => ({ ...args.tags, Name: `${name}-${suffix}`, ...extra });

        const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
            cidrBlock: args.vpcCidr,
            enableDnsHostnames: true,
            enableDnsSupport: true,
            tags: tags("vpc"),
        }, parent);
        const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tags("igw") }, parent);

        const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, tags: tags("public") }, parent);
        new aws.ec2.Route(`${name}-public-default`, {
            routeTableId: publicRoutes.id,
            destinationCidrBlock: "0.0.0.0/0",
            gatewayId: gateway.id,
        }, parent);

        const publicSubnets = args.zones.map((zone, i) => {
            const subnet = new aws.ec2.Subnet(`${name}-public-${i + 1}`, {
                vpcId: vpc.id,
                cidrBlock: zone.publicSubnetCidr,
                availabilityZone: zone.availabilityZone,
                mapPublicIpOnLaunch: false,
                tags: tags(`public-${i + 1}`, { tier: "public" }),
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-public-${i + 1}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }, parent);
            return subnet;
        });

        const natCount = args.natGateways === "perAz" ? args.zones.length : 1;
        const natAddresses = publicSubnets.slice(0, natCount).map((_, i) => new aws.ec2.Eip(`${name}-nat-${i + 1}`, { domain: "vpc", tags: tags(`nat-${i + 1}`) }, parent));
        const natGateways = natAddresses.map((address, i) => new aws.ec2.NatGateway(`${name}-nat-${i + 1}`, {
            allocationId: address.id,
            subnetId: publicSubnets[i].id,
            tags: tags(`nat-${i + 1}`),
        }, { parent: this, dependsOn: [gateway] }));

        const privateSubnets = args.zones.map((zone, i) => {
            const subnet = new aws.ec2.Subnet(`${name}-private-${i + 1}`, {
                vpcId: vpc.id,
                cidrBlock: zone.privateSubnetCidr,
                availabilityZone: zone.availabilityZone,
                mapPublicIpOnLaunch: false,
                tags: tags(`private-${i + 1}`, { tier: "private" }),
            }, parent);
            const routes = new aws.ec2.RouteTable(`${name}-private-${i + 1}`, { vpcId: vpc.id, tags: tags(`private-${i + 1}`) }, parent);
            new aws.ec2.Route(`${name}-private-${i + 1}-default`, {
                routeTableId: routes.id,
                destinationCidrBlock: "0.0.0.0/0",
                natGatewayId: natGateways[Math.min(i, natGateways.length - 1)].id,
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-private-${i + 1}`, { subnetId: subnet.id, routeTableId: routes.id }, parent);
            return subnet;
        });

        this.vpcId = vpc.id;
        this.vpcCidr = args.vpcCidr;
        this.publicSubnetIds = publicSubnets.map((s) => s.id);
        this.privateSubnetIds = privateSubnets.map((s) => s.id);
        this.publicSubnetCidrs = args.zones.map((z) => z.publicSubnetCidr);
        this.privateSubnetCidrs = args.zones.map((z) => z.privateSubnetCidr);
        this.availabilityZones = args.zones.map((z) => z.availabilityZone);
        this.natEgressAddresses = natAddresses.map((address) => address.publicIp);
        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: this.publicSubnetIds,
            privateSubnetIds: this.privateSubnetIds,
        });
    }
}
