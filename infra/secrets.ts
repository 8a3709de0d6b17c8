// The stack's secrets: set with `pulumi config set --secret KEY VALUE`, never in environments/.
import * as pulumi from "@pulumi/pulumi";
import { LoadedEnvironment } from "./environment";
import { hasSecret, loadTenants, Tenant, tenantSecretKey } from "./tenants";
import { StackFileError } from "./inputErrors";

export interface PlatformSecrets {
    pagerdutyRoutingKey: pulumi.Output<string>;
    heartbeatUrl: pulumi.Output<string>;
    ticketWebhookUrl?: pulumi.Output<string>;
    smtpUsername?: pulumi.Output<string>;
    smtpPassword?: pulumi.Output<string>;
    slackWebhookUrl?: pulumi.Output<string>;
}

export const SECRET_DESCRIPTIONS: Record<keyof PlatformSecrets, string> = {
    pagerdutyRoutingKey: "PagerDuty Events API v2 integration key of this stack's service",
    heartbeatUrl: "dead man's switch URL (e.g. Cronitor) the always-firing heartbeat is sent to",
    ticketWebhookUrl: "webhook the ticket receiver posts to (receivers.ticket: webhook)",
    smtpUsername: "SMTP user name for ticket mail (receivers.ticket: email); for SES, the SMTP credentials' access key ID",
    smtpPassword: "SMTP password for ticket mail (receivers.ticket: email)",
    slackWebhookUrl: "Slack incoming webhook (receivers.slackChannel set)",
};

/** The secret keys this stack's environment and its tenants need. */
export function requiredSecretKeys(env: LoadedEnvironment): string[] {
    return [...platformSecretKeys(env), ...tenantSecretKeys(loadTenants(env.stack))];
}

/** Each tenant receiver's URL or key: tenant-<tenant>-<receiver>. */
export function tenantSecretKeys(tenants: Tenant[]): string[] {
    return tenants.flatMap((tenant) => Object.entries(tenant.receivers)
        .filter(([, r]) => hasSecret(r))
        .map(([receiver]) => tenantSecretKey(tenant.name, receiver)));
}

export function platformSecretKeys(env: LoadedEnvironment): (keyof PlatformSecrets)[] {
    return [
        "pagerdutyRoutingKey",
        "heartbeatUrl",
        ...(env.receivers.ticket === "webhook" ? ["ticketWebhookUrl" as const] : []),
        ...(env.receivers.ticket === "email" ? ["smtpUsername" as const, "smtpPassword" as const] : []),
        ...(env.receivers.slackChannel ? ["slackWebhookUrl" as const] : []),
    ];
}

/** SES SMTP endpoints: email-smtp.<region>.amazonaws.com (or the FIPS variant). */
const SES_SMARTHOST = /^email-smtp(-fips)?\.[a-z0-9-]+\.amazonaws\.com:[0-9]+$/;
/** SES SMTP credentials are IAM access keys: the user name is the 20-character key ID. */
export const SES_SMTP_USERNAME = /^AKIA[A-Z2-7]{16}$/;

/** Shapes a secret must have in this environment; the message never shows the value. */
function shapeProblem(env: LoadedEnvironment, key: keyof PlatformSecrets, value: string): string | undefined {
    if (key === "smtpUsername" && SES_SMARTHOST.test(env.receivers.email?.smarthost ?? "") && !SES_SMTP_USERNAME.test(value)) {
        return `not an SES SMTP user name (receivers.email.smarthost ${env.receivers.email?.smarthost} is SES, whose SMTP user `
            + `names are 20-character access key IDs starting with AKIA, as the SES console shows them); the value is not printed`;
    }
    return undefined;
}

/** Stand-ins for offline runs, for the secrets whose shape is checked. */
const SHAPED_PLACEHOLDERS: Partial<Record<string, string>> = {
    smtpUsername: "AKIAPLACEHOLDER23456",
};

/**
 * A stand-in of the right shape for an offline run, where the shape matters: the checked ones
 * above, and tenant receivers' URLs (all but PagerDuty's routing keys). Undefined: any string does.
 */
export function shapedPlaceholder(key: string, stack: string): string | undefined {
    const url = loadTenants(stack).some((tenant) => Object.entries(tenant.receivers)
        .some(([receiver, r]) => r.kind !== "pagerduty" && hasSecret(r) && tenantSecretKey(tenant.name, receiver) === key));
    return SHAPED_PLACEHOLDERS[key] ?? (url ? `https://placeholder.invalid/${stack}/${key}` : undefined);
}

/**
 * Reads the platform's and the tenants' secrets, failing with one error naming every missing or
 * malformed key before any resource exists.
 */
export function readSecrets(env: LoadedEnvironment, tenants: Tenant[] = []): { platform: PlatformSecrets; tenants: Record<string, pulumi.Output<string>> } {
    const config = new pulumi.Config();
    const keys = platformSecretKeys(env);
    const tenantKeys = tenantSecretKeys(tenants);
    const describe = (key: string) => key in SECRET_DESCRIPTIONS ? SECRET_DESCRIPTIONS[key as keyof PlatformSecrets] : "a tenant receiver's URL or key";
    const problems = [...keys, ...tenantKeys].flatMap((key) => {
        const value = config.get(key);
        if (value === undefined) {
            return [`${config.name}:${key}: missing secret (${describe(key)}); set it with: pulumi config set --secret ${key} <value>`];
        }
        const problem = key in SECRET_DESCRIPTIONS ? shapeProblem(env, key as keyof PlatformSecrets, value) : undefined;
        return problem ? [`${config.name}:${key}: ${problem}`] : [];
    });
    if (problems.length > 0) {
        throw new StackFileError(`Pulumi.${env.stack}.yaml`, problems);
    }
    return {
        platform: Object.fromEntries(keys.map((key) => [key, config.requireSecret(key)])) as unknown as PlatformSecrets,
        tenants: Object.fromEntries(tenantKeys.map((key) => [key, config.requireSecret(key)])),
    };
}
