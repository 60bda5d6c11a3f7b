import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Redis from "ioredis";
import { ResolvedConfig } from "../config/resolve";
import { ConnectionInfo, Endpoint, buildConnection } from "../render/connection";
import {
  SecretKey,
  SecretValues,
  ServerLayout,
  plainFiles,
  redisServerArgs,
  requiredSecrets,
  secretFiles,
  userFor,
} from "../render/redis-conf";
import {
  DEFAULT_BINARIES,
  Deviation,
  RedisBinaries,
  applyDeviations,
  detectDeviations,
  requireBinaries,
} from "./capabilities";
import { Logger, Supervisor } from "./supervisor";

export interface SandboxOptions {
  /** Everything lives here: configs, data, logs, secrets.json, connection.json. */
  readonly dir: string;
  /** Port of the first Redis node (the next nodes follow); sentinels start at basePort + 20000. Default 7001. */
  readonly basePort?: number;
  /** An RDB file to seed the data with, as a deployed restore does. */
  readonly restoreFrom?: string;
  readonly binaries?: RedisBinaries;
  readonly log?: Logger;
  /** How long a node may take to answer PING. Default 20 s. */
  readonly readyTimeoutMs?: number;
}

export interface SandboxNode {
  /** Supervisor name: redis-0, redis-1, … */
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
  readonly nodes: readonly SandboxNode[];
  readonly supervisor: Supervisor;
  readonly connectionFile: string;
  /** Stops every process the sandbox started. */
  stop(): Promise<void>;
}

export const DEFAULT_BASE_PORT = 7001;
export const SENTINEL_PORT_OFFSET = 20000;

/** Secrets of this sandbox dir: generated once, kept in DIR/secrets.json (0600) across restarts. */
export function loadOrCreateSecrets(cfg: ResolvedConfig, dir: string): SecretValues {
  const file = path.join(dir, "secrets.json");
  const existing: Record<string, string> = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, "utf8"))
    : {};
  const secrets: Record<string, string> = { ...existing };
  for (const key of requiredSecrets(cfg)) {
    if (secrets[key]) continue;
    secrets[key] =
      key === "configCommand"
        ? `CONFIG_${randomBytes(10).toString("hex").toUpperCase()}`
        : randomBytes(24).toString("base64url");
  }
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

function writeFile(file: string, content: string, mode: number): void {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Writes the rendered files of one node: the same bytes a container or pod gets. */
function prepareNode(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  deviations: readonly Deviation[],
  dir: string,
  index: number,
  port: number,
): SandboxNode {
  const name = `redis-${index}`;
  const confDir = path.join(dir, name, "conf");
  const dataDir = path.join(dir, name, "data");
  fs.mkdirSync(confDir, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });
  for (const [file, content] of Object.entries(plainFiles(cfg))) {
    writeFile(
      path.join(confDir, file),
      file === "redis.conf" ? applyDeviations(content, deviations) : content,
      0o600,
    );
  }
  for (const [file, content] of Object.entries(secretFiles(cfg, secrets)))
    writeFile(path.join(confDir, file), content, 0o600);
  return { name, port, confDir, dataDir };
}

function layoutOf(node: SandboxNode): ServerLayout {
  return {
    redisConf: path.join(node.confDir, "redis.conf"),
    secretsConf: path.join(node.confDir, "secrets.conf"),
    usersAcl: path.join(node.confDir, "users.acl"),
    dataDir: node.dataDir,
  };
}

/** redis-server arguments in the sandbox: the deployed ones, then the node's port and each deviation's. */
export function sandboxServerArgs(
  cfg: ResolvedConfig,
  node: SandboxNode,
  deviations: readonly Deviation[],
): string[] {
  return [
    ...redisServerArgs(cfg, layoutOf(node)),
    "--port",
    String(node.port),
    ...deviations.flatMap((d) => d.args ?? []),
  ];
}

/** Client options of a role, for ioredis. */
export function credentialsOf(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  role: "app" | "admin" | "probe",
): { username: string; password: string } {
  const { username, secret } = userFor(cfg, role);
  return { username, password: secrets[secret as SecretKey] ?? "" };
}

/** Resolves once the node answers PING to the probe user; fails early if the process exits. */
export async function waitForReady(
  port: number,
  auth: { username: string; password: string },
  timeoutMs: number,
  exited?: Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (gone) throw new Error(`redis on port ${port} exited while starting`);
    const client = new Redis({
      host: "127.0.0.1",
      port,
      ...auth,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      connectTimeout: 1000,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis on port ${port} not ready after ${timeoutMs} ms: ${lastError}`);
}

/**
 * With appendonly yes Redis ignores dump.rdb when no AOF exists. A restore therefore clears the
 * AOF, seeds dump.rdb, starts with AOF off so the RDB loads, then turns AOF on at run time: Redis
 * writes a fresh AOF from memory before the next restart needs it.
 */
function seedRestore(node: SandboxNode, file: string): void {
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
  const admin = new Redis({
    host: "127.0.0.1",
    port,
    ...credentialsOf(cfg, secrets, "admin"),
    maxRetriesPerRequest: 1,
  });
  try {
    const configCommand = secrets.configCommand ?? "CONFIG";
    await admin.call(configCommand, "SET", "appendonly", "yes");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await admin.info("persistence");
      if (
        /aof_enabled:1/.test(info) &&
        /aof_rewrite_in_progress:0/.test(info) &&
        /aof_rewrite_scheduled:0/.test(info)
      )
        return;
      if (Date.now() > deadline)
        throw new Error("AOF rewrite after restore did not finish in time");
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    admin.disconnect();
  }
}

/**
 * Starts the stack's topology as local processes on 127.0.0.1, with the exact rendered files and
 * locally generated secrets, and writes DIR/connection.json when every node is ready.
 */
export async function startSandbox(cfg: ResolvedConfig, options: SandboxOptions): Promise<Sandbox> {
  if (cfg.topology === "sentinel") {
    throw new Error(
      `The sandbox does not yet support lowcode-redis:topology "sentinel"; use "standalone".`,
    );
  }
  const binaries = options.binaries ?? DEFAULT_BINARIES;
  requireBinaries(binaries, false);
  const dir = path.resolve(options.dir);
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const log = options.log ?? (() => undefined);
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  const secrets = loadOrCreateSecrets(cfg, dir);
  const deviations = detectDeviations(cfg, binaries);
  const supervisor = new Supervisor(log);

  const node = prepareNode(cfg, secrets, deviations, dir, 0, basePort);
  const restoring = options.restoreFrom !== undefined && cfg.redis.appendonly;
  if (options.restoreFrom) seedRestore(node, options.restoreFrom);
  const args = sandboxServerArgs(cfg, node, deviations);
  supervisor.start({
    name: node.name,
    command: binaries.server,
    args: restoring ? [...args, "--appendonly", "no"] : args,
    cwd: node.dataDir,
    logFile: path.join(dir, "logs", `${node.name}.log`),
  });
  try {
    await waitForReady(
      node.port,
      credentialsOf(cfg, secrets, "probe"),
      readyTimeoutMs,
      supervisor.exited(node.name),
    );
    if (restoring) {
      await enableAofAfterRestore(cfg, secrets, node.port, readyTimeoutMs);
      supervisor.updateSpec(node.name, { args });
    }
  } catch (err) {
    await supervisor.stopAll();
    const tail = fs
      .readFileSync(path.join(dir, "logs", `${node.name}.log`), "utf8")
      .split("\n")
      .slice(-8)
      .join("\n");
    throw new Error(`${(err as Error).message}\n--- ${node.name}.log ---\n${tail}`);
  }

  const endpoints: Endpoint[] = [{ host: "127.0.0.1", port: node.port }];
  const connection = buildConnection(cfg, secrets, {
    redis: endpoints,
    deviations: deviations.map((d) => `${d.setting}: ${d.reason}`),
  });
  const connectionFile = path.join(dir, "connection.json");
  writeFile(connectionFile, JSON.stringify(connection, null, 2) + "\n", 0o600);

  return {
    config: cfg,
    dir,
    connection,
    secrets,
    nodes: [node],
    supervisor,
    connectionFile,
    stop: () => supervisor.stopAll(),
  };
}
