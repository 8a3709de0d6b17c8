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
    /** Tenants' receivers and routes: their alerts (tenant="<name>") go to them and nowhere else. */
    tenants?: TenantRoutingInput[];
    /** The platform's tickets are sent within its support hours; pages at any hour, or within page hours if set. */
    platformHours: { support: HoursInput; page?: HoursInput };
}

export interface HoursInput { location: string; weekdays: readonly string[]; start: string; end: string }

export interface TenantRoutingInput {
    name: string;
    /** Receiver name to its kind and secret (URL, or routing key for PagerDuty); email has none. */
    receivers: Record<string, TenantReceiverInput>;
    page: { receiver: string; severities: string[] };
    ticket: { receiver: string; severities: string[] };
    supportHours: HoursInput;
}

export type TenantReceiverInput =
    | { kind: "webhook" | "pagerduty"; secret: string }
    | { kind: "slack"; secret: string; channel: string }
    /** Sent through the platform's mail relay: the ticket receiver's smarthost and credentials. */
    | { kind: "email"; to: string };

export const tenantReceiverName = (tenant: string, receiver: string) => `tenant-${tenant}-${receiver}`;
export const supportHoursName = (tenant: string) => `${tenant}-support-hours`;
/** Underscores: no tenant's interval can take these names (tenant names have none). */
export const PLATFORM_SUPPORT_HOURS = "platform_support_hours";
export const PLATFORM_PAGE_HOURS = "platform_page_hours";

function timeInterval(name: string, hours: HoursInput): Record<string, unknown> {
    return { name, time_intervals: [{ weekdays: hours.weekdays, times: [{ start_time: hours.start, end_time: hours.end }], location: hours.location }] };
}

function tenantReceivers(tenant: TenantRoutingInput, ticket: TicketReceiver): Record<string, unknown>[] {
    return Object.entries(tenant.receivers).map(([receiver, r]) => {
        const name = tenantReceiverName(tenant.name, receiver);
        switch (r.kind) {
            case "webhook":
                return { name, webhook_configs: [{ url: r.secret, send_resolved: true }] };
            case "slack":
                return { name, slack_configs: [{ api_url: r.secret, channel: r.channel, send_resolved: true, title: SLACK_TITLE, text: SLACK_TEXT }] };
            case "pagerduty":
                return { name, pagerduty_configs: [{ routing_key: r.secret, send_resolved: true, description: "{{ .CommonAnnotations.summary }}" }] };
            case "email":
                if (ticket.kind !== "email") {
                    throw new Error(`${name}: an email receiver needs the platform's mail relay, and tickets here go to a webhook`);
                }
                return { name, email_configs: [emailConfig({ ...ticket, to: r.to })] };
        }
    });
}

/** Everything labelled with the tenant stops here: pages at any hour, tickets in support hours only. */
function tenantRoute(tenant: TenantRoutingInput): Record<string, unknown> {
    const severities = (list: string[]) => `severity=~"${list.join("|")}"`;
    return {
        receiver: tenantReceiverName(tenant.name, tenant.ticket.receiver),
        matchers: [`tenant="${tenant.name}"`],
        group_by: ["alertname", "tenant"],
        continue: false,
        routes: [
            { receiver: tenantReceiverName(tenant.name, tenant.page.receiver), matchers: [severities(tenant.page.severities)] },
            {
                receiver: tenantReceiverName(tenant.name, tenant.ticket.receiver),
                matchers: [severities(tenant.ticket.severities)],
                active_time_intervals: [supportHoursName(tenant.name)],
            },
        ],
    };
}

export const RECEIVERS = { page: "pagerduty", ticket: "ticket", heartbeat: "heartbeat", slack: "slack" } as const;

const SLACK_TITLE = "[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.stack }})";
const SLACK_TEXT = "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}";

function ticketReceiver(ticket: TicketReceiver): Record<string, unknown> {
    if (ticket.kind === "webhook") {
        return { name: RECEIVERS.ticket, webhook_configs: [{ url: ticket.url, send_resolved: true }] };
    }
    return { name: RECEIVERS.ticket, email_configs: [emailConfig(ticket)] };
}

function emailConfig(mail: Extract<TicketReceiver, { kind: "email" }>): Record<string, unknown> {
    return {
        to: mail.to,
        from: mail.from,
        smarthost: mail.smarthost,
        auth_username: mail.authUsername,
        auth_password: mail.authPassword,
        require_tls: true,
        send_resolved: true,
    };
}

export function alertmanagerConfig(input: AlertmanagerConfigInput): Record<string, unknown> {
    const routes: Record<string, unknown>[] = [
        // Tenants' alerts first, whatever their names: every one carries its tenant's label (set by
        // the platform), and platform alerts never carry one.
        ...(input.tenants ?? []).map(tenantRoute),
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
        {
            receiver: RECEIVERS.page,
            matchers: ['severity="page"'],
            ...(input.platformHours.page ? { active_time_intervals: [PLATFORM_PAGE_HOURS] } : {}),
        },
        // Tickets, and anything without a known severity, in the platform's support hours.
        { receiver: RECEIVERS.ticket, active_time_intervals: [PLATFORM_SUPPORT_HOURS] },
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

    receivers.push(...(input.tenants ?? []).flatMap((tenant) => tenantReceivers(tenant, input.ticket)));
    const timeIntervals = [
        timeInterval(PLATFORM_SUPPORT_HOURS, input.platformHours.support),
        ...(input.platformHours.page ? [timeInterval(PLATFORM_PAGE_HOURS, input.platformHours.page)] : []),
        ...(input.tenants ?? []).map((tenant) => timeInterval(supportHoursName(tenant.name), tenant.supportHours)),
    ];

    return {
        global: { resolve_timeout: "5m" },
        time_intervals: timeIntervals,
        route: {
            // Never used: the last route takes everything left, as a ticket in support hours.
            receiver: RECEIVERS.ticket,
            group_by: ["alertname", "stack"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes,
        },
        // Equal tenant labels: a tenant's alert silences only that tenant's, a platform alert (which
        // has none) only the platform's.
        inhibit_rules: [
            // A page silences the ticket of the same alert.
            { source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: ["alertname", "stack", "instance", "tenant"] },
            // Over capacity silences high load on the same server.
            {
                source_matchers: ['alertname="RE_Observe_Prometheus_Over_Capacity"'],
                target_matchers: ['alertname="RE_Observe_Prometheus_High_Load"'],
                equal: ["stack", "instance", "tenant"],
            },
        ],
        receivers,
    };
}

export function renderAlertmanagerConfig(input: AlertmanagerConfigInput): string {
    return yaml.dump(alertmanagerConfig(input), { lineWidth: -1, noRefs: true });
}
