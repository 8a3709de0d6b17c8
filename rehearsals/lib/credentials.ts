// Basic-auth credentials in rehearsals: the htpasswd file the program renders, from known passwords.
import { renderHtpasswd } from "../../components/render/nginxConfig";
import { randomStyleBcryptHash } from "../../scripts/lib/bcrypt";

export interface Credential {
    user: string;
    password: string;
}

/** The htpasswd file the program renders for these credentials, hashed as @pulumi/random hashes. */
export function htpasswdOf(credentials: Credential[]): string {
    return renderHtpasswd(credentials.map((c) => ({ user: c.user, bcryptHash: randomStyleBcryptHash(c.password) })));
}

export function basicAuthHeader(credential: Credential): string {
    return `Basic ${Buffer.from(`${credential.user}:${credential.password}`).toString("base64")}`;
}
