// A stand-in CloudWatch Logs endpoint for the journal shipper: the JSON 1.1 protocol of
// CreateLogGroup, CreateLogStream and PutLogEvents, holding PutLogEvents to its documented limits
// (batch count and size, order, span, event size; events too old or too new are refused), so a
// shipper that breaks a rule is told so as AWS would tell it. Every request's SigV4 signature is
// checked against the stand-in's credentials. Anything else is recorded as a problem.
import * as http from "http";
import { listen } from "./net";
import { SigV4Error, verifySigV4 } from "./sigv4";

export const PUT_LIMITS = {
    maxEvents: 10000,
    maxBatchBytes: 1048576,
    eventOverheadBytes: 26,
    maxSpanMs: 24 * 3600 * 1000,
    maxEventBytes: 256 * 1024,
    maxAgeMs: 14 * 24 * 3600 * 1000,
    maxFutureMs: 2 * 3600 * 1000,
};
const TARGET_PREFIX = "Logs_20140328.";

export interface StoredEvent { timestamp: number; message: string }

interface Failure { status: number; type: string }

export class CloudWatchLogsStandIn {
    private readonly groups = new Map<string, Map<string, StoredEvent[]>>();
    private readonly failures: Failure[] = [];
    private server?: http.Server;
    /** Requests this stand-in could not honour: protocol errors, unknown operations, unsigned calls. */
    readonly problems: string[] = [];
    /** Every PutLogEvents accepted, with its size, for assertions on batching. */
    readonly puts: { stream: string; events: number; bytes: number }[] = [];
    /** The access keys the requests were validly signed with. */
    readonly accessKeys = new Set<string>();

    /** `credentials`: access key ID to secret, the keys whose signatures are honoured. */
    constructor(readonly retentionDays?: number, private readonly credentials: Readonly<Record<string, string>> = { S3RVER: "S3RVER" }) {}

    createLogGroup(name: string): void {
        this.groups.set(name, this.groups.get(name) ?? new Map());
    }

    /** The next n calls of PutLogEvents or CreateLogStream fail with this status and error type. */
    failNext(n: number, status = 503, type = "ServiceUnavailableException"): void {
        for (let i = 0; i < n; i++) {
            this.failures.push({ status, type });
        }
    }

    streams(group: string): string[] {
        return [...(this.groups.get(group)?.keys() ?? [])].sort();
    }

    events(group: string, stream: string): StoredEvent[] {
        return this.groups.get(group)?.get(stream) ?? [];
    }

    listen(host: string, port = 0): Promise<number> {
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                void this.handle(req, Buffer.concat(chunks).toString("utf8")).then((reply) => {
                    res.writeHead(reply.status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "stand-in" });
                    res.end(JSON.stringify(reply.body));
                });
            });
        });
        return listen(this.server, host, port);
    }

    close(): Promise<void> {
        return new Promise((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
    }

    private async handle(req: http.IncomingMessage, raw: string): Promise<{ status: number; body: Record<string, unknown> }> {
        const error = (status: number, type: string, message: string) => ({ status, body: { __type: type, message } });
        const target = String(req.headers["x-amz-target"] ?? "");
        if (req.method !== "POST" || !target.startsWith(TARGET_PREFIX) || !String(req.headers["content-type"]).startsWith("application/x-amz-json-1.1")) {
            this.problems.push(`${req.method} ${req.url} ${target || "(no x-amz-target)"} ${req.headers["content-type"]}`);
            return error(400, "UnknownOperationException", "not a CloudWatch Logs JSON 1.1 call");
        }
        try {
            const signer = await verifySigV4(req, raw, this.credentials);
            if (signer.service !== "logs") {
                throw new SigV4Error("InvalidSignatureException", `signed for ${signer.service}, not logs`);
            }
            this.accessKeys.add(signer.accessKeyId);
        } catch (err) {
            const type = err instanceof SigV4Error ? err.type : "InternalFailure";
            this.problems.push(`${target}: ${type}: ${(err as Error).message}`);
            return error(type === "InternalFailure" ? 500 : 403, type, (err as Error).message);
        }
        const operation = target.slice(TARGET_PREFIX.length);
        let body: Record<string, any>;
        try {
            body = JSON.parse(raw);
        } catch {
            this.problems.push(`${operation} with a body that is not JSON`);
            return error(400, "SerializationException", "body is not JSON");
        }
        if (operation !== "CreateLogGroup" && this.failures.length > 0) {
            const failure = this.failures.shift()!;
            return error(failure.status, failure.type, "injected by the test");
        }
        const group = this.groups.get(body.logGroupName);
        switch (operation) {
            case "CreateLogGroup":
                this.createLogGroup(body.logGroupName);
                return { status: 200, body: {} };
            case "CreateLogStream":
                if (!group) {
                    return error(400, "ResourceNotFoundException", `The specified log group does not exist: ${body.logGroupName}`);
                }
                if (group.has(body.logStreamName)) {
                    return error(400, "ResourceAlreadyExistsException", "The specified log stream already exists");
                }
                if (!/^[^:*]{1,512}$/.test(body.logStreamName)) {
                    this.problems.push(`invalid stream name ${body.logStreamName}`);
                    return error(400, "InvalidParameterException", "invalid stream name");
                }
                group.set(body.logStreamName, []);
                return { status: 200, body: {} };
            case "PutLogEvents":
                return this.put(body, group);
            default:
                this.problems.push(`unexpected operation ${operation}`);
                return error(400, "UnknownOperationException", operation);
        }
    }

    private put(body: Record<string, any>, group: Map<string, StoredEvent[]> | undefined): { status: number; body: Record<string, unknown> } {
        const invalid = (message: string) => {
            this.problems.push(`PutLogEvents to ${body.logStreamName}: ${message}`);
            return { status: 400, body: { __type: "InvalidParameterException", message } };
        };
        const stream = group?.get(body.logStreamName);
        if (!stream) {
            return { status: 400, body: { __type: "ResourceNotFoundException", message: "The specified log stream does not exist." } };
        }
        const events = body.logEvents as StoredEvent[];
        if (!Array.isArray(events) || events.length === 0) {
            return invalid("no events");
        }
        const bytes = events.reduce((sum, e) => sum + Buffer.byteLength(e.message, "utf8") + PUT_LIMITS.eventOverheadBytes, 0);
        if (events.length > PUT_LIMITS.maxEvents) {
            return invalid(`${events.length} events, more than ${PUT_LIMITS.maxEvents}`);
        }
        if (bytes > PUT_LIMITS.maxBatchBytes) {
            return invalid(`${bytes} bytes, more than ${PUT_LIMITS.maxBatchBytes}`);
        }
        if (events.some((e, i) => i > 0 && e.timestamp < events[i - 1].timestamp)) {
            return invalid("events not in chronological order");
        }
        if (events[events.length - 1].timestamp - events[0].timestamp > PUT_LIMITS.maxSpanMs) {
            return invalid("events span more than 24 hours");
        }
        if (events.some((e) => !Number.isInteger(e.timestamp) || typeof e.message !== "string" || Buffer.byteLength(e.message, "utf8") > PUT_LIMITS.maxEventBytes)) {
            return invalid("an event without an integer timestamp, or a message over 256 KiB");
        }
        const now = Date.now();
        const oldest = now - Math.min(PUT_LIMITS.maxAgeMs, (this.retentionDays ?? 14) * 24 * 3600 * 1000);
        const tooOld = events.filter((e) => e.timestamp < oldest).length;
        const firstTooNew = events.findIndex((e) => e.timestamp > now + PUT_LIMITS.maxFutureMs);
        const accepted = events.slice(tooOld, firstTooNew === -1 ? events.length : firstTooNew);
        stream.push(...accepted.map((e) => ({ timestamp: e.timestamp, message: e.message })));
        this.puts.push({ stream: body.logStreamName, events: events.length, bytes });
        const rejected = {
            ...(tooOld > 0 ? { tooOldLogEventEndIndex: tooOld - 1 } : {}),
            ...(firstTooNew !== -1 ? { tooNewLogEventStartIndex: firstTooNew } : {}),
        };
        return { status: 200, body: { nextSequenceToken: String(this.puts.length), ...(Object.keys(rejected).length > 0 ? { rejectedLogEventsInfo: rejected } : {}) } };
    }
}
