import * as net from "node:net";
import { DEFAULT_BASE_PORT, ProcessList, SENTINEL_PORT_OFFSET } from "./process-list";

/** The address `port` is taken on ("127.0.0.1" or "::1", what redis-server binds), if any. */
async function portTakenOn(port: number): Promise<string | undefined> {
  for (const host of ["127.0.0.1", "::1"]) {
    const taken = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", (err: NodeJS.ErrnoException) =>
        // No ::1 on this host: redis-server skips it as well (its bind is "-::1").
        resolve(err.code !== "EADDRNOTAVAIL" && err.code !== "EAFNOSUPPORT"),
      );
      server.listen(port, host, () => server.close(() => resolve(false)));
    });
    if (taken) return host;
  }
  return undefined;
}

/** Fails before anything starts when a port the loopback topology needs (Commander's too) is taken. */
export async function requireFreePorts({ all, commanderPort }: ProcessList): Promise<void> {
  const ports = all.map((p) => p.port);
  const ranges = [
    ports.filter((p) => p < ports[0] + SENTINEL_PORT_OFFSET),
    ports.filter((p) => p >= ports[0] + SENTINEL_PORT_OFFSET),
  ]
    .filter((r) => r.length > 0)
    .map((r) => (r.length === 1 ? String(r[0]) : `${r[0]}-${r[r.length - 1]}`));
  for (const p of all) {
    const host = await portTakenOn(p.port);
    if (host) {
      throw new Error(
        `Port ${p.port} (${p.name}) is already in use on ${host}: stop what listens there or choose another --base-port (this topology needs ${ranges.join(" and ")}).`,
      );
    }
  }
  if (commanderPort === undefined) return;
  const host = await portTakenOn(commanderPort);
  if (host)
    throw new Error(
      `Port ${commanderPort} (Redis Commander) is already in use on ${host}: stop what listens there, or choose another --base-port (Commander listens on commanderPort shifted as far as the base port is from ${DEFAULT_BASE_PORT}).`,
    );
}
