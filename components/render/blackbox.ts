// Pure renderers of the outside-in probes: the blackbox exporter's modules, and its systemd drop-in.
// Each node runs Debian's prometheus-blackbox-exporter; every Prometheus probes each public URL
// through all three nodes' exporters, so "down from two nodes" can be told from one node's trouble.
import * as yaml from "js-yaml";
import { BLACKBOX_PORT } from "../ports";

export const BLACKBOX_CONFIG_FILE = "/etc/prometheus/platform-blackbox.yml";
export const BLACKBOX_UNIT = "prometheus-blackbox-exporter.service";
/** The scrape job of the probes, which the probe alerts watch. */
export const PROBE_JOB = "probe";

/**
 * prom-N answers through nginx: 200 from the office, 401 (basic auth) from anywhere else, as from
 * the nodes. alerts-N and grafana are office-only: from the nodes the ALB answers its default 404,
 * which still proves DNS, the certificate and the ALB; their backends are watched from inside.
 */
export const PROBE_MODULES = {
    auth_proxy: { validStatusCodes: [200, 401] },
    office_only: { validStatusCodes: [200, 404] },
    // Behind the ALB's sign-in: anyone not signed in is redirected to the identity provider.
    sign_in: { validStatusCodes: [302] },
} as const;
export type ProbeModule = keyof typeof PROBE_MODULES;

export interface ProbeTarget {
    url: string;
    module: ProbeModule;
}

/** The modules the given probes use, in PROBE_MODULES' order. */
export function blackboxConfig(targets: ProbeTarget[]): Record<string, unknown> {
    const used = new Set(targets.map((t) => t.module));
    return {
        modules: Object.fromEntries(Object.entries(PROBE_MODULES).filter(([name]) => used.has(name as ProbeModule)).map(([name, module]) => [name, {
            prober: "http",
            timeout: "10s",
            http: {
                valid_status_codes: module.validStatusCodes,
                valid_http_versions: ["HTTP/1.1", "HTTP/2.0"],
                method: "GET",
                no_follow_redirects: true,
                fail_if_not_ssl: true,
                preferred_ip_protocol: "ip4",
                tls_config: { min_version: "TLS12" },
            },
        }])),
    };
}

export function renderBlackboxConfig(targets: ProbeTarget[]): string {
    return yaml.dump(blackboxConfig(targets), { lineWidth: -1, noRefs: true });
}

/** Debian's unit, started with the platform's modules and reachable by the other nodes. */
export function renderBlackboxDropIn(binary: string): string {
    return `[Service]
ExecStart=
ExecStart=${binary} --config.file=${BLACKBOX_CONFIG_FILE} --web.listen-address=0.0.0.0:${BLACKBOX_PORT}
`;
}

/** The probe job: each target through each node's exporter, labelled with the URL and where it was probed from. */
export function probeScrapeConfig(exporters: { name: string; address: string }[], targets: ProbeTarget[]): Record<string, unknown> {
    return {
        job_name: PROBE_JOB,
        metrics_path: "/probe",
        static_configs: exporters.flatMap((exporter) => (Object.keys(PROBE_MODULES) as ProbeModule[]).map((module) => ({
            targets: targets.filter((t) => t.module === module).map((t) => t.url),
            labels: { __param_module: module, __exporter: exporter.address, probe_from: exporter.name },
        }))).filter((group) => group.targets.length > 0),
        relabel_configs: [
            { source_labels: ["__address__"], target_label: "__param_target" },
            { source_labels: ["__param_target"], target_label: "url" },
            { source_labels: ["__param_module"], target_label: "module" },
            { source_labels: ["__exporter"], target_label: "__address__" },
            { source_labels: ["probe_from"], target_label: "instance" },
        ],
    };
}
