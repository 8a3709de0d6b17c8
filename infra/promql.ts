// PromQL checked in the program, with the grammar Prometheus's own UI uses
// (@prometheus-io/lezer-promql), so that an expression that does not parse never reaches a node.
import type * as LezerPromql from "@prometheus-io/lezer-promql" with { "resolution-mode": "import" };

// The package is an ES module that also ships CommonJS; this program is CommonJS.
const { parser } = require("@prometheus-io/lezer-promql") as typeof LezerPromql;

/** Where an expression stops parsing, as line:column (1-based) and the text there; undefined when it parses. */
export function promqlSyntaxError(expr: string): { line: number; column: number; near: string } | undefined {
    let at: number | undefined;
    parser.parse(expr).iterate({
        enter: (node) => {
            if (node.type.isError && at === undefined) {
                at = node.from;
            }
        },
    });
    if (at === undefined) {
        return undefined;
    }
    const before = expr.slice(0, at).split("\n");
    const near = expr.slice(at, at + 20).trim() || "the end of the expression";
    return { line: before.length, column: before[before.length - 1].length + 1, near };
}
