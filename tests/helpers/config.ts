import { ConfigError, RawConfig, ResolvedConfig, resolveConfig } from "../../config/resolve";

/** Resolves config values given the way a stack file gives them; secret keys are marked secret. */
export function resolve(
  values: Record<string, unknown>,
  stack = "test",
  secretKeys: string[] = [],
): ResolvedConfig {
  return resolveConfig(raw(values, stack, secretKeys));
}

/** Every problem `values` get, or [] when they resolve. */
export function problemsOf(
  values: Record<string, unknown>,
  secretKeys: string[] = [],
  stack = "test",
): string[] {
  try {
    resolve(values, stack, secretKeys);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
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

/** The platform's databases by purpose (docs/configuration.md#databases). */
export const PLATFORM_DATABASES = {
  sessions: 0,
  flowCache: 1,
  components: 2,
  collaboration: 3,
  rateLimiting: 4,
  queryCache: 5,
} as const;
