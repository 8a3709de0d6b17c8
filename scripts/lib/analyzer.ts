// Serves the policy pack with @pulumi/policy's own server and drives it through the Analyzer RPCs
// the Pulumi engine uses: Configure, Analyze per resource, AnalyzeStack for the whole stack.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as proto from "@pulumi/pulumi/proto/analyzer_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { CapturedResource } from "./offline";

export const POLICY_PACK_DIR = path.resolve(__dirname, "..", "..", "policies");

export type EnforcementLevel = "advisory" | "mandatory" | "disabled" | "remediate";

const LEVELS: Record<number, EnforcementLevel> = {
    [proto.EnforcementLevel.ADVISORY]: "advisory",
    [proto.EnforcementLevel.MANDATORY]: "mandatory",
    [proto.EnforcementLevel.DISABLED]: "disabled",
    [proto.EnforcementLevel.REMEDIATE]: "remediate",
};
const LEVEL_CODES: Record<EnforcementLevel, proto.EnforcementLevel> = {
    advisory: proto.EnforcementLevel.ADVISORY,
    mandatory: proto.EnforcementLevel.MANDATORY,
    disabled: proto.EnforcementLevel.DISABLED,
    remediate: proto.EnforcementLevel.REMEDIATE,
};

export interface Violation {
    policy: string;
    message: string;
    level: EnforcementLevel;
    /** The resource at fault; empty for a stack-wide violation. */
    urn: string;
}

/** A --policy-pack-config file: policy name to its enforcement level and properties ("all" sets a default level). */
export type PolicyPackConfig = Record<string, { enforcementLevel?: EnforcementLevel; [key: string]: unknown } | EnforcementLevel>;

export function readPolicyConfig(file: string): PolicyPackConfig {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as PolicyPackConfig;
    } catch (err) {
        throw new Error(`${file}: not a readable policy pack config: ${(err as Error).message}`);
    }
}

function call<Req, Res>(method: (req: Req, callback: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => method(req, (err, res) => (err ? reject(err) : resolve(res))));
}

function options(resource: CapturedResource): proto.AnalyzerResourceOptions {
    return new proto.AnalyzerResourceOptions()
        .setProtect(resource.protect)
        .setIgnorechangesList(resource.ignoreChanges)
        .setDeletebeforereplace(resource.deleteBeforeReplace)
        .setDeletebeforereplacedefined(true)
        .setParent(resource.parent);
}

function diagnostics(list: proto.AnalyzeDiagnostic[]): Violation[] {
    // @pulumi/policy sends "<policy description>\n<message>"; the message alone says what is wrong.
    const own = (d: proto.AnalyzeDiagnostic) => {
        const prefix = `${d.getDescription()}\n`;
        return d.getMessage().startsWith(prefix) ? d.getMessage().slice(prefix.length) : d.getMessage();
    };
    return list.map((d) => ({
        policy: d.getPolicyname(),
        message: own(d),
        level: LEVELS[d.getEnforcementlevel()] ?? "advisory",
        urn: d.getUrn(),
    }));
}

/** One running policy pack process and a client connected to it. */
export class PolicyPackServer {
    private constructor(private readonly child: ChildProcess, private readonly client: AnalyzerClient) {}

    /** The server process's ID. */
    get pid(): number | undefined {
        return this.child.pid;
    }

    static async start(packDir = POLICY_PACK_DIR): Promise<PolicyPackServer> {
        const child = spawn(process.execPath, ["--import", "tsx", "--import", path.join(__dirname, "exitWithParent.ts"), "index.ts"], {
            cwd: packDir,
            // Its stdin is this process's pipe: it closes when this process ends, however it ends.
            stdio: ["pipe", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (chunk) => { stderr += chunk; });
        const port = await new Promise<string>((resolve, reject) => {
            const lines = readline.createInterface({ input: child.stdout! });
            lines.once("line", (line) => resolve(line.trim()));
            child.once("exit", (code) => reject(new Error(`policy pack exited (${code}) before serving: ${stderr.trim()}`)));
        });
        if (!/^\d+$/.test(port)) {
            child.kill();
            throw new Error(`policy pack printed ${JSON.stringify(port)} instead of its port`);
        }
        const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        return new PolicyPackServer(child, client);
    }

    /** Sends the pack its config, as the engine does for --policy-pack-config. */
    async configure(config: PolicyPackConfig): Promise<void> {
        const request = new proto.ConfigureAnalyzerRequest();
        const map = request.getPolicyconfigMap();
        const defaultLevel = typeof config.all === "string" ? config.all : undefined;
        for (const [name, value] of Object.entries(config)) {
            if (name === "all") {
                continue;
            }
            const { enforcementLevel, ...properties } = typeof value === "string" ? { enforcementLevel: value } : value;
            const level = enforcementLevel ?? defaultLevel ?? "mandatory";
            map.set(name, new proto.PolicyConfig()
                .setEnforcementlevel(LEVEL_CODES[level])
                .setProperties(Struct.fromJavaScript(properties as Record<string, never>)));
        }
        await call(this.client.configure.bind(this.client), request);
    }

    async analyze(resource: CapturedResource): Promise<Violation[]> {
        const request = new proto.AnalyzeRequest()
            .setType(resource.type)
            .setName(resource.name)
            .setUrn(resource.urn)
            .setProperties(Struct.fromJavaScript(resource.inputs as Record<string, never>))
            .setOptions(options(resource));
        const response = await call<proto.AnalyzeRequest, proto.AnalyzeResponse>(this.client.analyze.bind(this.client), request);
        return diagnostics(response.getDiagnosticsList());
    }

    async analyzeStack(resources: CapturedResource[]): Promise<Violation[]> {
        const request = new proto.AnalyzeStackRequest().setResourcesList(resources.map((resource) => {
            const analyzed = new proto.AnalyzerResource()
                .setType(resource.type)
                .setName(resource.name)
                .setUrn(resource.urn)
                .setProperties(Struct.fromJavaScript(resource.inputs as Record<string, never>))
                .setOptions(options(resource))
                .setParent(resource.parent)
                .setDependenciesList(resource.dependencies);
            const dependencies = analyzed.getPropertydependenciesMap();
            for (const [property, urns] of Object.entries(resource.propertyDependencies)) {
                dependencies.set(property, new proto.AnalyzerPropertyDependencies().setUrnsList(urns));
            }
            return analyzed;
        }));
        const response = await call<proto.AnalyzeStackRequest, proto.AnalyzeResponse>(this.client.analyzeStack.bind(this.client), request);
        return diagnostics(response.getDiagnosticsList());
    }

    /** Analyze for every custom resource, then AnalyzeStack: what `pulumi preview --policy-pack` does. */
    async check(resources: CapturedResource[]): Promise<Violation[]> {
        const violations: Violation[] = [];
        for (const resource of resources.filter((r) => r.custom)) {
            violations.push(...await this.analyze(resource));
        }
        violations.push(...await this.analyzeStack(resources));
        return violations;
    }

    close(): void {
        this.client.close();
        this.child.kill();
    }
}
