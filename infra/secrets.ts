// The stack's secrets: set with `pulumi config set --secret KEY VALUE`, never in environments/.
import * as pulumi from "@pulumi/pulumi";
import { LoadedEnvironment } from "./environment";
import { hasSecret, loadTenants, Tenant, tenantSecretKey } from "./tenants";
import { StackFileError } from "./inputErrors";
import { closest } from "fastest-levenshtein";
import type { AlertmanagerSecretValues } from "./rendering";

/** Whether the engine holds a config value as a secret (set with --secret); the SDK's own check. */
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export interface PlatformSecrets {
    pagerdutyRoutingKey: pulumi.Output<string>;
    heartbeatUrl: pulumi.Output<string>;
    ticketWebhookUrl?: pulumi.Output<string>;
    smtpUsername?: pulumi.Output<string>;
    smtpPassword?: pulumi.Output<string>;
    slackWebhookUrl?: pulumi.Output<string>;
    grafanaOidcClientSecret?: pulumi.Output<string>;
}

export const SECRET_DESCRIPTIONS: Record<keyof PlatformSecrets, string> = {
    pagerdutyRoutingKey: "PagerDuty Events API v2 integration key of this stack's service",
    heartbeatUrl: "dead man's switch URL (e.g. Cronitor) the always-firing heartbeat is sent to",
    ticketWebhookUrl: "webhook the ticket receiver posts to (receivers.ticket: webhook)",
    smtpUsername: "SMTP user name for ticket mail (receivers.ticket: email); for SES, the SMTP credentials' access key ID",
    smtpPassword: "SMTP password for ticket mail (receivers.ticket: email)",
    slackWebhookUrl: "Slack incoming webhook (receivers.slackChannel set)",
    grafanaOidcClientSecret: "client secret of Grafana's application at the OpenID Connect provider (grafana.access: sso)",
};

/** The secret keys this stack's environment and its tenants need. */
export function requiredSecretKeys(env: LoadedEnvironment, tenants: Tenant[] = loadTenants(env.stack)): string[] {
    return [...platformSecretKeys(env), ...tenantSecretKeys(tenants)];
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
        ...(env.grafana.access === "sso" ? ["grafanaOidcClientSecret" as const] : []),
    ];
}

/** SES SMTP endpoints: email-smtp.<region>.amazonaws.com (or the FIPS variant). */
const SES_SMARTHOST = /^email-smtp(-fips)?\.[a-z0-9-]+\.amazonaws\.com:[0-9]+$/;
/** SES SMTP credentials are IAM access keys: the user name is the 20-character key ID. */
export const SES_SMTP_USERNAME = /^AKIA[A-Z2-7]{16}$/;
/** A PagerDuty Events API v2 routing (integration) key: 32 letters and digits. */
const PAGERDUTY_ROUTING_KEY = /^[A-Za-z0-9]{32}$/;

/** What a secret holds, which says what shape it must have. */
type SecretKind = "pagerdutyKey" | "httpsUrl" | "smtpUsername" | "password";

const PLATFORM_SECRET_KINDS: Record<keyof PlatformSecrets, SecretKind> = {
    pagerdutyRoutingKey: "pagerdutyKey",
    heartbeatUrl: "httpsUrl",
    ticketWebhookUrl: "httpsUrl",
    smtpUsername: "smtpUsername",
    smtpPassword: "password",
    slackWebhookUrl: "httpsUrl",
    grafanaOidcClientSecret: "password",
};

/** Each tenant secret's kind, by its key: PagerDuty receivers hold a routing key, the others a URL. */
function tenantSecretKinds(tenants: Tenant[]): Record<string, SecretKind> {
    return Object.fromEntries(tenants.flatMap((tenant) => Object.entries(tenant.receivers)
        .filter(([, r]) => hasSecret(r))
        .map(([receiver, r]) => [tenantSecretKey(tenant.name, receiver), r.kind === "pagerduty" ? "pagerdutyKey" : "httpsUrl"] as const)));
}

/** What is wrong with a secret's value for its kind; the message never shows the value. */
function shapeProblem(env: LoadedEnvironment, kind: SecretKind, value: string): string | undefined {
    if (value.trim() === "") {
        return "empty; set the value it stands for";
    }
    switch (kind) {
        case "pagerdutyKey":
            return PAGERDUTY_ROUTING_KEY.test(value) ? undefined
                : "not a PagerDuty Events API v2 routing key (32 letters and digits: the integration key of the service's Events API v2 integration); the value is not printed";
        case "httpsUrl": {
            let url: URL;
            try {
                url = new URL(value);
            } catch {
                return "not a URL; the value is not printed";
            }
            if (url.protocol !== "https:") {
                return `a ${url.protocol.replace(/:$/, "")} URL; notifications carry alert details, so only https is accepted`;
            }
            if (url.username || url.password) {
                return "an https URL with user information (user:password@), which Alertmanager would log with the URL; use the service's token URL instead";
            }
            return undefined;
        }
        case "smtpUsername":
            return SES_SMARTHOST.test(env.receivers.email?.smarthost ?? "") && !SES_SMTP_USERNAME.test(value)
                ? `not an SES SMTP user name (receivers.email.smarthost ${env.receivers.email?.smarthost} is SES, whose SMTP user `
                    + `names are 20-character access key IDs starting with AKIA, as the SES console shows them); the value is not printed`
                : undefined;
        case "password":
            return undefined;
    }
}

/** Stand-ins for offline runs, each of its kind's shape: never anyone's secret. */
function placeholderOf(kind: SecretKind, key: string, stack: string): string {
    switch (kind) {
        case "pagerdutyKey":
            return `placeholder${stack}${key}`.replace(/[^A-Za-z0-9]/g, "").padEnd(32, "0").slice(0, 32);
        case "httpsUrl":
            return `https://placeholder.invalid/${stack}/${key}`;
        case "smtpUsername":
            return "AKIAPLACEHOLDER23456";
        case "password":
            return `placeholder-${stack}-${key}`;
    }
}

/** A stand-in of the right shape for an offline run; undefined for a key that is no secret of this project. */
export function shapedPlaceholder(key: string, stack: string, tenants: Tenant[] = loadTenants(stack)): string | undefined {
    const kind = key in PLATFORM_SECRET_KINDS ? PLATFORM_SECRET_KINDS[key as keyof PlatformSecrets] : tenantSecretKinds(tenants)[key];
    return kind ? placeholderOf(kind, key, stack) : undefined;
}

/** The longest a secret of each kind plausibly is: what the SSM tier must hold room for. */
const LONGEST_PLAUSIBLE: Record<SecretKind, number> = { pagerdutyKey: 32, httpsUrl: 200, smtpUsername: 20, password: 64 };

/** Every secret alertmanager.yml carries, at its longest plausible length (URLs of 200 characters). */
export function longestPlausibleSecrets(tenants: Tenant[]): AlertmanagerSecretValues {
    const of = (kind: SecretKind) => kind === "httpsUrl" ? `https://${"x".repeat(LONGEST_PLAUSIBLE.httpsUrl - 8)}` : "x".repeat(LONGEST_PLAUSIBLE[kind]);
    return {
        pagerduty: of("pagerdutyKey"),
        heartbeat: of("httpsUrl"),
        ticketUrl: of("httpsUrl"),
        smtpUsername: of("smtpUsername"),
        smtpPassword: of("password"),
        slackUrl: of("httpsUrl"),
        tenants: Object.fromEntries(Object.entries(tenantSecretKinds(tenants)).map(([key, kind]) => [key, of(kind)])),
    };
}

/** Keys of this project's namespace that are no setting of it, each with the closest known key. */
function unknownKeys(project: string, known: string[]): string[] {
    return Object.keys(pulumi.runtime.allConfig())
        .filter((key) => key.startsWith(`${project}:`))
        .map((key) => key.slice(project.length + 1))
        .filter((key) => !known.includes(key))
        .map((key) => `${project}:${key}: not a setting of this project; did you mean ${closest(key, known)}? `
            + `(its other settings live in environments/<stack>.yaml)`);
}

/**
 * Reads the platform's and the tenants' secrets, failing with one error naming every missing or
 * malformed key before any resource exists.
 */
export function readSecrets(env: LoadedEnvironment, tenants: Tenant[] = []): { platform: PlatformSecrets; tenants: Record<string, pulumi.Output<string>> } {
    const config = new pulumi.Config();
    const keys = platformSecretKeys(env);
    const kinds: Record<string, SecretKind> = { ...PLATFORM_SECRET_KINDS, ...tenantSecretKinds(tenants) };
    const tenantKeys = tenantSecretKeys(tenants);
    const describe = (key: string) => key in SECRET_DESCRIPTIONS ? SECRET_DESCRIPTIONS[key as keyof PlatformSecrets] : "a tenant receiver's URL or key";
    const problems = [...keys, ...tenantKeys].flatMap((key) => {
        const value = config.get(key);
        if (value === undefined) {
            return [`${config.name}:${key}: missing secret (${describe(key)}); set it with: pulumi config set --secret ${key} <value>`];
        }
        if (!isConfigSecret(`${config.name}:${key}`)) {
            return [`${config.name}:${key}: stored in plain text; store it encrypted with: pulumi config set --secret ${key} <value> (the value is not printed)`];
        }
        const problem = shapeProblem(env, kinds[key], value);
        return problem ? [`${config.name}:${key}: ${problem}`] : [];
    });
    const known = [...Object.keys(PLATFORM_SECRET_KINDS), ...tenantSecretKeys(loadTenants()), ...tenantKeys];
    problems.push(...unknownKeys(config.name, known));
    if (problems.length > 0) {
        throw new StackFileError(`Pulumi.${env.stack}.yaml`, problems);
    }
    return {
        platform: Object.fromEntries(keys.map((key) => [key, config.requireSecret(key)])) as unknown as PlatformSecrets,
        tenants: Object.fromEntries(tenantKeys.map((key) => [key, config.requireSecret(key)])),
    };
}
