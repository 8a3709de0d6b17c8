// A tenant's dashboards as code: JSON files under tenants/<name>/dashboards/, made with Grafana's
// SDK or exported from Grafana, provisioned into the tenant's folder. Checked when the tenant is
// loaded, before any resource is registered: each is a dashboard with a title and a uid of the
// tenant's own, and each query parses as PromQL.
import * as fs from "fs";
import * as path from "path";
import { DashboardPanel, dashboardPanels, dashboardQueries } from "../components/dashboards";
import { promqlSyntaxError } from "../components/render/promql";
import { MANAGED_PROMETHEUS_DATASOURCE } from "../components/render/grafanaConfig";
import { TenantFileError } from "./inputErrors";
import { isNodeName, nodeName } from "./nodeKeys";

export interface TenantDashboard {
    /** The file, as errors name it. */
    readonly file: string;
    readonly uid: string;
    readonly title: string;
    readonly json: Record<string, unknown>;
}

export const TENANT_DASHBOARDS_DIR = "dashboards";
/** Grafana's uids are at most 40 letters, digits, - and _. */
const UID = /^[A-Za-z0-9_-]{1,40}$/;
/** The data sources Grafana is provisioned with, by uid: each node's Prometheus (prom-1, prom-s2-1, ...), and AMP where a stack writes to it. */
const PROVISIONED_DATASOURCES = `${[1, 2, 3].map((zone) => nodeName(zone)).join(", ")}, ${nodeName(1, 2)} and on, ${MANAGED_PROMETHEUS_DATASOURCE}`;
const isProvisionedDatasource = (uid: string) => uid === MANAGED_PROMETHEUS_DATASOURCE || isNodeName(uid);
/** Grafana's own interval variables, standing for a range while a query is parsed. */
const GRAFANA_INTERVALS = /\$(\{__(rate_interval|interval|range)\}|__(rate_interval|interval|range)\b)/g;

/** The tenant's dashboards, in file order; none when it has no dashboards directory. */
export function loadTenantDashboards(tenant: string, tenantDir: string, shown: (file: string) => string): TenantDashboard[] {
    const unexpected = fs.existsSync(tenantDir) ? fs.readdirSync(tenantDir).filter((entry) => entry !== TENANT_DASHBOARDS_DIR) : [];
    if (unexpected.length > 0) {
        throw new TenantFileError(shown(path.join(tenantDir, unexpected[0])), [`(file name): only ${TENANT_DASHBOARDS_DIR}/ belongs in ${shown(tenantDir)}/`]);
    }
    const dir = path.join(tenantDir, TENANT_DASHBOARDS_DIR);
    if (!fs.existsSync(dir)) {
        return [];
    }
    return fs.readdirSync(dir).sort().map((entry) => {
        const file = shown(path.join(dir, entry));
        if (!entry.endsWith(".json")) {
            throw new TenantFileError(file, [`(file name): a dashboard is a .json file`]);
        }
        let json: unknown;
        try {
            json = JSON.parse(fs.readFileSync(path.join(dir, entry), "utf8"));
        } catch (err) {
            throw new TenantFileError(file, [`(top level): not JSON: ${(err as Error).message}`]);
        }
        return validateDashboard(json, file, tenant);
    });
}

function validateDashboard(json: unknown, file: string, tenant: string): TenantDashboard {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
        throw new TenantFileError(file, ["(top level): must be a dashboard (a JSON object)"]);
    }
    const dashboard = json as Record<string, unknown>;
    const problems: string[] = [];
    const { uid, title } = dashboard;
    if (typeof title !== "string" || title.trim() === "") {
        problems.push("title: missing; a dashboard needs a title");
    }
    if (typeof uid !== "string" || !UID.test(uid)) {
        problems.push(`uid: ${typeof uid === "string" ? `${uid} is not a Grafana uid` : "missing"}; set one of at most 40 letters, digits, - and _, so links to it last`);
    } else if (!uid.startsWith(`${tenant}-`)) {
        problems.push(`uid: ${uid} must start with ${tenant}- (the tenant's name), so no two teams' dashboards share one`);
    }
    // A dashboard exported from another Grafana names that one's data sources, which this one has not.
    const unknownSources = [...new Set(datasourceUids(dashboard).filter((ref) => !ref.startsWith("$") && !isProvisionedDatasource(ref)))];
    if (unknownSources.length > 0) {
        problems.push(`panels: data source ${unknownSources.join(", ")} is none of the platform's (${PROVISIONED_DATASOURCES}); `
            + "use one of them, or a data source variable ($datasource)");
    }
    if (!Array.isArray(dashboard.panels) || dashboard.panels.length === 0) {
        problems.push(`panels: ${dashboard.panels === undefined ? "missing" : "must be a list of at least one panel"}; a dashboard shows panels`);
    } else {
        dashboardQueries(dashboard).forEach(({ panel, expr }) => {
            const error = promqlSyntaxError(expr.replace(GRAFANA_INTERVALS, "5m"));
            if (expr.trim() === "" || error) {
                problems.push(`panels (${panel}): ${expr.trim() === "" ? "a query with no expression" : `${expr} does not parse as PromQL at line ${error!.line}, column ${error!.column}`}`);
            }
        });
    }
    if (problems.length > 0) {
        throw new TenantFileError(file, problems);
    }
    return { file, uid: uid as string, title: title as string, json: dashboard };
}

/** The data source uids a dashboard's panels and their queries name. */
export function datasourceUids(dashboard: Record<string, unknown>): string[] {
    const uidOf = (ref: DashboardPanel["datasource"]) => typeof ref === "string" ? ref : typeof ref?.uid === "string" ? ref.uid : undefined;
    return dashboardPanels(dashboard).flatMap((p) => [uidOf(p.datasource), ...(p.targets ?? []).map((t) => uidOf(t.datasource))])
        .filter((uid): uid is string => uid !== undefined);
}

/** Two dashboards with one uid would overwrite each other in Grafana: refused, naming both files. */
export function checkDashboardUids(dashboards: TenantDashboard[], reserved: string[]): void {
    const seen = new Map<string, string>(reserved.map((uid) => [uid, "the platform's dashboards"]));
    for (const dashboard of dashboards) {
        const other = seen.get(dashboard.uid);
        if (other) {
            throw new TenantFileError(dashboard.file, [`uid: ${dashboard.uid} is also the uid of ${other}; choose another`]);
        }
        seen.set(dashboard.uid, dashboard.file);
    }
}
