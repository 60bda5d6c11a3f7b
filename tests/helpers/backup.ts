import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { runScript } from "../../sandbox/runtime/backup";
import * as fs from "node:fs";
import * as path from "node:path";

/** The environment a cron job gives a script: a PATH and nothing of ours. */
export const BARE_ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin" } as const;

export function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Runs `sh <script>` (or another shell) with only `env`; resolves with exit code and output. */
export function runBackupScript(
  script: string,
  options: { env?: NodeJS.ProcessEnv; shell?: string[]; args?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runScript(script, options.args, options.env ?? BARE_ENV, options.shell);
}

/** The backups in a directory and each file's checksum, by name (status and partial files aside). */
export function backupListing(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => /\.rdb(\.sha256)?$/.test(f))
      .sort()
      .map((f) => [f, sha256File(path.join(dir, f))]),
  );
}

/** backup.status as key=value pairs. */
export function readStatus(dir: string): Record<string, string> {
  const text = fs.readFileSync(path.join(dir, "backup.status"), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** redis-check-rdb's verdict on a file. */
export function rdbLooksOk(file: string): boolean {
  try {
    return execFileSync("redis-check-rdb", [file], { encoding: "utf8" }).includes("RDB looks OK");
  } catch {
    return false;
  }
}

/** Resolves once the UTC second has changed: backups are named by the second. */
export async function nextSecond(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await new Promise((r) => setTimeout(r, (now + 1) * 1000 - Date.now() + 5));
}

/** A copy of a conf dir, to change one thing in it for a failure test. */
export function copyConfDir(from: string, to: string): string {
  fs.mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
  return to;
}

/** Replaces one `KEY=...` line of a copied backup.env. */
export function setEnvLine(confDir: string, key: string, value: string): void {
  const file = path.join(confDir, "backup.env");
  const lines = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .map((l) => (l.startsWith(`${key}=`) ? `${key}='${value}'` : l));
  fs.writeFileSync(file, lines.join("\n"));
}
