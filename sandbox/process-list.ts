import * as path from "node:path";
import { ResolvedConfig } from "../config/resolve";
import { ProcessSpec as PlannedProcess, planDeployment, plannedProcesses } from "../plan";
import { Endpoint } from "../render/connection";
import { sandboxCommanderPort } from "./runtime/commander";
import { PodNetwork } from "./runtime/pod-network";
import { podDnsName, podsDir } from "./runtime/pods";

/** A process of the sandbox: a Redis node (redis-0, …) or a sentinel (sentinel-0, …). */
export interface SandboxProcess {
  readonly name: string;
  readonly kind: "redis" | "sentinel";
  readonly port: number;
  /**
   * Where this host reaches it: 127.0.0.1, or its pod's address on the bridge (a recreated pod's
   * new address replaces it: sandbox/recreate.ts).
   */
  host: string;
  /** How the group names it (announced names): `localhost`, or its pod's DNS name. */
  readonly announced: string;
  readonly confDir: string;
  readonly dataDir: string;
  readonly logFile: string;
}

/** Which processes a sandbox runs, and where. */
export interface ProcessList {
  readonly nodes: readonly SandboxProcess[];
  readonly sentinels: readonly SandboxProcess[];
  /** The nodes, then the sentinels. */
  readonly all: readonly SandboxProcess[];
  /** Where Commander listens, when it is enabled. */
  readonly commanderPort?: number;
  /** The deployment plan's spec of each process (its files and start script), by name. */
  readonly planned: ReadonlyMap<string, PlannedProcess>;
}

export const DEFAULT_BASE_PORT = 7001;
export const SENTINEL_PORT_OFFSET = 20000;
/** Where clients connect. */
export const HOST = "127.0.0.1";
/**
 * How the group's processes name each other: a host name, as in Kubernetes, so that
 * resolve-hostnames, announce-hostnames and replica-announce-ip run the way they do there.
 */
export const ANNOUNCED_HOST = "localhost";

/** Where a process of the sandbox lives. */
function processAt(
  dir: string,
  { name, kind }: { name: string; kind: SandboxProcess["kind"] },
  port: number,
): SandboxProcess {
  return {
    name,
    kind,
    port,
    host: HOST,
    announced: ANNOUNCED_HOST,
    confDir: path.join(dir, name, "conf"),
    dataDir: path.join(dir, name, "data"),
    logFile: path.join(dir, "logs", `${name}.log`),
  };
}

/**
 * The processes of `cfg`'s deployment plan (which exist is the plan's; where each runs, the
 * sandbox's): on loopback from `basePort` (sentinels 20000 above), or, with a pods network, each
 * in a pod of its own (added to `network`) at its deployed port; and Commander's port.
 */
export function listProcesses(
  cfg: ResolvedConfig,
  dir: string,
  basePort: number,
  network: PodNetwork | undefined,
): ProcessList {
  const planned = plannedProcesses(planDeployment(cfg));
  const placed = (spec: PlannedProcess & { kind: SandboxProcess["kind"] }) => {
    const loopbackPort =
      basePort + spec.ordinal + (spec.kind === "sentinel" ? SENTINEL_PORT_OFFSET : 0);
    const at = processAt(dir, spec, loopbackPort);
    if (!network) return at;
    const announced = podDnsName(cfg, spec.kind, spec.ordinal);
    const pod = network.addPod(at.name, [announced]);
    return {
      ...at,
      port: spec.port,
      host: pod.ip,
      announced,
      // The pod's in-memory emptyDir, mounted on the host too.
      confDir: path.join(podsDir(dir), at.name, "volumes", "conf"),
    };
  };
  const ofKind = <K extends PlannedProcess["kind"]>(kind: K) =>
    planned.filter((p): p is PlannedProcess & { kind: K } => p.kind === kind);
  const nodes = ofKind("redis").map(placed);
  const sentinels = ofKind("sentinel").map(placed);
  const [commander] = ofKind("commander");
  const commanderPort = !commander
    ? undefined
    : network
      ? commander.port
      : sandboxCommanderPort(cfg, basePort, DEFAULT_BASE_PORT);
  return {
    nodes,
    sentinels,
    all: [...nodes, ...sentinels],
    commanderPort,
    planned: new Map(planned.map((p) => [p.name, p])),
  };
}

/** Where this host reaches a process of the sandbox. */
export const endpointOf = (p: Pick<SandboxProcess, "host" | "port">): Endpoint => ({
  host: p.host,
  port: p.port,
});

/** The node a sentinel names (its announced name or address, and port), if it is one of `nodes`. */
export function nodeAt<N extends Pick<SandboxProcess, "host" | "announced" | "port">>(
  nodes: readonly N[],
  at: Endpoint,
): N | undefined {
  return nodes.find(
    (n) => n.port === Number(at.port) && (n.announced === at.host || n.host === at.host),
  );
}
