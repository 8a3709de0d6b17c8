// The platform's alert rules, as code. Pure: rendered to a Prometheus rule file.
import * as yaml from "js-yaml";
import { PROBE_JOB } from "./blackbox";
import { withMatcherOnEverySelector } from "./promql";
import { SHARD_TARGET_LABEL, TARGETS_JOBS_REGEX } from "./scrapeJobs";

export type Severity = "page" | "ticket" | "heartbeat";

export interface AlertRule {
    alert: string;
    expr: string;
    for?: string;
    severity: Severity;
    summary: string;
    description: string;
}

export interface RuleGroup {
    name: string;
    rules: AlertRule[];
}

export const HEARTBEAT_ALERT = "RE_Observe_Heartbeat";
/** One series per tenants/<name>/<region> prefix the tenants register in (see renderExpectedRules). */
export const TENANT_TARGETS_EXPECTED = "platform:tenant_targets_expected";
/** One series per region and source the discovery function covers. */
export const DISCOVERY_EXPECTED = "platform:discovery_expected";
/** The rule file holding them, beside platform.yml. */
export const EXPECTED_RULE_FILE = "platform-expected.yml";

/**
 * The label every series and alert a tenant's rules write carries, set by the platform (value
 * TENANT_RULE_OWNER). Every selector of a platform rule requires it absent, so no tenant rule can
 * change what a platform rule evaluates, whatever the names and labels it records.
 */
export const RULE_OWNER_LABEL = "rule_owner";
export const TENANT_RULE_OWNER = "tenant";

/** A platform rule's expression as the nodes run it: reading no series a tenant's rule wrote. */
export function platformSeriesOnly(expr: string): string {
    return withMatcherOnEverySelector(expr, `${RULE_OWNER_LABEL}=""`);
}

/** Every alert, grouped as Prometheus evaluates them. Jobs are the scrape jobs of prometheusConfig. */
export const ALERT_GROUPS: RuleGroup[] = [
    {
        name: "platform-outside-in",
        rules: [
            {
                alert: "RE_Observe_Endpoint_Down",
                // Each Prometheus probes every URL through all three nodes' exporters: one node's own
                // trouble is one failing probe, the endpoint's is two or more.
                expr: `count by (url) (probe_success{job="${PROBE_JOB}"} == 0) >= 2`,
                for: "5m",
                severity: "page",
                summary: "{{ $labels.url }} fails from {{ $value }} nodes",
                description: "The outside-in probe of {{ $labels.url }} (DNS, TLS, the ALB and, for prom-N, nginx) has failed from at least two nodes for 5 minutes.",
            },
            {
                alert: "RE_Observe_Certificate_Expiring",
                expr: `min by (url) (probe_ssl_earliest_cert_expiry{job="${PROBE_JOB}"}) - time() < 14 * 86400`,
                for: "10m",
                severity: "ticket",
                summary: "The certificate of {{ $labels.url }} expires in {{ $value | humanizeDuration }}",
                description: "ACM renews its certificates well before expiry when their DNS validation record still resolves; this one has not been renewed.",
            },
        ],
    },
    {
        name: "platform-availability",
        rules: [
            {
                alert: HEARTBEAT_ALERT,
                expr: "vector(1)",
                severity: "heartbeat",
                summary: "Always firing: proves the alerting pipeline delivers",
                description: "A dead man's switch. The heartbeat receiver pages when it stops hearing this alert.",
            },
            {
                alert: "RE_Observe_AlertManager_Below_Threshold",
                expr: `sum(up{job="alertmanager"}) < 2 or absent(up{job="alertmanager"})`,
                for: "10m",
                severity: "page",
                summary: "Fewer than two Alertmanagers are up",
                description: "{{ $value }} Alertmanager(s) are being scraped successfully; the mesh needs two to survive one more loss.",
            },
            {
                alert: "RE_Observe_Prometheus_Below_Threshold",
                // Per shard: a shard whose three nodes are all down is no less down for the others being up.
                expr: `sum by (${SHARD_TARGET_LABEL}) (up{job="prometheus"}) < 2`,
                for: "5m",
                severity: "page",
                summary: `Fewer than two Prometheus servers of shard {{ $labels.${SHARD_TARGET_LABEL} }} are up`,
                description: `Only {{ $value }} Prometheus server(s) of shard {{ $labels.${SHARD_TARGET_LABEL} }} can be scraped by this one.`,
            },
            {
                alert: "RE_Observe_No_FileSd_Targets",
                // Every job fed from the bucket: its root, other regions, tenants and discovery.
                expr: `sum by (instance) (prometheus_sd_discovered_targets{job="prometheus", name="scrape", config=~"${TARGETS_JOBS_REGEX}"}) == 0`,
                for: "10m",
                severity: "ticket",
                summary: "{{ $labels.instance }} has no file_sd targets",
                description: "No job fed from the targets bucket (its root, other regions, tenants, discovery) has a target on {{ $labels.instance }}.",
            },
            {
                alert: "RE_Observe_Target_Down",
                expr: "up == 0",
                for: "24h",
                severity: "ticket",
                summary: "{{ $labels.job }} target {{ $labels.instance }} has been down for 24 hours",
                description: "A catch-all for targets nobody alerts on: find the owner of {{ $labels.instance }}.",
            },
            {
                alert: "RE_Observe_Tenant_Targets_Stale",
                // A prefix a tenant registers in but that has no file yet counts as written in 1970.
                expr: `time() - (max by (prefix) (platform_targets_newest_file_timestamp_seconds{job="prometheus_node"})`
                    + ` or 0 * max by (prefix) (${TENANT_TARGETS_EXPECTED})) > 12 * 3600`,
                for: "10m",
                severity: "ticket",
                summary: "No target file under {{ $labels.prefix }} has changed for 12 hours",
                description: "The tenant's registrations are refreshed every 5 minutes; {{ $labels.prefix }} has been quiet for "
                    + "{{ $value | humanizeDuration }} (a prefix that never had a file counts from 1970).",
            },
            {
                alert: "RE_Observe_Discovery_Stale",
                // A region and source expected but never heard from counts as succeeded in 1970.
                expr: `time() - (max by (region, source) (platform_discovery_last_success_timestamp_seconds{job="prometheus_node"})`
                    + ` or 0 * max by (region, source) (${DISCOVERY_EXPECTED})) > 10 * 60`,
                for: "1m",
                severity: "ticket",
                summary: "Target discovery in {{ $labels.region }} ({{ $labels.source }}) has not succeeded for 10 minutes",
                description: "The discovery function runs every minute; its targets file for {{ $labels.region }} is kept as it was, "
                    + "so new tasks there are not scraped and gone ones stay.",
            },
            {
                alert: "RE_Observe_Grafana_Down",
                // Cloud Map answers with healthy tasks only: a Grafana that is down may have no target at all.
                expr: `up{job="grafana"} == 0 or absent(up{job="grafana"})`,
                for: "5m",
                severity: "ticket",
                summary: "Grafana has not been scraped for 5 minutes",
                description: "Grafana's metrics endpoint is failing, or Cloud Map names no healthy Grafana task.",
            },
        ],
    },
    {
        name: "prometheus-capacity",
        rules: [
            {
                alert: "RE_Observe_Prometheus_Disk_Predicted_To_Fill",
                expr: `predict_linear(node_filesystem_avail_bytes{job="prometheus_node", mountpoint="/mnt"}[12h], 72 * 3600) <= 0`,
                for: "30m",
                severity: "ticket",
                summary: "The data volume of {{ $labels.instance }} is predicted to fill within 72 hours",
                description: "At the growth of the last 12 hours, /mnt on {{ $labels.instance }} runs out of space within 72 hours.",
            },
            {
                alert: "RE_Observe_Prometheus_High_Load",
                expr: `max by (instance) (prometheus_engine_query_duration_seconds{job="prometheus", slice="inner_eval", quantile="0.9"}) > 5`,
                for: "10m",
                severity: "ticket",
                summary: "Prometheus {{ $labels.instance }} query engine is slow",
                description: "90th percentile query evaluation on {{ $labels.instance }} takes {{ $value }}s: it may begin to struggle.",
            },
            {
                alert: "RE_Observe_Prometheus_Over_Capacity",
                expr: `max by (instance) (prometheus_engine_query_duration_seconds{job="prometheus", slice="inner_eval", quantile="0.9"}) > 15`,
                for: "10m",
                severity: "page",
                summary: "Prometheus {{ $labels.instance }} query engine is over capacity",
                description: "90th percentile query evaluation on {{ $labels.instance }} takes {{ $value }}s: it cannot cope with the load.",
            },
        ],
    },
    {
        name: "prometheus-config",
        rules: [
            {
                alert: "RE_Observe_Prometheus_Config_Refused",
                expr: `platform_node_config_apply_successful{job="prometheus_node"} == 0`,
                for: "5m",
                severity: "ticket",
                summary: "{{ $labels.instance }} refused the newest configuration set",
                description: "promtool or Prometheus itself rejected the set fetched by {{ $labels.instance }}; it keeps running its last good one.",
            },
            {
                alert: "RE_Observe_Tenant_Rules_Held",
                expr: `max by (file) (platform_node_config_rule_file_held{job="prometheus_node"}) == 1`,
                for: "5m",
                severity: "ticket",
                summary: "The nodes refused the tenant rule file {{ $labels.file }} and run its last good version",
                description: "promtool refused {{ $labels.file }} of the newest configuration set; the platform's rules and the other "
                    + "tenants' were applied, this tenant's rules stay as they were (or absent, if never accepted).",
            },
            {
                alert: "RE_Observe_Prometheus_Config_Drift",
                expr: `count(count by (revision) (platform_node_config_applied_info{job="prometheus_node"})) > 1`,
                for: "5m",
                severity: "ticket",
                summary: "The Prometheus servers run {{ $value }} different configuration revisions",
                description: "A node has not applied the revision the others run for 5 minutes: its rules or scrape jobs differ from theirs.",
            },
            {
                alert: "RE_Observe_Prometheus_Config_Fetch_Failing",
                expr: `(time() - platform_node_config_fetch_success_timestamp_seconds{job="prometheus_node"} > 300) or (up{job="prometheus_node"} == 1 unless on (instance) platform_node_config_fetch_success_timestamp_seconds{job="prometheus_node"})`,
                for: "5m",
                severity: "ticket",
                summary: "{{ $labels.instance }} has not fetched its configuration set for 10 minutes",
                description: "The config bucket cannot be read, or its objects do not match their MANIFEST, on {{ $labels.instance }}: changes do not reach it.",
            },
            {
                alert: "RE_Observe_Node_Logs_Not_Shipped",
                expr: `(time() - platform_log_shipper_last_success_timestamp_seconds{job="prometheus_node"} > 900)`
                    + ` or (up{job="prometheus_node"} == 1 unless on (instance) platform_log_shipper_last_success_timestamp_seconds{job="prometheus_node"})`,
                for: "10m",
                severity: "ticket",
                summary: "{{ $labels.instance }} has not shipped its journal to CloudWatch Logs for 25 minutes",
                description: "The journal shipper on {{ $labels.instance }} cannot deliver, or is not running: its journal stays on the instance "
                    + "and is lost with it if the instance is replaced.",
            },
        ],
    },
    {
        name: "prometheus-meta",
        rules: [
            {
                alert: "PrometheusBadConfig",
                expr: `max_over_time(prometheus_config_last_reload_successful{job="prometheus"}[5m]) == 0`,
                for: "10m",
                severity: "ticket",
                summary: "Prometheus {{ $labels.instance }} failed to reload its configuration",
                description: "{{ $labels.instance }} runs its previous configuration; the new one is rejected.",
            },
            {
                alert: "PrometheusNotConnectedToAlertmanagers",
                expr: `max_over_time(prometheus_notifications_alertmanagers_discovered{job="prometheus"}[5m]) < 1`,
                for: "10m",
                severity: "page",
                summary: "Prometheus {{ $labels.instance }} is connected to no Alertmanager",
                description: "{{ $labels.instance }} has discovered no Alertmanager: its alerts go nowhere.",
            },
            {
                alert: "PrometheusRuleFailures",
                expr: `increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[5m]) > 0`,
                for: "15m",
                severity: "ticket",
                summary: "Prometheus {{ $labels.instance }} fails to evaluate rules",
                description: "{{ $value | humanize }} rule evaluations failed on {{ $labels.instance }} in the last 5 minutes.",
            },
            {
                alert: "PrometheusErrorSendingAlertsToAnyAlertmanager",
                expr: `min without (alertmanager) (rate(prometheus_notifications_errors_total{job="prometheus"}[5m]) / rate(prometheus_notifications_sent_total{job="prometheus"}[5m])) * 100 > 3`,
                for: "15m",
                severity: "page",
                summary: "Prometheus {{ $labels.instance }} fails to send alerts to every Alertmanager",
                description: "{{ $value | humanize }}% of alerts sent by {{ $labels.instance }} to even the best Alertmanager fail.",
            },
        ],
    },
    {
        name: "alertmanager-meta",
        rules: [
            {
                alert: "AlertmanagerFailedReload",
                expr: `max_over_time(alertmanager_config_last_reload_successful{job="alertmanager"}[5m]) == 0`,
                for: "10m",
                severity: "ticket",
                summary: "Alertmanager {{ $labels.instance }} failed to load its configuration",
                description: "{{ $labels.instance }} rejected its configuration.",
            },
            {
                alert: "AlertmanagerMembersInconsistent",
                expr: `max_over_time(alertmanager_cluster_members{job="alertmanager"}[5m]) < on () group_left () count(max_over_time(alertmanager_cluster_members{job="alertmanager"}[5m]))`,
                for: "15m",
                severity: "ticket",
                summary: "Alertmanager {{ $labels.instance }} sees only {{ $value }} cluster members",
                description: "The mesh is split: {{ $labels.instance }} does not see every scraped Alertmanager, so notifications may be duplicated.",
            },
            {
                alert: "AlertmanagerConfigInconsistent",
                expr: `count(count_values("config_hash", alertmanager_config_hash{job="alertmanager"})) != 1`,
                for: "20m",
                severity: "ticket",
                summary: "The Alertmanagers run different configurations",
                description: "{{ $value }} different configuration hashes are in use across the Alertmanagers.",
            },
            {
                alert: "AlertmanagerFailedToSendAlerts",
                expr: `rate(alertmanager_notifications_failed_total{job="alertmanager"}[5m]) / ignoring (reason) group_left rate(alertmanager_notifications_total{job="alertmanager"}[5m]) > 0.01`,
                for: "5m",
                severity: "ticket",
                summary: "Alertmanager {{ $labels.instance }} fails to send to {{ $labels.integration }}",
                description: "{{ $value | humanizePercentage }} of notifications to {{ $labels.integration }} fail on {{ $labels.instance }}.",
            },
            {
                alert: "AlertmanagerClusterFailedToSendAlerts",
                expr: `min by (integration) (rate(alertmanager_notifications_failed_total{job="alertmanager", integration=~"pagerduty|webhook"}[5m]) / ignoring (reason) group_left rate(alertmanager_notifications_total{job="alertmanager", integration=~"pagerduty|webhook"}[5m])) > 0.01`,
                for: "5m",
                severity: "page",
                summary: "Every Alertmanager fails to send to {{ $labels.integration }}",
                description: "At least {{ $value | humanizePercentage }} of notifications to {{ $labels.integration }} fail on every member.",
            },
        ],
    },
];

/** The heading anchor GitHub gives `## <alert>` in docs/runbooks.md. */
export function runbookAnchor(alert: string): string {
    return alert.toLowerCase();
}

export function allAlerts(groups: RuleGroup[] = ALERT_GROUPS): AlertRule[] {
    return groups.flatMap((g) => g.rules);
}

/**
 * A Prometheus rule file; every alert links its runbook section under `runbookBaseUrl`.
 * `annotations: false` leaves annotations out, for rule unit tests about expressions only.
 */
export function renderAlertRules(runbookBaseUrl: string, groups: RuleGroup[] = ALERT_GROUPS, options = { annotations: true }): string {
    const document = {
        groups: groups.map((group) => ({
            name: group.name,
            rules: group.rules.map((rule) => ({
                alert: rule.alert,
                expr: platformSeriesOnly(rule.expr),
                ...(rule.for ? { for: rule.for } : {}),
                // An empty label removes it: a platform alert about a tenant's target carries no
                // tenant label, so it goes to the platform's receivers, never a tenant's.
                labels: { severity: rule.severity, tenant: "" },
                ...(options.annotations ? {
                    annotations: {
                        summary: rule.summary,
                        description: rule.description,
                        runbook_url: `${runbookBaseUrl}#${runbookAnchor(rule.alert)}`,
                    },
                } : {}),
            })),
        })),
    };
    return yaml.dump(document, { lineWidth: -1, noRefs: true });
}

/** What the platform expects to hear from: every tenant prefix, and every discovery region and source. */
export interface Expected {
    tenantPrefixes: string[];
    discovery: { region: string; source: string }[];
}

/** Recording rules naming what is expected, so one that never reported is stale too. */
export function renderExpectedRules(expected: Expected): string {
    const rules = [
        ...[...expected.tenantPrefixes].sort().map((prefix) => ({ record: TENANT_TARGETS_EXPECTED, expr: "vector(1)", labels: { prefix } })),
        ...expected.discovery.map(({ region, source }) => ({ record: DISCOVERY_EXPECTED, expr: "vector(1)", labels: { region, source } })),
    ];
    return yaml.dump({ groups: rules.length > 0 ? [{ name: "platform-expected", rules }] : [] }, { lineWidth: -1, noRefs: true });
}
