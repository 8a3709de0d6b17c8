// A stand-in for Amazon Managed Service for Prometheus's remote-write endpoint: every request's
// SigV4 signature is checked (service aps, the stack's region) against the stand-in's credentials;
// signed writes are answered 200 and counted, anything else is refused as AMP would and recorded.
// The samples themselves are not decoded: each node's own remote-storage metrics say what it sent.
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

    constructor(private readonly region: string, private readonly credentials: Readonly<Record<string, string>>) {}

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
            return { status: 200, body: "" };
        } catch (err) {
            const type = err instanceof SigV4Error ? err.type : "InternalFailure";
            this.refused.push(`${type}: ${(err as Error).message}`);
            return { status: 403, body: JSON.stringify({ message: (err as Error).message }) };
        }
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
    }
}
