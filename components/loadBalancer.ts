import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ALB_LOG_PREFIX } from "./accessLogsBucket";
import { HTTP_PORT, HTTPS_PORT, INGRESS_PORT } from "./ports";

/** Tag on every target group telling the policy pack who may reach it. */
export const ACCESS_TAG = "platform:access";
/** sign-in: reached from anywhere, after the ALB's OpenID Connect sign-in (the policy pack's sign-in-beyond-office). */
export type Access = "basic-auth-proxy" | "office-only" | "sign-in";

/** The organisation's OpenID Connect provider, which the ALB signs people in with before Grafana. */
export interface AlbSignIn {
    readonly issuer: string;
    readonly authorizationEndpoint: string;
    readonly tokenEndpoint: string;
    readonly userInfoEndpoint: string;
    readonly clientId: string;
    readonly clientSecret: pulumi.Input<string>;
    readonly scopes: string[];
    readonly sessionTimeoutSeconds: number;
}

export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/** An ALB condition holds at most three values (and a rule five): one host, three source CIDRs. */
export const SOURCE_CIDRS_PER_RULE = 3;

export interface LoadBalancerArgs {
    readonly vpcId: pulumi.Input<string>;
    readonly publicSubnetIds: pulumi.Input<string>[];
    readonly securityGroupId: pulumi.Input<string>;
    readonly certificateArn: pulumi.Input<string>;
    readonly officeCidrs: string[];
    /** Each node's name and public host (<name>.<domain>), shard by shard and zone by zone: its place sets its rule's priority. */
    readonly prometheusNodes: { readonly name: string; readonly host: string }[];
    /** Instance IDs of the Prometheus nodes, in the same order. */
    readonly prometheusInstanceIds: pulumi.Input<string>[];
    /** alerts-N.<domain>, in member order, and the host answered by any member. */
    readonly alertmanagerHosts: string[];
    readonly alertmanagerHost: string;
    readonly alertmanagerPort: number;
    /** grafana.<domain>: office-only like the Alertmanagers, or from anywhere after signIn. */
    readonly grafanaHost: string;
    readonly grafanaPort: number;
    readonly grafanaSignIn?: AlbSignIn;
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

/** At most this many office rules per host: 30 office CIDRs, and the listener within ALB's 100 rules. */
export const MAX_OFFICE_SLICES = 10;
/** Members of one kind (prom-N, alerts-N) a listener can serve, each with its own slot. */
const MEMBERS_PER_KIND = 20;

export interface ListenerRuleSpec {
    /** The resource's name suffix: the host's rule name, then -office-K for the office list's K-th slice (K > 1). */
    readonly name: string;
    readonly host: string;
    readonly priority: number;
    readonly sourceCidrs?: string[];
}

/**
 * A host's fixed place among the listener's rules, from what it serves and never from where it
 * stands in a list: prom-N, alerts-N, the alerts host and Grafana.
 */
export type HostRole = { kind: "prom" | "alerts"; member: number } | { kind: "alerts-any" | "grafana" };

function slotOf(role: HostRole): number {
    switch (role.kind) {
        case "prom":
        case "alerts":
            if (role.member < 1 || role.member > MEMBERS_PER_KIND) {
                throw new Error(`${role.kind}-${role.member}: members are numbered 1 to ${MEMBERS_PER_KIND}`);
            }
            return (role.kind === "prom" ? 0 : MEMBERS_PER_KIND) + role.member - 1;
        case "alerts-any":
            return 2 * MEMBERS_PER_KIND;
        case "grafana":
            return 2 * MEMBERS_PER_KIND + 1;
    }
}

/**
 * The listener's rules. A rule's name and priority depend only on its host's role and which slice
 * of the office list it carries (the first slice at 100 + slot, slice K at 1000 + 10 * slot + K - 1),
 * so a longer office list or another host adds rules and moves none: no rule is renamed, and no
 * two ever ask for one priority during an update.
 */
export function listenerRuleLayout<T extends { name: string; host: string; role: HostRole; officeOnly: boolean }>(
    hosts: T[], officeCidrs: string[]): (ListenerRuleSpec & { served: T })[] {
    const slices = chunk(officeCidrs, SOURCE_CIDRS_PER_RULE);
    if (slices.length > MAX_OFFICE_SLICES) {
        throw new Error(`officeCidrs: ${officeCidrs.length} CIDRs need ${slices.length} rules per host; at most ${MAX_OFFICE_SLICES * SOURCE_CIDRS_PER_RULE} fit`);
    }
    return hosts.flatMap((served): (ListenerRuleSpec & { served: T })[] => {
        const { name, host } = served;
        const slot = slotOf(served.role);
        if (!served.officeOnly) {
            return [{ name, host, priority: 100 + slot, served }];
        }
        return slices.map((sourceCidrs, k) => k === 0
            ? { name, host, priority: 100 + slot, sourceCidrs, served }
            : { name: `${name}-office-${k + 1}`, host, priority: 1000 + 10 * slot + k, sourceCidrs, served });
    });
}

/** The ALB's sign-in: anyone not signed in is sent to the provider, and comes back signed in. */
function oidcAction(signIn: AlbSignIn) {
    return {
        issuer: signIn.issuer,
        authorizationEndpoint: signIn.authorizationEndpoint,
        tokenEndpoint: signIn.tokenEndpoint,
        userInfoEndpoint: signIn.userInfoEndpoint,
        clientId: signIn.clientId,
        clientSecret: signIn.clientSecret,
        scope: signIn.scopes.join(" "),
        sessionTimeout: signIn.sessionTimeoutSeconds,
        onUnauthenticatedRequest: "authenticate",
    };
}

/**
 * The public ALB: HTTPS with a modern TLS policy, HTTP redirected, a fixed 404 by default.
 * prom-N goes to node N's nginx auth-proxy (which asks non-office clients for basic auth);
 * alerts-N goes to Alertmanager member N only from the office CIDRs; grafana goes to Grafana from the
 * office CIDRs, or from anywhere once the ALB has signed the visitor in (grafanaSignIn).
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

        const promGroups = args.prometheusNodes.map((node, i) => {
            const group = targetGroup(node.name, "basic-auth-proxy", INGRESS_PORT, "instance", "/health");
            new aws.lb.TargetGroupAttachment(`${name}-${node.name}`, {
                targetGroupArn: group.arn,
                targetId: args.prometheusInstanceIds[i],
                port: INGRESS_PORT,
            }, parent);
            return group;
        });
        const memberGroups = args.alertmanagerHosts.map((_, i) => targetGroup(`alerts-${i + 1}`, "office-only", args.alertmanagerPort, "ip", "/-/healthy"));
        const allGroup = targetGroup("alerts", "office-only", args.alertmanagerPort, "ip", "/-/healthy");
        const signIn = args.grafanaSignIn;
        const grafanaGroup = targetGroup("grafana", signIn ? "sign-in" : "office-only", args.grafanaPort, "ip", "/api/health");

        const served = [
            ...args.prometheusNodes.map((node, i) => ({ name: node.name, host: node.host, role: { kind: "prom", member: i + 1 } as const, officeOnly: false, group: promGroups[i] })),
            ...args.alertmanagerHosts.map((host, i) => ({ name: `alerts-${i + 1}`, host, role: { kind: "alerts", member: i + 1 } as const, officeOnly: true, group: memberGroups[i] })),
            { name: "alerts", host: args.alertmanagerHost, role: { kind: "alerts-any" } as const, officeOnly: true, group: allGroup },
            { name: "grafana", host: args.grafanaHost, role: { kind: "grafana" } as const, officeOnly: !signIn, group: grafanaGroup },
        ];
        for (const spec of listenerRuleLayout(served, args.officeCidrs)) {
            const group = spec.served.group;
            this.listenerRules.push(new aws.lb.ListenerRule(`${name}-${spec.name}`, {
                listenerArn: https.arn,
                priority: spec.priority,
                conditions: [
                    { hostHeader: { values: [spec.host] } },
                    ...(spec.sourceCidrs ? [{ sourceIp: { values: spec.sourceCidrs } }] : []),
                ],
                actions: signIn && group === grafanaGroup
                    ? [{ type: "authenticate-oidc", order: 1, authenticateOidc: oidcAction(signIn) }, { type: "forward", order: 2, targetGroupArn: group.arn }]
                    : [{ type: "forward", targetGroupArn: group.arn }],
                tags,
            }, parent));
        }

        this.loadBalancerDnsName = alb.dnsName;
        this.loadBalancerArn = alb.arn;
        this.alertmanagerTargetGroupArns = memberGroups.map((g) => g.arn);
        this.alertmanagerAllTargetGroupArn = allGroup.arn;
        this.grafanaTargetGroupArn = grafanaGroup.arn;
        this.registerOutputs({ loadBalancerDnsName: this.loadBalancerDnsName });
    }
}
