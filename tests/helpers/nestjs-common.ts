/**
 * The few parts of `@nestjs/common` that examples/nestjs/redis.module.ts uses, so that the tests
 * can type-check it (examples/tsconfig.json maps the package here) and run its providers and its
 * shutdown hook without NestJS, which this project does not depend on.
 */

export interface Provider {
  readonly provide: string;
  readonly useFactory: () => unknown;
}

export interface ModuleMetadata {
  readonly providers: readonly Provider[];
  readonly exports: readonly string[];
}

export interface OnApplicationShutdown {
  onApplicationShutdown(signal?: string): unknown;
}

/** What @Module() declared on each class, for the tests to read. */
export const MODULES = new Map<object, ModuleMetadata>();
/** The classes marked @Global(). */
export const GLOBALS = new Set<object>();

export function Module(metadata: ModuleMetadata) {
  return (target: object, _context?: ClassDecoratorContext): void => {
    MODULES.set(target, metadata);
  };
}

export function Global() {
  return (target: object, _context?: ClassDecoratorContext): void => {
    GLOBALS.add(target);
  };
}

/** Nest's Logger: the tests keep what was logged. */
export class Logger {
  static readonly lines: string[] = [];
  constructor(private readonly context: string) {}
  warn(message: string): void {
    Logger.lines.push(`${this.context}: ${message}`);
  }
}
