// The SSM agent the Debian nodes install at boot: the pinned key, and the verification that only
// a package signed with it is installed, rehearsed with a stand-in key and package.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { dearmorPublicKey } from "../components/render/openpgp";
import { renderSsmAgentScript } from "../components/render/nodeScripts";
import { loadEnvironment } from "../infra/environment";
import { requireTool } from "./helpers/tools";
import { PROJECT_ROOT } from "../infra/paths";

/** The fingerprint AWS documents for the SSM agent's signer (ssm-agent-signer@amazon.com). */
const AWS_SSM_AGENT_FINGERPRINT = "DE92C7DA3E56E92331D62A36BC1F495C97DD04ED";

function gpg(home: string, args: string[], input?: string) {
    return spawnSync("gpg", ["--homedir", home, "--batch", "--quiet", "--passphrase", "", ...args], { encoding: "utf8", input });
}

describe("SSM agent signing key", () => {
    it("is the key AWS documents, and reads as gpg reads it", function () {
        requireTool(this, "gpg");
        const file = path.resolve(PROJECT_ROOT, loadEnvironment("production").ssmAgent.signingKeyFile);
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "gpg-"));
        try {
            const shown = gpg(home, ["--with-colons", "--show-keys", file]);
            assert.match(shown.stdout, new RegExp(`^fpr:+${AWS_SSM_AGENT_FINGERPRINT}:`, "m"));
            const dearmored = spawnSync("gpg", ["--dearmor"], { input: fs.readFileSync(file) }).stdout;
            assert.ok(dearmorPublicKey(fs.readFileSync(file, "utf8")).equals(dearmored));
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });

    it("refuses a damaged key block", () => {
        const text = fs.readFileSync(path.join(PROJECT_ROOT, "components", "keys", "amazon-ssm-agent.asc"), "utf8");
        assert.throws(() => dearmorPublicKey(text.replace("mQENBGTt", "mQENBGTu")), /checksum does not match/);
        assert.throws(() => dearmorPublicKey("not a key"), /not an ASCII-armoured PGP public key block/);
    });
});

describe("SSM agent install at boot, against a stand-in key and package", function () {
    this.timeout(60000);
    let work: string;
    let server: http.Server;
    let baseUrl: string;
    let served: Record<string, Buffer>;

    before(async function () {
        requireTool(this, "gpg");
        requireTool(this, "gpgv");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "ssm-agent-"));
        const home = path.join(work, "gnupg");
        fs.mkdirSync(home, { mode: 0o700 });
        assert.equal(gpg(home, ["--quick-gen-key", "Stand-in signer <signer@example.invalid>", "rsa2048", "sign", "1d"]).status, 0);
        const other = path.join(work, "other");
        fs.mkdirSync(other, { mode: 0o700 });
        assert.equal(gpg(other, ["--quick-gen-key", "Someone else <else@example.invalid>", "rsa2048", "sign", "1d"]).status, 0);
        const deb = Buffer.from("stand-in amazon-ssm-agent package\n");
        fs.writeFileSync(path.join(work, "agent.deb"), deb);
        const sign = (homedir: string) => {
            assert.equal(gpg(homedir, ["--detach-sign", "-o", path.join(work, "agent.sig"), "--yes", path.join(work, "agent.deb")]).status, 0);
            return fs.readFileSync(path.join(work, "agent.sig"));
        };
        // The keyring the node gets: the stand-in signer's key, armoured as committed, dearmored as rendered.
        const keyring = (homedir: string, name: string) => fs.writeFileSync(path.join(work, `${name}.gpg`),
            dearmorPublicKey(gpg(homedir, ["--armor", "--export"]).stdout));
        keyring(home, "keyring");
        // A signer whose key expired: made ten days ago, valid for one, the package signed while it was.
        const expired = path.join(work, "expired");
        fs.mkdirSync(expired, { mode: 0o700 });
        const tenDaysAgo = Math.floor(Date.now() / 1000) - 10 * 86400;
        assert.equal(gpg(expired, ["--faked-system-time", `${tenDaysAgo}!`, "--quick-gen-key", "Expired signer <expired@example.invalid>", "rsa2048", "sign", "1d"]).status, 0);
        assert.equal(gpg(expired, ["--faked-system-time", `${tenDaysAgo + 3600}!`, "--detach-sign", "-o", path.join(work, "expired.sig"), "--yes", path.join(work, "agent.deb")]).status, 0);
        keyring(expired, "keyring-expired");
        // A signer whose key was revoked after it signed: its own revocation certificate imported.
        const revoked = path.join(work, "revoked");
        fs.mkdirSync(revoked, { mode: 0o700 });
        assert.equal(gpg(revoked, ["--quick-gen-key", "Revoked signer <revoked@example.invalid>", "rsa2048", "sign", "1d"]).status, 0);
        const revokedSig = sign(revoked);
        const [certificate] = fs.readdirSync(path.join(revoked, "openpgp-revocs.d"));
        const revocation = fs.readFileSync(path.join(revoked, "openpgp-revocs.d", certificate), "utf8").replace(/^:-----BEGIN/m, "-----BEGIN");
        assert.equal(gpg(revoked, ["--import"], revocation).status, 0);
        keyring(revoked, "keyring-revoked");
        served = {
            "/good/amazon-ssm-agent.deb": deb,
            "/good/amazon-ssm-agent.deb.sig": sign(home),
            "/tampered/amazon-ssm-agent.deb": Buffer.concat([deb, Buffer.from("extra")]),
            "/tampered/amazon-ssm-agent.deb.sig": sign(home),
            "/foreign/amazon-ssm-agent.deb": deb,
            "/foreign/amazon-ssm-agent.deb.sig": sign(other),
            "/unsigned/amazon-ssm-agent.deb": deb,
            "/expired/amazon-ssm-agent.deb": deb,
            "/expired/amazon-ssm-agent.deb.sig": fs.readFileSync(path.join(work, "expired.sig")),
            "/revoked/amazon-ssm-agent.deb": deb,
            "/revoked/amazon-ssm-agent.deb.sig": revokedSig,
        };
        server = http.createServer((req, res) => {
            const body = served[req.url ?? ""];
            res.statusCode = body ? 200 : 404;
            res.end(body ?? "not found");
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        // dpkg and systemctl stand-ins record what they were asked to do.
        const shims = path.join(work, "bin");
        fs.mkdirSync(shims);
        for (const tool of ["dpkg", "systemctl"]) {
            fs.writeFileSync(path.join(shims, tool), `#!/bin/sh\necho "${tool} $*" >> "${path.join(work, "calls.log")}"\n`, { mode: 0o755 });
        }
    });
    after(() => {
        server?.close();
        for (const homedir of ["gnupg", "other", "expired", "revoked"]) {
            spawnSync("gpgconf", ["--homedir", path.join(work, homedir), "--kill", "gpg-agent"]);
        }
        fs.rmSync(work, { recursive: true, force: true });
    });

    /** Runs the rendered script asynchronously: the package server answers from this process. */
    async function install(variant: string, keyring = "keyring") {
        fs.rmSync(path.join(work, "calls.log"), { force: true });
        const script = path.join(work, `install-${variant}.sh`);
        fs.writeFileSync(script, renderSsmAgentScript({ baseUrl: `${baseUrl}/${variant}`, keyringPath: path.join(work, `${keyring}.gpg`) }), { mode: 0o755 });
        const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
            const child = spawn("bash", [script], { env: { ...process.env, PATH: `${path.join(work, "bin")}:${process.env.PATH}` } });
            let stderr = "";
            child.stderr.on("data", (chunk) => { stderr += chunk; });
            child.on("exit", (status) => resolve({ status, stderr }));
        });
        const calls = fs.existsSync(path.join(work, "calls.log")) ? fs.readFileSync(path.join(work, "calls.log"), "utf8") : "";
        return { result, calls };
    }

    it("installs and starts a package signed by the pinned key", async () => {
        const { result, calls } = await install("good");
        assert.equal(result.status, 0, result.stderr);
        assert.match(calls, /^dpkg -i \/tmp\/.*\/amazon-ssm-agent\.deb\nsystemctl enable --now amazon-ssm-agent\n$/);
    });

    // gpgv exits 0 for the expired and the revoked key; its status lines are what refuses them.
    for (const [variant, keyring, why, status] of [
        ["tampered", "keyring", "a package changed after signing", "BADSIG"],
        ["foreign", "keyring", "a package signed by another key", "ERRSIG"],
        ["expired", "keyring-expired", "a package signed by a key that has since expired", "EXPKEYSIG"],
        ["revoked", "keyring-revoked", "a package signed by a key that has since been revoked", "REVKEYSIG"],
    ]) {
        it(`refuses ${why} (${status}), and installs nothing`, async () => {
            const { result, calls } = await install(variant, keyring);
            assert.equal(result.status, 1);
            assert.match(result.stderr, new RegExp(`FATAL: amazon-ssm-agent\\.deb from .* is not validly signed by the pinned SSM agent key \\(gpgv: [A-Z_ ]*\\b${status}\\b`));
            assert.equal(calls, "");
        });
    }

    it("fails when the signature cannot be downloaded, and installs nothing", async () => {
        const { result, calls } = await install("unsigned");
        assert.notEqual(result.status, 0);
        assert.match(result.stderr, /404/);
        assert.equal(calls, "");
    });
});
