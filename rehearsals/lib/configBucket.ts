// The config bucket in a rehearsal: node sets remapped to loopback, published as `pulumi up` would.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { nodeConfigPrefix, NodeConfigSource, RenderedNodeConfig, renderNodeConfigs, sealNodeConfigs } from "../../components/nodeConfigBucket";
import { CONFIG_FILE, MANIFEST, RULES_PREFIX } from "../../components/render/configSync";
import { PrometheusRemap, remapPrometheusConfig, remapRules } from "./remap";

/** Each node's set as the program renders it, then moved to loopback and scaled; sealed with a new manifest. */
export function loopbackSets(sources: NodeConfigSource[], remap: (node: string) => PrometheusRemap): RenderedNodeConfig {
    const rendered = renderNodeConfigs(sources);
    const files = Object.fromEntries(Object.entries(rendered.sets).map(([node, set]) => {
        const { [MANIFEST]: _, ...files } = set;
        const nodeRemap = remap(node);
        return [node, Object.fromEntries(Object.entries(files).map(([file, content]) => {
            if (file === CONFIG_FILE) {
                return [file, remapPrometheusConfig(content, nodeRemap)];
            }
            return [file, file.startsWith(RULES_PREFIX) ? remapRules(content, nodeRemap.factor) : content];
        }))];
    }));
    return sealNodeConfigs(files);
}

/** Writes every node's files, then each node's MANIFEST, as the program orders its objects. */
export async function publishSets(client: S3Client, bucket: string, rendered: RenderedNodeConfig): Promise<void> {
    const put = (node: string, file: string) => client.send(new PutObjectCommand({
        Bucket: bucket, Key: `${nodeConfigPrefix(node)}${file}`, Body: rendered.sets[node][file], ContentType: "text/plain",
    }));
    await Promise.all(Object.entries(rendered.sets).flatMap(([node, set]) => Object.keys(set).filter((f) => f !== MANIFEST).map((f) => put(node, f))));
    await Promise.all(Object.keys(rendered.sets).map((node) => put(node, MANIFEST)));
}
