import { ConfigError } from "../../config/resolve";
import { resolve } from "../../lib/config-values";

export { DEV, PROD, PROD_STANDALONE, raw, resolve } from "../../lib/config-values";

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

/** The platform's databases by purpose (docs/configuration.md#databases). */
export const PLATFORM_DATABASES = {
  sessions: 0,
  flowCache: 1,
  components: 2,
  collaboration: 3,
  rateLimiting: 4,
  queryCache: 5,
} as const;
