import { DatabasePurpose, ResolvedConfig } from "../config/resolve";
import { Role, SecretValues, userFor } from "./redis-conf";

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The connection contract (docs/connecting.md): `connection.json` and the stack output. */
export interface ConnectionInfo {
  readonly stack: string;
  readonly profile: string;
  readonly topology: "standalone" | "sentinel";
  readonly masterName: string;
  readonly redis: ReadonlyArray<Endpoint & { readonly role: "master" | "replica" }>;
  readonly sentinels: readonly Endpoint[];
  readonly sentinelUser?: Credentials;
  readonly users: { readonly app: Credentials; readonly admin: Credentials };
  readonly renamedCommands: Readonly<Record<string, string>>;
  readonly databases: Readonly<Record<DatabasePurpose, number>>;
  readonly commander?: {
    readonly url: string;
    readonly username: string;
    readonly password: string;
  };
  readonly backup?: { readonly script: string; readonly dir: string };
  readonly deviations: readonly string[];
  /** Client settings every application should use, so that no call waits without bound. */
  readonly client: ClientSettings;
  /**
   * A pods-mode sandbox only: where this host reaches each address the sentinels announce
   * (`"<pod DNS name>:<port>"`), for a client outside the pods (ioredis's `natMap`).
   */
  readonly natMap?: Readonly<Record<string, Endpoint>>;
}

/**
 * Timeouts and retries for the platform's clients, in plain numbers (milliseconds unless said
 * otherwise); `render/client-options.ts` turns them into ioredis options. With ioredis's defaults a
 * client waits without bound on a sentinel that accepts connections but does not answer (a frozen
 * or overloaded process: the kernel still completes the TCP handshake), and every command queued
 * behind that master lookup waits with it, for as long as the sentinels stay frozen.
 */
export interface ClientSettings {
  /** Bounds the TCP connect to a node or a sentinel. */
  readonly connectTimeoutMs: number;
  /** Bounds the reply to each command, including one queued while the client reconnects. */
  readonly commandTimeoutMs: number;
  /** Sentinel topology only: bounds one sentinel's answer to a master lookup. */
  readonly sentinelCommandTimeoutMs?: number;
  /** Reconnection attempts a queued command waits through before it fails. */
  readonly maxRetriesPerRequest: number;
  /** First reconnection delay; it doubles on each further attempt… */
  readonly retryBaseDelayMs: number;
  /** …up to this cap, and reconnection never stops. */
  readonly retryMaxDelayMs: number;
}

// Linux retransmits a lost SYN after 1 s: 2 s survives one loss, and an address nobody answers
// (a deleted pod's IP drops SYNs) fails in 2 s instead of after the kernel's ~127 s of retries.
const CONNECT_TIMEOUT_MS = 2_000;
// The platform's commands are small single-key operations answered in well under a millisecond:
// 2 s is three orders of magnitude above that, yet short enough that a request fails instead of
// hanging while Redis is unreachable. More when a round over many sentinels needs it (below).
const COMMAND_TIMEOUT_MS = 2_000;
// A healthy sentinel answers GET-MASTER-ADDR-BY-NAME in about a millisecond. 500 ms still absorbs
// a throttled or briefly paused sentinel (CFS quota periods are 100 ms); 200 ms is the least.
const SENTINEL_COMMAND_TIMEOUT_MAX_MS = 500;
const SENTINEL_COMMAND_TIMEOUT_MIN_MS = 200;
// ioredis's default (20) keeps a request queued through 20 reconnection attempts, about 10 s of its
// default backoff; 3 attempts of the backoff below are about 350 ms of refused connections. The
// command timeout bounds the wait anyway: this only fails requests sooner while nothing answers.
const MAX_RETRIES_PER_REQUEST = 3;
// The first reconnection is almost immediate (a killed connection to a live server comes back at
// once); the cap means a client is back within 1 s of Redis, without hammering a server that is
// still down (ioredis's default caps at 2 s).
const RETRY_BASE_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 1_000;

/**
 * The client settings of a stack. For a group, a lookup round over sentinels that do not answer
 * (`sentinels x sentinelCommandTimeoutMs`) takes at most half of down-after-milliseconds (unless
 * that leaves a sentinel less than 200 ms), so it ends well before the sentinels could complete a
 * failover (down-after + election, ~6 s by default): 3 sentinels x 500 ms = 1.5 s. The command
 * timeout outlasts such a round by 500 ms (reconnection delay, AUTH, SELECT, ready check), so a
 * command queued during a lookup still succeeds when the last sentinel asked is the one that answers.
 */
export function clientSettings(cfg: ResolvedConfig): ClientSettings {
  const common = {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    retryBaseDelayMs: RETRY_BASE_DELAY_MS,
    retryMaxDelayMs: RETRY_MAX_DELAY_MS,
  };
  if (cfg.topology !== "sentinel") return common;
  const { sentinels, downAfterMs } = cfg.sentinel;
  const sentinelCommandTimeoutMs = Math.max(
    SENTINEL_COMMAND_TIMEOUT_MIN_MS,
    Math.min(SENTINEL_COMMAND_TIMEOUT_MAX_MS, Math.floor(downAfterMs / (2 * sentinels))),
  );
  return {
    ...common,
    commandTimeoutMs: Math.max(COMMAND_TIMEOUT_MS, sentinels * sentinelCommandTimeoutMs + 500),
    sentinelCommandTimeoutMs,
  };
}

export interface ConnectionParts {
  readonly redis: readonly Endpoint[];
  readonly sentinels?: readonly Endpoint[];
  readonly deviations?: readonly string[];
  /** When backups are enabled: `sh <script>` takes one backup into `dir`. */
  readonly backup?: { readonly script: string; readonly dir: string };
  /** When Commander is enabled: its URL and sign-in. */
  readonly commander?: ConnectionInfo["commander"];
}

/** Renamed commands as clients must call them ("" = disabled). */
export function renamedCommands(
  cfg: ResolvedConfig,
  secrets: SecretValues,
): Record<string, string> {
  if (!cfg.security.renameDangerousCommands) return {};
  return { CONFIG: secrets.configCommand ?? "", FLUSHALL: "", FLUSHDB: "" };
}

/** The user and password a role connects with. */
export function credentials(cfg: ResolvedConfig, secrets: SecretValues, role: Role): Credentials {
  const { username, secret } = userFor(cfg, role);
  return { username, password: secrets[secret] ?? "" };
}

/** Builds the contract object; the first Redis endpoint is the initial master. */
export function buildConnection(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  parts: ConnectionParts,
): ConnectionInfo {
  const sentinel = cfg.topology === "sentinel";
  return {
    stack: cfg.stack,
    profile: cfg.profile,
    topology: cfg.topology,
    masterName: sentinel ? cfg.sentinel.masterName : "",
    redis: parts.redis.map((e, i) => ({
      host: e.host,
      port: e.port,
      role: i === 0 ? "master" : "replica",
    })),
    sentinels: sentinel ? [...(parts.sentinels ?? [])] : [],
    // Sentinels of a group always require authentication.
    ...(sentinel ? { sentinelUser: credentials(cfg, secrets, "sentinel-client") } : {}),
    users: { app: credentials(cfg, secrets, "app"), admin: credentials(cfg, secrets, "admin") },
    renamedCommands: renamedCommands(cfg, secrets),
    databases: { ...cfg.databaseIndex },
    ...(parts.commander ? { commander: { ...parts.commander } } : {}),
    ...(parts.backup ? { backup: { ...parts.backup } } : {}),
    deviations: [...(parts.deviations ?? [])],
    client: clientSettings(cfg),
  };
}
