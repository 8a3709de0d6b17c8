import { ResourceValidationPolicy } from "@pulumi/policy";
import { read, TYPES } from "../lib";

interface DatabaseConfig {
    /** Set where the stack's data is protected (environments' protectData): the database spans two zones. */
    multiAz?: boolean;
}

export const rdsEncryptedPrivate: ResourceValidationPolicy = {
    name: "rds-encrypted-private",
    description: "RDS database instances are encrypted at rest and not publicly accessible; where the stack's data is protected, "
        + "they run Multi-AZ, in more than one zone.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            multiAz: { type: "boolean", default: false },
        },
    },
    validateResource: (args, reportViolation) => {
        if (args.type !== TYPES.rdsInstance) {
            return;
        }
        const name = `${args.type.split(":").pop()} '${args.name}'`;
        const encrypted = read(() => args.props.storageEncrypted as boolean | undefined);
        if (!encrypted.known || encrypted.value !== true) {
            reportViolation(`${name} stores its data unencrypted (storageEncrypted is ${encrypted.known ? encrypted.value ?? "not set" : "not known"}). `
                + "Set storageEncrypted: true (with kmsKeyId for a key of your own).");
        }
        const open = read(() => args.props.publiclyAccessible as boolean | undefined);
        if (!open.known || open.value === true) {
            reportViolation(`${name} is publicly accessible (publiclyAccessible is ${open.known ? open.value : "not known"}). `
                + "Set publiclyAccessible: false and place it in the private subnets.");
        }
        if (args.getConfig<DatabaseConfig>().multiAz) {
            const multiAz = read(() => args.props.multiAz as boolean | undefined);
            if (!multiAz.known || multiAz.value !== true) {
                reportViolation(`${name} runs in one zone (multiAz is ${multiAz.known ? multiAz.value ?? "not set" : "not known"}) in a stack whose `
                    + "data is protected. Set multiAz: true, so that a zone's loss keeps the database.");
            }
        }
    },
};
