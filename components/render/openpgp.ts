// Reads an ASCII-armoured OpenPGP key into the binary form gpgv takes as a keyring (RFC 4880, 6.2).

/** CRC-24 of RFC 4880, 6.1: the checksum line of an armoured block. */
function crc24(data: Buffer): number {
    let crc = 0xb704ce;
    for (const byte of data) {
        crc ^= byte << 16;
        for (let i = 0; i < 8; i++) {
            crc <<= 1;
            if (crc & 0x1000000) {
                crc ^= 0x1864cfb;
            }
        }
    }
    return crc & 0xffffff;
}

/** The packets of an armoured public key block; throws when it is not one or its checksum fails. */
export function dearmorPublicKey(armoured: string): Buffer {
    const match = /-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(?:[^\r\n]+:[^\r\n]*\r?\n)*\r?\n([\s\S]*?)-----END PGP PUBLIC KEY BLOCK-----/.exec(armoured);
    if (!match) {
        throw new Error("not an ASCII-armoured PGP public key block");
    }
    const lines = match[1].split(/\r?\n/).map((l) => l.trim()).filter((l) => l);
    const checksum = lines[lines.length - 1].startsWith("=") ? lines.pop()!.slice(1) : undefined;
    const data = Buffer.from(lines.join(""), "base64");
    if (checksum === undefined || crc24(data) !== Buffer.from(checksum, "base64").readUIntBE(0, 3)) {
        throw new Error("the key block's checksum does not match: the key is damaged");
    }
    return data;
}
