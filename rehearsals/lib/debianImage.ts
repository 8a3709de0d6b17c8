// The machine image of the first-boot rehearsal: Debian 13 with cloud-init, as Debian's AMIs
// ship it, built once with debootstrap from this machine's mirror and kept as a tarball.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { debianMirror } from "./aptProxy";

export const DEBIAN_RELEASE = "trixie";
/** What Debian's cloud images have that a plain debootstrap lacks (python3-cffi-backend: a virtual dependency debootstrap cannot resolve). */
const IMAGE_PACKAGES = ["systemd-sysv", "dbus", "cloud-init", "python3-cffi-backend", "ca-certificates", "curl", "gpgv", "iproute2"];

function run(command: string, args: string[]): void {
    const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.status !== 0) {
        throw new Error(`${command} ${args.slice(0, 3).join(" ")} … failed (exit ${result.status}): ${(result.stderr || result.stdout).slice(-2000)}`);
    }
}

/** The image tarball, built when missing (about a minute). */
export function ensureDebianImage(cacheDir: string): string {
    const tarball = path.join(cacheDir, `debian-13-${DEBIAN_RELEASE}-cloud.tar`);
    if (fs.existsSync(tarball)) {
        return tarball;
    }
    fs.mkdirSync(cacheDir, { recursive: true });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "debian-image-"));
    try {
        const mirror = debianMirror();
        run("debootstrap", [`--include=${IMAGE_PACKAGES.join(",")}`, DEBIAN_RELEASE, root, mirror]);
        // mkdtemp made it 0700: as the system's / it must let every user in.
        fs.chmodSync(root, 0o755);
        // The sources Debian's AMIs have: the release, its updates and its security archive.
        const security = mirror.replace(/\/debian\/?$/, "/debian-security/");
        fs.writeFileSync(path.join(root, "etc", "apt", "sources.list"), [
            `deb ${mirror} ${DEBIAN_RELEASE} main`,
            `deb ${mirror} ${DEBIAN_RELEASE}-updates main`,
            `deb ${security} ${DEBIAN_RELEASE}-security main`,
            "",
        ].join("\n"));
        fs.rmSync(path.join(root, "var", "cache", "apt", "archives"), { recursive: true, force: true });
        fs.mkdirSync(path.join(root, "var", "cache", "apt", "archives", "partial"), { recursive: true });
        run("tar", ["--numeric-owner", "-cf", `${tarball}.part`, "-C", root, "."]);
        fs.renameSync(`${tarball}.part`, tarball);
        return tarball;
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

/** A fresh root from the image, as a new instance gets a fresh root volume. */
export function unpackImage(tarball: string, root: string): void {
    fs.mkdirSync(root, { recursive: true });
    run("tar", ["--numeric-owner", "-xpf", tarball, "-C", root]);
    fs.chmodSync(root, 0o755);
}
