// Pure remapping of a stack's rendered configs for the loopback rehearsal: addresses, ports and
// paths move to loopback and a temp dir, and every interval and `for:` shrinks by one factor.
import * as yaml from "js-yaml";
import { PROBE_JOB } from "../../components/render/blackbox";
import { PLATFORM_PAGE_HOURS, PLATFORM_SUPPORT_HOURS } from "../../components/render/alertmanagerConfig";
import { durationMs } from "../../components/duration";

/** The duration divided by `factor`, in milliseconds (at least 1ms unless zero). */
export function scaleDuration(duration: string, factor: number): string {
    const ms = durationMs(duration);
    return ms === 0 ? "0s" : `${Math.max(1, Math.round(ms / factor))}ms`;
}

export interface PrometheusRemap {
    factor: number;
    /** Production address (private IP) to loopback address, ports kept. */
    addresses: Record<string, string>;
    alertmanagers: string[];
    /** DNS name of a dns_sd job to the loopback targets standing for what it names; unnamed: none. */
    dnsTargets: Record<string, string[]>;
    /** Public URL a probe fetches to the loopback URL standing for it; unnamed: not probed here. */
    probeUrls: Record<string, string>;
    /** The stand-in of the AMP workspace's remote-write URL; none: remote write is left out. */
    remoteWriteUrl?: string;
    rulesDir: string;
    targetsDir: string;
}

/** prometheus.yml for the rehearsal. DNS discovery becomes static loopback targets. */
export function remapPrometheusConfig(text: string, remap: PrometheusRemap): string {
    const config = yaml.load(text) as Record<string, any>;
    const scale = (d: string) => scaleDuration(d, remap.factor);
    config.global.scrape_interval = scale(config.global.scrape_interval);
    config.global.evaluation_interval = scale(config.global.evaluation_interval);
    config.global.scrape_timeout = scale(config.global.scrape_timeout ?? "10s");
    config.rule_files = [`${remap.rulesDir}/*.yml`];
    if (config.remote_write && remap.remoteWriteUrl) {
        config.remote_write = config.remote_write.map((target: Record<string, unknown>) => ({ ...target, url: remap.remoteWriteUrl }));
    } else {
        delete config.remote_write;
    }
    const members = [{ targets: remap.alertmanagers }];
    config.alerting.alertmanagers = config.alerting.alertmanagers.map(({ dns_sd_configs: _, ...rest }: Record<string, unknown>) =>
        ({ ...rest, static_configs: members }));
    config.scrape_configs = config.scrape_configs.map((job: Record<string, any>) => {
        if (job.dns_sd_configs) {
            const { dns_sd_configs: sd, ...rest } = job;
            const targets = (sd as { names: string[] }[]).flatMap((c) => c.names.flatMap((name) => remap.dnsTargets[name] ?? []));
            return { ...rest, static_configs: [{ targets }] };
        }
        if (job.file_sd_configs) {
            // The paas-proxy forwards to PaaS over TLS, which loopback targets do not speak.
            const { proxy_url: _, ...rest } = job;
            return {
                ...rest,
                file_sd_configs: job.file_sd_configs.map((sd: Record<string, any>) => ({
                    ...sd,
                    files: sd.files.map((f: string) => f.replace(/^.*\/targets\//, `${remap.targetsDir}/`)),
                    refresh_interval: scale(sd.refresh_interval ?? "5m"),
                })),
            };
        }
        const address = (t: string) => {
            const [host, port] = t.split(":");
            return `${remap.addresses[host] ?? host}:${port}`;
        };
        if (job.job_name === PROBE_JOB) {
            // Probes: the URLs become their loopback stand-ins, fetched through each node's exporter here.
            return {
                ...job,
                static_configs: job.static_configs.map((group: Record<string, any>) => ({
                    targets: group.targets.filter((url: string) => remap.probeUrls[url]).map((url: string) => remap.probeUrls[url]),
                    labels: { ...group.labels, __exporter: address(group.labels.__exporter) },
                })),
            };
        }
        return {
            ...job,
            static_configs: job.static_configs.map((group: Record<string, any>) => ({ ...group, targets: group.targets.map(address) })),
        };
    });
    return yaml.dump(config, { lineWidth: -1, noRefs: true });
}

/** The blackbox exporter's modules for a rehearsal: its ingress stand-in speaks plain HTTP. */
export function remapBlackboxConfig(text: string): string {
    const config = yaml.load(text) as { modules: Record<string, { http: Record<string, unknown> }> };
    Object.values(config.modules).forEach((module) => { module.http.fail_if_not_ssl = false; });
    return yaml.dump(config, { lineWidth: -1, noRefs: true });
}

export function remapRules(text: string, factor: number): string {
    const rules = yaml.load(text) as { groups: { rules: Record<string, string>[] }[] };
    for (const group of rules.groups) {
        for (const rule of group.rules) {
            if (rule.for) {
                rule.for = scaleDuration(rule.for, factor);
            }
        }
    }
    return yaml.dump(rules, { lineWidth: -1 });
}

/**
 * alertmanager.yml for the rehearsal: receivers post to a local recorder, intervals shrink. With
 * `platformHoursAlways`, the platform's support and page hours hold at every hour, so a rehearsal
 * run at night still sees its tickets (tests/supportHours.test.ts shows the hours themselves).
 */
export function remapAlertmanagerConfig(text: string, factor: number, receiverBase: string, options: { platformHoursAlways?: boolean } = {}): string {
    const config = yaml.load(text) as Record<string, any>;
    if (options.platformHoursAlways) {
        for (const interval of (config.time_intervals ?? []).filter((t: { name: string }) => [PLATFORM_SUPPORT_HOURS, PLATFORM_PAGE_HOURS].includes(t.name))) {
            interval.time_intervals = [{ weekdays: ["sunday:saturday"], times: [{ start_time: "00:00", end_time: "24:00" }] }];
        }
    }
    const scale = (d: string) => scaleDuration(d, factor);
    const scaleRoute = (route: Record<string, any>) => {
        for (const key of ["group_wait", "group_interval", "repeat_interval"]) {
            if (route[key]) {
                route[key] = scale(route[key]);
            }
        }
        (route.routes ?? []).forEach(scaleRoute);
    };
    scaleRoute(config.route);
    config.global.resolve_timeout = scale(config.global.resolve_timeout);
    for (const receiver of config.receivers) {
        const url = `${receiverBase}/${receiver.name}`;
        (receiver.pagerduty_configs ?? []).forEach((c: Record<string, unknown>) => { c.url = url; });
        (receiver.webhook_configs ?? []).forEach((c: Record<string, unknown>) => { c.url = url; });
        (receiver.slack_configs ?? []).forEach((c: Record<string, unknown>) => { c.api_url = url; });
        if (receiver.email_configs) {
            throw new Error(`receiver ${receiver.name} sends email, which the rehearsal cannot record: rehearse a stack with webhook tickets`);
        }
    }
    return yaml.dump(config, { lineWidth: -1, noRefs: true });
}

/** Replaces each `from` with its `to` everywhere in a text (longest first). */
export function replaceAll(text: string, pairs: [string, string][]): string {
    return [...pairs].sort(([a], [b]) => b.length - a.length).reduce((t, [from, to]) => t.split(from).join(to), text);
}

/**
 * A node's nginx.conf with its pid file, logs and htpasswd moved into `dir`, runnable by a user
 * who is not root (the `user` directive only applies to a root master).
 */
export function remapNginxPaths(text: string, dir: string, runningAsRoot: boolean): string {
    const remapped = replaceAll(text, [
        ["/run/nginx.pid", `${dir}/nginx.pid`],
        ["/var/log/nginx/", `${dir}/`],
        ["/etc/nginx/htpasswd", `${dir}/htpasswd`],
    ]);
    return runningAsRoot ? remapped : remapped.replace(/^user .*;\n/m, "");
}
