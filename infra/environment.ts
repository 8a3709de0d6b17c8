// Loads and validates environments/<stack>.yaml before any resource is registered: the schema
// (environmentSchema.ts), then the checks it cannot state (environmentChecks.ts).
import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv";
import * as yaml from "js-yaml";
import { Environment, ENVIRONMENT_SCHEMA, describeSchemaError, keyOf, MOVED_KEYS } from "./environmentSchema";
import { planZones, semanticProblems } from "./environmentChecks";
import { EnvironmentError } from "./inputErrors";
import { ENVIRONMENTS_DIR } from "./paths";

export type { DataVolumeSettings, Environment } from "./environmentSchema";

/** An environment with the file it came from and what follows from it (subnets, node addresses). */
export interface LoadedEnvironment extends Environment {
    stack: string;
    file: string;
    zones: ZonePlan[];
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
        const problems = (validateShape.errors ?? []).map((e) => `${keyOf(e)}: ${MOVED_KEYS[keyOf(e)] ?? describeSchemaError(e)}`);
        throw new EnvironmentError(file, [...new Set(problems)]);
    }
    const env = data as unknown as Environment;
    const problems = semanticProblems(env);
    if (problems.length > 0) {
        throw new EnvironmentError(file, problems);
    }
    return { ...env, stack, file, zones: planZones(env) };
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
