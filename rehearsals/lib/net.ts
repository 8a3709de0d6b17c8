// Listening on loopback or a test host's address: a server of the rehearsal's own, or a port
// chosen for a process that must be told it before it starts.
import * as net from "net";

/** Starts server on host:port (0: a free one); resolves with the port it listens on. */
export function listen(server: net.Server, host: string, port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
    });
}

/** A port free on host now, for a process started with it next. */
export async function freePort(host: string): Promise<number> {
    const probe = net.createServer();
    const port = await listen(probe, host);
    await new Promise((resolve) => probe.close(resolve));
    return port;
}
