// The AWS stand-ins check SigV4 as AWS does: a request signed with the wrong secret, or changed
// after it was signed, is refused and changes nothing. (The journal shipper's tests show botocore's
// own signatures accepted by the same check.)
import { strict as assert } from "assert";
import * as http from "http";
import { SignatureV4 } from "@smithy/signature-v4";
import { CloudWatchLogsStandIn } from "../rehearsals/lib/cloudWatchLogs";
import { RemoteWriteStandIn } from "../rehearsals/lib/remoteWriteReceiver";
import { NodeSha256 } from "../rehearsals/lib/sigv4";

/** A CreateLogStream call signed by `secret`, its body then replaced by `sentBody` when given. */
async function createLogStream(port: number, secret: string, sentBody?: string): Promise<{ status: number; type: string }> {
    const body = JSON.stringify({ logGroupName: "group", logStreamName: "stream" });
    const signer = new SignatureV4({ credentials: { accessKeyId: "STANDIN", secretAccessKey: secret }, region: "eu-west-1", service: "logs", sha256: NodeSha256, applyChecksum: false });
    const signed = await signer.sign({
        method: "POST", protocol: "http:", hostname: "127.0.0.1", port, path: "/", query: {},
        headers: { host: `127.0.0.1:${port}`, "content-type": "application/x-amz-json-1.1", "x-amz-target": "Logs_20140328.CreateLogStream" },
        body,
    });
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", headers: signed.headers }, (res) => {
            let text = "";
            res.on("data", (chunk) => { text += chunk; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(JSON.parse(text).__type ?? "") }));
        });
        req.on("error", reject);
        req.end(sentBody ?? body);
    });
}

describe("SigV4 at the CloudWatch Logs stand-in", () => {
    let standIn: CloudWatchLogsStandIn;
    let port: number;
    beforeEach(async () => {
        standIn = new CloudWatchLogsStandIn(30, { STANDIN: "the-right-secret" });
        standIn.createLogGroup("group");
        port = await standIn.listen("127.0.0.1");
    });
    afterEach(() => standIn.close());

    it("accepts a request signed with the access key's secret", async () => {
        assert.deepEqual(await createLogStream(port, "the-right-secret"), { status: 200, type: "" });
        assert.deepEqual(standIn.streams("group"), ["stream"]);
        assert.deepEqual([...standIn.accessKeys], ["STANDIN"]);
    });

    it("refuses one signed with another secret, and creates nothing", async () => {
        assert.deepEqual(await createLogStream(port, "a-wrong-secret"), { status: 403, type: "InvalidSignatureException" });
        assert.deepEqual(standIn.streams("group"), []);
        assert.match(standIn.problems.join("\n"), /InvalidSignatureException/);
    });

    it("refuses one whose body changed after it was signed", async () => {
        const changed = JSON.stringify({ logGroupName: "group", logStreamName: "another" });
        assert.deepEqual(await createLogStream(port, "the-right-secret", changed), { status: 403, type: "InvalidSignatureException" });
        assert.deepEqual(standIn.streams("group"), []);
    });
});

describe("SigV4 at the AMP remote-write stand-in", () => {
    let standIn: RemoteWriteStandIn;
    let url: URL;
    beforeEach(async () => {
        standIn = new RemoteWriteStandIn("eu-west-1", { NODE: "the-right-secret" });
        url = new URL(await standIn.start("127.0.0.1"));
    });
    afterEach(() => standIn.stop());

    /** A remote write (a binary body, as snappy-compressed protobuf is) signed by `secret` for `service` in `region`. */
    async function write(secret: string, service = "aps", region = "eu-west-1"): Promise<number> {
        const body = Buffer.from([0xff, 0x00, 0x9c, 0x10, 0x80, 0x7f]);
        const signer = new SignatureV4({ credentials: { accessKeyId: "NODE", secretAccessKey: secret }, region, service, sha256: NodeSha256, applyChecksum: false });
        const signed = await signer.sign({
            method: "POST", protocol: "http:", hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {},
            headers: { host: url.host, "content-type": "application/x-protobuf", "content-encoding": "snappy" },
            body,
        });
        return new Promise((resolve, reject) => {
            const req = http.request({ host: url.hostname, port: url.port, method: "POST", path: url.pathname, headers: signed.headers }, (res) => {
                res.resume();
                res.on("end", () => resolve(res.statusCode ?? 0));
            });
            req.on("error", reject);
            req.end(body);
        });
    }

    it("accepts a binary write signed for aps in the stack's region, and refuses another secret, service or region", async () => {
        assert.deepEqual([await write("the-right-secret"), await write("a-wrong-secret"), await write("the-right-secret", "s3"),
            await write("the-right-secret", "aps", "us-east-1")], [200, 403, 403, 403]);
        assert.deepEqual(standIn.accepted.map((a) => [a.accessKeyId, a.region, a.bytes]), [["NODE", "eu-west-1", 6]]);
        assert.deepEqual(standIn.refused.map((r) => r.replace(/:.*$/, "")), ["InvalidSignatureException", "InvalidSignatureException", "InvalidSignatureException"]);
    });
});
