import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The shell scripts the stack runs are files under render/scripts/, POSIX sh with `@NAME@`
 * placeholders for what the stack config decides (a user name, a timeout, a shared function).
 * Keeping them as files lets shellcheck and an editor read them as the shell code they are.
 */
export const SCRIPTS_DIR = path.join(__dirname, "scripts");

/** A placeholder: `@` + an upper-case name + `@`. Alone on its line it stands for whole lines. */
const PLACEHOLDER = /^@([A-Z][A-Z0-9_]*)@\n|@([A-Z][A-Z0-9_]*)@/gm;

/** A template's own notes, for its readers only: lines whose first non-blank characters are `##`. */
const TEMPLATE_NOTE = /^[ \t]*##.*\n/gm;

/**
 * The template `file` of render/scripts/, without its `##` notes. Read when a renderer module
 * loads, so a missing template fails at once rather than at the first render.
 */
export function scriptTemplate(file: string): string {
  return withoutNotes(fs.readFileSync(path.join(SCRIPTS_DIR, file), "utf8"));
}

/** A template without its `##` notes. */
export function withoutNotes(template: string): string {
  return template.replace(TEMPLATE_NOTE, "");
}

/**
 * Replaces every `@NAME@` of `template` with `values[NAME]`, in one pass (a value is never read for
 * placeholders). A placeholder alone on its line stands for lines: an empty value removes the
 * line, and a value's own final newline ends it. Throws on a placeholder without a value and on a
 * value without a placeholder, so a template and its renderer cannot drift apart unnoticed.
 */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const lookup = (name: string): string => {
    if (!Object.hasOwn(values, name))
      throw new Error(`template placeholder @${name}@ has no value`);
    used.add(name);
    return values[name];
  };
  const filled = template.replace(
    PLACEHOLDER,
    (_match, lineName: string | undefined, inlineName: string | undefined) => {
      if (inlineName !== undefined) return lookup(inlineName);
      const lines = lookup(lineName!);
      return lines === "" || lines.endsWith("\n") ? lines : `${lines}\n`;
    },
  );
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0)
    throw new Error(`template has no placeholder for ${unused.map((n) => `@${n}@`).join(", ")}`);
  return filled;
}
