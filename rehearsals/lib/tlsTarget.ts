// An HTTPS exporter at an address, with a certificate from a CA of the rehearsal's own: a PaaS
// app's stand-in, or an endpoint whose certificate expiry a probe reads.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";

function openssl(args: string[]): void {
    const result = spawnSync("openssl", args, { encoding: "utf8" });
    if (result.status !== 0) {
        throw new Error(`openssl ${args.join(" ")} failed (exit ${result.status}): ${result.stderr}`);
    }
}

/** A certificate for `address` in dir (app.crt, app.key), issued by a new CA of its own (ca.crt). */
export function issueCertificate(dir: string, address: string, days = 2): { keyFile: string; certFile: string; caFile: string } {
    fs.mkdirSync(dir, { recursive: true });
    const file = (name: string) => path.join(dir, name);
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", String(days + 1), "-subj", "/CN=Rehearsal CA"]);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", file("app.key"), "-out", file("app.csr"), "-subj", `/CN=${address}`]);
    fs.writeFileSync(file("ext"), `subjectAltName=IP:${address},DNS:${address}\n`);
    openssl(["x509", "-req", "-in", file("app.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial",
        "-out", file("app.crt"), "-days", String(days), "-extfile", file("ext")]);
    return { keyFile: file("app.key"), certFile: file("app.crt"), caFile: file("ca.crt") };
}

/** The server (not yet listening), the CA's certificate (PEM) and the file it is in. */
export function tlsTarget(dir: string, address: string, days = 2): { server: https.Server; caCert: string; caFile: string } {
    const { keyFile, certFile, caFile } = issueCertificate(dir, address, days);
    const server = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) },
        (_, res) => {
            res.setHeader("content-type", "text/plain; version=0.0.4");
            res.end("boot_rehearsal_target 1\n");
        });
    return { server, caCert: fs.readFileSync(caFile, "utf8"), caFile };
}
