// An HTTP proxy for apt on a test host: forwards to this machine's Debian mirror only, and keeps
// the .deb files it fetched (they never change) so that later boots do not fetch them again.
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { spawnSync } from "child_process";

/** The Debian mirror this machine's apt uses (never named in the project's files). */
export function debianMirror(): string {
    const result = spawnSync("apt-get", ["indextargets", "--format", "$(REPO_URI)", "Created-By: Packages"], { encoding: "utf8" });
    const mirror = (result.stdout ?? "").split("\n").find((uri) => uri && !/-security\/$/.test(uri));
    if (!mirror) {
        throw new Error("no Debian mirror in this machine's apt sources (apt-get indextargets found none)");
    }
    return mirror;
}

export function startAptProxy(host: string, port: number, mirror: string, cacheDir: string): Promise<http.Server> {
    const allowed = new URL(mirror).host;
    fs.mkdirSync(cacheDir, { recursive: true });
    const server = http.createServer((req, res) => {
        let target: URL;
        try {
            target = new URL(req.url ?? "");
        } catch {
            res.writeHead(400).end("absolute URLs only");
            return;
        }
        if (target.protocol !== "http:" || target.host !== allowed || req.method !== "GET") {
            res.writeHead(403).end(`only GET http://${allowed}/ is forwarded`);
            return;
        }
        const cached = target.pathname.endsWith(".deb")
            ? path.join(cacheDir, `${crypto.createHash("sha256").update(target.pathname).digest("hex")}.deb`) : undefined;
        if (cached && fs.existsSync(cached)) {
            res.writeHead(200, { "content-type": "application/vnd.debian.binary-package", "content-length": fs.statSync(cached).size });
            fs.createReadStream(cached).pipe(res);
            return;
        }
        const upstream = http.get(target, { headers: { "user-agent": req.headers["user-agent"] ?? "apt" } }, (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            if (cached && answer.statusCode === 200) {
                const partial = `${cached}.${process.pid}.part`;
                const file = fs.createWriteStream(partial);
                answer.pipe(file);
                file.on("finish", () => fs.renameSync(partial, cached));
            }
            answer.pipe(res);
        });
        upstream.on("error", (err) => res.headersSent ? res.destroy(err) : res.writeHead(502).end(err.message));
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve(server));
    });
}
