import * as pulumi from "@pulumi/pulumi";
import { loadEnvironment } from "./environment";
import { Platform, platformOutputs, sizedPlatform } from "./platform";

/**
 * The whole program for the selected stack: load and validate environments/<stack>.yaml, build
 * the platform, return the stack outputs. `inspect` lets offline tools see the components built.
 */
export async function runStack(inspect?: (platform: Platform) => void): Promise<Record<string, unknown>> {
    const env = loadEnvironment(pulumi.getStack());
    const platform = await sizedPlatform(env);
    inspect?.(platform);
    return platformOutputs(platform);
}
