// Pure renderer of alertmanager.yml. The result holds receiver secrets: store it as a secret.
import * as yaml from "js-yaml";
import { HEARTBEAT_ALERT } from "./alertRules";

export type TicketReceiver =
    | { kind: "webhook"; url: string }
    | { kind: "email"; to: string; from: string; smarthost: string; authUsername: string; authPassword: string };

export interface AlertmanagerConfigInput {
    pagerdutyRoutingKey: string;
    heartbeatUrl: string;
    ticket: TicketReceiver;
    slack?: { webhookUrl: string; channel: string };
}

export const RECEIVERS = { page: "pagerduty", ticket: "ticket", heartbeat: "heartbeat", slack: "slack" } as const;

const SLACK_TITLE = "[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.stack }})";
const SLACK_TEXT = "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}";

function ticketReceiver(ticket: TicketReceiver): Record<string, unknown> {
    if (ticket.kind === "webhook") {
        return { name: RECEIVERS.ticket, webhook_configs: [{ url: ticket.url, send_resolved: true }] };
    }
    return {
        name: RECEIVERS.ticket,
        email_configs: [{
            to: ticket.to,
            from: ticket.from,
            smarthost: ticket.smarthost,
            auth_username: ticket.authUsername,
            auth_password: ticket.authPassword,
            require_tls: true,
            send_resolved: true,
        }],
    };
}

export function alertmanagerConfig(input: AlertmanagerConfigInput): Record<string, unknown> {
    const routes: Record<string, unknown>[] = [
        {
            receiver: RECEIVERS.heartbeat,
            matchers: [`alertname="${HEARTBEAT_ALERT}"`],
            group_wait: "0s",
            group_interval: "1m",
            repeat_interval: "1m",
            continue: false,
        },
    ];
    if (input.slack) {
        routes.push({ receiver: RECEIVERS.slack, matchers: ['severity=~"page|ticket"'], continue: true });
    }
    routes.push(
        { receiver: RECEIVERS.page, matchers: ['severity="page"'] },
        { receiver: RECEIVERS.ticket, matchers: ['severity="ticket"'] },
    );

    const receivers: Record<string, unknown>[] = [
        {
            name: RECEIVERS.page,
            pagerduty_configs: [{
                routing_key: input.pagerdutyRoutingKey,
                send_resolved: true,
                description: "{{ .CommonAnnotations.summary }}",
                links: [{ href: "{{ (index .Alerts 0).Annotations.runbook_url }}", text: "Runbook" }],
            }],
        },
        ticketReceiver(input.ticket),
        { name: RECEIVERS.heartbeat, webhook_configs: [{ url: input.heartbeatUrl, send_resolved: false }] },
    ];
    if (input.slack) {
        receivers.push({
            name: RECEIVERS.slack,
            slack_configs: [{
                api_url: input.slack.webhookUrl,
                channel: input.slack.channel,
                send_resolved: true,
                title: SLACK_TITLE,
                text: SLACK_TEXT,
            }],
        });
    }

    return {
        global: { resolve_timeout: "5m" },
        route: {
            // Anything without a known severity still reaches somebody, as a ticket.
            receiver: RECEIVERS.ticket,
            group_by: ["alertname", "stack"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes,
        },
        inhibit_rules: [
            // A page silences the ticket of the same alert.
            { source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: ["alertname", "stack", "instance"] },
            // Over capacity silences high load on the same server.
            {
                source_matchers: ['alertname="RE_Observe_Prometheus_Over_Capacity"'],
                target_matchers: ['alertname="RE_Observe_Prometheus_High_Load"'],
                equal: ["stack", "instance"],
            },
        ],
        receivers,
    };
}

export function renderAlertmanagerConfig(input: AlertmanagerConfigInput): string {
    return yaml.dump(alertmanagerConfig(input), { lineWidth: -1, noRefs: true });
}
