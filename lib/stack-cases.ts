import * as path from "node:path";
import { loadStackConfig } from "../config/stack-file";
import { ResolvedConfig } from "../config/resolve";

const ROOT = path.join(__dirname, "..");

/**
 * Stacks that between them take every path of the renderers: the project's `dev` and `prod`, and
 * the samples of examples/stacks/. The golden snapshots hold their output; the lint shellchecks
 * their scripts.
 */
export const SAMPLE_STACKS: Record<string, string> = {
  dev: path.join(ROOT, "Pulumi.dev.yaml"),
  prod: path.join(ROOT, "Pulumi.prod.yaml"),
  ...Object.fromEntries(
    ["docker-sentinel", "k8s-standalone", "prod-offsite", "prod-no-policies"].map((name) => [
      name,
      path.join(ROOT, "examples", "stacks", `Pulumi.${name}.yaml`),
    ]),
  ),
};

/** A sample stack's resolved config, read as the stack of that name. */
export function sampleStackConfig(name: string): ResolvedConfig {
  return loadStackConfig(name, SAMPLE_STACKS[name]);
}
