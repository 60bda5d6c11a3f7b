import * as fs from "node:fs";
import * as path from "node:path";
import { BACKUP_STATUS_FILE } from "../render/backup";
import Redis from "ioredis";
import { ConnectionInfo } from "../render/connection";
import { parseInfo, sentinelClient } from "../lib/redis-clients";
import { ioredisOptions } from "../render/client-options";

export interface SlowEntry {
  readonly id: number;
  readonly at: number;
  readonly micros: number;
  readonly command: string;
}

/** A replica as the master sees it (INFO replication, `slaveN:` lines). */
export interface ReplicaLag {
  /** As the replica announced itself: "localhost:7002". */
  readonly address: string;
  /** online, wait_bgsave, send_bulk… */
  readonly state: string;
  /** Seconds since the replica's last acknowledgement (REPLCONF ACK, sent every second). */
  readonly lagSeconds: number;
  /** Bytes of the replication stream the replica has not acknowledged yet. */
  readonly bytesBehind: number;
}

/** SENTINEL CKQUORUM's computation, from what the sentinel reports of itself and its peers. */
export interface QuorumCheck {
  /** Sentinels not down (s_down/o_down) in this sentinel's view, itself included. */
  readonly usable: number;
  /** Sentinels it knows, itself included: they vote on who runs a failover. */
  readonly known: number;
  readonly quorum: number;
  /** Enough usable sentinels to agree the master is down (usable >= quorum). */
  readonly reached: boolean;
  /** Enough to elect the sentinel that runs the failover (usable >= a majority of known). */
  readonly authorized: boolean;
}

/** One sentinel's view of the group. */
export interface SentinelView {
  /** Where it was asked: "127.0.0.1:27001". */
  readonly sentinel: string;
  /** Set when it did not answer; the other fields are then absent. */
  readonly error?: string;
  /** The master it names: "localhost:7001". */
  readonly master?: string;
  /** Its flags for the master: "master", "s_down,master", "o_down,master", "disconnected"… */
  readonly flags?: string;
  /** It reaches the master: no s_down, o_down or disconnected flag. */
  readonly seesMaster?: boolean;
  readonly quorum?: QuorumCheck;
  /** config-epoch: 0 until the group's first failover, raised by each. */
  readonly epoch?: number;
  /** ms since it took this master (role-reported-time): since the last failover or its own start. */
  readonly masterForMs?: number;
  /** failover-state while a failover runs. */
  readonly failoverState?: string;
}

/** Raw replies of one sentinel: SENTINEL MASTER and SENTINEL SENTINELS, or why it did not answer. */
export interface SentinelReplies {
  readonly sentinel: string;
  readonly master?: unknown[];
  readonly peers?: unknown[];
  readonly error?: string;
}

export interface MonitorReport {
  readonly role: string;
  readonly memory: { used: number; max: number; fragmentation: number; evictedKeys: number };
  readonly clients: { connected: number; blocked: number; rejected: number };
  readonly ops: { perSecond: number; hitRatio: number | null; expiredKeys: number };
  readonly replicas: number;
  /** Each replica's lag, from the master's INFO replication. */
  readonly replicaLag: ReplicaLag[];
  /** Sentinel topology: the master's address and each sentinel's view. */
  readonly group?: {
    readonly masterName: string;
    /** The address most sentinels name; null when none answered. */
    readonly master: string | null;
    readonly sentinels: SentinelView[];
  };
  /** Keys per platform database, by purpose. */
  readonly keys: Record<string, number>;
  /** Most called commands: calls and mean microseconds per call. */
  readonly commands: Array<{ command: string; calls: number; usecPerCall: number }>;
  readonly slowlog: SlowEntry[];
  /** When backups are enabled: the age of the latest good backup and the last run (backup.status). */
  readonly backup?: BackupView;
}

export interface BackupView {
  readonly dir: string;
  /** The latest good backup: its file, size and age. */
  readonly lastGood?: { readonly file: string; readonly size: number; readonly ageSeconds: number };
  /** The last run, good or not. */
  readonly lastRun?: {
    readonly result: string;
    readonly ageSeconds: number;
    readonly message: string;
  };
  /** Why the status could not be read (no backup yet, or the dir is not on this machine). */
  readonly unreadable?: string;
}

/** What backup.status (key=value lines written by backup.sh) says, `nowMs` being the time now. */
export function backupView(dir: string, status: string | Error, nowMs: number): BackupView {
  if (status instanceof Error) return { dir, unreadable: status.message };
  const v = Object.fromEntries(
    status
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const age = (epoch: string | undefined) => Math.max(0, Math.round(nowMs / 1000 - Number(epoch)));
  return {
    dir,
    ...(v.last_good_file
      ? {
          lastGood: {
            file: v.last_good_file,
            size: Number(v.last_good_size ?? 0),
            ageSeconds: age(v.last_good_time),
          },
        }
      : {}),
    ...(v.result
      ? { lastRun: { result: v.result, ageSeconds: age(v.time), message: v.message ?? "" } }
      : {}),
  };
}

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));

/** "k1,v1,k2,v2" as a RESP2 flat array -> { k1: v1, k2: v2 }. */
function fields(reply: unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/** Replicas from INFO replication fields: `slave0:ip=…,port=…,state=online,offset=…,lag=…`. */
export function parseReplicas(info: Record<string, string>): ReplicaLag[] {
  const masterOffset = num(info.master_repl_offset);
  return Object.keys(info)
    .filter((k) => /^slave\d+$/.test(k))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((k) => {
      const f = Object.fromEntries(info[k].split(",").map((kv) => kv.split("=", 2)));
      return {
        address: `${f.ip}:${f.port}`,
        state: f.state ?? "unknown",
        lagSeconds: num(f.lag),
        bytesBehind: Math.max(0, masterOffset - num(f.offset)),
      };
    });
}

const DOWN_FLAGS = /(^|,)(s_down|o_down)(,|$)/;

/**
 * A sentinel's view from SENTINEL MASTER and SENTINEL SENTINELS. The quorum is computed as
 * SENTINEL CKQUORUM does (sentinel.c, sentinelIsQuorumReachable): the sentinel-client user may not
 * run CKQUORUM (render/acl.ts), and the master lookup commands it may run carry the same data.
 */
export function sentinelView(replies: SentinelReplies): SentinelView {
  if (replies.error !== undefined || !replies.master)
    return { sentinel: replies.sentinel, error: replies.error ?? "no reply" };
  const m = fields(replies.master);
  const peers = (replies.peers ?? []).map((p) => fields(p as unknown[]));
  const usable = 1 + peers.filter((p) => !DOWN_FLAGS.test(p.flags ?? "")).length;
  const known = 1 + (replies.peers ? peers.length : num(m["num-other-sentinels"]));
  const quorum = num(m.quorum);
  const flags = m.flags ?? "";
  return {
    sentinel: replies.sentinel,
    master: `${m.ip}:${m.port}`,
    flags,
    seesMaster: !DOWN_FLAGS.test(flags) && !/(^|,)disconnected(,|$)/.test(flags),
    quorum: {
      usable,
      known,
      quorum,
      reached: usable >= quorum,
      authorized: usable >= Math.floor(known / 2) + 1,
    },
    epoch: num(m["config-epoch"]),
    masterForMs: num(m["role-reported-time"]),
    ...(m["failover-state"] ? { failoverState: m["failover-state"] } : {}),
  };
}

/** The address most of the answering sentinels name master. */
function agreedMaster(views: readonly SentinelView[]): string | null {
  const counts = new Map<string, number>();
  for (const v of views) if (v.master) counts.set(v.master, (counts.get(v.master) ?? 0) + 1);
  let best: string | null = null;
  for (const [address, n] of counts) if (best === null || n > counts.get(best)!) best = address;
  return best;
}

/**
 * A report from INFO ALL and SLOWLOG GET replies, and for a group each sentinel's replies: pure,
 * so it is tested without a server.
 */
export function buildReport(
  infoText: string,
  slowlog: unknown[],
  connection: ConnectionInfo,
  sentinels: readonly SentinelReplies[] = [],
  topCommands = 8,
  backup?: BackupView,
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
    replicaLag: parseReplicas(info),
    ...(connection.topology === "sentinel"
      ? (() => {
          const views = sentinels.map(sentinelView);
          return {
            group: {
              masterName: connection.masterName,
              master: agreedMaster(views),
              sentinels: views,
            },
          };
        })()
      : {}),
    keys,
    commands,
    slowlog: (slowlog as unknown[][]).map((e) => ({
      id: Number(e[0]),
      at: Number(e[1]),
      micros: Number(e[2]),
      command: (e[3] as string[]).join(" ").slice(0, 80),
    })),
    ...(backup ? { backup } : {}),
  };
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

/** An age as the largest whole unit: "42 s", "17 min", "5.2 h", "3.1 d". */
export function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

function formatBackup(b: BackupView): string[] {
  if (b.unreadable !== undefined) return [`backups in ${b.dir}: no status (${b.unreadable})`];
  const good = b.lastGood
    ? `latest good backup ${age(b.lastGood.ageSeconds)} old: ${b.lastGood.file} (${mb(b.lastGood.size)})`
    : "no good backup yet";
  const run =
    b.lastRun && b.lastRun.result !== "ok"
      ? `; LAST RUN ${b.lastRun.result.toUpperCase()} ${age(b.lastRun.ageSeconds)} ago: ${b.lastRun.message}`
      : "";
  return [`backups in ${b.dir}: ${good}${run}`];
}
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function formatSentinel(v: SentinelView): string {
  if (v.error !== undefined) return `  ${v.sentinel.padEnd(22)} no answer: ${v.error}`;
  const q = v.quorum!;
  const quorum = `${q.reached ? "quorum reached" : "NO QUORUM"} (${q.usable} of ${q.known} sentinels usable, quorum ${q.quorum})${q.authorized ? "" : ", NO MAJORITY to authorize a failover"}`;
  const failover = v.failoverState
    ? `failover in progress (${v.failoverState}, epoch ${v.epoch})`
    : v.epoch === 0
      ? "last failover: none (epoch 0)"
      : `last failover: epoch ${v.epoch}, master at this address for ${seconds(v.masterForMs ?? 0)}`;
  return `  ${v.sentinel.padEnd(22)} ${v.seesMaster ? "sees" : "DOES NOT SEE"} master ${v.master} (flags ${v.flags}), ${quorum}, ${failover}`;
}

function formatGroup(r: MonitorReport): string[] {
  const lines: string[] = [];
  if (r.group) {
    const answering = r.group.sentinels.filter((v) => v.master).length;
    const naming = r.group.sentinels.filter((v) => v.master === r.group!.master).length;
    lines.push(
      r.group.master === null
        ? `master ${r.group.masterName}: no sentinel answered`
        : `master ${r.group.masterName} at ${r.group.master} (named by ${naming} of ${answering} answering sentinels)`,
    );
  }
  if (r.replicaLag.length > 0 || r.group) {
    lines.push(
      "replicas (lag: seconds since its last ack; behind: bytes not yet acknowledged):",
      ...(r.replicaLag.length
        ? r.replicaLag.map(
            (x) =>
              `  ${x.address.padEnd(22)} ${x.state.padEnd(10)} lag ${x.lagSeconds} s, behind ${x.bytesBehind} bytes`,
          )
        : ["  (none)"]),
    );
  }
  if (r.group) lines.push("sentinels:", ...r.group.sentinels.map(formatSentinel));
  return lines;
}

export function formatReport(r: MonitorReport): string {
  const lines = [
    `role ${r.role}, replicas ${r.replicas}`,
    ...formatGroup(r),
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
    ...(r.backup ? formatBackup(r.backup) : []),
  ];
  return lines.join("\n") + "\n";
}

/** What one sentinel says of the group, as sentinel-client; every wait bounded by the contract. */
async function askSentinel(
  connection: ConnectionInfo,
  host: string,
  port: number,
): Promise<SentinelReplies> {
  const sentinel = `${host}:${port}`;
  const client = sentinelClient(
    connection,
    { host, port },
    {
      connectTimeout: connection.client.connectTimeoutMs,
      commandTimeout:
        connection.client.sentinelCommandTimeoutMs ?? connection.client.commandTimeoutMs,
    },
  );
  try {
    await client.connect();
    const master = (await client.call("SENTINEL", "MASTER", connection.masterName)) as unknown[];
    const peers = (await client.call("SENTINEL", "SENTINELS", connection.masterName)) as unknown[];
    return { sentinel, master, peers };
  } catch (err) {
    return { sentinel, error: (err as Error).message };
  } finally {
    client.disconnect();
  }
}

/** The backup status of the connection's backup dir, when backups are enabled and the dir is here. */
function readBackupStatus(connection: ConnectionInfo): BackupView | undefined {
  if (!connection.backup) return undefined;
  const file = path.join(connection.backup.dir, BACKUP_STATUS_FILE);
  let status: string | Error;
  try {
    status = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    status = new Error(
      code === "ENOENT" ? `no ${BACKUP_STATUS_FILE}: no backup has run yet` : `${file}: ${code}`,
    );
  }
  return backupView(connection.backup.dir, status, Date.now());
}

/**
 * Collects one report from the master, as the admin user (through the sentinels for a group), and
 * for a group each sentinel's view, as the sentinel-client user.
 */
export async function collectReport(connection: ConnectionInfo): Promise<MonitorReport> {
  const sentinels =
    connection.topology === "sentinel"
      ? await Promise.all(connection.sentinels.map((s) => askSentinel(connection, s.host, s.port)))
      : [];
  const admin = new Redis({ ...ioredisOptions(connection, "admin"), maxRetriesPerRequest: 1 });
  admin.on("error", () => undefined);
  try {
    await admin.connect();
    const info = await admin.info("everything");
    const slowlog = (await admin.call("SLOWLOG", "GET", "10")) as unknown[];
    return buildReport(
      info,
      slowlog,
      connection,
      sentinels,
      undefined,
      readBackupStatus(connection),
    );
  } finally {
    admin.disconnect();
  }
}
