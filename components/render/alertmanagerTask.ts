// Pure renderers of an Alertmanager member's ECS container: its entrypoint and definition.
import { shellQuote } from "./nodeScripts";
import { ALERTMANAGER_PORT, MESH_PORT } from "../ports";

export const ALERTMANAGER_CONFIG_ENV = "ALERTMANAGER_CONFIG";
/** The configuration's hash in the task definition: a new configuration is a new revision, so ECS starts new tasks. */
export const ALERTMANAGER_CONFIG_HASH_ENV = "ALERTMANAGER_CONFIG_HMAC";
/** Alertmanager's own defaults, stated so the rehearsal can scale them with everything else. */
export const MESH_TIMING = { peerTimeout: "15s", gossipInterval: "200ms", pushPullInterval: "1m" };

export interface EntrypointInput {
    binary: string;
    configFile: string;
    storagePath: string;
    listenAddress: string;
    meshListenAddress: string;
    meshPort: number;
    /** Where to find the other members: a DNS name resolving to every member (Cloud Map A records) plus port. */
    peers: string[];
    /** How long a member waits for the one before it to notify (Alertmanager's default is 15s). */
    peerTimeout: string;
    /** How often members gossip their notification log, and fully sync state (defaults 200ms and 1m). */
    gossipInterval: string;
    pushPullInterval: string;
    externalUrl: string;
}

/**
 * Writes the configuration handed in through the ALERTMANAGER_CONFIG secret to a file, reads
 * the task's own IP from the ECS task metadata endpoint to advertise to its peers, and execs
 * Alertmanager, its notification metrics labelled by receiver (for the Platform SLI dashboard).
 * Runs under the image's busybox sh.
 */
export function renderEntrypoint(input: EntrypointInput): string {
    return `set -eu
printf '%s\\n' "$${ALERTMANAGER_CONFIG_ENV}" > ${shellQuote(input.configFile)}
unset ${ALERTMANAGER_CONFIG_ENV}
metadata=$(wget -q -O - "$ECS_CONTAINER_METADATA_URI_V4")
ip=$(printf '%s' "$metadata" | sed -n 's/.*"IPv4Addresses":\\["\\([0-9.]*\\)".*/\\1/p')
if [ -z "$ip" ]; then
  echo "alertmanager: no IPv4 address in the ECS task metadata; cannot advertise to peers" >&2
  exit 1
fi
exec ${shellQuote(input.binary)} \\
  --config.file=${shellQuote(input.configFile)} \\
  --storage.path=${shellQuote(input.storagePath)} \\
  --web.listen-address=${shellQuote(input.listenAddress)} \\
  --web.external-url=${shellQuote(input.externalUrl)} \\
  --cluster.listen-address=${shellQuote(input.meshListenAddress)} \\
  --cluster.advertise-address="$ip:${input.meshPort}" \\
${input.peers.map((peer) => `  --cluster.peer=${shellQuote(peer)} \\
`).join("")}  --cluster.peer-timeout=${shellQuote(input.peerTimeout)} \\
  --cluster.gossip-interval=${shellQuote(input.gossipInterval)} \\
  --cluster.pushpull-interval=${shellQuote(input.pushPullInterval)} \\
  --cluster.reconnect-timeout=5m \\
  --enable-feature=receiver-name-in-metrics
`;
}

/**
 * Healthy only once the member has joined the mesh and settled (its peers' silences and
 * notification log gossiped in): a rollout waits for this before it stops the next member.
 */
export function memberReadyCommand(address: string): string {
    return `wget -q -O - http://${address}/api/v2/status | grep -q '"status":"ready"'`;
}

export interface ContainerInput {
    name: string;
    image: string;
    externalUrl: string;
    peerName: string;
    /** ARN of the SSM SecureString holding alertmanager.yml. */
    configParameterArn: string;
    /** HMAC-SHA256 of alertmanager.yml under the stack's own random key: a new configuration changes the task definition. */
    configHmac: string;
    logGroup: string;
    region: string;
}

export function alertmanagerContainer(input: ContainerInput): Record<string, unknown> {
    const entrypoint = renderEntrypoint({
        binary: "/bin/alertmanager",
        configFile: "/alertmanager/alertmanager.yml",
        storagePath: "/alertmanager",
        listenAddress: `:${ALERTMANAGER_PORT}`,
        meshListenAddress: `0.0.0.0:${MESH_PORT}`,
        meshPort: MESH_PORT,
        peers: [`${input.peerName}:${MESH_PORT}`],
        ...MESH_TIMING,
        externalUrl: input.externalUrl,
    });
    return {
        name: input.name,
        image: input.image,
        essential: true,
        entryPoint: ["/bin/sh", "-c"],
        command: [entrypoint],
        portMappings: [
            { containerPort: ALERTMANAGER_PORT, protocol: "tcp" },
            { containerPort: MESH_PORT, protocol: "tcp" },
            { containerPort: MESH_PORT, protocol: "udp" },
        ],
        secrets: [{ name: ALERTMANAGER_CONFIG_ENV, valueFrom: input.configParameterArn }],
        environment: [{ name: ALERTMANAGER_CONFIG_HASH_ENV, value: input.configHmac }],
        healthCheck: {
            command: ["CMD-SHELL", memberReadyCommand(`127.0.0.1:${ALERTMANAGER_PORT}`)],
            interval: 15,
            timeout: 5,
            retries: 3,
            startPeriod: 30,
        },
        logConfiguration: {
            logDriver: "awslogs",
            options: { "awslogs-group": input.logGroup, "awslogs-region": input.region, "awslogs-stream-prefix": input.name },
        },
        readonlyRootFilesystem: false,
    };
}
