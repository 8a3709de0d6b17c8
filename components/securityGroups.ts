import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { INGRESS_PORT } from "./ports";

export const ALB_LISTENER_PORTS = [80, 443];

export interface SecurityGroupsArgs {
    readonly vpcId: pulumi.Input<string>;
    readonly prometheusPort: number;
    readonly nodeExporterPort: number;
    readonly alertmanagerPort: number;
    readonly meshPort: number;
    readonly grafanaPort: number;
    readonly blackboxPort: number;
    /** The ALB signs people in with an OpenID Connect provider, whose token and user-info endpoints it calls over HTTPS. */
    readonly albCallsIdentityProvider?: boolean;
    readonly tags?: Record<string, string>;
}

/**
 * The platform's security groups and every rule between them, in one place: the ALB open on
 * 80/443, the Prometheus nodes reachable on the nginx port from the ALB only, and on the
 * Prometheus, node_exporter and blackbox exporter ports from each other only; the Alertmanagers reachable on 9093
 * from the ALB and the nodes, meshing on 9094 TCP and UDP among themselves only; Grafana reachable
 * from the ALB and scraped by the nodes, reaching the nodes' nginx. No SSH anywhere.
 */
export class SecurityGroups extends pulumi.ComponentResource {
    readonly albSecurityGroupId: pulumi.Output<string>;
    readonly nodeSecurityGroupId: pulumi.Output<string>;
    readonly alertmanagerSecurityGroupId: pulumi.Output<string>;
    readonly grafanaSecurityGroupId: pulumi.Output<string>;

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
        const alertmanagers = group("alertmanager", "Alertmanagers: API from the ALB and the nodes, mesh among themselves");
        const grafana = group("grafana", "Grafana: UI from the ALB, metrics to the nodes");

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
        ([["prometheus", args.prometheusPort], ["node-exporter", args.nodeExporterPort], ["blackbox-exporter", args.blackboxPort]] as const).forEach(([label, port]) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-nodes-${label}`, {
                securityGroupId: nodes.id, ipProtocol: "tcp", fromPort: port, toPort: port,
                referencedSecurityGroupId: nodes.id, description: `${label}, scraped by the other nodes`,
            }, parent);
        });
        new aws.vpc.SecurityGroupEgressRule(`${name}-nodes-out`, {
            securityGroupId: nodes.id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0",
            description: "scrapes, S3, SSM, package and release downloads",
        }, parent);

        new aws.vpc.SecurityGroupEgressRule(`${name}-alb-to-alertmanagers`, {
            securityGroupId: alb.id, ipProtocol: "tcp", fromPort: args.alertmanagerPort, toPort: args.alertmanagerPort,
            referencedSecurityGroupId: alertmanagers.id, description: "to the Alertmanagers",
        }, parent);
        ([["alb", alb], ["nodes", nodes]] as const).forEach(([label, source]) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-alertmanager-from-${label}`, {
                securityGroupId: alertmanagers.id, ipProtocol: "tcp", fromPort: args.alertmanagerPort, toPort: args.alertmanagerPort,
                referencedSecurityGroupId: source.id, description: `Alertmanager API, from the ${label}`,
            }, parent);
        });
        ["tcp", "udp"].forEach((protocol) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-alertmanager-mesh-${protocol}`, {
                securityGroupId: alertmanagers.id, ipProtocol: protocol, fromPort: args.meshPort, toPort: args.meshPort,
                referencedSecurityGroupId: alertmanagers.id, description: `Alertmanager mesh (${protocol}), members only`,
            }, parent);
        });
        new aws.vpc.SecurityGroupEgressRule(`${name}-alertmanagers-out`, {
            securityGroupId: alertmanagers.id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0",
            description: "receivers (PagerDuty, webhooks, email), image pulls, the mesh",
        }, parent);

        if (args.albCallsIdentityProvider) {
            new aws.vpc.SecurityGroupEgressRule(`${name}-alb-to-identity-provider`, {
                securityGroupId: alb.id, ipProtocol: "tcp", fromPort: 443, toPort: 443,
                cidrIpv4: "0.0.0.0/0", description: "the OpenID Connect provider's token and user-info endpoints",
            }, parent);
        }
        new aws.vpc.SecurityGroupEgressRule(`${name}-alb-to-grafana`, {
            securityGroupId: alb.id, ipProtocol: "tcp", fromPort: args.grafanaPort, toPort: args.grafanaPort,
            referencedSecurityGroupId: grafana.id, description: "to Grafana",
        }, parent);
        ([["alb", alb, "Grafana UI, from the ALB"], ["nodes", nodes, "Grafana metrics, scraped by the nodes"]] as const).forEach(([label, source, description]) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-grafana-from-${label}`, {
                securityGroupId: grafana.id, ipProtocol: "tcp", fromPort: args.grafanaPort, toPort: args.grafanaPort,
                referencedSecurityGroupId: source.id, description,
            }, parent);
        });
        new aws.vpc.SecurityGroupIngressRule(`${name}-nodes-from-grafana`, {
            securityGroupId: nodes.id, ipProtocol: "tcp", fromPort: INGRESS_PORT, toPort: INGRESS_PORT,
            referencedSecurityGroupId: grafana.id, description: "nginx auth-proxy, from Grafana's data sources",
        }, parent);
        new aws.vpc.SecurityGroupEgressRule(`${name}-grafana-out`, {
            securityGroupId: grafana.id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0",
            description: "the nodes' nginx, AMP, image pulls",
        }, parent);

        this.albSecurityGroupId = alb.id;
        this.nodeSecurityGroupId = nodes.id;
        this.alertmanagerSecurityGroupId = alertmanagers.id;
        this.grafanaSecurityGroupId = grafana.id;
        this.registerOutputs({
            grafanaSecurityGroupId: this.grafanaSecurityGroupId,
            albSecurityGroupId: this.albSecurityGroupId,
            nodeSecurityGroupId: this.nodeSecurityGroupId,
            alertmanagerSecurityGroupId: this.alertmanagerSecurityGroupId,
        });
    }
}
