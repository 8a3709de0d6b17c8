// moto, the AWS emulator, as Debian 13 packages it (python3-moto), run from a root of its own under
// tools/moto (scripts/install-tools.sh builds it; the host's Python is left alone), on loopback.
// IAM is on: the first calls create an administrator without credentials, every later call must
// be signed with a known key (SigV4 verified) and is allowed only by the caller's IAM policies.
import { spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { PROJECT_ROOT } from "../../infra/paths";
import { freePort } from "./net";
import { INSTALL_HINT, Processes, resolveCommand } from "./processes";
import { issueCertificate } from "./tlsTarget";
import { waitFor } from "./wait";

export const MOTO_ROOT = path.join(PROJECT_ROOT, "tools", "moto");
const MOTO_SERVER = "/usr/bin/moto_server";
/** The calls made before IAM applies: create the administrator, give it a policy and a key. */
const UNAUTHENTICATED_CALLS = 3;
const ADMIN_POLICY = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };

export interface AwsKey { readonly accessKeyId: string; readonly secretAccessKey: string }
export interface AwsResult { readonly status: number | null; readonly stdout: string; readonly stderr: string }

/** Whether moto is installed where the tests look for it. */
export function motoInstalled(): boolean {
    return fs.existsSync(path.join(MOTO_ROOT, MOTO_SERVER.slice(1)));
}

/** The python3-moto version in its root, as dpkg records it. */
export function motoVersion(): string | undefined {
    const status = path.join(MOTO_ROOT, "var", "lib", "dpkg", "status");
    return fs.existsSync(status) ? /^Package: python3-moto\n(?:[^\n]+\n)*?Version: (\S+)$/m.exec(fs.readFileSync(status, "utf8"))?.[1] : undefined;
}

/** Whether moto answers its API page over TLS with a certificate of `ca`. */
function answers(host: string, port: number, ca: Buffer): Promise<true | undefined> {
    return new Promise((resolve) => {
        https.get({ host, port, path: "/moto-api/", ca, timeout: 5000 }, (res) => {
            res.resume();
            resolve(res.statusCode === 200 || undefined);
        }).on("error", () => resolve(undefined)).on("timeout", function (this: { destroy(): void }) { this.destroy(); });
    });
}

export class Moto {
    private constructor(readonly endpoint: string, readonly region: string, readonly caFile: string, readonly admin: AwsKey) {}

    /**
     * Starts moto_server under `processes` (stopped with them), over TLS with a certificate from a CA
     * of its own (the buckets deny requests without TLS, and moto applies that), and creates its
     * administrator. `dir` holds the CA; the server's key is in moto's root, removed by the step
     * given to `atTeardown`.
     */
    static async start(processes: Processes, dir: string, atTeardown: (step: () => unknown) => void, region = "eu-west-1", host = "127.0.0.1"): Promise<Moto> {
        if (!motoInstalled()) {
            throw new Error(`moto is not installed in ${MOTO_ROOT}; ${INSTALL_HINT}`);
        }
        const port = await freePort(host);
        const inRoot = `/run/moto-${port}`;
        const tls = issueCertificate(path.join(MOTO_ROOT, inRoot.slice(1)), host);
        atTeardown(() => fs.rmSync(path.join(MOTO_ROOT, inRoot.slice(1)), { recursive: true, force: true }));
        const caFile = path.join(dir, "moto-ca.crt");
        fs.copyFileSync(tls.caFile, caFile);
        // By its path: the PATH given is moto's, inside its root.
        await processes.start("moto", resolveCommand("chroot") ?? "chroot", [MOTO_ROOT, MOTO_SERVER, "-H", host, "-p", String(port),
            "--ssl-cert", `${inRoot}/app.crt`, "--ssl-key", `${inRoot}/app.key`], {
            env: { INITIAL_NO_AUTH_ACTION_COUNT: String(UNAUTHENTICATED_CALLS), PATH: "/usr/bin:/bin" },
            address: { host, port },
        });
        const endpoint = `https://${host}:${port}`;
        const ca = fs.readFileSync(caFile);
        await waitFor("moto to answer over TLS", () => answers(host, port, ca), 60000);
        const bootstrap: AwsKey = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "unused-before-iam-applies" };
        const moto = new Moto(endpoint, region, caFile, bootstrap);
        await moto.must(bootstrap, ["iam", "create-user", "--user-name", "administrator"]);
        await moto.must(bootstrap, ["iam", "put-user-policy", "--user-name", "administrator", "--policy-name", "everything", "--policy-document", JSON.stringify(ADMIN_POLICY)]);
        const key = JSON.parse((await moto.must(bootstrap, ["iam", "create-access-key", "--user-name", "administrator"])).stdout).AccessKey;
        return new Moto(endpoint, region, caFile, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
    }

    /** The environment an AWS client (awscli, botocore) signs with `key` in, trusting this moto's CA. */
    env(key: AwsKey): NodeJS.ProcessEnv {
        return {
            AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_DEFAULT_REGION: this.region, AWS_REGION: this.region,
            AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/dev/null", AWS_SHARED_CREDENTIALS_FILE: "/dev/null", AWS_CA_BUNDLE: this.caFile,
        };
    }

    /** The awscli, signed with `key`. */
    aws(key: AwsKey, args: string[], input?: string): Promise<AwsResult> {
        return new Promise((resolve) => {
            const child = spawn("aws", ["--endpoint-url", this.endpoint, "--output", "json", ...args], { env: { ...process.env, ...this.env(key) }, stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => { stdout += d; });
            child.stderr.on("data", (d) => { stderr += d; });
            child.on("close", (status) => resolve({ status, stdout, stderr }));
            child.stdin.end(input ?? "");
        });
    }

    /** The awscli, which must succeed. */
    async must(key: AwsKey, args: string[], input?: string): Promise<AwsResult> {
        const result = await this.aws(key, args, input);
        if (result.status !== 0) {
            throw new Error(`aws ${args.slice(0, 2).join(" ")} against moto failed (exit ${result.status}): ${result.stderr.trim()}`);
        }
        return result;
    }

    /** A principal holding exactly these identity policies, as an IAM user with its own key. */
    async principal(name: string, policies: readonly { name: string; policy: unknown }[]): Promise<AwsKey> {
        await this.must(this.admin, ["iam", "create-user", "--user-name", name]);
        for (const { name: policyName, policy } of policies) {
            await this.must(this.admin, ["iam", "put-user-policy", "--user-name", name, "--policy-name", policyName, "--policy-document", JSON.stringify(policy)]);
        }
        const key = JSON.parse((await this.must(this.admin, ["iam", "create-access-key", "--user-name", name])).stdout).AccessKey;
        return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
    }
}
