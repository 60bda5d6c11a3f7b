import * as fs from "node:fs";
import * as path from "node:path";
import { loadStackConfig } from "../../config/stack-file";
import { ResolvedConfig } from "../../config/resolve";

/**
 * The golden cases: each a stack file and the stack name it is read as. `dev` and `prod` are the
 * project's own stack files; the others are beside this file.
 */
export const GOLDEN_CASES: Record<string, string> = {
  dev: path.join(__dirname, "../../Pulumi.dev.yaml"),
  prod: path.join(__dirname, "../../Pulumi.prod.yaml"),
  "docker-sentinel": path.join(__dirname, "docker-sentinel.yaml"),
  "k8s-standalone": path.join(__dirname, "k8s-standalone.yaml"),
  "prod-offsite": path.join(__dirname, "prod-offsite.yaml"),
  "prod-no-policies": path.join(__dirname, "prod-no-policies.yaml"),
};

export function goldenConfig(name: string): ResolvedConfig {
  return loadStackConfig(name, GOLDEN_CASES[name]);
}

/** `UPDATE_GOLDEN=1` (npm run golden:update) rewrites the snapshots instead of comparing. */
export const UPDATING = process.env.UPDATE_GOLDEN === "1";

/** Every file under `dir`, by path relative to it. */
export function readTree(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full)] = fs.readFileSync(full, "utf8");
  }
  return files;
}

/** Replaces `dir` with exactly `files`. */
export function writeTree(dir: string, files: Record<string, string>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}
