import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ResolvedConfig, resolveConfig } from "../config/resolve";
import { renderArtifacts } from "../render/artifacts";
import { backupPlainFiles } from "../render/backup";
import { Files } from "../render/files";
import { renderPrepareScript } from "../render/kubernetes";
import { SAMPLE_STACKS, sampleStackConfig } from "../lib/stack-cases";

/**
 * `npm run lint` runs Debian's shellcheck, as POSIX sh, over every script the stack renders for a
 * matrix of configs: the golden cases, and the variants whose scripts differ in ways those do not
 * show. Any finding, of any severity, fails the lint; a check that is wrong for a script is
 * disabled in its template, on its line, with the reason.
 */

const OFFSITE_KEYS = ["backupS3AccessKeyId", "backupS3SecretAccessKey"];

function variant(stack: string, values: Record<string, unknown>, secretKeys: string[] = []) {
  return resolveConfig({ stack, values, secretKeys: new Set(secretKeys) });
}

const offsite = (values: Record<string, unknown>) => ({
  backupS3Bucket: "lowcode-backups",
  backupS3AccessKeyId: { secure: "x" },
  backupS3SecretAccessKey: { secure: "x" },
  ...values,
});

/** The configs whose scripts are checked, by name. */
export function shellcheckMatrix(): Record<string, ResolvedConfig> {
  const k8s = { target: "kubernetes", profile: "production" };
  return {
    ...Object.fromEntries(
      Object.keys(SAMPLE_STACKS).map((name) => [name, sampleStackConfig(name)]),
    ),
    "dev-no-aof": variant("dev-no-aof", { appendonly: false }),
    "sentinel-no-aof": variant("sentinel-no-aof", {
      ...k8s,
      topology: "sentinel",
      appendonly: false,
    }),
    "s3-restore": variant(
      "s3-restore",
      offsite({
        ...k8s,
        backupS3Prefix: "redis/prod",
        restoreFrom: "s3://lowcode-backups/redis/prod/prod-20260101T020000Z.rdb",
      }),
      OFFSITE_KEYS,
    ),
    "docker-sentinel-offsite": variant(
      "docker-sentinel-offsite",
      offsite({ topology: "sentinel", backupS3Endpoint: "http://minio:9000" }),
      OFFSITE_KEYS,
    ),
  };
}

/**
 * Every script of `cfg`, by path: the rendered files, prepare.sh (which manifests carry inside a
 * ConfigMap) and the backup scripts as the sandbox runs them (the off-site copy inline).
 */
export function renderedScripts(cfg: ResolvedConfig): Files {
  const sandboxSite = {
    backupDir: "/backup",
    nodes: "",
    sentinels: "",
    offsiteStep: "inline",
  } as const;
  const files: Files = {
    ...renderArtifacts(cfg),
    "kubernetes/prepare.sh": renderPrepareScript(cfg),
    ...Object.fromEntries(
      Object.entries(backupPlainFiles(cfg, sandboxSite)).map(([file, text]) => [
        `sandbox-backup/${file}`,
        text,
      ]),
    ),
  };
  return Object.fromEntries(
    Object.entries(files).filter(([file]) => file.endsWith(".sh") || file.endsWith("backup.env")),
  );
}

/** The header line that names the stack (render/redis-conf.ts, header). */
const HEADER_LINE = /^# \S+ of lowcode-redis, stack .*\n/m;

/**
 * Writes every distinct script of the matrix under `dir`, with the backup.env beside it where it
 * has one; returns their paths, relative to `dir`. Most configs share most scripts: scripts that
 * differ only in the header line naming the stack are checked once, and one that sources
 * backup.env counts as distinct with each backup.env.
 */
function writeScripts(dir: string, matrix: Record<string, ResolvedConfig>): string[] {
  const seen = new Set<string>();
  const scripts: string[] = [];
  for (const [name, cfg] of Object.entries(matrix)) {
    const files = renderedScripts(cfg);
    for (const [file, text] of Object.entries(files)) {
      if (!file.endsWith(".sh")) continue;
      const env = files[path.join(path.dirname(file), "backup.env")] ?? "";
      const code = text.replace(HEADER_LINE, "");
      const key = `${code}\0${text.includes("backup.env") ? env.replace(HEADER_LINE, "") : ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const target = path.join(dir, name, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, text);
      if (env !== "") fs.writeFileSync(path.join(path.dirname(target), "backup.env"), env);
      scripts.push(path.join(name, file));
    }
  }
  return scripts;
}

/** The sandbox's own scripts (its reaper, the pods-mode cleanup), copied under `dir`. */
function writeSandboxScripts(dir: string): string[] {
  const runtime = path.join(__dirname, "..", "sandbox", "runtime");
  return fs
    .readdirSync(runtime)
    .filter((file) => file.endsWith(".sh"))
    .map((file) => {
      const target = path.join("sandbox", file);
      fs.mkdirSync(path.join(dir, "sandbox"), { recursive: true });
      fs.copyFileSync(path.join(runtime, file), path.join(dir, target));
      return target;
    });
}

/** Runs shellcheck over the matrix's scripts; prints each finding; 0 when there is none. */
function main(): number {
  const matrix = shellcheckMatrix();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-shellcheck-"));
  try {
    const scripts = [...writeScripts(dir, matrix), ...writeSandboxScripts(dir)];
    // -x with the scripts' own directory: backup.sh and offsite.sh source backup.env beside them.
    const args = ["-s", "sh", "-x", "-P", "SCRIPTDIR", "-f", "gcc", ...scripts];
    const run = spawnSync("shellcheck", args, { cwd: dir, encoding: "utf8" });
    if (run.error) {
      process.stderr.write(
        `shellcheck: ${run.error.message} (install it: sh scripts/install-system-packages.sh test)\n`,
      );
      return 1;
    }
    const findings = run.stdout.split("\n").filter((line) => line !== "");
    for (const line of findings) process.stdout.write(`${line}\n`);
    process.stderr.write(run.stderr);
    process.stdout.write(
      `shellcheck -s sh: ${scripts.length} distinct scripts rendered for ${Object.keys(matrix).length} configs and the sandbox's own, ${findings.length} finding(s)\n`,
    );
    return run.status === 0 && findings.length === 0 ? 0 : 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) process.exitCode = main();
