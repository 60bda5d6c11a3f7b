import { randomBytes, randomInt } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { ResolvedConfig } from "../../config/resolve";
import {
  CommanderSecrets,
  CommanderSite,
  commanderPasswordHash,
  commanderPlainFiles,
  commanderSecretFiles,
} from "../../render/commander";
import { SecretValues } from "../../render/redis-conf";

/** The sandbox's Commander files and log under DIR. */
export function commanderPaths(dir: string) {
  return {
    confDir: path.join(dir, "commander"),
    logFile: path.join(dir, "logs", "commander.log"),
  };
}

/** Where the `redis-commander` npm package is: the app the image runs. */
export function commanderHome(): string {
  return path.dirname(require.resolve("redis-commander/package.json"));
}

/** The keys of DIR/secrets.json that hold Commander's own secrets. */
export const COMMANDER_SECRET_KEYS = {
  password: "commanderPassword",
  sessionSecret: "commanderSessionSecret",
  salt: "commanderSalt",
} as const satisfies Record<keyof CommanderSecrets, string>;

const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A new value for one of Commander's secrets, as the stack generates them. */
export function generateCommanderSecret(key: keyof CommanderSecrets): string {
  if (key === "salt")
    return Array.from({ length: 22 }, () => BCRYPT_ALPHABET[randomInt(64)]).join("");
  return randomBytes(key === "password" ? 18 : 36).toString("base64url");
}

/**
 * Commander's port in the sandbox: `commanderPort`, shifted as far as --base-port shifts the
 * nodes from the default, so that two sandboxes on different base ports do not collide.
 */
export function sandboxCommanderPort(
  cfg: ResolvedConfig,
  basePort: number,
  defaultBasePort: number,
): number {
  const port = cfg.commander.port + (basePort - defaultBasePort);
  if (port < 1 || port > 65535)
    throw new Error(
      `Redis Commander's port would be ${port} (commanderPort ${cfg.commander.port} shifted by --base-port ${basePort} - ${defaultBasePort}): choose another --base-port.`,
    );
  return port;
}

/**
 * Writes the rendered settings and launcher, and the secret files (0600, as deployed: the hash,
 * never the password), for Commander on 127.0.0.1:`port`.
 */
export function prepareCommander(
  cfg: ResolvedConfig,
  dir: string,
  secrets: SecretValues,
  own: CommanderSecrets,
  site: CommanderSite,
): { confDir: string; launcher: string } {
  const { confDir } = commanderPaths(dir);
  fs.mkdirSync(confDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(confDir, 0o700);
  const files = {
    ...commanderPlainFiles(cfg, site),
    ...commanderSecretFiles(cfg, secrets, {
      passwordHash: commanderPasswordHash(own.password, own.salt),
      sessionSecret: own.sessionSecret,
    }),
  };
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(confDir, file);
    fs.writeFileSync(target, content, { mode: 0o600 });
    fs.chmodSync(target, 0o600);
  }
  return { confDir, launcher: path.join(confDir, "start-commander.js") };
}

/** True when Commander answers its health page (served without signing in) with "ok". */
export function commanderHealthy(
  port: number,
  host = "127.0.0.1",
  timeoutMs = 2000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: "/healthcheck", timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(res.statusCode === 200 && body.trim() === "ok"));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}
