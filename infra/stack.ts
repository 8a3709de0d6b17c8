import * as pulumi from "@pulumi/pulumi";
import { LoadedEnvironment, loadEnvironment } from "./environment";
import { Platform, platformOutputs, sizedPlatform } from "./platform";
import { Tenant } from "./tenants";

/** What a stack is built from, when not its own files (a rehearsal's fixtures). */
export interface StackSource {
    readonly env: LoadedEnvironment;
    readonly tenants: Tenant[];
}

/**
 * The whole program for the selected stack: load and validate environments/<stack>.yaml, build
 * the platform, return the stack outputs. `inspect` lets offline tools see the components built.
 */
export async function runStack(inspect?: (platform: Platform) => void, source?: StackSource): Promise<Record<string, unknown>> {
    const env = source?.env ?? loadEnvironment(pulumi.getStack());
    const platform = await sizedPlatform(env, source?.tenants);
    inspect?.(platform);
    return platformOutputs(platform);
}
