// The stack's secrets: set with `pulumi config set --secret KEY VALUE`, never in environments/.
import * as pulumi from "@pulumi/pulumi";
import { EnvironmentError, LoadedEnvironment } from "./environment";

export interface PlatformSecrets {
    pagerdutyRoutingKey: pulumi.Output<string>;
    heartbeatUrl: pulumi.Output<string>;
    ticketWebhookUrl?: pulumi.Output<string>;
    smtpPassword?: pulumi.Output<string>;
    slackWebhookUrl?: pulumi.Output<string>;
}

export const SECRET_DESCRIPTIONS: Record<keyof PlatformSecrets, string> = {
    pagerdutyRoutingKey: "PagerDuty Events API v2 integration key of this stack's service",
    heartbeatUrl: "dead man's switch URL (e.g. Cronitor) the always-firing heartbeat is sent to",
    ticketWebhookUrl: "webhook the ticket receiver posts to (receivers.ticket: webhook)",
    smtpPassword: "SMTP password for ticket mail (receivers.ticket: email)",
    slackWebhookUrl: "Slack incoming webhook (receivers.slackChannel set)",
};

/** The secret keys this stack's environment needs. */
export function requiredSecretKeys(env: LoadedEnvironment): (keyof PlatformSecrets)[] {
    return [
        "pagerdutyRoutingKey",
        "heartbeatUrl",
        ...(env.receivers.ticket === "webhook" ? ["ticketWebhookUrl" as const] : []),
        ...(env.receivers.ticket === "email" ? ["smtpPassword" as const] : []),
        ...(env.receivers.slackChannel ? ["slackWebhookUrl" as const] : []),
    ];
}

/** Reads the secrets, failing with one error naming every missing key before any resource exists. */
export function readSecrets(env: LoadedEnvironment): PlatformSecrets {
    const config = new pulumi.Config();
    const keys = requiredSecretKeys(env);
    const missing = keys.filter((key) => config.get(key) === undefined);
    if (missing.length > 0) {
        throw new EnvironmentError(`Pulumi.${env.stack}.yaml`, missing.map((key) =>
            `${config.name}:${key}: missing secret (${SECRET_DESCRIPTIONS[key]}); set it with: pulumi config set --secret ${key} <value>`));
    }
    return Object.fromEntries(keys.map((key) => [key, config.requireSecret(key)])) as unknown as PlatformSecrets;
}
