import { ResolvedConfig } from "../config/resolve";
import { renderUsersAcl } from "./acl";
import {
  SecretValues,
  renderProbePassword,
  renderProbeScript,
  renderRedisConf,
  renderSecretsConf,
  need,
  sha256Hex,
  userFor,
  usesAclFile,
} from "./redis-conf";
import { EXPORTER_PASSWORD_FILE, renderExporterPasswordFile } from "./metrics";
import {
  SENTINEL_PORT,
  renderSentinelClientPassword,
  renderSentinelConf,
  renderSentinelProbeScript,
  renderSentinelSecretsConf,
  renderPreStopScript,
  renderStartRedisScript,
  renderStartSentinelScript,
} from "./sentinel";

/**
 * The file sets of each kind of process, by file name. Plain files go to a ConfigMap or an upload;
 * secret files to a Secret, a secret upload, or 0600 files in the sandbox. Every target and the
 * sandbox take their files from here, so they run the same bytes.
 */
export type Files = Record<string, string>;
export type PasswordHash = (password: string) => string;

const grouped = (cfg: ResolvedConfig) => cfg.topology === "sentinel";

export function nodePlainFiles(cfg: ResolvedConfig): Files {
  return {
    "redis.conf": renderRedisConf(cfg),
    "probe.sh": renderProbeScript(cfg),
    // Every node starts through it: it sets the umask before Redis writes a file.
    "start-redis.sh": renderStartRedisScript(cfg),
    ...(grouped(cfg) ? { "pre-stop.sh": renderPreStopScript(cfg) } : {}),
  };
}

export function nodeSecretFiles(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: PasswordHash = sha256Hex,
): Files {
  return {
    "secrets.conf": renderSecretsConf(cfg, secrets),
    ...(usesAclFile(cfg) ? { "users.acl": renderUsersAcl(cfg, secrets, hash) } : {}),
    "probe.pass": renderProbePassword(cfg, secrets),
    // A starting node asks the sentinels which node is master.
    ...(grouped(cfg)
      ? {
          "sentinel-client.pass": renderSentinelClientPassword(cfg, secrets),
          // The pre-stop hook asks the sentinels to fail over.
          "failover.pass": need(secrets, userFor(cfg, "failover").secret),
        }
      : {}),
    ...exporterFiles(cfg, secrets, cfg.port),
  };
}

/** The exporter sidecar's password file (Kubernetes metrics), read from its own Secret item. */
function exporterFiles(cfg: ResolvedConfig, secrets: SecretValues, port: number): Files {
  if (!cfg.metrics.enabled) return {};
  return {
    [EXPORTER_PASSWORD_FILE]: renderExporterPasswordFile(port, need(secrets, "exporterPassword")),
  };
}

export function sentinelPlainFiles(cfg: ResolvedConfig): Files {
  return {
    "sentinel.conf": renderSentinelConf(cfg),
    "start-sentinel.sh": renderStartSentinelScript(cfg),
    "sentinel-probe.sh": renderSentinelProbeScript(cfg),
  };
}

export function sentinelSecretFiles(
  cfg: ResolvedConfig,
  secrets: SecretValues,
  hash: PasswordHash = sha256Hex,
): Files {
  return {
    "sentinel-secrets.conf": renderSentinelSecretsConf(cfg, secrets, hash),
    "sentinel-client.pass": renderSentinelClientPassword(cfg, secrets),
    // A sentinel without state asks the nodes which one is master (PING and INFO only).
    "probe.pass": renderProbePassword(cfg, secrets),
    ...exporterFiles(cfg, secrets, SENTINEL_PORT),
  };
}
