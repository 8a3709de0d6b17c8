// The platform's Grafana dashboards, as code (grafana-foundation-sdk builders). Pure: each renders
// to the JSON Grafana provisions. Every query is run against the loopback rehearsal's Prometheus.
import { DashboardBuilder, DatasourceVariableBuilder, RowBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { NODE_PATHS } from "../render/nodeScripts";

/** The dashboards' data source variable: one of the three Prometheus servers, prom-1 unless chosen. */
export const DATASOURCE_VARIABLE = "datasource";
const DATASOURCE = { type: "prometheus", uid: `\${${DATASOURCE_VARIABLE}}` };

export interface PanelQuery {
    expr: string;
    legend: string;
}

export interface PanelSpec {
    title: string;
    unit: string;
    queries: PanelQuery[];
    description?: string;
}

export interface DashboardSpec {
    uid: string;
    title: string;
    rows: { title: string; panels: PanelSpec[] }[];
}

const q = (expr: string, legend: string): PanelQuery => ({ expr, legend });
const RATE = "$__rate_interval";

/** What the platform's operators watch: does an alert reach a person, and is everything in place? */
export const PLATFORM_SLI: DashboardSpec = {
    uid: "platform-sli",
    title: "Platform SLI",
    rows: [
        {
            title: "Alert delivery",
            panels: [
                { title: "Alerts sent by Prometheus to Alertmanager", unit: "ops", queries: [
                    q(`sum by (instance) (rate(prometheus_notifications_sent_total{job="prometheus"}[${RATE}]))`, "{{instance}} sent"),
                    q(`sum by (instance) (rate(prometheus_notifications_errors_total{job="prometheus"}[${RATE}]))`, "{{instance}} failed"),
                ] },
                { title: "Notifications sent per receiver", unit: "ops", queries: [
                    q(`sum by (receiver_name, integration) (rate(alertmanager_notifications_total{job="alertmanager"}[${RATE}]))`, "{{receiver_name}} ({{integration}})"),
                ] },
                { title: "Notifications failed per receiver", unit: "ops", queries: [
                    q(`sum by (receiver_name, integration) (rate(alertmanager_notifications_failed_total{job="alertmanager"}[${RATE}]))`, "{{receiver_name}} ({{integration}})"),
                ] },
                { title: "Outside-in probes (lowest over the nodes)", unit: "short", queries: [
                    q(`min by (url) (probe_success{job="probe"})`, "{{url}}"),
                ] },
                { title: "Notification latency (99th percentile)", unit: "s", queries: [
                    q(`histogram_quantile(0.99, sum by (le, integration) (rate(alertmanager_notification_latency_seconds_bucket{job="alertmanager"}[${RATE}])))`, "{{integration}}"),
                ] },
            ],
        },
        {
            title: "Alertmanager cluster",
            panels: [
                { title: "Members each Alertmanager sees", unit: "short", queries: [q(`alertmanager_cluster_members{job="alertmanager"}`, "{{instance}}")] },
                { title: "Cluster health score (0 is healthy)", unit: "short", queries: [q(`alertmanager_cluster_health_score{job="alertmanager"}`, "{{instance}}")] },
            ],
        },
        {
            title: "Targets and configuration",
            panels: [
                { title: "Targets up per job", unit: "short", queries: [
                    q(`sum by (job) (up)`, "{{job}} up"),
                    q(`count by (job) (up)`, "{{job}} known"),
                ] },
                { title: "Targets up per tenant", unit: "short", queries: [q(`sum by (tenant) (up{tenant!=""})`, "{{tenant}}")] },
                { title: "Configuration revision per node", unit: "short", queries: [
                    q(`platform_node_config_applied_info{job="prometheus_node"}`, "{{instance}} {{revision}}"),
                ] },
                { title: "Configuration sets refused", unit: "short", queries: [
                    q(`1 - platform_node_config_apply_successful{job="prometheus_node"}`, "{{instance}}"),
                ] },
            ],
        },
    ],
};

/** The three Prometheus servers: ingestion, series, WAL, rule evaluation and disk. */
export const PROMETHEUS_SERVERS: DashboardSpec = {
    uid: "prometheus-servers",
    title: "Prometheus servers",
    rows: [
        {
            title: "Ingestion",
            panels: [
                { title: "Samples ingested", unit: "ops", queries: [
                    q(`rate(prometheus_tsdb_head_samples_appended_total{job="prometheus"}[${RATE}])`, "{{instance}}"),
                ] },
                { title: "Head series", unit: "short", queries: [q(`prometheus_tsdb_head_series{job="prometheus"}`, "{{instance}}")] },
                { title: "Slowest scrape per job", unit: "s", queries: [
                    q(`max by (job) (scrape_duration_seconds)`, "{{job}}"),
                ] },
            ],
        },
        {
            title: "Rules",
            panels: [
                { title: "Rule group evaluation time", unit: "s", queries: [
                    q(`max by (instance, rule_group) (prometheus_rule_group_last_duration_seconds{job="prometheus"})`, "{{instance}} {{rule_group}}"),
                ] },
                { title: "Rule evaluation failures", unit: "ops", queries: [
                    q(`sum by (instance) (rate(prometheus_rule_evaluation_failures_total{job="prometheus"}[${RATE}]))`, "{{instance}}"),
                ] },
            ],
        },
        {
            title: "Storage",
            panels: [
                { title: "WAL size", unit: "bytes", queries: [q(`prometheus_tsdb_wal_storage_size_bytes{job="prometheus"}`, "{{instance}}")] },
                { title: "TSDB blocks size", unit: "bytes", queries: [q(`prometheus_tsdb_storage_blocks_bytes{job="prometheus"}`, "{{instance}}")] },
                { title: "Data volume free, and its prediction in 7 days", unit: "bytes", queries: [
                    q(`node_filesystem_avail_bytes{job="prometheus_node", mountpoint="${NODE_PATHS.dataDir}"}`, "{{instance}} free"),
                    q(`predict_linear(node_filesystem_avail_bytes{job="prometheus_node", mountpoint="${NODE_PATHS.dataDir}"}[6h], 7 * 86400)`, "{{instance}} in 7 days"),
                ] },
            ],
        },
    ],
};

/** The Prometheus nodes' machines (node_exporter). */
export const NODES: DashboardSpec = {
    uid: "prometheus-nodes",
    title: "Prometheus nodes",
    rows: [
        {
            title: "Machine",
            panels: [
                { title: "CPU busy", unit: "percentunit", queries: [
                    q(`1 - avg by (instance) (rate(node_cpu_seconds_total{job="prometheus_node", mode="idle"}[${RATE}]))`, "{{instance}}"),
                ] },
                { title: "Memory available", unit: "bytes", queries: [q(`node_memory_MemAvailable_bytes{job="prometheus_node"}`, "{{instance}}")] },
                { title: "Load (1 minute)", unit: "short", queries: [q(`node_load1{job="prometheus_node"}`, "{{instance}}")] },
            ],
        },
        {
            title: "Disk and network",
            panels: [
                { title: "Filesystem used", unit: "percentunit", queries: [
                    q(`1 - node_filesystem_avail_bytes{job="prometheus_node", fstype!~"tmpfs|ramfs"} / node_filesystem_size_bytes{job="prometheus_node", fstype!~"tmpfs|ramfs"}`, "{{instance}} {{mountpoint}}"),
                ] },
                { title: "Disk I/O time", unit: "percentunit", queries: [
                    q(`rate(node_disk_io_time_seconds_total{job="prometheus_node"}[${RATE}])`, "{{instance}} {{device}}"),
                ] },
                { title: "Network received", unit: "Bps", queries: [
                    q(`rate(node_network_receive_bytes_total{job="prometheus_node", device!="lo"}[${RATE}])`, "{{instance}} {{device}}"),
                ] },
            ],
        },
    ],
};

export const DASHBOARDS: DashboardSpec[] = [PLATFORM_SLI, PROMETHEUS_SERVERS, NODES];

/** The uid of the overview every tenant's folder starts with. */
export const tenantOverviewUid = (tenant: string) => `tenant-${tenant}`;
/** The uid of a tenant's folder, apart from every dashboard's: Grafana has kept folders among its dashboards. */
export const tenantFolderUid = (tenant: string) => `folder-${tenant}`;

/**
 * What the platform shows every tenant in its folder: its targets, as the platform scrapes them, and
 * its alerts, as its own rules raise them. Tenant series carry tenant="<name>", set by the platform.
 */
export function tenantOverview(tenant: string): DashboardSpec {
    const selector = `tenant="${tenant}"`;
    return {
        uid: tenantOverviewUid(tenant),
        title: `${tenant}: targets and alerts`,
        rows: [{
            title: "Targets and alerts",
            panels: [
                { title: "Targets up per job", unit: "short", queries: [
                    q(`sum by (job) (up{${selector}})`, "{{job}} up"),
                    q(`count by (job) (up{${selector}})`, "{{job}} known"),
                ] },
                { title: "Scrape duration (slowest target per job)", unit: "s", queries: [q(`max by (job) (scrape_duration_seconds{${selector}})`, "{{job}}")] },
                { title: "Alerts firing", unit: "short", queries: [q(`count(ALERTS{${selector}, alertstate="firing"}) or vector(0)`, "firing")] },
                { title: "Alerts pending", unit: "short", queries: [q(`count(ALERTS{${selector}, alertstate="pending"}) or vector(0)`, "pending")] },
            ],
        }],
    };
}

/** The dashboard as Grafana provisions it. */
export function renderDashboard(spec: DashboardSpec): Record<string, unknown> {
    const builder = new DashboardBuilder(spec.title)
        .uid(spec.uid)
        .tags(["prometheus-platform"])
        .readonly()
        .refresh("1m")
        .time({ from: "now-6h", to: "now" })
        .timezone("utc")
        .withVariable(new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus"));
    for (const row of spec.rows) {
        builder.withRow(new RowBuilder(row.title));
        for (const panel of row.panels) {
            const timeseries = new TimeseriesBuilder().title(panel.title).unit(panel.unit).datasource(DATASOURCE).height(8).span(8);
            if (panel.description) {
                timeseries.description(panel.description);
            }
            panel.queries.forEach((query, i) => timeseries.withTarget(new DataqueryBuilder()
                .datasource(DATASOURCE)
                .refId(String.fromCharCode(65 + i))
                .expr(query.expr)
                .legendFormat(query.legend)));
            builder.withPanel(timeseries);
        }
    }
    return builder.build() as unknown as Record<string, unknown>;
}

/** A panel of dashboard JSON, as far as the platform reads one. */
export interface DashboardPanel {
    title?: string;
    type?: string;
    datasource?: { uid?: unknown } | string;
    targets?: { expr?: string; legendFormat?: string; datasource?: { uid?: unknown } | string }[];
    panels?: DashboardPanel[];
}

/** Every panel of dashboard JSON, rows included, and the panels a collapsed row holds inside it. */
export function dashboardPanels(dashboard: Record<string, unknown>): DashboardPanel[] {
    const top = Array.isArray(dashboard.panels) ? dashboard.panels as DashboardPanel[] : [];
    return top.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query a rendered dashboard runs: its panel's title, the expression, and the labels its legend shows. */
export function dashboardQueries(dashboard: Record<string, unknown>): { panel: string; expr: string; legendLabels: string[] }[] {
    return dashboardPanels(dashboard).filter((p) => p.type !== "row").flatMap((p) => (p.targets ?? []).map((t) => ({
        panel: p.title ?? "",
        expr: t.expr ?? "",
        legendLabels: [...(t.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]),
    })));
}
