import * as bcrypt from "bcryptjs";

/**
 * A bcrypt hash of `password` shaped like @pulumi/random's bcryptHash: Go's bcrypt at its default
 * cost 10, which writes the $2a$ prefix (bcryptjs writes $2b$ for the same algorithm).
 */
export function randomStyleBcryptHash(password: string): string {
    return bcrypt.hashSync(password, bcrypt.genSaltSync(10)).replace(/^\$2b\$/, "$2a$");
}
