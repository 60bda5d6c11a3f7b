import {
  CLIENT_LIMIT_DIRECTIVES,
  SENTINEL_CLIENT_LIMITS,
  SENTINEL_MAXCLIENTS,
  clientLimitLines,
} from "../config/client-limits";
import { ResolvedConfig } from "../config/resolve";
import { RESTORED_MARKER } from "./backup";
import { EXPORTER_SENTINEL_RULES, exporterUserLine, sentinelUserLines } from "./acl";
import type { Endpoint } from "./connection";
import {
  SecretValues,
  configFile,
  dockerSentinelAddress,
  header,
  need,
  quote,
  renderPingProbe,
  scriptHeader,
  userFor,
} from "./redis-conf";
import { fillTemplate, scriptTemplate } from "./template";

/** Sentinel's port in containers and pods. */
export const SENTINEL_PORT = 26379;

/** Every sentinel of a Docker group, at its fixed address on the network. */
export function dockerSentinelEndpoints(cfg: ResolvedConfig): Endpoint[] {
  return Array.from({ length: cfg.sentinel.sentinels }, (_, i) => ({
    host: dockerSentinelAddress(cfg, i),
    port: SENTINEL_PORT,
  }));
}

/** Endpoints as the rendered scripts read them (SENTINELS, NODES): "host:port host:port …". */
export function endpointList(endpoints: readonly Endpoint[]): string {
  return endpoints.map((e) => `${e.host}:${e.port}`).join(" ");
}

/**
 * How long a restarting node that the sentinels still name as master, while a replica holds newer
 * data, waits for them to fail over before it starts as master anyway (a group that cannot fail
 * over must still come back): down-after, then one attempt that may abort (a split vote, no
 * promotable replica yet) and its retry 2 x failover-timeout later, and 10 s to spare.
 */
export function masterWaitSeconds(cfg: ResolvedConfig): number {
  return Math.ceil((cfg.sentinel.downAfterMs + 2 * cfg.sentinel.failoverTimeoutMs) / 1000) + 10;
}

/**
 * sentinel.conf settings, without secrets and without the `sentinel monitor` line: the start
 * script writes that line first (the master is the one the other sentinels know, or the initial
 * one), then this file and sentinel-secrets.conf, into the writable state file Sentinel rewrites.
 */
export function renderSentinelConf(cfg: ResolvedConfig): string {
  const name = cfg.sentinel.masterName;
  return configFile("sentinel.conf", [
    ...header(cfg, "sentinel.conf"),
    `port ${SENTINEL_PORT}`,
    `bind ${cfg.bind.join(" ")}`,
    `protected-mode ${cfg.security.protectedMode ? "yes" : "no"}`,
    "daemonize no",
    'logfile ""',
    // Kubernetes pod IPs change: nodes and sentinels are known by their stable DNS names.
    "sentinel resolve-hostnames yes",
    "sentinel announce-hostnames yes",
    // No client may make a sentinel run a script.
    "sentinel deny-scripts-reconfig yes",
    `sentinel down-after-milliseconds ${name} ${cfg.sentinel.downAfterMs}`,
    `sentinel failover-timeout ${name} ${cfg.sentinel.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    // Every application holds the sentinel-client password: its clients are bounded like a node's.
    `maxclients ${SENTINEL_MAXCLIENTS}`,
    ...clientLimitLines(SENTINEL_CLIENT_LIMITS),
  ]);
}

/**
 * Sentinel secrets: its own users (production) or password (dev), the credentials it uses with the
 * other sentinels and with the Redis nodes, and the CONFIG rename it must use on the nodes.
 */
export function renderSentinelSecretsConf(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: (password: string) => string,
): string {
  const name = cfg.sentinel.masterName;
  const lines = header(cfg, "sentinel-secrets.conf");
  if (cfg.security.aclUsers) {
    lines.push(
      ...sentinelUserLines(cfg, secrets, hash),
      "sentinel sentinel-user sentinel-peer",
      `sentinel sentinel-pass ${quote(need(secrets, "sentinelPeerPassword"))}`,
      `sentinel auth-user ${name} ${userFor(cfg, "sentinel").username}`,
      `sentinel auth-pass ${name} ${quote(need(secrets, "sentinelNodePassword"))}`,
      `sentinel rename-command ${name} CONFIG ${need(secrets, "configCommand")}`,
    );
  } else {
    const password = quote(need(secrets, "defaultPassword"));
    lines.push(
      `requirepass ${password}`,
      `sentinel sentinel-pass ${password}`,
      `sentinel auth-pass ${name} ${password}`,
      ...(cfg.metrics.enabled ? [exporterUserLine(secrets, hash, EXPORTER_SENTINEL_RULES)] : []),
    );
  }
  return configFile("sentinel-secrets.conf", lines);
}

/** Password file of the sentinel-client user, read by the start scripts and the sentinel probe. */
export function renderSentinelClientPassword(cfg: ResolvedConfig, secrets: SecretValues): string {
  return need(secrets, userFor(cfg, "sentinel-client").secret);
}

const START_REDIS_TEMPLATE = scriptTemplate("start-redis.sh");
const START_STANDALONE_TEMPLATE = scriptTemplate("start-redis-standalone.sh");
const PRE_STOP_TEMPLATE = scriptTemplate("pre-stop.sh");
const START_SENTINEL_TEMPLATE = scriptTemplate("start-sentinel.sh");
const SENTINEL_RECORD_PART = scriptTemplate("parts/sentinel-record.sh");
const PEER_FUNCTIONS_PART = scriptTemplate("parts/peer-functions.sh");
const STANDIN_DEFAULT_OFF_PART = scriptTemplate("parts/standin-default-off.sh");

/**
 * How long a node that finds no sentinel record, and holds the same data as another node, waits
 * for one before it breaks the tie by ordinal: after a clean stop every node holds the same data,
 * and only the sentinels remember which one was master.
 */
export const SENTINEL_RECORD_WAIT_SECONDS = 30;

/**
 * How long a node that finds no sentinel record waits for every other node to answer before a
 * majority of them may choose without the rest.
 */
export const PEER_WAIT_SECONDS = 60;

/**
 * How long the startup probe of a sentinel without state allows it to wait for the nodes to
 * choose a master (it never guesses one: see renderStartSentinelScript).
 */
export const SENTINEL_START_WAIT_SECONDS = PEER_WAIT_SECONDS + 30;

/** Key of the stand-in server that holds a choosing node's record of its data. */
const RECORD_KEY = "lowcode:recorded-data";

/**
 * The functions both start scripts share: sentinel_record (the master by the sentinels' record, a
 * majority answering, the highest epoch) and peer_cli, field, running_master (the nodes, asked as
 * the probe user).
 */
function sharedFunctions(cfg: ResolvedConfig): { SENTINEL_RECORD: string; PEER_FUNCTIONS: string } {
  return {
    SENTINEL_RECORD: fillTemplate(SENTINEL_RECORD_PART, {
      SENTINEL_CLIENT_USER: userFor(cfg, "sentinel-client").username,
      MASTER_NAME: cfg.sentinel.masterName,
    }),
    PEER_FUNCTIONS: fillTemplate(PEER_FUNCTIONS_PART, {
      PROBE_USER: userFor(cfg, "probe").username,
    }),
  };
}

/**
 * Starts a Redis node (render/scripts/start-redis.sh). Every start sets the umask and closes what
 * was left open, before Redis writes a file. A standalone server then just starts; a group's node
 * starts in the role the records give it: the sentinels' record, or else the newest data among
 * the nodes (see the template).
 */
export function renderStartRedisScript(cfg: ResolvedConfig): string {
  const HEADER = scriptHeader(cfg, "start-redis.sh");
  if (cfg.topology !== "sentinel") return fillTemplate(START_STANDALONE_TEMPLATE, { HEADER });
  const probe = userFor(cfg, "probe").username;
  return fillTemplate(START_REDIS_TEMPLATE, {
    HEADER,
    ...sharedFunctions(cfg),
    PROBE_USER: probe,
    DEFAULT_USER_OFF: probe === "default" ? "" : STANDIN_DEFAULT_OFF_PART,
    RECORD_KEY,
    RESTORED_MARKER,
    SENTINEL_RECORD_WAIT_SECONDS: String(SENTINEL_RECORD_WAIT_SECONDS),
    PEER_WAIT_SECONDS: String(PEER_WAIT_SECONDS),
    MASTER_WAIT_SECONDS: String(masterWaitSeconds(cfg)),
  });
}

/** The longest the pre-stop hook takes; the pod's grace period adds the shutdown to it. */
export const PRE_STOP_SECONDS = 30;

/**
 * How long the master's hook waits, before it pauses any write, for a replica the sentinels would
 * promote: after a replica restarts (the step before in a rolling update), a sentinel skips it
 * until its next INFO of that replica, which comes every 10 s.
 */
export const PROMOTABLE_WAIT_SECONDS = 15;

/**
 * A Redis pod's terminationGracePeriodSeconds: the hook, then SIGTERM and the shutdown, in which
 * Redis 7 waits up to shutdown-timeout (10 s) for lagging replicas and writes its final RDB.
 */
export function terminationGraceSeconds(): number {
  return PRE_STOP_SECONDS + 30;
}

/**
 * The pre-stop hook of a group's Redis node (render/scripts/pre-stop.sh): the master pauses its
 * writes, lets a replica catch up and asks the sentinels to fail over; a replica stops at once.
 * Always exits 0 within PRE_STOP_SECONDS. Environment: as start-redis.sh.
 */
export function renderPreStopScript(cfg: ResolvedConfig): string {
  return fillTemplate(PRE_STOP_TEMPLATE, {
    HEADER: scriptHeader(cfg, "pre-stop.sh"),
    FAILOVER_USER: userFor(cfg, "failover").username,
    MASTER_NAME: cfg.sentinel.masterName,
    PRE_STOP_SECONDS: String(PRE_STOP_SECONDS),
    PROMOTABLE_WAIT_SECONDS: String(PROMOTABLE_WAIT_SECONDS),
  });
}

/**
 * Starts a sentinel (render/scripts/start-sentinel.sh). A first start writes the state file for
 * the master the sentinels' record names, or else the node that is master (it never guesses);
 * later starts reuse the state file, with the secrets, client limits, master settings and quorum
 * taken anew, and without the peers and replicas no longer in the deployment.
 */
export function renderStartSentinelScript(cfg: ResolvedConfig): string {
  return fillTemplate(START_SENTINEL_TEMPLATE, {
    HEADER: scriptHeader(cfg, "start-sentinel.sh"),
    ...sharedFunctions(cfg),
    MASTER_NAME: cfg.sentinel.masterName,
    QUORUM: String(cfg.sentinel.quorum),
    SECRET_DIRECTIVES,
    CLIENT_LIMIT_DIRECTIVES,
    MASTER_SETTING_DIRECTIVES,
  });
}

/**
 * The directives of sentinel-secrets.conf, as Sentinel also writes them back into its state file:
 * users, the default user's password, the credentials for peers and nodes, the CONFIG rename.
 */
export const SECRET_DIRECTIVES =
  "^(user |requirepass |sentinel (sentinel-user|sentinel-pass|auth-user|auth-pass|rename-command) )";

/**
 * The settings of the monitored master that sentinel.conf renders, as Sentinel also writes them
 * back into its state file (it leaves out those at Redis's defaults): each start takes them from
 * sentinel.conf again, so a changed config replaces what a running group holds.
 */
export const MASTER_SETTING_DIRECTIVES =
  "^sentinel (down-after-milliseconds|failover-timeout|parallel-syncs) ";

/** Health check of a sentinel: PING as sentinel-client. */
export function renderSentinelProbeScript(cfg: ResolvedConfig): string {
  const user = userFor(cfg, "sentinel-client").username;
  return renderPingProbe(cfg, "sentinel-probe.sh", user, SENTINEL_PORT, "sentinel-client.pass");
}
