// Runs a Pulumi program offline under pulumi.runtime.setMocks, in preview mode, and captures
// every resource it registers with its inputs (as the engine receives them) and options.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";

/** The wire value of a not-yet-known property, as the engine and analyzers see it. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** The wire marker of a special value (secret, asset, archive), and a secret's signature under it. */
export const SPECIAL_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface CapturedResource {
    urn: string;
    type: string;
    name: string;
    parent: string;
    custom: boolean;
    /** Inputs on the wire: unknowns are UNKNOWN, secrets are wrapped objects (see unwrapSecrets). */
    inputs: Record<string, unknown>;
    /** Property name to the URNs of the resources its value came from. */
    propertyDependencies: Record<string, string[]>;
    dependencies: string[];
    provider: string;
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    /** The resource's own aliases (a parent's are inherited by the engine). */
    aliases: ResourceAlias[];
}

/** An alias as the engine receives it: an old URN, or the parts of the old URN that differ. */
export interface ResourceAlias {
    urn?: string;
    name?: string;
    type?: string;
    parentUrn?: string;
    noParent?: boolean;
}

export interface ProgramRun {
    stack: string;
    project: string;
    resources: CapturedResource[];
    outputs: Record<string, unknown>;
    /** Secret config keys given placeholders: not decryptable offline, or not set. */
    placeholderSecrets: string[];
}

/** A program that failed, with what it had registered before failing. */
export class ProgramError extends Error {
    constructor(readonly original: Error, readonly resources: CapturedResource[]) {
        super(original.message);
        this.name = "ProgramError";
    }
}

export const MOCK_ACCOUNT = "123456789012";

/** Deterministic answers for the provider functions the programs call. */
function invoke(token: string, args: Record<string, unknown>, region: string): Record<string, unknown> {
    switch (token) {
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                id: region,
                names: ["a", "b", "c"].map((z) => `${region}${z}`),
                zoneIds: [1, 2, 3].map((n) => `euw1-az${n}`),
                state: "available",
            };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { id: MOCK_ACCOUNT, accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/offline-plan`, userId: "AIDAOFFLINEPLAN" };
        case "aws:index/getPartition:getPartition":
            return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
        case "aws:index/getRegion:getRegion":
            return { id: region, name: region, region, endpoint: `ec2.${region}.amazonaws.com` };
        case "aws:elb/getServiceAccount:getServiceAccount":
            return { id: "156460612806", arn: "arn:aws:iam::156460612806:root", region };
        case "aws:ec2/getAmi:getAmi": {
            const filters = (args.filters as { name: string; values: string[] }[] | undefined) ?? [];
            const pattern = filters.find((f) => f.name === "name")?.values[0] ?? "image-*";
            return { id: "ami-0123456789abcdef0", name: pattern.replace("*", "20250101"), architecture: "x86_64", rootDeviceType: "ebs" };
        }
        default:
            throw new Error(`offline plan: no mock answer for provider function ${token}`);
    }
}

/** Properties the provider names itself when a program leaves them out (Pulumi autonaming). */
const AUTONAMED: Record<string, string> = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:iam/role:Role": "name",
    "aws:iam/policy:Policy": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:lb/loadBalancer:LoadBalancer": "name",
    "aws:lb/targetGroup:TargetGroup": "name",
    "aws:ecs/cluster:Cluster": "name",
    "aws:ecs/service:Service": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
};

/** An RDS instance's address as an update run makes it up: AWS's shape, from the identifier and region. */
export function mockDatabaseAddress(identifier: string, region: string): string {
    return `${identifier}.c0ffee012345.${region}.rds.amazonaws.com`;
}

/** Outputs a provider computes that the programs read: unknown in a preview, made up otherwise. */
function computed(type: string, name: string, state: Record<string, unknown>, preview: boolean, region: string): Record<string, unknown> {
    switch (type) {
        case "aws:acm/certificate:Certificate": {
            const domain = String(state.domainName).replace(/^\*\./, "");
            return {
                domainValidationOptions: preview ? UNKNOWN : [{
                    domainName: state.domainName,
                    resourceRecordName: `_0123456789abcdef.${domain}.`,
                    resourceRecordType: "CNAME",
                    resourceRecordValue: "_fedcba9876543210.acm-validations.aws.",
                }],
            };
        }
        case "aws:lb/loadBalancer:LoadBalancer":
            return { dnsName: preview ? UNKNOWN : "platform-0123456789.eu-west-1.elb.amazonaws.com" };
        case "aws:ec2/eip:Eip":
            return { publicIp: preview ? UNKNOWN : `192.0.2.${parseInt(crypto.createHash("sha256").update(name).digest("hex").slice(0, 2), 16) % 254 + 1}` };
        case "aws:rds/instance:Instance":
            return { address: preview ? UNKNOWN : mockDatabaseAddress(String(state.identifier ?? name), region) };
        case "random:index/randomPassword:RandomPassword":
            // As a stack's second preview knows it (the first does not); its bcrypt hash stays unknown.
            return { result: `placeholder-random-password-${name}` };
        default:
            return {};
    }
}

/** An ARN of the shape AWS gives the type (IAM, AMP, S3 as policies name them); other types get a generic one. */
function mockArn(type: string, name: string, state: Record<string, unknown>, region: string): string {
    const hash = crypto.createHash("sha256").update(`${type}/${name}`).digest("hex");
    switch (type) {
        case "aws:iam/role:Role":
            return `arn:aws:iam::${MOCK_ACCOUNT}:role/${state.name ?? name}`;
        case "aws:iam/policy:Policy":
            return `arn:aws:iam::${MOCK_ACCOUNT}:policy/${state.name ?? name}`;
        case "aws:amp/workspace:Workspace":
            return `arn:aws:aps:${region}:${MOCK_ACCOUNT}:workspace/ws-${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`;
        case "aws:s3/bucket:Bucket":
            return `arn:aws:s3:::${state.bucket ?? name}`;
        default: {
            const [pkg, module] = type.split(":");
            return `arn:aws:${module.split("/")[0]}:${region}:${MOCK_ACCOUNT}:${pkg}/${name}`;
        }
    }
}

function autoname(name: string, stack: string): string {
    const suffix = crypto.createHash("sha256").update(`${stack}/${name}`).digest("hex").slice(0, 7);
    return `${name}-${suffix}`.toLowerCase();
}

/** Gives a secret that cannot be read offline a stand-in of its shape, from its key and the stack. */
export type SecretPlaceholder = (key: string, stack: string) => string;

/** A stand-in for any program's secret: a URL where the key names one, a plain string otherwise. */
export function genericPlaceholder(key: string, stack: string): string {
    return /url$/i.test(key) ? `https://placeholder.invalid/${stack}/${key}` : `placeholder-${stack}-${key}`;
}

/** Reads Pulumi.<stack>.yaml's config; secure values become placeholders. */
export function stackConfig(projectDir: string, stack: string, project: string,
    secretPlaceholder: SecretPlaceholder = genericPlaceholder): { config: Record<string, string>; secrets: string[] } {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        throw new Error(`${path.relative(process.cwd(), file)}: no such stack file`);
    }
    let doc: { config?: Record<string, unknown> };
    try {
        doc = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    } catch (err) {
        // Only where and why: the line itself may hold a secret in plain text.
        const { reason, mark } = err as yaml.YAMLException;
        throw new Error(`${path.relative(process.cwd(), file)}:${mark ? `${mark.line + 1}:${mark.column + 1}` : "?"}: not valid YAML: ${reason ?? "unreadable"} (the line is not printed)`);
    }
    const config: Record<string, string> = {};
    const secrets: string[] = [];
    for (const [rawKey, value] of Object.entries(doc.config ?? {})) {
        const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
        if (value !== null && typeof value === "object" && "secure" in (value as object)) {
            config[key] = secretPlaceholder(key.split(":").pop() ?? key, stack);
            secrets.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secrets };
}

function unwrap(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(unwrap);
    }
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[SPECIAL_KEY] === SECRET_SIG) {
            return unwrap(record.value);
        }
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrap(v)]));
    }
    return value;
}

/** Inputs with secret wrappers removed (for assertions; never print the result). */
export function unwrapSecrets<T = Record<string, unknown>>(value: unknown): T {
    return unwrap(value) as T;
}

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getPropertydependenciesMap(): Map<string, { getUrnsList(): string[] }>;
    getDependenciesList(): string[];
    getProvider(): string;
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getAliasesList(): { toObject(): { urn: string; spec?: { name: string; type: string; parenturn: string; noparent: boolean } } }[];
}

export interface RunOptions {
    stack: string;
    /** The program: a module path (its export, or the function it exports, is the program) or a function. */
    program: string | (() => unknown);
    projectDir?: string;
    project?: string;
    /** Extra config (key "project:key" or "aws:region"); overrides the stack file. */
    config?: Record<string, string>;
    /** Extra secret config, as `pulumi config set --secret` stores it; overrides the stack file. */
    secretConfig?: Record<string, string>;
    /** Secret keys (of the project) to give placeholders when the stack file does not set them. */
    placeholderSecrets?: string[];
    /** The stand-in of a secret's shape; generic by default. */
    secretPlaceholder?: SecretPlaceholder;
    /**
     * false: run as an update would, with made-up IDs and ARNs, so that values built from them
     * can be inspected (tests only; the plan and the policy check always preview).
     */
    preview?: boolean;
    /** Values a provider would compute for a resource, beyond the mock's own (e.g. a password and its hash). */
    computedState?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;
}

/** Runs the program once. Each call starts from a fresh mock monitor. */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
    const projectDir = options.projectDir ?? path.resolve(__dirname, "..", "..");
    const project = options.project ?? (yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
    const placeholder = options.secretPlaceholder ?? genericPlaceholder;
    const { config, secrets } = fs.existsSync(path.join(projectDir, `Pulumi.${options.stack}.yaml`))
        ? stackConfig(projectDir, options.stack, project, placeholder)
        : { config: {}, secrets: [] };
    for (const key of options.placeholderSecrets ?? []) {
        const qualified = `${project}:${key}`;
        if (config[qualified] === undefined) {
            config[qualified] = placeholder(key, options.stack);
            secrets.push(qualified);
        }
    }
    // Values given here replace placeholders; plain config is held in plain text, as
    // `pulumi config set` without --secret holds it, and secret config encrypted.
    const given = [...Object.keys(options.config ?? {}), ...Object.keys(options.secretConfig ?? {})];
    const placeholders = secrets.filter((key) => !given.includes(key));
    const secretKeys = [...placeholders, ...Object.keys(options.secretConfig ?? {})];
    Object.assign(config, options.config ?? {}, options.secretConfig ?? {});
    const region = config["aws:region"] ?? "eu-west-1";

    const resources: CapturedResource[] = [];
    const stack = options.stack;
    const preview = options.preview ?? true;
    await pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs) {
            const state: Record<string, unknown> = { ...args.inputs };
            if (args.custom) {
                const autoProp = AUTONAMED[args.type];
                if (autoProp && state[autoProp] === undefined && state[`${autoProp}Prefix`] === undefined) {
                    state[autoProp] = autoname(args.name, stack);
                }
                state.arn = preview ? UNKNOWN : mockArn(args.type, args.name, state, region);
                Object.assign(state, computed(args.type, args.name, state, preview, region), options.computedState?.(args.type, args.name, args.inputs));
            }
            // A bucket's ID is its name, as in S3; other IDs are made up.
            const id = args.type === "aws:s3/bucket:Bucket" ? String(state.bucket) : `${args.name}-id`;
            return { id: (preview ? undefined : id) as string, state };
        },
        call(args: pulumi.runtime.MockCallArgs) {
            return invoke(args.token, args.inputs as Record<string, unknown>, region);
        },
    }, project, stack, preview);
    pulumi.runtime.setAllConfig(config, secretKeys);

    const monitor = settings.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, callback: (err: unknown, response?: { getUrn(): string }) => void): void;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps, key) => { propertyDependencies[key] = deps.getUrnsList(); });
        const captured: CapturedResource = {
            urn: "",
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            custom: req.getCustom(),
            inputs: req.getObject()?.toJavaScript() ?? {},
            propertyDependencies,
            dependencies: req.getDependenciesList(),
            provider: req.getProvider(),
            protect: req.getProtect(),
            retainOnDelete: req.getRetainondelete(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            aliases: req.getAliasesList().map((alias) => {
                const { urn, spec } = alias.toObject();
                return urn ? { urn } : {
                    ...(spec?.name ? { name: spec.name } : {}),
                    ...(spec?.type ? { type: spec.type } : {}),
                    ...(spec?.parenturn ? { parentUrn: spec.parenturn } : {}),
                    ...(spec?.noparent ? { noParent: true } : {}),
                };
            }),
        };
        resources.push(captured);
        register(req, (err: unknown, response?: { getUrn(): string }) => {
            captured.urn = response?.getUrn() ?? "";
            callback(err, response);
        });
    };

    let outputs: Record<string, unknown>;
    // A failure inside an apply surfaces as an unhandled rejection: it fails the run, not the process.
    let failed: (err: unknown) => void = () => undefined;
    const failure = new Promise<never>((_, reject) => { failed = reject; });
    const onRejection = (err: unknown) => failed(err);
    process.on("unhandledRejection", onRejection);
    try {
        let exported: unknown;
        if (typeof options.program === "string") {
            const modulePath = require.resolve(path.resolve(options.program));
            delete require.cache[modulePath];
            exported = require(modulePath);
        } else {
            exported = options.program;
        }
        if (typeof exported === "function") {
            exported = (exported as () => unknown)();
        }
        outputs = ((await Promise.race([exported, failure])) ?? {}) as Record<string, unknown>;
        await Promise.race([(settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs(), failure]);
    } catch (err) {
        throw new ProgramError(err as Error, resources);
    } finally {
        process.off("unhandledRejection", onRejection);
    }
    return { stack, project, resources, outputs, placeholderSecrets: placeholders };
}

/** Resolves an output as far as a preview can: undefined stands for a value not known yet. */
export async function previewValue<T>(value: pulumi.Input<T>): Promise<T | undefined> {
    const output = pulumi.output(value) as unknown as { isKnown: Promise<boolean>; promise(): Promise<T> };
    if (!(await output.isKnown)) {
        return undefined;
    }
    return output.promise();
}

export const UNKNOWN_PLACEHOLDER = "(known after apply)";
export const UNKNOWN_URL_PLACEHOLDER = "https://known-after-apply.invalid/";
export const SECRET_PLACEHOLDER = "(secret)";

/**
 * Resolves a structure holding Outputs as far as a preview can: an unknown value becomes a
 * placeholder (URL-shaped under a key named url or ...Url) and a secret one SECRET_PLACEHOLDER,
 * so it can be written out safely and still be checked by the tools that read it.
 */
export async function resolveForPreview(value: unknown, key = ""): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const output = value as unknown as { isKnown: Promise<boolean>; isSecret: Promise<boolean>; promise(): Promise<unknown> };
        if (!(await output.isKnown)) {
            return /(^u|U)rl$/.test(key) ? UNKNOWN_URL_PLACEHOLDER : UNKNOWN_PLACEHOLDER;
        }
        if (await output.isSecret) {
            return SECRET_PLACEHOLDER;
        }
        return resolveForPreview(await output.promise(), key);
    }
    if (value instanceof Promise) {
        return resolveForPreview(await value, key);
    }
    if (Array.isArray(value)) {
        return Promise.all(value.map((v) => resolveForPreview(v, key)));
    }
    if (value !== null && typeof value === "object") {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveForPreview(v, k)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}
