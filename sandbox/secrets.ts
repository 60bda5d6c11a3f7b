import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ResolvedConfig } from "../config/resolve";
import { CommanderSecrets } from "../render/commander";
import { SecretValues, requiredSecrets } from "../render/redis-conf";
import { COMMANDER_SECRET_KEYS, generateCommanderSecret } from "./runtime/commander";
import { writeFileAtomic } from "./private-files";

/** Secrets of this sandbox dir: generated once, kept in DIR/secrets.json (0600) across restarts. */
export function loadOrCreateSecrets(cfg: ResolvedConfig, dir: string): SecretValues {
  const file = path.join(dir, "secrets.json");
  const secrets: Record<string, string> = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, "utf8"))
    : {};
  if (cfg.commander.enabled)
    for (const [part, key] of Object.entries(COMMANDER_SECRET_KEYS))
      secrets[key] ||= generateCommanderSecret(part as keyof CommanderSecrets);
  for (const key of requiredSecrets(cfg)) {
    if (secrets[key]) continue;
    if (key === "backupS3AccessKeyId" || key === "backupS3SecretAccessKey")
      throw new Error(
        `lowcode-redis:${key} is needed for the off-site copies to bucket "${cfg.backup.offsite?.bucket}": the sandbox cannot generate it; put it into ${file} as "${key}" (0600).`,
      );
    if (key === "appPasswordPrevious")
      throw new Error(
        `lowcode-redis:${key} is set: the sandbox cannot know the app's previous password; put it into ${file} as "${key}" (0600).`,
      );
    secrets[key] =
      key === "configCommand"
        ? `CONFIG_${randomBytes(10).toString("hex").toUpperCase()}`
        : randomBytes(24).toString("base64url");
  }
  // Atomically: a sandbox killed while writing must not leave the dir's passwords behind half-written.
  writeFileAtomic(file, JSON.stringify(secrets, null, 2), 0o600);
  return secrets;
}

/** Commander's own secrets (its sign-in password among them), as DIR/secrets.json keeps them. */
export function commanderSecretsOf(secrets: SecretValues): CommanderSecrets {
  const stored = secrets as Record<string, string>;
  return {
    password: stored[COMMANDER_SECRET_KEYS.password],
    sessionSecret: stored[COMMANDER_SECRET_KEYS.sessionSecret],
    salt: stored[COMMANDER_SECRET_KEYS.salt],
  };
}
