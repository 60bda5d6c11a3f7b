import { parseArgs } from "node:util";
import { ConfigError, ResolvedConfig, STACK_NAME } from "../config/resolve";
import { loadStackConfig } from "../config/stack-file";

/** Exit code of every command for invalid config or arguments (docs/configuration.md). */
export const EXIT_INVALID = 2;

export class UsageError extends Error {}

/** Parses `--name value` options; an unknown option is a usage error. */
export function parseCommandLine<N extends string>(
  argv: string[],
  names: readonly N[],
  usage: string,
): Partial<Record<N, string>> {
  const options = Object.fromEntries(names.map((n) => [n, { type: "string" as const }]));
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return values as Partial<Record<N, string>>;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nUsage: ${usage}`);
  }
}

/** Loads and validates the stack config the same way `pulumi up` does; prints its warnings. */
export function loadConfigForCommand(
  stack: string | undefined,
  configFile: string | undefined,
  usage: string,
): ResolvedConfig {
  if (!stack) throw new UsageError(`--stack is required.\nUsage: ${usage}`);
  if (!STACK_NAME.test(stack))
    throw new UsageError(
      `--stack ${JSON.stringify(stack)}: a stack name holds 1 to 100 letters, digits, '_', '.', '-'.`,
    );
  const cfg = loadStackConfig(stack, configFile);
  for (const warning of cfg.warnings) process.stderr.write(`warning: ${warning}\n`);
  return cfg;
}

/** Runs a command's main: invalid config or usage exits 2 with the message, anything else 1. */
export function runCommand(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_INVALID);
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
