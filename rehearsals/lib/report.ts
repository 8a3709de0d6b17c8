// How a rehearsal reports: JSON for machines, or one line per check and figure for people.

export interface RehearsalCheck { name: string; ok: boolean; detail: string }

/** A check a scenario declares: its exact name, or a pattern where the name carries what the stack holds (a tenant, a region). */
export type DeclaredCheck = string | RegExp;

/** A scenario of a rehearsal: what it proves, the checks it makes, and how, given what the rehearsal set up. */
export interface Scenario<Context> {
    readonly name: string;
    readonly proves: string;
    readonly checks: readonly DeclaredCheck[];
    run(context: Context): Promise<void>;
}

/** Whether a check's name is the one declared. */
export function declares(declared: DeclaredCheck, name: string): boolean {
    return typeof declared === "string" ? declared === name : declared.test(name);
}

export function printReport(title: string, report: { checks: RehearsalCheck[]; figures: Record<string, number | string>; fixtures?: string[] }, json: boolean): void {
    if (json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
    }
    console.log(title);
    for (const fixture of report.fixtures ?? []) {
        console.log(`  fixture: ${fixture}`);
    }
    for (const c of report.checks) {
        console.log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.detail})`);
    }
    console.log("Figures:");
    for (const [name, value] of Object.entries(report.figures)) {
        console.log(`  ${name}: ${value}`);
    }
}
