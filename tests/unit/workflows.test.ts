import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
/** action-validator's command line: checks a workflow against GitHub's workflow schema. */
const VALIDATOR = path.join(
  path.dirname(require.resolve("@action-validator/cli/package.json")),
  "cli.mjs",
);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

interface Job {
  name?: string;
  uses?: string;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean | string };
  permissions?: string | Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  env?: Record<string, unknown>;
  steps?: Step[];
}

interface Workflow {
  on: string | string[] | Record<string, { branches?: string[] } | null>;
  permissions?: string | Record<string, string>;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

/** A job as it runs for an event: a called workflow's jobs stand in for the job that calls it. */
interface RunJob {
  /** "<file>:<job>", with ">" and the called workflow's job after a call. */
  id: string;
  job: Job;
  /** Every job this one waits for, directly or through others. */
  after: Set<string>;
  /** The workflow-level permissions that apply when the job sets none. */
  defaultPermissions: Workflow["permissions"];
}

function workflowFiles(): string[] {
  return fs
    .readdirSync(WORKFLOWS)
    .filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"))
    .sort()
    .map((f) => path.join(WORKFLOWS, f));
}

function load(file: string): Workflow {
  return parse(fs.readFileSync(file, "utf8")) as Workflow;
}

/** Runs action-validator on `file`. */
function validate(file: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [VALIDATOR, file], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The workflow's events, each with its filter (null when it has none). */
function triggers(wf: Workflow): Record<string, { branches?: string[] } | null> {
  if (typeof wf.on === "string") return { [wf.on]: null };
  if (Array.isArray(wf.on)) return Object.fromEntries(wf.on.map((e) => [e, null]));
  return wf.on;
}

function runsOn(wf: Workflow, event: string, branch?: string): boolean {
  const on = triggers(wf);
  if (!(event in on)) return false;
  const branches = on[event]?.branches;
  return branch === undefined || branches === undefined || branches.includes(branch);
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * Every job that runs on `event` (on `branch` for a push), called workflows expanded: a job that
 * needs a calling job waits for every job of the called workflow.
 */
function jobsOn(event: string, branch?: string): RunJob[] {
  const out: RunJob[] = [];
  for (const file of workflowFiles()) {
    const wf = load(file);
    if (!runsOn(wf, event, branch)) continue;
    const name = path.basename(file);
    // Each job of this workflow, as the ids that stand for it.
    const ids = new Map<string, string[]>();
    const expanded: Array<{
      id: string;
      job: Job;
      needs: string[];
      perms: Workflow["permissions"];
    }> = [];
    for (const [key, job] of Object.entries(wf.jobs)) {
      if (job.uses?.startsWith("./.github/workflows/")) {
        const called = load(path.join(ROOT, job.uses));
        assert.ok(runsOn(called, "workflow_call"), `${job.uses} is not a reusable workflow`);
        const calledIds: string[] = [];
        for (const [calledKey, calledJob] of Object.entries(called.jobs)) {
          const id = `${name}:${key}>${calledKey}`;
          calledIds.push(id);
          const inner = list(calledJob.needs).map((n) => `${name}:${key}>${n}`);
          expanded.push({
            id,
            job: calledJob,
            needs: [...list(job.needs), ...inner],
            perms: called.permissions ?? job.permissions ?? wf.permissions,
          });
        }
        ids.set(key, calledIds);
      } else {
        ids.set(key, [`${name}:${key}`]);
        expanded.push({ id: `${name}:${key}`, job, needs: list(job.needs), perms: wf.permissions });
      }
    }
    const direct = new Map<string, string[]>();
    for (const e of expanded) {
      direct.set(
        e.id,
        e.needs.flatMap((n) => {
          if (n.includes(">")) return [n];
          const target = ids.get(n);
          assert.ok(target, `${e.id} needs "${n}", which is no job of ${name}`);
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
      out.push({ id: e.id, job: e.job, after: closure(e.id), defaultPermissions: e.perms });
    }
  }
  return out;
}

function steps(job: Job): Step[] {
  return job.steps ?? [];
}

/** The index of the first step whose `run` script has a line matching `re`, or -1. */
function runIndex(job: Job, re: RegExp): number {
  return steps(job).findIndex((s) => (s.run ?? "").split("\n").some((line) => re.test(line)));
}

/** A line of a shell script (continued lines joined) that installs system packages. */
const INSTALLS = /\bapt-get\b|install-system-packages\.sh/;

function installLines(script: string): string[] {
  return script
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => INSTALLS.test(line) && !/^\s*#/.test(line));
}

/**
 * What the install lines of `script` ask apt-get, in order ("update", "install -y … <packages>"):
 * the lines run in the project's root with `apt-get` (and `sudo`) replaced by stubs that only log.
 */
function aptCalls(script: string, dir: string): string[] {
  const lines = installLines(script);
  for (const line of lines)
    assert.doesNotMatch(line, /\/apt-get\b/, `apt-get by its path: ${line}`);
  const bin = fs.mkdtempSync(path.join(dir, "stubs-"));
  const log = path.join(bin, "apt.log");
  fs.writeFileSync(path.join(bin, "apt-get"), `#!/bin/sh\necho "$*" >> "${log}"\n`, {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(bin, "sudo"), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
  const result = spawnSync("sh", ["-ec", lines.join("\n")], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    timeout: 30_000,
  });
  assert.equal(result.status, 0, `${lines.join("\n")}\n${result.stdout}${result.stderr}`);
  return fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
}

/** The packages of the `apt-get install` calls, after an `apt-get update`. */
function aptPackages(calls: string[]): string[] {
  const update = calls.indexOf("update");
  const installs = calls.filter((c) => c.startsWith("install "));
  assert.ok(installs.length > 0, `no apt-get install: ${calls.join("; ")}`);
  for (const c of installs) {
    assert.ok(update >= 0 && update < calls.indexOf(c), `apt-get update does not come first: ${c}`);
    assert.match(c, /^install -y --no-install-recommends /);
  }
  return installs.flatMap((c) =>
    c
      .split(/\s+/)
      .slice(1)
      .filter((w) => !w.startsWith("-")),
  );
}

/** The step that runs the unit tier. */
const UNIT_TIER = /^\s*npm run test:unit\b/;

/** The Node major a job sets up (actions/setup-node's node-version). */
function nodeOf(job: Job): number {
  const setup = steps(job).find((s) => s.uses?.startsWith("actions/setup-node@"));
  assert.ok(setup, "no actions/setup-node step");
  return Number(setup.with?.["node-version"]);
}

const PULUMI_ACTION = /^pulumi\/actions@v\d+$/;

/** The stacks a pulumi/actions step runs `command` on, its matrix expanded. */
function pulumiStacks(job: Job, command: string): string[] {
  const stacks: string[] = [];
  for (const step of steps(job)) {
    if (!step.uses || !PULUMI_ACTION.test(step.uses) || step.with?.command !== command) continue;
    const name = String(step.with["stack-name"] ?? "");
    if (name.includes("matrix.stack")) {
      const values = job.strategy?.matrix?.stack;
      assert.ok(
        Array.isArray(values),
        "stack-name uses matrix.stack, but the matrix has no stack list",
      );
      stacks.push(...values.map(String));
    } else {
      // A literal name, or a qualified one ("org/dev") chosen by an expression.
      stacks.push(...["dev", "prod"].filter((s) => new RegExp(`(^|[/'])${s}($|')`).test(name)));
    }
  }
  return stacks;
}

function pulumiSteps(job: Job, command: string): Step[] {
  return steps(job).filter(
    (s) => s.uses && PULUMI_ACTION.test(s.uses) && s.with?.command === command,
  );
}

/** Every string in a parsed YAML value, with its path. */
function strings(value: unknown, at = ""): Array<[string, string]> {
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

describe("GitHub workflows: action-validator checks every workflow against GitHub's schema", () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-workflows-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("there are workflows to check", () => {
    assert.ok(workflowFiles().length > 0, `no workflow in ${WORKFLOWS}`);
  });

  for (const file of workflowFiles()) {
    it(`${path.basename(file)} passes`, function () {
      this.timeout(60_000);
      const { status, output } = validate(file);
      assert.equal(status, 0, output);
    });
  }

  it("fails a broken workflow: a job without runs-on, a misspelt steps, a timeout that is no number", function () {
    this.timeout(60_000);
    const broken = path.join(dir, "broken.yml");
    fs.writeFileSync(
      broken,
      [
        "name: Broken",
        "on:",
        "  pull_request:",
        "jobs:",
        "  test:",
        "    timeout-minutes: soon",
        "    step:",
        "      - run: npm test",
        "",
      ].join("\n"),
    );
    const { status, output } = validate(broken);
    assert.equal(status, 1, output);
    assert.match(output, /Additional property 'step' is not allowed/);
    assert.match(output, /\/jobs\/test\/runs-on/);
    assert.match(output, /\/jobs\/test\/timeout-minutes/);
  });

  it("passes a minimal valid workflow (the broken one is refused for its errors, not for its form)", function () {
    this.timeout(60_000);
    const ok = path.join(dir, "ok.yml");
    fs.writeFileSync(
      ok,
      [
        "name: Ok",
        "on:",
        "  pull_request:",
        "jobs:",
        "  test:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - run: npm test",
        "",
      ].join("\n"),
    );
    const { status, output } = validate(ok);
    assert.equal(status, 0, output);
  });
});

describe("GitHub workflows: pull requests run the tests, render, and preview both stacks", () => {
  const jobs = jobsOn("pull_request");
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-workflows-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const testJobs = jobs.filter((j) => runIndex(j.job, /^\s*npx mocha\b|^\s*npm test\b/) >= 0);
  const unitJobs = jobs.filter((j) => runIndex(j.job, UNIT_TIER) >= 0);

  it("a job installs the system packages, runs npm ci, the lint and the tests, in that order", () => {
    assert.equal(testJobs.length, 1, `test jobs: ${testJobs.map((j) => j.id).join(", ")}`);
    const job = testJobs[0].job;
    const install = runIndex(job, INSTALLS);
    const ci = runIndex(job, /^\s*npm ci\b/);
    const lint = runIndex(job, /^\s*npm run lint\b|^\s*npm test\b/);
    const tests = runIndex(job, /^\s*npx mocha\b|^\s*npm test\b/);
    for (const [what, i] of Object.entries({ install, ci, lint, tests })) {
      assert.ok(i >= 0, `no step runs ${what}`);
    }
    assert.ok(install < ci && ci < tests && ci <= lint && lint <= tests, "steps out of order");
  });

  it("apt-get installs exactly the packages of .ci/run, redis-server and redis-sentinel among them", () => {
    const ciRun = aptPackages(
      aptCalls(fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8"), dir),
    );
    // shellcheck: npm run lint checks the rendered scripts with it.
    for (const p of [
      "redis-server",
      "redis-sentinel",
      "redis-tools",
      "busybox-static",
      "shellcheck",
    ]) {
      assert.ok(ciRun.includes(p), `.ci/run does not install ${p}: ${ciRun.join(" ")}`);
    }
    const script = steps(testJobs[0].job)
      .map((s) => s.run ?? "")
      .join("\n");
    assert.deepEqual(aptPackages(aptCalls(script, dir)), ciRun);
  });

  it("the whole suite on Node 24; the unit tier on Node 22 after the same install and npm ci; npm's cache", () => {
    assert.deepEqual(nodeOf(testJobs[0].job), 24);
    assert.equal(unitJobs.length, 1, `unit jobs: ${unitJobs.map((j) => j.id).join(", ")}`);
    const unit = unitJobs[0].job;
    assert.equal(nodeOf(unit), 22);
    const [install, ci, tier] = [INSTALLS, /^\s*npm ci\b/, UNIT_TIER].map((re) =>
      runIndex(unit, re),
    );
    assert.ok(install >= 0 && install < ci && ci < tier, "unit job: install, npm ci, test:unit");
    for (const job of [testJobs[0].job, unit]) {
      const setup = steps(job).find((s) => s.uses?.startsWith("actions/setup-node@"));
      assert.equal(setup?.with?.cache, "npm");
      assert.ok(steps(job)[0].uses?.startsWith("actions/checkout@"), "checkout is the first step");
    }
  });

  it("renders the prod stack's files", () => {
    assert.ok(
      jobs.some((j) => runIndex(j.job, /npm run render -- --stack prod --out \S+/) >= 0),
      "no job runs npm run render -- --stack prod --out DIR",
    );
  });

  it("previews dev and prod after the tests, commenting on the pull request", () => {
    const previews = jobs.filter((j) => pulumiStacks(j.job, "preview").length > 0);
    assert.deepEqual(previews.flatMap((j) => pulumiStacks(j.job, "preview")).sort(), [
      "dev",
      "prod",
    ]);
    for (const p of previews) {
      assert.ok(
        testJobs.every((t) => p.after.has(t.id)),
        `${p.id} does not wait for the tests (${[...p.after].join(", ")})`,
      );
      assert.ok(
        unitJobs.every((t) => p.after.has(t.id)),
        `${p.id} does not wait for the unit tier`,
      );
      for (const step of pulumiSteps(p.job, "preview")) {
        assert.equal(step.with?.["comment-on-pr"], true);
        assert.equal(step.with?.["github-token"], "${{ secrets.GITHUB_TOKEN }}");
        assert.equal(step.with?.["work-dir"], ".");
      }
    }
  });

  it("permissions: contents read; pull-requests write only for the jobs that comment", () => {
    for (const j of jobs) {
      const perms = j.job.permissions ?? j.defaultPermissions;
      assert.ok(perms && typeof perms === "object", `${j.id} has no explicit permissions`);
      assert.equal(perms.contents, "read", j.id);
      const writes = Object.entries(perms).filter(([, v]) => v === "write");
      const comments = pulumiSteps(j.job, "preview").some(
        (s) => s.with?.["comment-on-pr"] === true,
      );
      assert.deepEqual(writes, comments ? [["pull-requests", "write"]] : [], j.id);
    }
  });
});

describe("GitHub workflows: a push to main tests, then deploys dev, then prod in a protected environment", () => {
  const jobs = jobsOn("push", "main");
  const testJobs = jobs.filter((j) => runIndex(j.job, /^\s*npx mocha\b|^\s*npm test\b/) >= 0);
  const unitJobs = jobs.filter((j) => runIndex(j.job, UNIT_TIER) >= 0);
  const up = (stack: string) => jobs.filter((j) => pulumiStacks(j.job, "up").includes(stack));

  it("runs the whole suite on Node 24 and the unit tier on Node 22", () => {
    assert.equal(testJobs.length, 1);
    assert.equal(nodeOf(testJobs[0].job), 24);
    assert.equal(unitJobs.length, 1);
    assert.equal(nodeOf(unitJobs[0].job), 22);
  });

  it("up dev after the tests; up prod after dev, in the environment production", () => {
    const [dev, prod] = [up("dev"), up("prod")];
    assert.equal(dev.length, 1, "one job deploys dev");
    assert.equal(prod.length, 1, "one job deploys prod");
    assert.notEqual(dev[0].id, prod[0].id, "dev and prod deploy in separate jobs");
    for (const j of [...dev, ...prod]) {
      assert.ok(
        [...testJobs, ...unitJobs].every((t) => j.after.has(t.id)),
        `${j.id} does not wait for the tests`,
      );
    }
    assert.ok(prod[0].after.has(dev[0].id), "prod does not wait for dev");
    const env = prod[0].job.environment;
    assert.equal(typeof env === "string" ? env : env?.name, "production");
    assert.equal(dev[0].job.environment, undefined, "dev needs no approval");
  });

  it("permissions: contents read, nothing written", () => {
    for (const j of jobs) {
      const perms = j.job.permissions ?? j.defaultPermissions;
      assert.deepEqual(perms, { contents: "read" }, j.id);
    }
  });

  it("two deploys of one stack never overlap: a concurrency group per stack, never cancelled", () => {
    const groups = ["dev", "prod"].map((stack) => {
      const c = up(stack)[0].job.concurrency;
      assert.ok(c && typeof c === "object", `the ${stack} deploy has no concurrency`);
      assert.equal(c["cancel-in-progress"], false, `a running ${stack} deploy is never cancelled`);
      assert.ok(!c.group.includes("${{"), `the ${stack} group is the same for every run`);
      return c.group;
    });
    assert.notEqual(groups[0], groups[1]);
  });

  it("the prod job writes KUBECONFIG_PROD to a file of mode 600 under $RUNNER_TEMP and exports KUBECONFIG", () => {
    const job = up("prod")[0].job;
    const i = steps(job).findIndex((s) => s.env?.KUBECONFIG_PROD !== undefined);
    assert.ok(i >= 0, "no step reads the secret KUBECONFIG_PROD");
    const run = steps(job)[i].run ?? "";
    assert.match(run, /chmod 600 "\$RUNNER_TEMP\/[^"]+"/);
    assert.match(run, /KUBECONFIG=\$RUNNER_TEMP\/\S+" >> "\$GITHUB_ENV"/);
    const pulumi = steps(job).findIndex((s) => s.uses && PULUMI_ACTION.test(s.uses));
    assert.ok(i < pulumi, "the kubeconfig is written before pulumi up");
  });
});

describe("GitHub workflows: credentials come only from repository secrets", () => {
  const files = workflowFiles();
  const SECRETS = [
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "KUBECONFIG_PROD",
  ];
  const TOKEN_LIKE = [
    /pul-[0-9a-f]{40}/, // Pulumi access token
    /gh[pousr]_[A-Za-z0-9]{30,}/, // GitHub token
    /github_pat_[A-Za-z0-9_]{30,}/,
    /AKIA[0-9A-Z]{16}/, // AWS access key
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    /(client-key-data|client-certificate-data|certificate-authority-data|token):\s*[A-Za-z0-9+/=._-]{16,}/,
    /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./, // a JWT
  ];

  for (const file of files) {
    const name = path.basename(file);
    const text = fs.readFileSync(file, "utf8");
    const wf = load(file);

    it(`${name}: no literal token, key or kubeconfig`, () => {
      for (const re of TOKEN_LIKE) assert.doesNotMatch(text, re);
    });

    it(`${name}: every env or with value named like a credential is exactly \${{ secrets.* }}`, () => {
      const credential = /token|passphrase|password|secret|kubeconfig_prod|backend_url|private/i;
      const blocks: Array<[string, Record<string, unknown> | undefined]> = [["env", wf.env]];
      for (const [id, job] of Object.entries(wf.jobs)) {
        blocks.push([`${id}.env`, job.env]);
        steps(job).forEach((s, i) => {
          blocks.push([`${id}.steps[${i}].env`, s.env], [`${id}.steps[${i}].with`, s.with]);
        });
      }
      for (const [at, block] of blocks) {
        for (const [key, value] of Object.entries(block ?? {})) {
          if (!credential.test(key)) continue;
          assert.match(
            String(value),
            /^\$\{\{ secrets\.[A-Za-z_][A-Za-z0-9_]* \}\}$/,
            `${at}.${key}`,
          );
        }
      }
      for (const secret of SECRETS) {
        for (const [at, value] of strings(wf)) {
          if (at.endsWith(`.${secret}`)) assert.equal(value, `\${{ secrets.${secret} }}`, at);
        }
      }
    });

    it(`${name}: secrets reach a script only through env, and no script prints one`, () => {
      for (const [at, value] of strings(wf)) {
        if (/secrets\./.test(value)) {
          assert.doesNotMatch(at, /\.run$/, `${at} expands a secret into the script`);
          assert.match(value, /\$\{\{[^}]*secrets\.[^}]*\}\}/, `${at}: secrets outside \${{ }}`);
        }
        if (at.endsWith(".run")) {
          // A line may test a secret for emptiness; any other use must write it to a file.
          for (const secret of SECRETS) {
            const use = new RegExp(`\\$\\{?${secret}\\b`);
            const test = new RegExp(`\\[ -[zn] "\\$\\{?${secret}\\}?" \\]`, "g");
            for (const line of value.split("\n")) {
              const rest = line.replace(test, "");
              if (use.test(rest))
                assert.match(rest, /> "\$RUNNER_TEMP\/[^"]+"\s*$/, `${at}: ${line}`);
            }
          }
          assert.doesNotMatch(value, /set -x|cat "?\$RUNNER_TEMP\/kubeconfig/, at);
        }
      }
    });
  }
});
