// Runs each stack's real program offline once per test process and answers questions about it.
import { loadEnvironment, LoadedEnvironment } from "../../infra/environment";
import { planNodes } from "../../infra/environmentChecks";
import { createPlatform, Platform } from "../../infra/platform";
import { CapturedResource, ProgramRun, runProgram, unwrapSecrets } from "../../scripts/lib/offline";
import { placeholderSecretOptions, runStackOffline } from "../../scripts/lib/stackRun";

export const STACKS = ["dev", "staging", "production"] as const;

export interface PlannedStack {
    env: LoadedEnvironment;
    run: ProgramRun;
    platform: Platform;
}

/** Runs of the program, one at a time: the Pulumi runtime's state is global. */
let lastRun: Promise<unknown> = Promise.resolve();
function serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = lastRun.catch(() => undefined).then(run);
    lastRun = next;
    return next;
}

const planned = new Map<string, Promise<PlannedStack>>();

async function planStack(stack: string): Promise<PlannedStack> {
    const { run, platform } = await runStackOffline(stack);
    const env = loadEnvironment(stack);
    if (!platform) {
        throw new Error(`stack ${stack}: the program built no platform`);
    }
    return { env, run, platform };
}

/** The stack planned (previewed) once per test process. */
export function plannedStack(stack: string): Promise<PlannedStack> {
    if (!planned.has(stack)) {
        planned.set(stack, serialised(() => planStack(stack)));
    }
    return planned.get(stack)!;
}

let optedOut: Promise<PlannedStack> | undefined;

/**
 * dev as a stack that opts out of everything optional, planned once per test process: one shard,
 * no remote write (so no AMP), no target discovery. No stack of environments/ is all three.
 */
export function optedOutDev(): Promise<PlannedStack> {
    optedOut ??= serialised(async () => {
        const dev = loadEnvironment("dev");
        const env: LoadedEnvironment = { ...dev, discovery: { ...dev.discovery, enabled: false }, remoteWrite: { ...dev.remoteWrite, enabled: false },
            prometheus: { ...dev.prometheus, shards: 1, tenantShards: {} }, nodes: planNodes(1, dev.zones) };
        let platform: Platform | undefined;
        const run = await runProgram({ stack: "dev", program: async () => { platform = await createPlatform(env); }, ...placeholderSecretOptions("dev") });
        return { env, run, platform: platform! };
    });
    return optedOut;
}

const applied = new Map<string, Promise<ProgramRun>>();

/** The stack as an update sees it, once per test process: every value known (a preview leaves some unknown). */
export function appliedRun(stack: string): Promise<ProgramRun> {
    if (!applied.has(stack)) {
        applied.set(stack, serialised(async () => (await runStackOffline(stack, { preview: false })).run));
    }
    return applied.get(stack)!;
}

export function ofType(run: ProgramRun, type: string): CapturedResource[] {
    return run.resources.filter((r) => r.type === type);
}

export function byUrn(run: ProgramRun, urn: string): CapturedResource {
    const found = run.resources.find((r) => r.urn === urn);
    if (!found) {
        throw new Error(`no resource ${urn}`);
    }
    return found;
}

export function named(run: ProgramRun, type: string, name: string): CapturedResource {
    const found = run.resources.find((r) => r.type === type && r.name === name);
    if (!found) {
        throw new Error(`no ${type} named ${name}`);
    }
    return found;
}

/** The single resource a property's value came from (e.g. the subnet behind subnetId). */
export function source(run: ProgramRun, resource: CapturedResource, property: string): CapturedResource {
    const urns = resource.propertyDependencies[property] ?? [];
    if (urns.length !== 1) {
        throw new Error(`${resource.name}.${property} depends on ${urns.length} resources, not one`);
    }
    return byUrn(run, urns[0]);
}

export function inputsOf<T = Record<string, any>>(resource: CapturedResource): T {
    return unwrapSecrets<T>(resource.inputs);
}
