// Pulumi program entry: builds the platform for the selected stack (pulumi.getStack()).
import * as pulumi from "@pulumi/pulumi";
import { loadEnvironment } from "./environment";
import { createPlatform, platformOutputs } from "./platform";

export = async (): Promise<Record<string, unknown>> => {
    const env = loadEnvironment(pulumi.getStack());
    const platform = await createPlatform(env, { kind: "dns", name: `alertmanager.${env.stack}.monitoring.internal`, port: 9093 });
    return platformOutputs(platform);
};
