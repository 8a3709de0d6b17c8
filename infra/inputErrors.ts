// Errors about a file a person edits: each names the kind of file, the file and every problem
// (the key and what is wrong with it), so one message says what to fix where.

export type InputFileKind = "environment file" | "tenant file" | "stack file";

export class InputFileError extends Error {
    constructor(readonly kind: InputFileKind, readonly file: string, readonly problems: string[]) {
        super(`${kind} ${file} is not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "InputFileError";
    }
}

/** environments/<stack>.yaml. */
export class EnvironmentError extends InputFileError {
    constructor(file: string, problems: string[]) {
        super("environment file", file, problems);
        this.name = "EnvironmentError";
    }
}

/** tenants/<name>.yaml. */
export class TenantFileError extends InputFileError {
    constructor(file: string, problems: string[]) {
        super("tenant file", file, problems);
        this.name = "TenantFileError";
    }
}

/** Pulumi.<stack>.yaml: its settings and secrets. */
export class StackFileError extends InputFileError {
    constructor(file: string, problems: string[]) {
        super("stack file", file, problems);
        this.name = "StackFileError";
    }
}
