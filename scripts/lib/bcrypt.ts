import { spawnSync } from "child_process";

/**
 * A bcrypt hash of `password` shaped like @pulumi/random's bcryptHash (Go's bcrypt: $2a$, cost
 * 10), made with apache2-utils' htpasswd, which writes the same algorithm under $2y$.
 */
export function randomStyleBcryptHash(password: string, htpasswd = "htpasswd"): string {
    const result = spawnSync(htpasswd, ["-nbB", "-C", "10", "user", password], { encoding: "utf8" });
    if (result.status !== 0) {
        throw new Error(`htpasswd -nbB failed: ${result.stderr}`);
    }
    return result.stdout.trim().split(":")[1].replace(/^\$2y\$/, "$2a$");
}
