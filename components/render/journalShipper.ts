// Pure renderers of the node's journal shipper: its configuration and unit. The shipper itself is
// journal-shipper.py beside this file, run by Debian's python3 with Debian's python3-systemd and
// python3-botocore, so the node installs nothing from outside Debian's archive to ship its logs.
import * as fs from "fs";
import * as path from "path";
import type { NodeFile } from "./cloudInit";

export const JOURNAL_SHIPPER = {
    binary: "/usr/local/sbin/platform-journal-shipper",
    configFile: "/etc/platform/journal-shipper.json",
    unit: "platform-journal-shipper.service",
    stateDir: "/var/lib/platform-journal-shipper",
    textfileName: "platform_log_shipper.prom",
} as const;

/** The Debian packages the shipper runs with. */
export const JOURNAL_SHIPPER_PACKAGES = ["python3-systemd", "python3-botocore"];

/** The source of the shipper, as the node installs it. */
export const JOURNAL_SHIPPER_SOURCE_FILE = path.join(__dirname, "journal-shipper.py");

export interface JournalShipperSettings {
    logGroup: string;
    region: string;
    /** The node's name: its streams are <node>/<unit>. */
    node: string;
    units: string[];
    /**
     * Units the shipper starts before and stops after, so what they log while stopping leaves with
     * it (an instance shutting down). Not cloud-init's: they run before the network is up.
     */
    outlives: string[];
    /** A CloudWatch Logs endpoint other than the region's own (rehearsals). */
    endpointUrl?: string;
    flushSeconds: number;
    textfileDir: string;
}

/** What systemd gives the shipper to stop, its final flush included, before it kills it. */
export const JOURNAL_SHIPPER_STOP_SECONDS = 30;

export function renderJournalShipperConfig(settings: JournalShipperSettings): string {
    return `${JSON.stringify({
        logGroup: settings.logGroup,
        region: settings.region,
        node: settings.node,
        units: settings.units,
        stateDir: JOURNAL_SHIPPER.stateDir,
        textfile: `${settings.textfileDir}/${JOURNAL_SHIPPER.textfileName}`,
        flushSeconds: settings.flushSeconds,
        ...(settings.endpointUrl ? { endpointUrl: settings.endpointUrl } : {}),
    }, null, 2)}\n`;
}

/** Started early in the first boot, so even a boot that fails later leaves its log off the instance. */
export function renderJournalShipperUnit(outlives: string[]): string {
    return `[Unit]
Description=Ship the platform units' journal entries to CloudWatch Logs
Wants=network-online.target
After=network-online.target
Before=${outlives.join(" ")}

[Service]
ExecStartPre=${JOURNAL_SHIPPER.binary} --check --config ${JOURNAL_SHIPPER.configFile}
ExecStart=${JOURNAL_SHIPPER.binary} --config ${JOURNAL_SHIPPER.configFile}
Restart=always
RestartSec=10
# Stopping flushes what the last interval logged (an instance shutting down).
TimeoutStopSec=${JOURNAL_SHIPPER_STOP_SECONDS}
StateDirectory=${path.basename(JOURNAL_SHIPPER.stateDir)}
NoNewPrivileges=yes
ProtectHome=read-only
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`;
}

export function journalShipperFiles(settings: JournalShipperSettings): NodeFile[] {
    return [
        { path: JOURNAL_SHIPPER.binary, permissions: "0755", content: fs.readFileSync(JOURNAL_SHIPPER_SOURCE_FILE, "utf8") },
        { path: JOURNAL_SHIPPER.configFile, permissions: "0644", content: renderJournalShipperConfig(settings) },
        { path: `/etc/systemd/system/${JOURNAL_SHIPPER.unit}`, permissions: "0644", content: renderJournalShipperUnit(settings.outlives) },
    ];
}
