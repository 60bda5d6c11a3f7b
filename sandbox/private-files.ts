import * as fs from "node:fs";

/** Writes `file` with exactly `mode`, whatever the umask or an earlier file's mode. */
export function writeFile(file: string, content: string, mode: number): void {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Readers see the old or the new content, never a partial file. */
export function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFile(tmp, content, mode);
  fs.renameSync(tmp, file);
}

/** A directory of the sandbox: owner-only, like every file in it (secrets, data, logs). */
export function ownerOnlyDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}
