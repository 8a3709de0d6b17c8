// A stand-in for Amazon Managed Service for Prometheus's remote-write endpoint: every request's
// SigV4 signature is checked (service aps, the stack's region) against the stand-in's credentials;
// signed writes are counted and, when a receiver is given, handed to it unchanged (a Prometheus
// with its remote-write receiver: AMP's query side); anything else is refused as AMP would and
// recorded. The samples themselves are not decoded here.
import * as http from "http";
import { listen } from "./net";
import { SigV4Error, verifySigV4 } from "./sigv4";

export const AMP_SERVICE = "aps";

export class RemoteWriteStandIn {
    private server?: http.Server;
    /** Writes accepted: who signed them and for which region. */
    readonly accepted: { accessKeyId: string; region: string; bytes: number }[] = [];
    /** Requests refused, with why. */
    readonly refused: string[] = [];

    /** The remote-write URL every accepted write is passed on to, while set; its answer is the node's. */
    private receiver?: string;

    constructor(private readonly region: string, private readonly credentials: Readonly<Record<string, string>>) {}

    /** From now on hands every accepted write to `receiver` (undefined: answers them itself again). */
    passOnTo(receiver: string | undefined): void {
        this.receiver = receiver;
    }

    /** Listens on host; resolves with the remote-write URL, in AMP's path shape. */
    async start(host: string): Promise<string> {
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (chunk: Buffer) => chunks.push(chunk));
            req.on("end", () => this.handle(req, Buffer.concat(chunks)).then(({ status, body }) => {
                res.statusCode = status;
                res.end(body);
            }));
        });
        const port = await listen(this.server, host);
        return `http://${host}:${port}/workspaces/ws-rehearsal/api/v1/remote_write`;
    }

    private async handle(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; body: string }> {
        if (req.method !== "POST" || !/^\/workspaces\/[^/]+\/api\/v1\/remote_write$/.test(req.url ?? "")) {
            this.refused.push(`${req.method} ${req.url}: not a remote write`);
            return { status: 404, body: "not found" };
        }
        try {
            const signed = await verifySigV4(req, body, this.credentials);
            if (signed.service !== AMP_SERVICE || signed.region !== this.region) {
                throw new SigV4Error("InvalidSignatureException", `signed for ${signed.service} in ${signed.region}, not ${AMP_SERVICE} in ${this.region}`);
            }
            this.accepted.push({ accessKeyId: signed.accessKeyId, region: signed.region, bytes: body.length });
            return this.receiver ? this.passOn(req, body) : { status: 200, body: "" };
        } catch (err) {
            const type = err instanceof SigV4Error ? err.type : "InternalFailure";
            this.refused.push(`${type}: ${(err as Error).message}`);
            return { status: 403, body: JSON.stringify({ message: (err as Error).message }) };
        }
    }

    /** Hands a signed write to the receiver with the headers that say what it is. */
    private async passOn(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; body: string }> {
        const headers = Object.fromEntries(["content-type", "content-encoding", "x-prometheus-remote-write-version"]
            .filter((h) => req.headers[h] !== undefined).map((h) => [h, String(req.headers[h])]));
        try {
            const answer = await fetch(this.receiver!, { method: "POST", headers, body });
            return { status: answer.status, body: await answer.text() };
        } catch (err) {
            return { status: 503, body: `receiver unreachable: ${(err as Error).message}` };
        }
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
    }
}
