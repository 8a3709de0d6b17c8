// Tickets outside support hours, a tenant's and the platform's, on the real Alertmanager: amtool
// cannot evaluate time, so dev's rendered alertmanager.yml runs with the hours moved away from now
// (the ticket is held while its page goes out), then reloaded with hours that hold now (it is sent).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { PLATFORM_SUPPORT_HOURS, RECEIVERS, supportHoursName, tenantReceiverName } from "../components/render/alertmanagerConfig";
import { freePort, listen } from "../rehearsals/lib/net";
import { Processes } from "../rehearsals/lib/processes";
import { remapAlertmanagerConfig } from "../rehearsals/lib/remap";
import { request, waitFor } from "../rehearsals/lib/wait";
import { previewValue } from "../scripts/lib/offline";
import { plannedStack } from "./helpers/stacks";
import { requireTool } from "./helpers/tools";

const HOST = "127.0.0.1";
/** Route timings divided by this: group_wait 30 s becomes 1 s, group_interval 5 m becomes 10 s. */
const FACTOR = 30;

/** One UTC hour that is not now, nor within the next hour. */
function hoursExcluding(date: Date): { start_time: string; end_time: string } {
    const hour = date.getUTCHours() <= 21 ? date.getUTCHours() + 2 : 2;
    const at = (h: number) => `${String(h).padStart(2, "0")}:00`;
    return { start_time: at(hour), end_time: at(hour + 1) };
}

interface HoursCase {
    /** The time interval that gates the tickets. */
    interval: string;
    ticket: Record<string, string>;
    page: Record<string, string>;
    pageReceiver: string;
    ticketReceiver: string;
}

/** Dev's alertmanager.yml on the real Alertmanager: a ticket held outside its hours while its page goes out, then sent once the hours hold now. */
async function holdsTicketsOutsideHours(binary: string, which: (tenant: string) => HoursCase): Promise<void> {
    const { platform } = await plannedStack("dev");
    const rendered = yaml.load((await previewValue(platform.alertmanagerConfig))!) as Record<string, any>;
    const hoursCase = which(platform.tenants[0].name);
    const withHours = (times: { start_time: string; end_time: string }) => {
        const config = structuredClone(rendered);
        const interval = config.time_intervals.find((t: { name: string }) => t.name === hoursCase.interval);
        interval.time_intervals = [{ weekdays: ["sunday:saturday"], times: [times], location: "UTC" }];
        return config;
    };

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "support-hours-"));
    const processes = new Processes(work);
    const received: { receiver: string; body: string }[] = [];
    const recorder = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => { body += chunk; });
        req.on("end", () => { received.push({ receiver: (req.url ?? "").slice(1), body }); res.end("ok"); });
    });
    try {
        const recorderUrl = `http://${HOST}:${await listen(recorder, HOST)}`;
        const configFile = path.join(work, "alertmanager.yml");
        const write = (config: Record<string, any>) => fs.writeFileSync(configFile, remapAlertmanagerConfig(yaml.dump(config), FACTOR, recorderUrl));

        const outside = hoursExcluding(new Date());
        write(withHours(outside));
        const port = await freePort(HOST);
        await processes.start("alertmanager", binary, [
            `--config.file=${configFile}`, `--storage.path=${path.join(work, "data")}`,
            `--web.listen-address=${HOST}:${port}`, "--cluster.listen-address=",
        ], { address: { host: HOST, port } });
        const api = (urlPath: string, method = "GET", body?: string) =>
            request({ host: HOST, port, path: urlPath, method, body, headers: body ? { "content-type": "application/json" } : {} });
        await waitFor("Alertmanager to be ready", async () => (await api("/-/ready")).status === 200 || undefined, 30000)
            .catch((err: Error) => { throw new Error(`${err.message}; its log:\n${processes.log("alertmanager")}`); });
        assert.deepEqual(processes.verify(), []);

        // Firing for the whole test: an alert without endsAt resolves after resolve_timeout (10 s here).
        const alert = (labels: Record<string, string>) => ({ labels, startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3600000).toISOString() });
        const posted = await api("/api/v2/alerts", "POST", JSON.stringify([alert(hoursCase.ticket), alert(hoursCase.page)]));
        assert.equal(posted.status, 200, posted.body);

        await waitFor("the page", async () => received.find((r) => r.body.includes(hoursCase.page.alertname)), 30000);
        // Counted in Alertmanager's own flushes, not seconds: the ticket's group is flushed and held by
        // its time interval twice (its suppression counter), and still nothing of it was sent.
        const suppressed = async () => Number(/^alertmanager_notifications_suppressed_total\{reason="active_time_interval"\} (\S+)$/m
            .exec((await api("/metrics")).body)?.[1] ?? 0);
        await waitFor("the ticket's group held twice by its time interval", async () => (await suppressed()) >= 2 || undefined, 60000);
        assert.deepEqual(received.filter((r) => r.body.includes(hoursCase.ticket.alertname)), [],
            `a ticket was sent outside ${outside.start_time}-${outside.end_time} UTC`);
        assert.deepEqual(received.map((r) => r.receiver), [hoursCase.pageReceiver], "the page went to its page receiver only");

        write(withHours({ start_time: "00:00", end_time: "24:00" }));
        assert.equal((await api("/-/reload", "POST")).status, 200);
        const sent = await waitFor("the held ticket, once the hours hold now",
            async () => received.find((r) => r.body.includes(hoursCase.ticket.alertname)), 30000);
        assert.equal(sent.receiver, hoursCase.ticketReceiver);
        assert.deepEqual(processes.verify(), []);
    } finally {
        await processes.stop("alertmanager");
        processes.stopAll();
        recorder.close();
        fs.rmSync(work, { recursive: true, force: true });
    }
}

describe("support hours, on the real Alertmanager", function () {
    this.timeout(120000);

    it("holds a tenant's ticket outside its hours while its page goes out, and sends the ticket once they hold now", async function () {
        const binary = requireTool(this, "alertmanager");
        const { platform } = await plannedStack("dev");
        const tenant = platform.tenants[0];
        await holdsTicketsOutsideHours(binary, (name) => ({
            interval: supportHoursName(name),
            ticket: { alertname: "SupportHoursTicket", severity: tenant.routing.ticket.severities[0], tenant: name },
            page: { alertname: "SupportHoursPage", severity: tenant.routing.page.severities[0], tenant: name },
            pageReceiver: tenantReceiverName(name, tenant.routing.page.receiver),
            ticketReceiver: tenantReceiverName(name, tenant.routing.ticket.receiver),
        }));
    });

    it("holds the platform's ticket outside the platform's support hours while its page goes out at any hour", async function () {
        const binary = requireTool(this, "alertmanager");
        await holdsTicketsOutsideHours(binary, () => ({
            interval: PLATFORM_SUPPORT_HOURS,
            ticket: { alertname: "PlatformSupportHoursTicket", severity: "ticket" },
            page: { alertname: "PlatformSupportHoursPage", severity: "page" },
            pageReceiver: RECEIVERS.page,
            ticketReceiver: RECEIVERS.ticket,
        }));
    });
});
