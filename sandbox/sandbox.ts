import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Redis from "ioredis";
import { directClient, parseInfo } from "./clients";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo, Endpoint, buildConnection, credentials } from "../render/connection";
import {
  Files,
  nodePlainFiles,
  nodeSecretFiles,
  sentinelPlainFiles,
  sentinelSecretFiles,
} from "../render/files";
import { SecretValues, ServerLayout, redisServerArgs, requiredSecrets } from "../render/redis-conf";
import { Deviation, applyDeviations, detectDeviations, requireBinaries } from "./capabilities";
import { Logger, Supervisor } from "./supervisor";

export interface SandboxOptions {
  /** Everything lives here: configs, data, logs, secrets.json, connection.json. */
  readonly dir: string;
  /** Port of the first Redis node (the next nodes follow); sentinels start at basePort + 20000. Default 7001. */
  readonly basePort?: number;
  /** An RDB file to seed the data with, as a deployed restore does. */
  readonly restoreFrom?: string;
  readonly log?: Logger;
  /** How long the topology may take to be ready. Default 30 s. */
  readonly readyTimeoutMs?: number;
}

/** A process of the sandbox: a Redis node (redis-0, …) or a sentinel (sentinel-0, …). */
export interface SandboxProcess {
  readonly name: string;
  readonly port: number;
  readonly confDir: string;
  readonly dataDir: string;
}

export interface Sandbox {
  readonly config: ResolvedConfig;
  readonly dir: string;
  readonly connection: ConnectionInfo;
  readonly secrets: SecretValues;
  readonly nodes: readonly SandboxProcess[];
  readonly sentinels: readonly SandboxProcess[];
  readonly supervisor: Supervisor;
  readonly connectionFile: string;
  /** Stops every process the sandbox started. */
  stop(): Promise<void>;
}

export const DEFAULT_BASE_PORT = 7001;
export const SENTINEL_PORT_OFFSET = 20000;
/** Where clients connect. */
const HOST = "127.0.0.1";
/**
 * How the group's processes name each other: a host name, as in Kubernetes, so that
 * resolve-hostnames, announce-hostnames and replica-announce-ip run the way they do there.
 */
const ANNOUNCED_HOST = "localhost";
/** Every sandbox process listens on loopback only: both addresses "localhost" may resolve to. */
const LOOPBACK_BIND = ["--bind", "127.0.0.1", "-::1"];

/** Secrets of this sandbox dir: generated once, kept in DIR/secrets.json (0600) across restarts. */
export function loadOrCreateSecrets(cfg: ResolvedConfig, dir: string): SecretValues {
  const file = path.join(dir, "secrets.json");
  const secrets: Record<string, string> = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, "utf8"))
    : {};
  for (const key of requiredSecrets(cfg)) {
    if (secrets[key]) continue;
    secrets[key] =
      key === "configCommand"
        ? `CONFIG_${randomBytes(10).toString("hex").toUpperCase()}`
        : randomBytes(24).toString("base64url");
  }
  writeFile(file, JSON.stringify(secrets, null, 2), 0o600);
  return secrets;
}

function writeFile(file: string, content: string, mode: number): void {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** A directory of the sandbox: owner-only, like every file in it (secrets, data, logs). */
function ownerOnlyDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** Writes a process's rendered files, the same bytes a container or pod gets, all 0600. */
function prepareProcess(dir: string, name: string, port: number, files: Files): SandboxProcess {
  const confDir = path.join(dir, name, "conf");
  const dataDir = path.join(dir, name, "data");
  for (const d of [path.join(dir, name), confDir, dataDir]) ownerOnlyDir(d);
  for (const [file, content] of Object.entries(files))
    writeFile(path.join(confDir, file), content, 0o600);
  return { name, port, confDir, dataDir };
}

function layoutOf(node: SandboxProcess): ServerLayout {
  return {
    redisConf: path.join(node.confDir, "redis.conf"),
    secretsConf: path.join(node.confDir, "secrets.conf"),
    usersAcl: path.join(node.confDir, "users.acl"),
    dataDir: node.dataDir,
  };
}

/**
 * redis-server arguments in the sandbox: the deployed ones, then the node's port, loopback as the
 * node's own address, and each deviation's.
 */
export function sandboxServerArgs(
  cfg: ResolvedConfig,
  node: SandboxProcess,
  deviations: readonly Deviation[],
): string[] {
  return [
    ...redisServerArgs(cfg, layoutOf(node)),
    "--port",
    String(node.port),
    ...LOOPBACK_BIND,
    ...deviations.flatMap((d) => d.args ?? []),
  ];
}

async function withClient<T>(
  port: number,
  auth: { username: string; password: string },
  use: (c: Redis) => Promise<T>,
): Promise<T> {
  const client = directClient(HOST, port, {
    ...auth,
    enableOfflineQueue: false,
    connectTimeout: 1000,
  });
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** Polls `check` until it holds; fails after `timeoutMs`, or at once if `exited` resolves. */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  exited?: Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  let lastError = "not yet";
  while (Date.now() < deadline) {
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

/** Resolves once the server answers PING to `auth`. */
export function waitForPing(
  port: number,
  auth: { username: string; password: string },
  timeoutMs: number,
  exited?: Promise<void>,
): Promise<void> {
  return waitUntil(
    `port ${port}`,
    () => withClient(port, auth, async (c) => (await c.ping()) === "PONG"),
    timeoutMs,
    exited,
  );
}

/**
 * With appendonly yes Redis ignores dump.rdb when no AOF exists. A restore therefore clears the
 * AOF, seeds dump.rdb, starts with AOF off so the RDB loads, then turns AOF on at run time: Redis
 * writes a fresh AOF from memory before the next restart needs it.
 */
function seedRestore(node: SandboxProcess, file: string): void {
  if (!fs.existsSync(file)) throw new Error(`--restore-from ${file}: no such file`);
  fs.rmSync(path.join(node.dataDir, "appendonlydir"), { recursive: true, force: true });
  fs.copyFileSync(file, path.join(node.dataDir, "dump.rdb"));
}

async function enableAofAfterRestore(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  port: number,
  timeoutMs: number,
): Promise<void> {
  await withClient(port, credentials(cfg, secrets, "admin"), async (admin) => {
    await admin.call(secrets.configCommand ?? "CONFIG", "SET", "appendonly", "yes");
    await waitUntil(
      "AOF rewrite after restore",
      async () => {
        const info = parseInfo(await admin.info("persistence"));
        return (
          info.aof_enabled === "1" &&
          info.aof_rewrite_in_progress === "0" &&
          info.aof_rewrite_scheduled === "0"
        );
      },
      timeoutMs,
    );
  });
}

/**
 * Starts the stack's topology as local processes on 127.0.0.1, with the exact rendered files and
 * locally generated secrets, and writes DIR/connection.json when every process is ready.
 */
export async function startSandbox(cfg: ResolvedConfig, options: SandboxOptions): Promise<Sandbox> {
  const grouped = cfg.topology === "sentinel";
  requireBinaries(grouped);
  const dir = path.resolve(options.dir);
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const log = options.log ?? (() => undefined);
  ownerOnlyDir(dir);
  ownerOnlyDir(path.join(dir, "logs"));
  const secrets = loadOrCreateSecrets(cfg, dir);
  const deviations = detectDeviations(cfg);
  const supervisor = new Supervisor(log);
  const logFile = (name: string) => path.join(dir, "logs", `${name}.log`);

  const nodeFiles = nodePlainFiles(cfg);
  nodeFiles["redis.conf"] = applyDeviations(nodeFiles["redis.conf"], deviations);
  const nodes = Array.from({ length: cfg.sentinel.nodes }, (_, i) =>
    prepareProcess(dir, `redis-${i}`, basePort + i, {
      ...nodeFiles,
      ...nodeSecretFiles(cfg, secrets),
    }),
  );
  const sentinels = Array.from({ length: cfg.sentinel.sentinels }, (_, i) =>
    prepareProcess(dir, `sentinel-${i}`, basePort + SENTINEL_PORT_OFFSET + i, {
      ...sentinelPlainFiles(cfg),
      ...sentinelSecretFiles(cfg, secrets),
    }),
  );
  // What the start scripts get from Kubernetes or Docker: stable addresses of the group.
  const groupEnv = {
    ...process.env,
    DEFAULT_MASTER: `${ANNOUNCED_HOST} ${nodes[0].port}`,
    SENTINELS: sentinels.map((s) => `${ANNOUNCED_HOST}:${s.port}`).join(" "),
  };

  const restoring = options.restoreFrom !== undefined && cfg.redis.appendonly;
  if (options.restoreFrom) seedRestore(nodes[0], options.restoreFrom);
  const probe = credentials(cfg, secrets, "probe");
  const sentinelClient = credentials(cfg, secrets, "sentinel-client");
  try {
    for (const [i, node] of nodes.entries()) {
      const serverArgs = sandboxServerArgs(cfg, node, deviations);
      // As deployed: every node starts through start-redis.sh.
      const launchArgs = (extra: string[]) => [
        path.join(node.confDir, "start-redis.sh"),
        ...serverArgs,
        ...extra,
      ];
      const restoreHere = restoring && i === 0;
      const dirs = { CONF_DIR: node.confDir, DATA_DIR: node.dataDir };
      supervisor.start({
        name: node.name,
        command: "sh",
        args: launchArgs(restoreHere ? ["--appendonly", "no"] : []),
        cwd: node.dataDir,
        logFile: logFile(node.name),
        env: grouped
          ? { ...groupEnv, ...dirs, NODE_HOST: ANNOUNCED_HOST, NODE_PORT: String(node.port) }
          : { ...process.env, ...dirs },
      });
      await waitForPing(node.port, probe, timeoutMs, supervisor.exited(node.name));
      if (restoreHere) {
        await enableAofAfterRestore(cfg, secrets, node.port, timeoutMs);
        supervisor.updateSpec(node.name, { args: launchArgs([]) });
      }
    }
    for (const sentinel of sentinels) {
      supervisor.start({
        name: sentinel.name,
        command: "sh",
        args: [
          path.join(sentinel.confDir, "start-sentinel.sh"),
          "--port",
          String(sentinel.port),
          ...LOOPBACK_BIND,
        ],
        cwd: sentinel.dataDir,
        logFile: logFile(sentinel.name),
        env: {
          ...groupEnv,
          CONF_DIR: sentinel.confDir,
          STATE_DIR: sentinel.dataDir,
          NODE_HOST: ANNOUNCED_HOST,
        },
      });
    }
    for (const sentinel of sentinels) {
      await waitForPing(sentinel.port, sentinelClient, timeoutMs, supervisor.exited(sentinel.name));
    }
    if (grouped) await waitForGroup(cfg, nodes, sentinels, secrets, timeoutMs);
  } catch (err) {
    await supervisor.stopAll();
    const tails = [...nodes, ...sentinels]
      .filter((p) => fs.existsSync(logFile(p.name)))
      .map(
        (p) =>
          `--- ${p.name}.log ---\n${fs.readFileSync(logFile(p.name), "utf8").split("\n").slice(-6).join("\n")}`,
      );
    throw new Error(`${(err as Error).message}\n${tails.join("\n")}`);
  }

  const endpoint = (p: SandboxProcess): Endpoint => ({ host: HOST, port: p.port });
  const connection = buildConnection(cfg, secrets, {
    redis: nodes.map(endpoint),
    sentinels: sentinels.map(endpoint),
    deviations: deviations.map((d) => `${d.setting}: ${d.reason}`),
  });
  const connectionFile = path.join(dir, "connection.json");
  writeFile(connectionFile, JSON.stringify(connection, null, 2) + "\n", 0o600);

  return {
    config: cfg,
    dir,
    connection,
    secrets,
    nodes,
    sentinels,
    supervisor,
    connectionFile,
    stop: () => supervisor.stopAll(),
  };
}

/** Ready means: the master has every replica attached and each sentinel sees all replicas and peers. */
async function waitForGroup(
  cfg: ResolvedConfig,
  nodes: readonly SandboxProcess[],
  sentinels: readonly SandboxProcess[],
  secrets: SecretValues,
  timeoutMs: number,
): Promise<void> {
  const replicas = nodes.length - 1;
  await waitUntil(
    "replicas attached to the master",
    () =>
      withClient(nodes[0].port, credentials(cfg, secrets, "admin"), async (c) => {
        const info = parseInfo(await c.info("replication"));
        return Number(info.connected_slaves ?? 0) >= replicas;
      }),
    timeoutMs,
  );
  const name = cfg.sentinel.masterName;
  for (const sentinel of sentinels) {
    await waitUntil(
      `${sentinel.name} discovering the group`,
      () =>
        withClient(sentinel.port, credentials(cfg, secrets, "sentinel-client"), async (c) => {
          const known = (await c.call("SENTINEL", "REPLICAS", name)) as unknown[];
          const peers = (await c.call("SENTINEL", "SENTINELS", name)) as unknown[];
          return known.length >= replicas && peers.length >= sentinels.length - 1;
        }),
      timeoutMs,
    );
  }
}
