import * as fs from "node:fs";
import * as path from "node:path";
import { SAMPLE_STACKS, sampleStackConfig } from "../../lib/stack-cases";

/** The golden cases: the sample stacks (lib/stack-cases.ts), each read as the stack of its name. */
export const GOLDEN_CASES = SAMPLE_STACKS;
export const goldenConfig = sampleStackConfig;

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
