// How the Prometheus nodes are keyed, in one place for the schema, the checks and the names: node
// N of shard 1 is "N" (prom-N), node N of shard S beyond is "sS-N" (prom-sS-N).

/** Shards a stack may run: the ALB keeps a rule slot for each of 18 nodes. */
export const MAX_SHARDS = 6;
/** Nodes per shard: one in each of the stack's three zones. */
export const ZONES_PER_SHARD = 3;
/** A node's key, as prometheus.restoreSnapshots names it. */
export const NODE_KEY_PATTERN = `^([1-${ZONES_PER_SHARD}]|s[2-${MAX_SHARDS}]-[1-${ZONES_PER_SHARD}])$`;
const NODE_NAME_PREFIX = "prom-";

/** A node's key among the stack's nodes: its zone's number in shard 1 (which keeps the first names), s<shard>-<zone> beyond. */
export function nodeKey(shard: number, zone: number): string {
    return shard === 1 ? String(zone) : `s${shard}-${zone}`;
}

/** The shard and zone a node's key names; undefined for what is no node's key. */
export function parseNodeKey(key: string): { shard: number; zone: number } | undefined {
    if (!new RegExp(NODE_KEY_PATTERN).test(key)) {
        return undefined;
    }
    const [, shard, zone] = /^(?:s(\d)-)?(\d)$/.exec(key)!;
    return { shard: Number(shard ?? 1), zone: Number(zone) };
}

/** The Prometheus node of a shard's zone: prom-1 to prom-3 in shard 1, prom-s2-1 and on beyond. */
export function nodeName(zone: number, shard = 1): string {
    return `${NODE_NAME_PREFIX}${nodeKey(shard, zone)}`;
}

/** Whether a name (a Grafana data source's uid) is a Prometheus node's on some stack. */
export function isNodeName(name: string): boolean {
    return name.startsWith(NODE_NAME_PREFIX) && parseNodeKey(name.slice(NODE_NAME_PREFIX.length)) !== undefined;
}
