import * as aws from "@pulumi/aws";
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";

export interface ValidatedCertificateArgs {
    /** The stack's domain: the certificate covers *.<domain>. */
    readonly domain: string;
    readonly cloudflareZoneId: string;
    readonly tags?: Record<string, string>;
}

/** An ACM certificate for *.<domain>, DNS-validated through a Cloudflare record. */
export class ValidatedCertificate extends pulumi.ComponentResource {
    /** The ARN once validation has succeeded: listeners using it wait for validation. */
    readonly certificateArn: pulumi.Output<string>;

    constructor(name: string, args: ValidatedCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform:ingress:ValidatedCertificate", name, {}, opts);
        const certificate = new aws.acm.Certificate(name, {
            domainName: `*.${args.domain}`,
            validationMethod: "DNS",
            keyAlgorithm: "EC_prime256v1",
            tags: args.tags,
        }, { parent: this });
        const option = certificate.domainValidationOptions.apply((options) => options[0]);
        const record = new cloudflare.DnsRecord(`${name}-validation`, {
            zoneId: args.cloudflareZoneId,
            name: option.resourceRecordName.apply((n) => n.replace(/\.$/, "")),
            type: option.resourceRecordType,
            content: option.resourceRecordValue.apply((v) => v.replace(/\.$/, "")),
            ttl: 60,
            proxied: false,
            comment: "ACM DNS validation",
        }, { parent: this });
        const validation = new aws.acm.CertificateValidation(name, {
            certificateArn: certificate.arn,
            validationRecordFqdns: [record.name],
        }, { parent: this });
        this.certificateArn = validation.certificateArn;
        this.registerOutputs({ certificateArn: this.certificateArn });
    }
}
