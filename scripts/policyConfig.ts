// Writes policies/config/<stack>.json, the --policy-pack-config of each stack, from environments/.
//   npm run policy-config            (rewrite)     npm run policy-config -- --check   (exit 1 on drift)
import * as fs from "fs";
import * as path from "path";
import { loadEnvironment, LoadedEnvironment } from "../infra/environment";
import { PolicyPackConfig, POLICY_PACK_DIR } from "./lib/analyzer";

export const STACKS = ["dev", "staging", "production"];

export function policyConfigFile(stack: string): string {
    return path.join(POLICY_PACK_DIR, "config", `${stack}.json`);
}

/** Every rule mandatory; the office CIDRs are the environment's own; databases span zones where data is protected. */
export function policyConfigFor(env: LoadedEnvironment): PolicyPackConfig {
    return {
        all: "mandatory",
        "office-ip-only-alb-rules": { enforcementLevel: "mandatory", officeCidrs: env.officeCidrs },
        "sign-in-beyond-office": { enforcementLevel: "mandatory", officeCidrs: env.officeCidrs },
        "rds-encrypted-private": { enforcementLevel: "mandatory", multiAz: env.protectData },
    };
}

export function renderPolicyConfig(env: LoadedEnvironment): string {
    return `${JSON.stringify(policyConfigFor(env), null, 2)}\n`;
}

if (require.main === module) {
    const check = process.argv.includes("--check");
    let drift = false;
    for (const stack of STACKS) {
        const file = policyConfigFile(stack);
        const wanted = renderPolicyConfig(loadEnvironment(stack));
        const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        if (current === wanted) {
            continue;
        }
        if (check) {
            console.error(`${path.relative(process.cwd(), file)} differs from environments/${stack}.yaml: run npm run policy-config`);
            drift = true;
        } else {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, wanted);
            console.log(`wrote ${path.relative(process.cwd(), file)}`);
        }
    }
    process.exit(drift ? 1 : 0);
}
