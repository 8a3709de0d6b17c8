import { ResourceValidationPolicy } from "@pulumi/policy";
import { read, TYPES } from "../lib";

interface EbsConfig {
    /** When set, every volume must be encrypted with this KMS key. */
    kmsKeyId?: string;
}

function encrypted(flag: unknown): boolean {
    return flag === true || flag === "true";
}

export const ebsEncryption: ResourceValidationPolicy = {
    name: "ebs-encryption",
    description: "Every EBS volume, EC2 root and EBS block device, and launch template block device is encrypted "
        + "(with the configured KMS key, when one is set).",
    enforcementLevel: "mandatory",
    configSchema: { properties: { kmsKeyId: { type: "string" } } },
    validateResource: (args, reportViolation) => {
        const { kmsKeyId } = args.getConfig<EbsConfig>();
        const check = (where: string, flag: () => unknown, key: () => unknown) => {
            const isEncrypted = read(flag);
            if (!isEncrypted.known || !encrypted(isEncrypted.value)) {
                reportViolation(`${where} of ${args.type.split(":").pop()} '${args.name}' is not encrypted`
                    + `${isEncrypted.known ? "" : " (not known in this preview)"}. Set encrypted: true.`);
                return;
            }
            if (kmsKeyId !== undefined) {
                const actual = read(key);
                if (!actual.known || actual.value !== kmsKeyId) {
                    reportViolation(`${where} of '${args.name}' is not encrypted with the required KMS key ${kmsKeyId}. Set kmsKeyId to it.`);
                }
            }
        };

        if (args.type === TYPES.volume) {
            check("the volume", () => args.props.encrypted, () => args.props.kmsKeyId);
        } else if (args.type === TYPES.instance) {
            const root = read(() => args.props.rootBlockDevice);
            if (root.known && root.value === undefined) {
                reportViolation(`The root device of Instance '${args.name}' is not declared, so not known to be encrypted. `
                    + "Set rootBlockDevice: { encrypted: true }.");
            } else {
                check("the root device", () => args.props.rootBlockDevice.encrypted, () => args.props.rootBlockDevice.kmsKeyId);
            }
            const devices = read(() => (args.props.ebsBlockDevices ?? []) as unknown[]);
            (devices.known ? devices.value : []).forEach((_, i) => check(`EBS block device ${i}`,
                () => args.props.ebsBlockDevices[i].encrypted, () => args.props.ebsBlockDevices[i].kmsKeyId));
        } else if (args.type === TYPES.launchTemplate) {
            const mappings = read(() => (args.props.blockDeviceMappings ?? []) as { ebs?: unknown }[]);
            (mappings.known ? mappings.value : []).forEach((mapping, i) => {
                if (mapping.ebs !== undefined) {
                    check(`block device mapping ${i}`, () => args.props.blockDeviceMappings[i].ebs.encrypted,
                        () => args.props.blockDeviceMappings[i].ebs.kmsKeyId);
                }
            });
        }
    },
};
