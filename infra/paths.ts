// Where the project's own files are, wherever it is run from.
import * as path from "path";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const ENVIRONMENTS_DIR = path.join(PROJECT_ROOT, "environments");
