// Prometheus durations ("1h30m", "15d", "500ms"), parsed one way everywhere: the grammar of
// Prometheus's own parser (units from years down to milliseconds, each at most once, in order).

/** Prometheus's duration grammar, as a JSON-schema pattern; it also matches "", which `minLength: 2` refuses. */
export const DURATION_PATTERN = "^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$";

const UNIT_MS: Record<string, number> = { y: 365 * 86400000, w: 7 * 86400000, d: 86400000, h: 3600000, m: 60000, s: 1000, ms: 1 };
const UNITS = ["y", "w", "d", "h", "m", "s", "ms"];

/** The duration in milliseconds; throws on anything Prometheus would not parse. */
export function durationMs(duration: string): number {
    const match = new RegExp(DURATION_PATTERN).exec(duration);
    if (duration === "" || !match) {
        throw new Error(`not a Prometheus duration: ${JSON.stringify(duration)}`);
    }
    return UNITS.reduce((total, unit, i) => total + Number(match[2 * i + 2] ?? 0) * UNIT_MS[unit], 0);
}

export function durationSeconds(duration: string): number {
    return durationMs(duration) / 1000;
}
