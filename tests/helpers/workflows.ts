import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");
export const WORKFLOWS = path.join(ROOT, ".github", "workflows");

export interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

export interface Job {
  name?: string;
  uses?: string;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean | string };
  permissions?: string | Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  env?: Record<string, unknown>;
  secrets?: unknown;
  steps?: Step[];
}

export interface Workflow {
  on: string | string[] | Record<string, { branches?: string[] } | null>;
  permissions?: string | Record<string, string>;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

/** A job as it runs for an event: a called workflow's jobs stand in for the job that calls it. */
export interface RunJob {
  /** "<file>:<job>", with ">" and the called workflow's job after a call. */
  id: string;
  /** The job's key in its workflow (the called workflow's key after a call). */
  key: string;
  job: Job;
  /** Every job this one waits for, directly or through others. */
  after: Set<string>;
  /** The workflow-level permissions that apply when the job sets none. */
  defaultPermissions: Workflow["permissions"];
}

export function workflowFiles(): string[] {
  return fs
    .readdirSync(WORKFLOWS)
    .filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"))
    .sort()
    .map((f) => path.join(WORKFLOWS, f));
}

export function load(file: string): Workflow {
  return parse(fs.readFileSync(file, "utf8")) as Workflow;
}

/** The workflow's events, each with its filter (null when it has none). */
function triggers(wf: Workflow): Record<string, { branches?: string[] } | null> {
  if (typeof wf.on === "string") return { [wf.on]: null };
  if (Array.isArray(wf.on)) return Object.fromEntries(wf.on.map((e) => [e, null]));
  return wf.on;
}

export function runsOn(wf: Workflow, event: string, branch?: string): boolean {
  const on = triggers(wf);
  if (!(event in on)) return false;
  const branches = on[event]?.branches;
  return branch === undefined || branches === undefined || branches.includes(branch);
}

export function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

interface Expanded {
  id: string;
  key: string;
  job: Job;
  needs: string[];
  perms: Workflow["permissions"];
}

/** A workflow's jobs with calls to local reusable workflows replaced by the called jobs. */
function expand(file: string, wf: Workflow): { expanded: Expanded[]; ids: Map<string, string[]> } {
  const name = path.basename(file);
  const ids = new Map<string, string[]>();
  const expanded: Expanded[] = [];
  for (const [key, job] of Object.entries(wf.jobs)) {
    if (!job.uses?.startsWith("./.github/workflows/")) {
      ids.set(key, [`${name}:${key}`]);
      expanded.push({
        id: `${name}:${key}`,
        key,
        job,
        needs: list(job.needs),
        perms: wf.permissions,
      });
      continue;
    }
    const called = load(path.join(ROOT, job.uses));
    assert.ok(runsOn(called, "workflow_call"), `${job.uses} is not a reusable workflow`);
    const calledIds: string[] = [];
    for (const [calledKey, calledJob] of Object.entries(called.jobs)) {
      const id = `${name}:${key}>${calledKey}`;
      calledIds.push(id);
      const inner = list(calledJob.needs).map((n) => `${name}:${key}>${n}`);
      expanded.push({
        id,
        key: calledKey,
        job: calledJob,
        needs: [...list(job.needs), ...inner],
        perms: called.permissions ?? job.permissions ?? wf.permissions,
      });
    }
    ids.set(key, calledIds);
  }
  return { expanded, ids };
}

/**
 * Every job that runs on `event` (on `branch` for a push), called workflows expanded: a job that
 * needs a calling job waits for every job of the called workflow.
 */
export function jobsOn(event: string, branch?: string): RunJob[] {
  const out: RunJob[] = [];
  for (const file of workflowFiles()) {
    const wf = load(file);
    if (!runsOn(wf, event, branch)) continue;
    const { expanded, ids } = expand(file, wf);
    const direct = new Map<string, string[]>();
    for (const e of expanded) {
      direct.set(
        e.id,
        e.needs.flatMap((n) => {
          if (n.includes(">")) return [n];
          const target = ids.get(n);
          assert.ok(target, `${e.id} needs "${n}", which is no job of ${path.basename(file)}`);
          return target;
        }),
      );
    }
    const closure = (id: string, seen = new Set<string>()): Set<string> => {
      for (const n of direct.get(id) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          closure(n, seen);
        }
      }
      return seen;
    };
    for (const e of expanded) {
      out.push({
        id: e.id,
        key: e.key,
        job: e.job,
        after: closure(e.id),
        defaultPermissions: e.perms,
      });
    }
  }
  return out;
}

export function steps(job: Job): Step[] {
  return job.steps ?? [];
}

/** The lines of a step's script, continued lines joined, comments left out. */
export function scriptLines(step: Step): string[] {
  return (step.run ?? "")
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => !/^\s*#/.test(line));
}

/** The index of the first step whose `run` script has a line matching `re`, or -1. */
export function runIndex(job: Job, re: RegExp): number {
  return steps(job).findIndex((s) => scriptLines(s).some((line) => re.test(line)));
}

/** Every string in a parsed YAML value, with its path. */
export function strings(value: unknown, at = ""): Array<[string, string]> {
  if (typeof value === "string") return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [
      ...strings(k, `${at}.${k}(key)`),
      ...strings(v, `${at}.${k}`),
    ]);
  }
  return [];
}

export function environmentOf(job: Job): string | undefined {
  const env = job.environment;
  return typeof env === "string" ? env : env?.name;
}

/** A `uses:` of an action, without its ref. */
export function actionOf(step: Step): string | undefined {
  return step.uses?.split("@")[0];
}

export const PULUMI_ACTION = "pulumi/actions";

/** The pulumi/actions steps that run `command` (every one when `command` is undefined). */
export function pulumiSteps(job: Job, command?: string): Step[] {
  return steps(job).filter(
    (s) =>
      actionOf(s) === PULUMI_ACTION &&
      (command === undefined ? s.with?.command !== undefined : s.with?.command === command),
  );
}

/** A script line that runs the Pulumi CLI. */
export const PULUMI_CLI = /^\s*pulumi\s+\S/;

/** The index of the first step that runs Pulumi (the action with a command, or the CLI), or -1. */
export function firstPulumiUse(job: Job): number {
  return steps(job).findIndex(
    (s) =>
      (actionOf(s) === PULUMI_ACTION && s.with?.command !== undefined) ||
      scriptLines(s).some((l) => PULUMI_CLI.test(l)),
  );
}

/**
 * The stacks a job runs Pulumi `command` on, as written: pulumi/actions' stack-name (its matrix
 * expanded), and the `--stack` of the CLI's lines, `$STACK` replaced by the step's or job's env.
 */
export function stacksOf(job: Job, command: string): string[] {
  const stacks: string[] = [];
  for (const step of pulumiSteps(job, command)) {
    const name = String(step.with?.["stack-name"] ?? "");
    const values = job.strategy?.matrix?.stack;
    if (name.includes("matrix.stack") && Array.isArray(values))
      stacks.push(...values.map((v) => name.replace(/matrix\.stack/g, `'${String(v)}'`)));
    else stacks.push(name);
  }
  const cli = new RegExp(`^\\s*pulumi\\s+${command}\\b`);
  for (const step of steps(job)) {
    for (const line of scriptLines(step).filter((l) => cli.test(l))) {
      const arg = /(?:--stack|-s)[ =]"?([^"\s]+)"?/.exec(line)?.[1] ?? "";
      const variable = /^\$\{?([A-Z_]+)\}?$/.exec(arg)?.[1];
      stacks.push(variable ? String(step.env?.[variable] ?? job.env?.[variable] ?? "") : arg);
    }
  }
  return stacks;
}

/** Whether a stack name, literal or an expression that qualifies it ("org/dev"), names `stack`. */
export function namesStack(name: string, stack: string): boolean {
  return new RegExp(`(^|[/'])${stack}($|')`).test(name);
}

/** The names of the secrets (`secrets.NAME`) in a value. */
export function secretNames(value: unknown): string[] {
  return strings(value).flatMap(([, v]) =>
    [...v.matchAll(/\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]),
  );
}

/** What a step's script did, run by `runWithStandInPulumi`. */
export interface StepRun {
  status: number | null;
  /** The stand-in pulumi's arguments, one call a line. */
  calls: string[];
  out: string;
  /** The step's $RUNNER_TEMP and working directory. */
  temp: string;
  work: string;
}

/**
 * Runs a step's script with bash -e (GitHub's shell on Ubuntu) in `dir`/work, a copy of
 * Pulumi.dev.yaml and the project's node_modules beside it, with a stand-in `pulumi` that logs its
 * arguments, prints `stdout` and exits with `status`.
 */
export function runWithStandInPulumi(
  step: Step,
  dir: string,
  env: Record<string, string>,
  pulumi: { stdout?: string; status?: number } = {},
): StepRun {
  const [work, temp, bin] = ["work", "temp", "bin"].map((d) => path.join(dir, d));
  for (const d of [work, temp, bin]) fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(ROOT, "Pulumi.dev.yaml"), path.join(work, "Pulumi.dev.yaml"));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(work, "node_modules"));
  const log = path.join(dir, "pulumi.log");
  const printed = path.join(dir, "pulumi.stdout");
  fs.writeFileSync(printed, pulumi.stdout ?? "");
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    `#!/bin/sh\necho "$*" >> "${log}"\ncat "${printed}"\nexit ${pulumi.status ?? 0}\n`,
    { mode: 0o755 },
  );
  const result = spawnSync("bash", ["-e", "-c", step.run ?? ""], {
    cwd: work,
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, RUNNER_TEMP: temp, ...env },
    timeout: 30_000,
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
  return { status: result.status, calls, out: `${result.stdout}${result.stderr}`, temp, work };
}

/** The step of deploy.yml's throwaway-stack job whose script has a line matching `re`. */
export function ciStackStep(re: RegExp): Step {
  const deploy = load(path.join(WORKFLOWS, "deploy.yml"));
  const job = Object.values(deploy.jobs).find((j) => runIndex(j, /^\s*pulumi stack init\b/) >= 0);
  assert.ok(job, "deploy.yml has no job that runs pulumi stack init");
  const step = steps(job).find((s) => scriptLines(s).some((l) => re.test(l)));
  assert.ok(step, `no step of the throwaway-stack job runs ${re}`);
  return step;
}
