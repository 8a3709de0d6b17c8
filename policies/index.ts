// The platform's policy pack: `pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`.
import { PolicyPack } from "@pulumi/policy";
import { albRuleConditionLimits } from "./rules/albRuleConditionLimits";
import { ampWorkspacePerStack } from "./rules/ampWorkspacePerStack";
import { ebsEncryption } from "./rules/ebsEncryption";
import { imdsv2Required } from "./rules/imdsv2Required";
import { noPublicIngress } from "./rules/noPublicIngress";
import { noSsh } from "./rules/noSsh";
import { noWildcardIam } from "./rules/noWildcardIam";
import { officeIpOnlyAlbRules } from "./rules/officeIpOnlyAlbRules";
import { rdsEncryptedPrivate } from "./rules/rdsEncryptedPrivate";
import { s3BucketPrivate } from "./rules/s3BucketPrivate";
import { signInBeyondOffice } from "./rules/signInBeyondOffice";
import { threeAzSpread } from "./rules/threeAzSpread";

export const POLICIES = [officeIpOnlyAlbRules, ebsEncryption, threeAzSpread, s3BucketPrivate, imdsv2Required, noPublicIngress, noSsh,
    noWildcardIam, ampWorkspacePerStack, albRuleConditionLimits, rdsEncryptedPrivate, signInBeyondOffice];

new PolicyPack("prometheus-platform", { policies: POLICIES });
