// YAML a person writes, read without anchors or aliases: a file's every value stands where it
// is written, and an alias bomb cannot expand when the file is rendered again.
import * as yaml from "js-yaml";

/** The document, or the problems that keep it from being read: a syntax error, or each anchor by line. */
export function loadWithoutAliases(text: string, file: string): { value: unknown; problems: string[] } {
    const anchors: string[] = [];
    let value: unknown;
    try {
        value = yaml.load(text, {
            filename: file,
            listener: (event, state) => {
                const node = state as unknown as { anchor: string | null; line: number };
                if (event === "close" && node.anchor) {
                    anchors.push(`(line ${node.line + 1}): the anchor &${node.anchor}; YAML anchors and aliases are not accepted here, write each value out`);
                }
            },
        });
    } catch (err) {
        return { value: undefined, problems: [`not valid YAML: ${(err as Error).message}`] };
    }
    return { value, problems: [...new Set(anchors)] };
}
