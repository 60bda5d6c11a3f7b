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

/** The connection contract of DESIGN §3: `connection.json` and the stack output `connection`. */
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
}

export interface ConnectionParts {
  readonly redis: readonly Endpoint[];
  readonly sentinels?: readonly Endpoint[];
  readonly deviations?: readonly string[];
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
    deviations: [...(parts.deviations ?? [])],
  };
}
