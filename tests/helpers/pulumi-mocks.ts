import type { Recorded } from "../../lib/pulumi-mocks";

export { MockRecorder, outcomeOf, promiseOf } from "../../lib/pulumi-mocks";
export type { Recorded } from "../../lib/pulumi-mocks";

/** How the SDK marks a secret value it sends to the engine (and to mocks). */
const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/**
 * The component type a resource of the stack is parented to: none for the components themselves,
 * the BackupCronJob and the CommanderUI for their objects and own secrets, `redis` (the
 * RedisInstance or SentinelGroup) for the rest, the backup and commander users' passwords included
 * (they are the Redis component's secrets).
 */
export function expectedParent(r: Recorded, redis: string): string | undefined {
  if (r.type.startsWith("lowcode:")) return undefined;
  if (
    r.name.startsWith("lowcode-redis-commander") &&
    r.name !== "lowcode-redis-commander-redis-password"
  )
    return "lowcode:redis:CommanderUI";
  if (r.name.startsWith("lowcode-redis-backup") && !r.type.startsWith("random:"))
    return "lowcode:redis:BackupCronJob";
  return redis;
}

export function isWrappedSecret(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SPECIAL_SIG_KEY] === SECRET_SIG
  );
}

/** Inputs with every secret wrapper removed, for value assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function unwrap(value: unknown): any {
  if (isWrappedSecret(value)) return unwrap((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  return value;
}

/** Whether any part of a value is secret. */
export function containsSecret(value: unknown): boolean {
  if (isWrappedSecret(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecret);
  return false;
}

/** Plain JSON of recorded inputs, for assertions. */
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
