// What a rehearsal's setup leaves running, stopped in reverse order however the run ends.

/** Steps that undo a setup; each runs once, last first, and a failing one does not stop the rest. */
export class Teardown {
    private readonly steps: (() => unknown)[] = [];
    add(step: () => unknown): void {
        this.steps.push(step);
    }
    async run(): Promise<void> {
        for (const step of this.steps.splice(0).reverse()) {
            await Promise.resolve().then(step).catch(() => undefined);
        }
    }
}
