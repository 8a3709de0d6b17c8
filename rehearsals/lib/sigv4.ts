// SigV4 as an AWS service checks it, for the stand-ins: the request is signed again with the
// maintained implementation the AWS SDK uses (@smithy/signature-v4), from the headers the client
// says it signed, and the two signatures must be equal.
import * as crypto from "crypto";
import * as http from "http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Checksum, HttpRequest, SourceData } from "@smithy/types";

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const bytes = (data: SourceData) => typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data as Uint8Array);

/** SHA-256, or HMAC-SHA256 when given a secret, as the signer asks for them. */
export class NodeSha256 implements Checksum {
    private hash: crypto.Hash | crypto.Hmac;
    constructor(private readonly secret?: SourceData) {
        this.hash = this.fresh();
    }
    private fresh() {
        return this.secret === undefined ? crypto.createHash("sha256") : crypto.createHmac("sha256", bytes(this.secret));
    }
    update(data: Uint8Array): void {
        this.hash.update(bytes(data));
    }
    async digest(): Promise<Uint8Array> {
        return new Uint8Array(this.hash.digest());
    }
    reset(): void {
        this.hash = this.fresh();
    }
}

/** What a signed request's Authorization header says. */
export interface SignedBy { accessKeyId: string; region: string; service: string }

/**
 * Checks a request's SigV4 signature against the secret of its access key. Resolves with who signed
 * it, or rejects with the error type AWS would answer (MissingAuthenticationToken, an unknown key,
 * a signature that does not match).
 */
export async function verifySigV4(req: http.IncomingMessage, body: string | Buffer, secrets: Readonly<Record<string, string>>): Promise<SignedBy> {
    const match = AUTHORIZATION.exec(String(req.headers.authorization ?? ""));
    if (!match) {
        throw new SigV4Error("MissingAuthenticationTokenException", "no SigV4 Authorization header");
    }
    const [, accessKeyId, day, region, service, signedHeaders, signature] = match;
    const secretAccessKey = secrets[accessKeyId];
    if (secretAccessKey === undefined) {
        throw new SigV4Error("UnrecognizedClientException", `the access key ${accessKeyId} is not known here`);
    }
    const amzDate = String(req.headers["x-amz-date"] ?? "");
    const at = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(amzDate);
    if (!at || amzDate.slice(0, 8) !== day) {
        throw new SigV4Error("IncompleteSignatureException", `X-Amz-Date ${amzDate || "missing"} does not match the credential's day ${day}`);
    }
    const [pathPart, queryPart = ""] = (req.url ?? "/").split("?");
    const host = String(req.headers.host ?? "");
    const request: HttpRequest = {
        method: req.method ?? "GET",
        protocol: "http:",
        hostname: host.replace(/:\d+$/, ""),
        path: pathPart,
        query: Object.fromEntries(new URLSearchParams(queryPart)),
        headers: Object.fromEntries(signedHeaders.split(";").map((name) => [name, String(req.headers[name] ?? "")])),
        body,
    };
    // No x-amz-content-sha256 of its own: only what the client signed is signed again.
    const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region, service, sha256: NodeSha256, applyChecksum: false });
    const signed = await signer.sign(request, {
        signingDate: new Date(Date.UTC(+at[1], +at[2] - 1, +at[3], +at[4], +at[5], +at[6])),
        signableHeaders: new Set(signedHeaders.split(";")),
    });
    const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1];
    if (expected === undefined || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
        throw new SigV4Error("InvalidSignatureException", "the request signature does not match the one calculated with the access key's secret");
    }
    return { accessKeyId, region, service };
}

export class SigV4Error extends Error {
    constructor(readonly type: string, message: string) {
        super(message);
    }
}
