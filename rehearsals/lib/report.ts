// How a rehearsal reports: JSON for machines, or one line per check and figure for people.

export interface RehearsalCheck { name: string; ok: boolean; detail: string }

export function printReport(title: string, report: { checks: RehearsalCheck[]; figures: Record<string, number | string> }, json: boolean): void {
    if (json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
    }
    console.log(title);
    for (const c of report.checks) {
        console.log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.detail})`);
    }
    console.log("Figures:");
    for (const [name, value] of Object.entries(report.figures)) {
        console.log(`  ${name}: ${value}`);
    }
}
