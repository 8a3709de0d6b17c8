// PromQL read with the grammar Prometheus's own UI uses (@prometheus-io/lezer-promql): checked in
// the program, so an expression that does not parse never reaches a node, and rewritten where the
// platform confines what an expression may select.
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

/** Every vector selector of an expression (the `name{matchers}` parts, also inside range selectors and subqueries), as written. */
export function vectorSelectors(expr: string): string[] {
    const found: string[] = [];
    parser.parse(expr).iterate({
        enter: (node) => {
            if (node.name === "VectorSelector") {
                found.push(expr.slice(node.from, node.to));
            }
        },
    });
    return found;
}

/** The expression with `matcher` (e.g. `owner=""`) added to every vector selector; the expression must parse. */
export function withMatcherOnEverySelector(expr: string, matcher: string): string {
    const error = promqlSyntaxError(expr);
    if (error) {
        throw new Error(`${expr}: does not parse as PromQL at line ${error.line}, column ${error.column}`);
    }
    const insertions: { at: number; text: string }[] = [];
    parser.parse(expr).iterate({
        enter: (node) => {
            if (node.name !== "VectorSelector") {
                return;
            }
            const matchers = node.node.getChild("LabelMatchers");
            if (!matchers) {
                insertions.push({ at: node.to, text: `{${matcher}}` });
                return;
            }
            const inside = expr.slice(matchers.from + 1, matchers.to - 1).trim();
            const separator = inside === "" || inside.endsWith(",") ? "" : ", ";
            insertions.push({ at: matchers.to - 1, text: `${separator}${matcher}` });
        },
    });
    return insertions.sort((a, b) => b.at - a.at).reduce((text, { at, text: inserted }) => text.slice(0, at) + inserted + text.slice(at), expr);
}
