import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";

export interface CloudflareDnsArgs {
    readonly zoneId: string;
    /** Host names (fully qualified) to point at the target. */
    readonly hosts: string[];
    /** DNS name of the load balancer. */
    readonly target: pulumi.Input<string>;
    readonly ttl?: number;
}

/**
 * DNS-only CNAME records for the platform's hosts. Never proxied: Cloudflare's proxy would
 * replace the client address the office-IP rules depend on.
 */
export class CloudflareDns extends pulumi.ComponentResource {
    readonly hostnames: string[];

    constructor(name: string, args: CloudflareDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:dns:CloudflareDns", name, {}, opts);
        for (const host of args.hosts) {
            new cloudflare.DnsRecord(`${name}-${host.split(".")[0]}`, {
                zoneId: args.zoneId,
                name: host,
                type: "CNAME",
                content: args.target,
                ttl: args.ttl ?? 300,
                proxied: false,
                comment: "Prometheus platform (DNS only: office-IP checks need the client address)",
            }, { parent: this });
        }
        this.hostnames = args.hosts;
        this.registerOutputs({ hostnames: this.hostnames });
    }
}
