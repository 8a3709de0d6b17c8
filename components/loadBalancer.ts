import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ALB_LOG_PREFIX } from "./accessLogsBucket";
import { HTTP_PORT, HTTPS_PORT, INGRESS_PORT } from "./ports";

/** Tag on every target group telling the policy pack who may reach it. */
export const ACCESS_TAG = "platform:access";
export type Access = "basic-auth-proxy" | "office-only";

export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/** An ALB condition holds at most three values (and a rule five): one host, three source CIDRs. */
export const SOURCE_CIDRS_PER_RULE = 3;

export interface LoadBalancerArgs {
    readonly vpcId: pulumi.Input<string>;
    readonly publicSubnetIds: pulumi.Input<string>[];
    readonly securityGroupId: pulumi.Input<string>;
    readonly certificateArn: pulumi.Input<string>;
    readonly officeCidrs: string[];
    /** prom-N.<domain>, in node order. */
    readonly prometheusHosts: string[];
    /** Instance IDs of the Prometheus nodes, in the same order. */
    readonly prometheusInstanceIds: pulumi.Input<string>[];
    /** alerts-N.<domain>, in member order, and the host answered by any member. */
    readonly alertmanagerHosts: string[];
    readonly alertmanagerHost: string;
    readonly alertmanagerPort: number;
    /** grafana.<domain>, office-only like the Alertmanagers. */
    readonly grafanaHost: string;
    readonly grafanaPort: number;
    /** The access-log bucket, and what must exist before the ALB may write there. */
    readonly accessLogsBucketName: pulumi.Input<string>;
    readonly accessLogsReady: pulumi.Resource;
    readonly tags?: Record<string, string>;
}

function chunk<T>(items: T[], size: number): T[][] {
    const chunks: T[][] = [];
    for (let i = 0; i < items.length; i += size) {
        chunks.push(items.slice(i, i + size));
    }
    return chunks;
}

/**
 * The public ALB: HTTPS with a modern TLS policy, HTTP redirected, a fixed 404 by default.
 * prom-N goes to node N's nginx auth-proxy (which asks non-office clients for basic auth);
 * alerts-N goes to Alertmanager member N, and grafana to Grafana, only from the office CIDRs.
 */
export class LoadBalancer extends pulumi.ComponentResource {
    readonly loadBalancerDnsName: pulumi.Output<string>;
    readonly loadBalancerArn: pulumi.Output<string>;
    readonly alertmanagerTargetGroupArns: pulumi.Output<string>[];
    readonly alertmanagerAllTargetGroupArn: pulumi.Output<string>;
    readonly grafanaTargetGroupArn: pulumi.Output<string>;
    /** Resources a service registering in the target groups must wait for. */
    readonly listenerRules: aws.lb.ListenerRule[] = [];

    constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        // Named NginxIngress before: the alias keeps every resource under it in place.
        super("platform:ingress:LoadBalancer", name, {}, pulumi.mergeOptions(opts, { aliases: [{ type: "platform:ingress:NginxIngress" }] }));
        const parent = { parent: this };
        const tags = { ...args.tags };

        const alb = new aws.lb.LoadBalancer(name, {
            loadBalancerType: "application",
            internal: false,
            subnets: args.publicSubnetIds,
            securityGroups: [args.securityGroupId],
            dropInvalidHeaderFields: true,
            idleTimeout: 120,
            accessLogs: { bucket: args.accessLogsBucketName, prefix: ALB_LOG_PREFIX, enabled: true },
            tags,
        }, { parent: this, dependsOn: [args.accessLogsReady] });

        new aws.lb.Listener(`${name}-http`, {
            loadBalancerArn: alb.arn,
            port: HTTP_PORT,
            protocol: "HTTP",
            defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: String(HTTPS_PORT), statusCode: "HTTP_301" } }],
            tags,
        }, parent);
        const https = new aws.lb.Listener(`${name}-https`, {
            loadBalancerArn: alb.arn,
            port: HTTPS_PORT,
            protocol: "HTTPS",
            sslPolicy: TLS_POLICY,
            certificateArn: args.certificateArn,
            defaultActions: [{ type: "fixed-response", fixedResponse: { contentType: "text/plain", messageBody: "Not found", statusCode: "404" } }],
            tags,
        }, parent);

        const targetGroup = (suffix: string, access: Access, port: number, targetType: "instance" | "ip", healthPath: string) =>
            new aws.lb.TargetGroup(`${name}-${suffix}`, {
                vpcId: args.vpcId,
                port,
                protocol: "HTTP",
                targetType,
                deregistrationDelay: 30,
                healthCheck: { path: healthPath, matcher: "200", interval: 15, healthyThreshold: 2, unhealthyThreshold: 3 },
                tags: { ...tags, [ACCESS_TAG]: access },
            }, parent);

        let priority = 100;
        const rule = (ruleName: string, host: string, targetGroupArn: pulumi.Input<string>, sourceCidrs?: string[]) => {
            const created = new aws.lb.ListenerRule(`${name}-${ruleName}`, {
                listenerArn: https.arn,
                priority: priority++,
                conditions: [
                    { hostHeader: { values: [host] } },
                    ...(sourceCidrs ? [{ sourceIp: { values: sourceCidrs } }] : []),
                ],
                actions: [{ type: "forward", targetGroupArn }],
                tags,
            }, parent);
            this.listenerRules.push(created);
        };

        args.prometheusHosts.forEach((host, i) => {
            const group = targetGroup(`prom-${i + 1}`, "basic-auth-proxy", INGRESS_PORT, "instance", "/health");
            new aws.lb.TargetGroupAttachment(`${name}-prom-${i + 1}`, {
                targetGroupArn: group.arn,
                targetId: args.prometheusInstanceIds[i],
                port: INGRESS_PORT,
            }, parent);
            rule(`prom-${i + 1}`, host, group.arn);
        });

        const officeChunks = chunk(args.officeCidrs, SOURCE_CIDRS_PER_RULE);
        const officeRules = (ruleName: string, host: string, targetGroupArn: pulumi.Input<string>) =>
            officeChunks.forEach((cidrs, i) => rule(officeChunks.length > 1 ? `${ruleName}-${i + 1}` : ruleName, host, targetGroupArn, cidrs));
        const memberGroups = args.alertmanagerHosts.map((host, i) => {
            const group = targetGroup(`alerts-${i + 1}`, "office-only", args.alertmanagerPort, "ip", "/-/healthy");
            officeRules(`alerts-${i + 1}`, host, group.arn);
            return group;
        });
        const allGroup = targetGroup("alerts", "office-only", args.alertmanagerPort, "ip", "/-/healthy");
        officeRules("alerts", args.alertmanagerHost, allGroup.arn);
        const grafanaGroup = targetGroup("grafana", "office-only", args.grafanaPort, "ip", "/api/health");
        officeRules("grafana", args.grafanaHost, grafanaGroup.arn);

        this.loadBalancerDnsName = alb.dnsName;
        this.loadBalancerArn = alb.arn;
        this.alertmanagerTargetGroupArns = memberGroups.map((g) => g.arn);
        this.alertmanagerAllTargetGroupArn = allGroup.arn;
        this.grafanaTargetGroupArn = grafanaGroup.arn;
        this.registerOutputs({ loadBalancerDnsName: this.loadBalancerDnsName });
    }
}
