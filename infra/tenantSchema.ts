// The schema of a tenant file (tenants/<name>.yaml), from which the tenant's type is derived.
import { FromSchema } from "json-schema-to-ts";
import type { TenantDashboard } from "./tenantDashboards";
import { DURATION_PATTERN } from "../components/duration";
import { EMAIL, IAM_PRINCIPAL, REGION, SUPPORT_HOURS } from "./environmentSchema";

export const TENANT_NAME = "^[a-z][a-z0-9-]{1,30}[a-z0-9]$";
const LABEL_NAME = "^[a-zA-Z_][a-zA-Z0-9_]*$";

/** A promtool rule test group, as `promtool test rules` reads one (its keys, and what each holds). */
const PROMTOOL_TEST_GROUP = {
    type: "object",
    additionalProperties: false,
    required: ["interval"],
    anyOf: [{ required: ["alert_rule_test"] }, { required: ["promql_expr_test"] }],
    properties: {
        name: { type: "string" },
        interval: { type: "string", pattern: DURATION_PATTERN, minLength: 2 },
        input_series: { type: "array", items: { type: "object", required: ["series", "values"], additionalProperties: false,
            properties: { series: { type: "string", minLength: 1 }, values: { type: "string" } } } },
        alert_rule_test: { type: "array", items: { type: "object", required: ["eval_time", "alertname"] } },
        promql_expr_test: { type: "array", items: { type: "object", required: ["expr", "eval_time"] } },
        external_labels: { type: "object", additionalProperties: { type: "string" } },
        external_url: { type: "string" },
    },
} as const;

/** Where a tenant's alerts of some severities go. */
const ROUTE = {
    type: "object",
    additionalProperties: false,
    required: ["receiver", "severities"],
    properties: {
        receiver: { type: "string" },
        severities: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: "^[a-z]+$" } },
    },
} as const;

export const TENANT_SCHEMA = {
    type: "object",
    additionalProperties: false,
    required: ["description", "stacks", "receivers", "routing", "rules", "tests"],
    properties: {
        description: { type: "string", minLength: 1 },
        stacks: { type: "array", minItems: 1, uniqueItems: true, items: { enum: ["dev", "staging", "production"] } },
        // Active series its jobs expose at once, on one node: what places it on a shard and sizes that shard.
        expectedSeries: { type: "integer", minimum: 1 },
        // Who may assume the tenant's targets writer role; empty: this account's root.
        writerPrincipals: { type: "array", items: { type: "string", pattern: IAM_PRINCIPAL }, default: [] },
        // The targets regions it registers in, each under tenants/<name>/<region>/; unset: each stack's own region.
        regions: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: REGION } },
        // Receiver name to kind; its URL or key (all but email) is the secret tenant-<name>-<receiver>;
        // email is sent through the stack's mail relay (receivers.email of its environment).
        receivers: {
            type: "object",
            minProperties: 1,
            propertyNames: { pattern: TENANT_NAME },
            additionalProperties: {
                oneOf: [
                    { type: "object", additionalProperties: false, required: ["kind"], properties: { kind: { const: "webhook" } } },
                    { type: "object", additionalProperties: false, required: ["kind"], properties: { kind: { const: "pagerduty" } } },
                    {
                        type: "object",
                        additionalProperties: false,
                        required: ["kind", "to"],
                        properties: { kind: { const: "email" }, to: { type: "string", pattern: EMAIL } },
                    },
                    {
                        type: "object",
                        additionalProperties: false,
                        required: ["kind", "channel"],
                        properties: { kind: { const: "slack" }, channel: { type: "string", pattern: "^#[a-z0-9_-]+$" } },
                    },
                ],
            },
        },
        routing: {
            type: "object",
            additionalProperties: false,
            required: ["page", "ticket"],
            properties: {
                // Severities that page, at any hour.
                page: ROUTE,
                // Severities that become tickets, sent only within support hours.
                ticket: ROUTE,
            },
        },
        supportHours: SUPPORT_HOURS,
        rules: {
            type: "object",
            additionalProperties: false,
            required: ["groups"],
            properties: {
                groups: {
                    type: "array",
                    minItems: 1,
                    items: {
                        type: "object",
                        additionalProperties: false,
                        required: ["name", "rules"],
                        properties: {
                            name: { type: "string", minLength: 1 },
                            interval: { type: "string", pattern: DURATION_PATTERN, minLength: 2 },
                            rules: {
                                type: "array",
                                minItems: 1,
                                items: {
                                    type: "object",
                                    additionalProperties: false,
                                    required: ["expr"],
                                    properties: {
                                        alert: { type: "string", pattern: LABEL_NAME },
                                        record: { type: "string", pattern: "^[a-zA-Z_:][a-zA-Z0-9_:]*$" },
                                        expr: { type: "string", minLength: 1 },
                                        for: { type: "string", pattern: DURATION_PATTERN, minLength: 2 },
                                        labels: { type: "object", propertyNames: { pattern: LABEL_NAME }, additionalProperties: { type: "string" } },
                                        annotations: { type: "object", additionalProperties: { type: "string" } },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        // promtool unit tests of the rules (the `tests:` of a promtool test file).
        tests: { type: "array", minItems: 1, items: PROMTOOL_TEST_GROUP },
    },
} as const;

/** A tenant file once validated, with its name (the file's) and the file. */
export type Tenant = FromSchema<typeof TENANT_SCHEMA> & {
    name: string;
    file: string;
    /** Its dashboards as code (tenants/<name>/dashboards/*.json), provisioned into its folder. */
    dashboards?: TenantDashboard[];
};
export type TenantReceiver = Tenant["receivers"][string];
export type TenantRule = Tenant["rules"]["groups"][number]["rules"][number];
