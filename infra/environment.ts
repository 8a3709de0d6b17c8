// Loads and validates environments/<stack>.yaml before any resource is registered: the schema
// (environmentSchema.ts), then the checks it cannot state (environmentChecks.ts).
import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv";
import * as yaml from "js-yaml";
import { Environment, ENVIRONMENT_SCHEMA, describeSchemaError, keyOf, MOVED_KEYS } from "./environmentSchema";
import { planNodes, planZones, semanticProblems } from "./environmentChecks";
import { EnvironmentError } from "./inputErrors";
import { ENVIRONMENTS_DIR } from "./paths";

export type { DataVolumeSettings, Environment } from "./environmentSchema";

/** An environment with the file it came from and what follows from it (subnets, node addresses). */
export interface LoadedEnvironment extends Environment {
    stack: string;
    file: string;
    zones: ZonePlan[];
    /** Every Prometheus node: shard by shard, zone by zone. */
    nodes: NodePlan[];
}

/** One Prometheus node: a shard's member in one zone. */
export interface NodePlan {
    /** prom-<zone> in shard 1, prom-s<shard>-<zone> beyond. */
    name: string;
    /** Its key in prometheus.restoreSnapshots: the zone's number in shard 1, s<shard>-<zone> beyond. */
    key: string;
    shard: number;
    zone: ZonePlan;
    /** Fixed address in its zone's private subnet, so every configuration can name it before it exists. */
    privateIp: string;
}

export interface ZonePlan {
    /** 1-based position: node N and Alertmanager member N live in zone N. */
    index: number;
    availabilityZone: string;
    publicSubnetCidr: string;
    privateSubnetCidr: string;
    prometheusPrivateIp: string;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validateShape = ajv.compile(ENVIRONMENT_SCHEMA);

/** Validates parsed YAML; `file` only names the source in errors. */
export function validateEnvironment(raw: unknown, file: string, stack: string): LoadedEnvironment {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw new EnvironmentError(file, ["(top level): must be a mapping of settings"]);
    }
    const data = structuredClone(raw) as Record<string, unknown>;
    if (!validateShape(data)) {
        // A key that breaks propertyNames is reported once, by the rule it breaks.
        const problems = (validateShape.errors ?? []).filter((e) => e.keyword !== "propertyNames")
            .map((e) => `${keyOf(e)}: ${MOVED_KEYS[keyOf(e)] ?? describeSchemaError(e)}`);
        throw new EnvironmentError(file, [...new Set(problems)]);
    }
    const env = data as unknown as Environment;
    const problems = semanticProblems(env);
    if (problems.length > 0) {
        throw new EnvironmentError(file, problems);
    }
    const zones = planZones(env);
    return { ...env, stack, file, zones, nodes: planNodes(env.prometheus.shards, zones) };
}

export function parseEnvironmentYaml(text: string, file: string, stack: string): LoadedEnvironment {
    let raw: unknown;
    try {
        raw = yaml.load(text, { filename: file });
    } catch (err) {
        throw new EnvironmentError(file, [`not valid YAML: ${(err as Error).message}`]);
    }
    return validateEnvironment(raw, file, stack);
}

export function environmentFile(stack: string, dir = ENVIRONMENTS_DIR): string {
    return path.join(dir, `${stack}.yaml`);
}

export function loadEnvironment(stack: string, dir = ENVIRONMENTS_DIR): LoadedEnvironment {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(stack)) {
        throw new Error(`stack name ${JSON.stringify(stack)} cannot name an environment file`);
    }
    const file = environmentFile(stack, dir);
    const shown = path.relative(process.cwd(), file) || file;
    if (!fs.existsSync(file)) {
        const known = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => f.replace(/\.yaml$/, ""));
        throw new EnvironmentError(shown, [`no such file: stack ${stack} has no environment (known: ${known.join(", ")})`]);
    }
    return parseEnvironmentYaml(fs.readFileSync(file, "utf8"), shown, stack);
}
