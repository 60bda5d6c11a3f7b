import * as fs from "node:fs";
import Redis from "ioredis";
import { ResolvedConfig } from "../config/resolve";
import { Endpoint, credentials } from "../render/connection";
import { SecretValues } from "../render/redis-conf";
import { parseInfo, withConnection } from "../lib/redis-clients";
import { StartFailure, Supervisor, describeExit, lastMeaningfulLine } from "./runtime/supervisor";
import { HOST, SandboxProcess, endpointOf, nodeAt } from "./process-list";

export type Auth = { username: string; password: string };

async function withClient<T>(at: Endpoint, auth: Auth, use: (c: Redis) => Promise<T>): Promise<T> {
  return withConnection(at, { ...auth, enableOfflineQueue: false, connectTimeout: 1000 }, use);
}

/** The start was aborted (SIGINT/SIGTERM while starting). */
export class StartInterrupted extends Error {}

export interface WaitOptions {
  /** Resolves when the process being waited for exits: the wait fails at once. */
  readonly exited?: Promise<unknown>;
  readonly signal?: AbortSignal;
}

/** Polls `check` until it holds; fails after `timeoutMs`, or at once if `exited` resolves. */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void options.exited?.then(() => (gone = true));
  let lastError = "not yet";
  while (Date.now() < deadline) {
    if (options.signal?.aborted)
      throw new StartInterrupted(`interrupted (${String(options.signal.reason)}) while starting`);
    if (gone) throw new Error(`${what}: the process exited while starting`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms (${lastError})`);
}

export const ping = (at: Endpoint, auth: Auth) =>
  withClient(at, auth, async (c) => (await c.ping()) === "PONG");

/** The node serves as a master or a replica (`INFO replication`). */
export const servesReplication = (at: Endpoint, auth: Auth) =>
  withClient(at, auth, async (c) => /^role:(master|slave)/m.test(await c.info("replication")));

export async function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  if (signal?.aborted)
    throw new StartInterrupted(`interrupted (${String(signal.reason)}) while starting`);
}

/** Resolves once the server answers PING to `auth`. */
export function waitForPing(
  port: number,
  auth: { username: string; password: string },
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<void> {
  return waitUntil(`port ${port}`, () => ping({ host: HOST, port }, auth), timeoutMs, { exited });
}

/** One line: why a process ended before it was ready, and where its log is. */
export function startFailureMessage(
  p: Pick<SandboxProcess, "name" | "port">,
  failure: StartFailure,
): string {
  if (/Address already in use/i.test(failure.output)) {
    return `Port ${p.port} is already in use: ${p.name} could not listen on it (log: ${failure.logFile}).`;
  }
  const said = lastMeaningfulLine(failure.output) ?? "it wrote nothing";
  return `${p.name} exited while starting (${describeExit(failure.status)}): ${said} (log: ${failure.logFile}).`;
}

function lastLogLine(file: string): string {
  try {
    return lastMeaningfulLine(fs.readFileSync(file, "utf8")) ?? "(empty)";
  } catch {
    return "(none)";
  }
}

/** How long to wait for readiness, and what ends the wait early. */
export interface ReadyWait {
  readonly supervisor: Supervisor;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Waits until `p` is `ready`; from then on the restart policy applies to it. */
export async function waitProcessReady(
  wait: ReadyWait,
  p: Pick<SandboxProcess, "name" | "port" | "host" | "logFile">,
  auth: Auth,
  ready: (at: Endpoint, auth: Auth) => Promise<boolean>,
): Promise<void> {
  const { supervisor } = wait;
  const failed = () => {
    const failure = supervisor.startFailure(p.name);
    return failure ? new Error(startFailureMessage(p, failure)) : undefined;
  };
  try {
    await waitUntil(
      `${p.name} (${p.host}:${p.port})`,
      () => ready(endpointOf(p), auth),
      wait.timeoutMs,
      {
        signal: wait.signal,
        exited: supervisor.exited(p.name),
      },
    );
  } catch (err) {
    if (err instanceof StartInterrupted) throw err;
    throw (
      failed() ??
      new Error(
        `${(err as Error).message}; its log ends with: ${lastLogLine(p.logFile)} (log: ${p.logFile}).`,
      )
    );
  }
  supervisor.markReady(p.name);
  const failure = failed();
  if (failure) throw failure;
}

/** Each node's role as it reports it now (INFO replication), in the order of `nodes`. */
export async function currentRoles(
  nodes: readonly SandboxProcess[],
  admin: { username: string; password: string },
): Promise<Array<"master" | "replica">> {
  return Promise.all(
    nodes.map((n) =>
      withClient(endpointOf(n), admin, async (c) => {
        const role = parseInfo(await c.info("replication")).role;
        if (role !== "master" && role !== "slave")
          throw new Error(`${n.name} reports role ${role ?? "none"}`);
        return role === "master" ? ("master" as const) : ("replica" as const);
      }),
    ),
  );
}

/**
 * Ready means: every sentinel names the same master, which has every replica attached, and each
 * sentinel sees all replicas and peers.
 */
export async function waitForGroup(
  cfg: ResolvedConfig,
  nodes: readonly SandboxProcess[],
  sentinels: readonly SandboxProcess[],
  secrets: SecretValues,
  timeoutMs: number,
  options: WaitOptions,
): Promise<void> {
  const replicas = nodes.length - 1;
  const name = cfg.sentinel.masterName;
  const logs = (ps: readonly SandboxProcess[]) => `(logs: ${ps.map((p) => p.logFile).join(", ")})`;
  const sentinelClient = credentials(cfg, secrets, "sentinel-client");
  await waitUntil(
    `replicas attached to the master the sentinels name ${logs(nodes)}`,
    async () => {
      const named = await Promise.all(
        sentinels.map((s) =>
          withClient(endpointOf(s), sentinelClient, async (c) => {
            const [host, port] = (await c.call(
              "SENTINEL",
              "GET-MASTER-ADDR-BY-NAME",
              name,
            )) as string[];
            return nodeAt(nodes, { host, port: Number(port) });
          }),
        ),
      );
      const master = named[0];
      if (!master || named.some((n) => n !== master)) return false;
      return withClient(endpointOf(master), credentials(cfg, secrets, "admin"), async (c) => {
        const info = parseInfo(await c.info("replication"));
        return info.role === "master" && Number(info.connected_slaves ?? 0) >= replicas;
      });
    },
    timeoutMs,
    options,
  );
  for (const sentinel of sentinels) {
    await waitUntil(
      `${sentinel.name} discovering the group ${logs([sentinel])}`,
      () =>
        withClient(endpointOf(sentinel), sentinelClient, async (c) => {
          const known = (await c.call("SENTINEL", "REPLICAS", name)) as unknown[];
          const peers = (await c.call("SENTINEL", "SENTINELS", name)) as unknown[];
          return known.length >= replicas && peers.length >= sentinels.length - 1;
        }),
      timeoutMs,
      options,
    );
  }
}
