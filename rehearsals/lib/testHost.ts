// A test host of the rehearsal's own: a network namespace joined to this machine by a veth pair,
// addressed like the node it stands for. It has routes to this machine's end only, so nothing it
// sends leaves the pair.
import { spawnSync } from "child_process";

function ip(args: string[]): void {
    const result = spawnSync("ip", args, { encoding: "utf8" });
    if (result.status !== 0) {
        throw new Error(`ip ${args.join(" ")} failed: ${result.stderr.trim()}`);
    }
}

export interface TestHostAddresses {
    /** The node's own address and prefix, e.g. 10.30.128.10/20. */
    node: string;
    /** This machine's end of the link: the node's gateway and the servers' address. */
    gateway: string;
    /** More addresses of this machine's end, as clients of the node (an office address, an outsider). */
    clients: string[];
}

export class TestHost {
    readonly namespacePath: string;
    private readonly hostSide: string;
    private created = false;

    constructor(readonly name: string, readonly addresses: TestHostAddresses) {
        this.namespacePath = `/run/netns/${name}`;
        this.hostSide = `${name}-h`.slice(0, 15);
    }

    get nodeAddress(): string {
        return this.addresses.node.split("/")[0];
    }

    create(): void {
        this.destroy();
        const peer = `${this.name}-n`.slice(0, 15);
        this.created = true;
        ip(["netns", "add", this.name]);
        ip(["link", "add", this.hostSide, "type", "veth", "peer", "name", peer]);
        ip(["link", "set", peer, "netns", this.name]);
        ip(["-n", this.name, "link", "set", peer, "name", "eth0"]);
        ip(["-n", this.name, "link", "set", "lo", "up"]);
        ip(["-n", this.name, "link", "set", "eth0", "up"]);
        ip(["-n", this.name, "addr", "add", this.addresses.node, "dev", "eth0"]);
        // No default route: the node reaches this machine's addresses on the link and nothing
        // else (its peers, resolvers and AWS endpoints are unreachable, never tried over the network).
        for (const address of [this.addresses.gateway, ...this.addresses.clients]) {
            ip(["-n", this.name, "route", "add", `${address}/32`, "dev", "eth0"]);
        }
        for (const address of [this.addresses.gateway, ...this.addresses.clients]) {
            ip(["addr", "add", `${address}/32`, "dev", this.hostSide]);
        }
        ip(["link", "set", this.hostSide, "up"]);
        ip(["route", "add", `${this.nodeAddress}/32`, "dev", this.hostSide]);
    }

    /** Removes the namespace and the pair (also what an earlier, interrupted run left). */
    destroy(): void {
        spawnSync("ip", ["link", "del", this.hostSide], { stdio: "ignore" });
        spawnSync("ip", ["netns", "del", this.name], { stdio: "ignore" });
        this.created = false;
    }

    get exists(): boolean {
        return this.created;
    }
}
