import Redis from "ioredis";
import { ConnectionInfo } from "../render/connection";
import { parseInfo } from "../sandbox/clients";
import { ioredisOptions } from "../render/client-options";

export interface SlowEntry {
  readonly id: number;
  readonly at: number;
  readonly micros: number;
  readonly command: string;
}

export interface MonitorReport {
  readonly role: string;
  readonly memory: { used: number; max: number; fragmentation: number; evictedKeys: number };
  readonly clients: { connected: number; blocked: number; rejected: number };
  readonly ops: { perSecond: number; hitRatio: number | null; expiredKeys: number };
  readonly replicas: number;
  /** Keys per platform database, by purpose. */
  readonly keys: Record<string, number>;
  /** Most called commands: calls and mean microseconds per call. */
  readonly commands: Array<{ command: string; calls: number; usecPerCall: number }>;
  readonly slowlog: SlowEntry[];
}

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));

/** A report from INFO ALL and SLOWLOG GET replies: pure, so it is tested without a server. */
export function buildReport(
  infoText: string,
  slowlog: unknown[],
  connection: ConnectionInfo,
  topCommands = 8,
): MonitorReport {
  const info = parseInfo(infoText);
  const hits = num(info.keyspace_hits);
  const misses = num(info.keyspace_misses);
  const keys: Record<string, number> = {};
  for (const [purpose, db] of Object.entries(connection.databases)) {
    keys[`${purpose} (db ${db})`] = num(/keys=(\d+)/.exec(info[`db${db}`] ?? "")?.[1]);
  }
  const commands = Object.entries(info)
    .filter(([k]) => k.startsWith("cmdstat_"))
    .map(([k, v]) => ({
      command: k.slice("cmdstat_".length),
      calls: num(/calls=(\d+)/.exec(v)?.[1]),
      usecPerCall: Number(/usec_per_call=([\d.]+)/.exec(v)?.[1] ?? 0),
    }))
    .sort((a, b) => b.calls - a.calls)
    .slice(0, topCommands);
  return {
    role: info.role ?? "unknown",
    memory: {
      used: num(info.used_memory),
      max: num(info.maxmemory),
      fragmentation: Number(info.mem_fragmentation_ratio ?? 0),
      evictedKeys: num(info.evicted_keys),
    },
    clients: {
      connected: num(info.connected_clients),
      blocked: num(info.blocked_clients),
      rejected: num(info.rejected_connections),
    },
    ops: {
      perSecond: num(info.instantaneous_ops_per_sec),
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : null,
      expiredKeys: num(info.expired_keys),
    },
    replicas: num(info.connected_slaves),
    keys,
    commands,
    slowlog: (slowlog as unknown[][]).map((e) => ({
      id: Number(e[0]),
      at: Number(e[1]),
      micros: Number(e[2]),
      command: (e[3] as string[]).join(" ").slice(0, 80),
    })),
  };
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

export function formatReport(r: MonitorReport): string {
  const lines = [
    `role ${r.role}, replicas ${r.replicas}`,
    `memory ${mb(r.memory.used)} of ${mb(r.memory.max)} (fragmentation ${r.memory.fragmentation}), evicted keys ${r.memory.evictedKeys}`,
    `clients ${r.clients.connected} connected, ${r.clients.blocked} blocked, ${r.clients.rejected} rejected`,
    `ops/s ${r.ops.perSecond}, hit ratio ${r.ops.hitRatio === null ? "n/a" : r.ops.hitRatio.toFixed(3)}, expired keys ${r.ops.expiredKeys}`,
    "keys:",
    ...Object.entries(r.keys).map(([db, n]) => `  ${db.padEnd(24)} ${n}`),
    "commands (calls, usec/call):",
    ...r.commands.map(
      (c) =>
        `  ${c.command.padEnd(24)} ${String(c.calls).padStart(10)} ${c.usecPerCall.toFixed(2).padStart(10)}`,
    ),
    "slow log:",
    ...(r.slowlog.length
      ? r.slowlog.map((s) => `  #${s.id} ${s.micros} us  ${s.command}`)
      : ["  (empty)"]),
  ];
  return lines.join("\n") + "\n";
}

/** Collects one report from the master, as the admin user (through the sentinels for a group). */
export async function collectReport(connection: ConnectionInfo): Promise<MonitorReport> {
  const admin = new Redis({ ...ioredisOptions(connection, "admin"), maxRetriesPerRequest: 1 });
  admin.on("error", () => undefined);
  try {
    await admin.connect();
    const info = await admin.info("everything");
    const slowlog = (await admin.call("SLOWLOG", "GET", "10")) as unknown[];
    return buildReport(info, slowlog, connection);
  } finally {
    admin.disconnect();
  }
}
