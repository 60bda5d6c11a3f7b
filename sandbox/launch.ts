import { ConnectionInfo, credentials } from "../render/connection";
import { commanderHealthy } from "./runtime/commander";
import { SandboxProcess } from "./process-list";
import { PreparedCommander, Prepared } from "./prepare";
import {
  ReadyWait,
  currentRoles,
  ping,
  servesReplication,
  sleepUnlessAborted,
  waitForGroup,
  waitProcessReady,
} from "./readiness";
import { StartContext } from "./start-context";

/** The names to start, wave by wave: `order`'s waves, then every process it left out. */
export function startWaves(
  processes: readonly SandboxProcess[],
  order: readonly (readonly string[])[] | undefined,
): string[][] {
  const names = processes.map((p) => p.name);
  if (!order) return [names];
  for (const name of order.flat())
    if (!names.includes(name))
      throw new Error(`startOrder names ${name}; the processes are ${names.join(", ")}.`);
  const rest = names.filter((n) => !order.flat().includes(n));
  return [...order.map((w) => [...w]), ...(rest.length > 0 ? [rest] : [])];
}

const readyWait = (start: StartContext): ReadyWait => ({
  supervisor: start.running.supervisor,
  timeoutMs: start.timeoutMs,
  signal: start.options.signal,
});

/** Starts Commander; resolves with how the contract names it once it answers its health page. */
async function startCommander(
  start: StartContext,
  commander: PreparedCommander,
): Promise<ConnectionInfo["commander"]> {
  const { spec, address, port } = commander;
  start.running.supervisor.start(spec);
  await waitProcessReady(
    readyWait(start),
    { name: "commander", port, host: address, logFile: spec.logFile },
    { username: "", password: "" },
    () => commanderHealthy(port, address),
  );
  return {
    url: `http://${address}:${port}`,
    username: start.cfg.commander.username,
    password: commander.secrets.password,
  };
}

/** What is still coming up once every process is launched. */
export interface Launched {
  /** Commander's readiness, when it runs: it connects as the Redis processes come up. */
  readonly commanderReady?: Promise<ConnectionInfo["commander"]>;
}

/**
 * Starts the Redis processes: a group's together (or in the waves of options.startOrder), since a
 * node chooses its role from the sentinels or the other nodes; then Commander beside them.
 */
export async function launch(start: StartContext, prepared: Prepared): Promise<Launched> {
  const { options, running } = start;
  for (const [w, wave] of startWaves(start.processes.all, options.startOrder).entries()) {
    if (w > 0) await sleepUnlessAborted(options.startGapMs ?? 2000, options.signal);
    for (const name of wave) running.supervisor.start(prepared.specs.get(name)!);
  }
  return {
    commanderReady: prepared.commander && startCommander(start, prepared.commander),
  };
}

/** The group once ready: Commander's part of the contract and each node's role. */
export interface Ready {
  readonly commander?: ConnectionInfo["commander"];
  readonly roles: ReadonlyArray<"master" | "replica">;
}

/**
 * Waits until every node serves as itself (a choosing node's stand-in does not) and Commander
 * answers, then every sentinel, then the group (one master, every replica attached, every
 * sentinel aware of all); then reads each node's role.
 */
export async function waitUntilReady(
  start: StartContext,
  prepared: Prepared,
  { commanderReady }: Launched,
): Promise<Ready> {
  const { cfg, grouped, timeoutMs } = start;
  const { nodes, sentinels } = start.processes;
  const { secrets } = prepared;
  const wait = readyWait(start);
  const probe = credentials(cfg, secrets, "probe");
  const sentinelClient = credentials(cfg, secrets, "sentinel-client");
  await Promise.all([
    ...nodes.map((node) => waitProcessReady(wait, node, probe, servesReplication)),
    commanderReady,
  ]);
  await Promise.all(sentinels.map((s) => waitProcessReady(wait, s, sentinelClient, ping)));
  if (grouped)
    await waitForGroup(cfg, nodes, sentinels, secrets, timeoutMs, { signal: start.options.signal });
  const commander = await commanderReady;
  // The roles as the nodes report them when the contract is written, not as planned: with state
  // kept in DIR from an earlier run the group may have another master.
  const roles = await currentRoles(nodes, credentials(cfg, secrets, "admin"));
  return { commander, roles };
}
