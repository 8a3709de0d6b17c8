import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export const INGRESS_PORT = 80;
export const ALB_LISTENER_PORTS = [80, 443];

export interface SecurityGroupsArgs {
    vpcId: pulumi.Input<string>;
    prometheusPort: number;
    nodeExporterPort: number;
    tags?: Record<string, string>;
}

/**
 * The platform's security groups and every rule between them, in one place: the ALB open on
 * 80/443, the Prometheus nodes reachable on the nginx port from the ALB only, and on the
 * Prometheus and node_exporter ports from each other only. No SSH anywhere (SSM instead).
 */
export class SecurityGroups extends pulumi.ComponentResource {
    readonly albSecurityGroupId: pulumi.Output<string>;
    readonly nodeSecurityGroupId: pulumi.Output<string>;

    constructor(name: string, args: SecurityGroupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:network:SecurityGroups", name, {}, opts);
        const parent = { parent: this };
        const group = (suffix: string, description: string) => new aws.ec2.SecurityGroup(`${name}-${suffix}`, {
            vpcId: args.vpcId,
            description,
            tags: { ...args.tags, Name: `${name}-${suffix}` },
        }, parent);
        const alb = group("alb", "Public ALB: HTTPS and the HTTP redirect");
        const nodes = group("prometheus", "Prometheus nodes: nginx from the ALB, metrics between nodes");

        ALB_LISTENER_PORTS.forEach((port) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-alb-${port}-ipv4`, {
                securityGroupId: alb.id, ipProtocol: "tcp", fromPort: port, toPort: port,
                cidrIpv4: "0.0.0.0/0", description: `ALB listener ${port}`,
            }, parent);
            new aws.vpc.SecurityGroupIngressRule(`${name}-alb-${port}-ipv6`, {
                securityGroupId: alb.id, ipProtocol: "tcp", fromPort: port, toPort: port,
                cidrIpv6: "::/0", description: `ALB listener ${port}`,
            }, parent);
        });
        new aws.vpc.SecurityGroupEgressRule(`${name}-alb-to-nodes`, {
            securityGroupId: alb.id, ipProtocol: "tcp", fromPort: INGRESS_PORT, toPort: INGRESS_PORT,
            referencedSecurityGroupId: nodes.id, description: "to the nginx auth-proxy on the nodes",
        }, parent);

        new aws.vpc.SecurityGroupIngressRule(`${name}-nodes-from-alb`, {
            securityGroupId: nodes.id, ipProtocol: "tcp", fromPort: INGRESS_PORT, toPort: INGRESS_PORT,
            referencedSecurityGroupId: alb.id, description: "nginx auth-proxy, from the ALB only",
        }, parent);
        [["prometheus", args.prometheusPort], ["node-exporter", args.nodeExporterPort]].forEach(([label, port]) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-nodes-${label}`, {
                securityGroupId: nodes.id, ipProtocol: "tcp", fromPort: port as number, toPort: port as number,
                referencedSecurityGroupId: nodes.id, description: `${label}, scraped by the other nodes`,
            }, parent);
        });
        new aws.vpc.SecurityGroupEgressRule(`${name}-nodes-out`, {
            securityGroupId: nodes.id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0",
            description: "scrapes, S3, SSM, package and release downloads",
        }, parent);

        this.albSecurityGroupId = alb.id;
        this.nodeSecurityGroupId = nodes.id;
        this.registerOutputs({ albSecurityGroupId: this.albSecurityGroupId, nodeSecurityGroupId: this.nodeSecurityGroupId });
    }
}
