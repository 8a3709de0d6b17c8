// What a rehearsal's report must show: every declared scenario ran to its end, and every declared
// check ran once, in its scenario, and passed; no scenario made a check it does not declare.
import { strict as assert } from "assert";
import { DeclaredCheck, declares } from "../../rehearsals/lib/report";

interface ReportedCheck { name: string; ok: boolean; scenario: string }
interface Declared { name: string; checks: readonly DeclaredCheck[] }

export function assertDeclaredChecksPassed(report: { scenarios: { name: string; completed: boolean }[]; checks: ReportedCheck[] },
    setupChecks: readonly DeclaredCheck[], scenarios: readonly Declared[]): void {
    assert.deepEqual(report.scenarios, scenarios.map((s) => ({ name: s.name, completed: true })));
    for (const scenario of [{ name: "setup", checks: setupChecks }, ...scenarios]) {
        const ran = report.checks.filter((c) => c.scenario === scenario.name);
        for (const declared of scenario.checks) {
            const matching = ran.filter((c) => declares(declared, c.name));
            assert.equal(matching.length, 1, `${scenario.name}: "${declared}" ran ${matching.length} times`);
            assert.ok(matching[0].ok, `${scenario.name}: "${matching[0].name}" failed`);
        }
        assert.deepEqual(ran.filter((c) => !scenario.checks.some((d) => declares(d, c.name))).map((c) => c.name), [], `${scenario.name} made undeclared checks`);
    }
}
