import { RawConfig, ResolvedConfig, resolveConfig } from "../config/resolve";

/** Resolves config values given the way a stack file gives them; secret keys are marked secret. */
export function resolve(
  values: Record<string, unknown>,
  stack = "test",
  secretKeys: string[] = [],
): ResolvedConfig {
  return resolveConfig(raw(values, stack, secretKeys));
}

export function raw(
  values: Record<string, unknown>,
  stack = "test",
  secretKeys: string[] = [],
): RawConfig {
  return { stack, values, secretKeys: new Set(secretKeys) };
}

export const DEV = { target: "docker", profile: "dev", topology: "standalone" } as const;
export const PROD_STANDALONE = {
  target: "kubernetes",
  profile: "production",
  topology: "standalone",
} as const;
export const PROD = { target: "kubernetes", profile: "production", topology: "sentinel" } as const;
