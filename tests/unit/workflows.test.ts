import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
  CREDENTIAL_STEPS,
  credentialProblems,
  hasSecretsInScope,
  installScriptProblems,
  passphraseProblems,
  pinProblems,
  pins,
  prodSecretProblems,
  pulumiCliProblems,
  pulumiVersionOf,
  secretsOutsideStepEnv,
} from "../helpers/workflow-checks";
import {
  Job,
  ROOT,
  RunJob,
  Step,
  WORKFLOWS,
  Workflow,
  ciStackStep,
  actionOf,
  environmentOf,
  jobsOn,
  load,
  namesStack,
  pulumiSteps,
  runIndex,
  runWithStandInPulumi,
  runsOn,
  stacksOf,
  steps,
  strings,
  workflowFiles,
} from "../helpers/workflows";

/** action-validator's command line: checks a workflow against GitHub's workflow schema. */
const VALIDATOR = path.join(
  path.dirname(require.resolve("@action-validator/cli/package.json")),
  "cli.mjs",
);

/** Runs action-validator on `file`. */
function validate(file: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [VALIDATOR, file], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
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
  const setup = steps(job).find((s) => actionOf(s) === "actions/setup-node");
  assert.ok(setup, "no actions/setup-node step");
  return Number(setup.with?.["node-version"]);
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

describe("GitHub workflows: pull requests run the tests, render both stacks, and preview dev", () => {
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

  it("renders the prod stack's files, with no secret in scope", () => {
    const render = jobs.filter(
      (j) => runIndex(j.job, /npm run render -- --stack prod --out \S+/) >= 0,
    );
    assert.equal(render.length, 1, "one job runs npm run render -- --stack prod --out DIR");
    assert.equal(hasSecretsInScope(render[0].job), false);
  });

  it("previews dev only, after the tests, commenting on the pull request", () => {
    const previews = jobs.filter((j) => stacksOf(j.job, "preview").length > 0);
    const stacks = previews.flatMap((j) => stacksOf(j.job, "preview"));
    assert.equal(stacks.length, 1, stacks.join(", "));
    assert.ok(namesStack(stacks[0], "dev"), stacks[0]);
    for (const p of previews) {
      for (const t of [...testJobs, ...unitJobs])
        assert.ok(p.after.has(t.id), `${p.id} does not wait for ${t.id}`);
      for (const step of pulumiSteps(p.job, "preview")) {
        assert.equal(step.with?.["comment-on-pr"], true);
        assert.equal(step.with?.["github-token"], "${{ secrets.GITHUB_TOKEN }}");
        assert.equal(step.with?.["work-dir"], ".");
      }
      assert.match(String(p.job.if), /head\.repo\.full_name == github\.repository/);
      assert.match(String(p.job.if), /github\.actor != 'dependabot\[bot\]'/);
    }
  });

  it("no job of a pull request runs Pulumi on prod, runs up or destroy, or uses an environment", () => {
    for (const j of jobs) {
      for (const command of ["preview", "up", "destroy", "refresh"]) {
        const prod = stacksOf(j.job, command).filter((s) => namesStack(s, "prod"));
        assert.deepEqual(prod, [], `${j.id} runs ${command} on prod`);
      }
      assert.deepEqual([...stacksOf(j.job, "up"), ...stacksOf(j.job, "destroy")], [], j.id);
      assert.equal(environmentOf(j.job), undefined, `${j.id} runs in an environment`);
    }
  });

  it("permissions: contents read; pull-requests write only for the jobs that comment", () => {
    for (const j of jobs) {
      const perms = j.job.permissions ?? j.defaultPermissions;
      assert.ok(perms && typeof perms === "object", `${j.id} has no explicit permissions`);
      assert.equal(perms.contents, "read", j.id);
      const comments = pulumiSteps(j.job).some((s) => s.with?.["comment-on-pr"] === true);
      assert.equal(perms["pull-requests"], comments ? "write" : undefined, j.id);
    }
  });
});

describe("GitHub workflows: a push to main tests, applies a throwaway stack, previews prod, then deploys the previewed commit", () => {
  const jobs = jobsOn("push", "main");
  const testJobs = jobs.filter((j) => runIndex(j.job, /^\s*npx mocha\b|^\s*npm test\b/) >= 0);
  const unitJobs = jobs.filter((j) => runIndex(j.job, UNIT_TIER) >= 0);
  const running = (command: string, stack: string) =>
    jobs.filter((j) => stacksOf(j.job, command).some((s) => namesStack(s, stack)));
  const ephemeral = jobs.filter((j) =>
    stacksOf(j.job, "up").some(
      (s) => /ci-/.test(s) && /github\.run_id/.test(s) && /github\.run_attempt/.test(s),
    ),
  );

  it("runs the whole suite on Node 24 and the unit tier on Node 22", () => {
    assert.equal(testJobs.length, 1);
    assert.equal(nodeOf(testJobs[0].job), 24);
    assert.equal(unitJobs.length, 1);
    assert.equal(nodeOf(unitJobs[0].job), 22);
  });

  it("never runs up, destroy or refresh on the developers' dev stack", () => {
    for (const command of ["up", "destroy", "refresh"])
      assert.deepEqual(running(command, "dev"), [], `${command} on dev`);
  });

  it("up on a stack of its own, ci-<run id>-<attempt>, after the tests: created, smoke-tested, then destroyed and removed whatever happened", () => {
    assert.equal(ephemeral.length, 1, "one job runs up on a ci-<run id>-<attempt> stack");
    const { job, after } = ephemeral[0];
    for (const t of [...testJobs, ...unitJobs]) assert.ok(after.has(t.id), `waits for ${t.id}`);
    const init = runIndex(job, /^\s*pulumi stack init "\$STACK" /);
    const up = runIndex(job, /^\s*pulumi up\b.*--stack "\$STACK"/);
    const smoke = runIndex(job, /^\s*pulumi stack output connection\b.*--stack "\$STACK"/);
    const destroy = runIndex(job, /^\s*pulumi destroy\b.*--stack "\$STACK"/);
    const rm = runIndex(job, /^\s*pulumi stack rm\b.*--stack "\$STACK"/);
    assert.ok(
      0 <= init && init < up && up < smoke && smoke < destroy,
      `${init} ${up} ${smoke} ${destroy}`,
    );
    assert.equal(rm, destroy, "destroy and stack rm in one step");
    assert.equal(steps(job)[destroy].if, "always()");
    assert.equal(job.concurrency, undefined, "each run has its own stack: nothing to queue behind");
  });

  it("preview of prod in production-preview after the tests, in the job summary; up of prod in production after it and after the throwaway stack, both of github.sha", () => {
    const previews = running("preview", "prod");
    const ups = running("up", "prod");
    assert.equal(previews.length, 1, "one job previews prod");
    assert.equal(ups.length, 1, "one job deploys prod");
    const [preview, up] = [previews[0], ups[0]];
    assert.equal(environmentOf(preview.job), "production-preview");
    assert.equal(environmentOf(up.job), "production");
    assert.ok(up.after.has(preview.id), `${up.id} does not wait for ${preview.id}`);
    assert.ok(up.after.has(ephemeral[0].id), `${up.id} does not wait for the throwaway stack`);
    for (const t of [...testJobs, ...unitJobs]) assert.ok(preview.after.has(t.id), t.id);
    for (const j of [preview, up]) {
      const checkout = steps(j.job).find((s) => actionOf(s) === "actions/checkout");
      assert.equal(checkout?.with?.ref, "${{ github.sha }}", `${j.id} checks out github.sha`);
      assert.equal(checkout?.with?.["persist-credentials"], false, j.id);
      for (const s of pulumiSteps(j.job)) assert.equal(s.with?.["comment-on-summary"], true, j.id);
    }
    assert.deepEqual(stacksOf(preview.job, "up"), [], "the preview job changes nothing");
    assert.equal(pulumiSteps(preview.job, "preview").length, 1);
  });

  it("permissions: contents read; id-token write only where a backend's credentials are fetched", () => {
    for (const j of jobs) {
      const perms = j.job.permissions ?? j.defaultPermissions;
      assert.ok(perms && typeof perms === "object", `${j.id} has no explicit permissions`);
      const oidc = steps(j.job).some((s) => CREDENTIAL_STEPS.some((c) => c.action === actionOf(s)));
      assert.deepEqual(
        perms,
        oidc ? { contents: "read", "id-token": "write" } : { contents: "read" },
        j.id,
      );
    }
  });

  it("two deploys of prod never overlap: one concurrency group, never cancelled", () => {
    const c = running("up", "prod")[0].job.concurrency;
    assert.ok(c && typeof c === "object", "the prod deploy has no concurrency");
    assert.equal(c["cancel-in-progress"], false, "a running prod deploy is never cancelled");
    assert.ok(!c.group.includes("${{"), "the group is the same for every run");
  });

  for (const [stack, secret] of [
    ["preview", "KUBECONFIG_PROD_PREVIEW"],
    ["up", "KUBECONFIG_PROD"],
  ] as const) {
    it(`the prod ${stack} job writes ${secret} to a file of mode 600 under $RUNNER_TEMP, exports KUBECONFIG and removes the file whatever happened`, () => {
      const job = running(stack, "prod")[0].job;
      const i = steps(job).findIndex((s) => s.env?.[secret] !== undefined);
      assert.ok(i >= 0, `no step reads the secret ${secret}`);
      const run = steps(job)[i].run ?? "";
      assert.match(run, /chmod 600 "\$RUNNER_TEMP\/kubeconfig"/);
      assert.match(run, /KUBECONFIG=\$RUNNER_TEMP\/kubeconfig" >> "\$GITHUB_ENV"/);
      const pulumi = steps(job).findIndex((s) => pulumiSteps({ steps: [s] }).length > 0);
      assert.ok(i < pulumi, "the kubeconfig is written before pulumi runs");
      const rm = runIndex(job, /^\s*rm -f "\$RUNNER_TEMP\/kubeconfig"/);
      assert.ok(rm > pulumi && steps(job)[rm].if === "always()", "the kubeconfig is removed");
    });
  }
});

describe("GitHub workflows: secrets only on the steps that use them, never near install scripts", () => {
  for (const file of workflowFiles()) {
    const name = path.basename(file);
    const wf = load(file);
    const forPullRequests = runsOn(wf, "pull_request") || runsOn(wf, "pull_request_target");

    it(`${name}: no secret in the workflow's or a job's env, nor anywhere but a step's env`, () => {
      assert.deepEqual(secretsOutsideStepEnv(wf), []);
      for (const [key, job] of Object.entries(wf.jobs))
        assert.equal(job.secrets, undefined, `${key} passes secrets to a called workflow`);
      assert.ok(!runsOn(wf, "pull_request_target"), "pull_request_target runs with secrets");
    });

    it(`${name}: npm ci --ignore-scripts in every job with a secret in scope`, () => {
      for (const [key, job] of Object.entries(wf.jobs))
        assert.deepEqual(installScriptProblems(job), [], key);
    });

    it(`${name}: prod secrets only in the production environments${forPullRequests ? " (none here: it runs for pull requests)" : ""}`, () => {
      for (const [key, job] of Object.entries(wf.jobs))
        assert.deepEqual(prodSecretProblems(job, forPullRequests), [], key);
    });

    it(`${name}: each stack's own passphrase`, () => {
      for (const [key, job] of Object.entries(wf.jobs))
        assert.deepEqual(passphraseProblems(job), [], key);
    });
  }

  it("the secret-bearing jobs are the Pulumi jobs, each with a secret in scope (the checks above are not vacuous)", () => {
    const pulumiJobs = [...jobsOn("pull_request"), ...jobsOn("push", "main")].filter(
      (j) => pulumiSteps(j.job).length > 0 || runIndex(j.job, /^\s*pulumi\s/) >= 0,
    );
    assert.equal(pulumiJobs.length, 4, pulumiJobs.map((j) => j.id).join(", "));
    for (const j of pulumiJobs) assert.ok(hasSecretsInScope(j.job), j.id);
  });

  it("the checks catch a secret in a workflow's or job's env, a plain npm ci beside a secret, a prod secret in a preview of a pull request, one passphrase for both stacks", () => {
    const step = (s: Step): Job => ({ steps: [s] });
    const bad: Workflow = {
      on: "push",
      env: { T: "${{ secrets.PULUMI_ACCESS_TOKEN }}" },
      jobs: { j: { env: { P: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" }, steps: [] } },
    };
    assert.deepEqual(
      secretsOutsideStepEnv(bad).map((p) => p.split(":")[0]),
      [".env.T", ".jobs.j.env.P"],
    );
    const job: Job = {
      steps: [
        { run: "npm ci --no-audit" },
        {
          uses: "pulumi/actions@x",
          env: { PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" },
          with: { "stack-name": "prod" },
        },
      ],
    };
    assert.equal(installScriptProblems(job).length, 1);
    assert.deepEqual(installScriptProblems(step({ run: "npm ci --ignore-scripts" })), []);
    assert.equal(
      installScriptProblems({ environment: "production", steps: [{ run: "npm install x" }] })
        .length,
      1,
    );
    assert.deepEqual(passphraseProblems(job), [
      "prod's passphrase is ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
    ]);
    const kube = step({ env: { K: "${{ secrets.KUBECONFIG_PROD }}" } });
    assert.equal(prodSecretProblems(kube, true).length, 1);
    assert.equal(
      prodSecretProblems({ ...kube, environment: "production-preview" }, false).length,
      1,
    );
    assert.deepEqual(prodSecretProblems({ ...kube, environment: "production" }, false), []);
    assert.equal(prodSecretProblems({ ...kube, environment: "production" }, true).length, 1);
  });
});

describe("GitHub workflows: install scripts, skipped by npm ci --ignore-scripts, are not needed", () => {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { hasInstallScript?: boolean; optional?: boolean }>;
  };
  /** Every package with an install script, and why the Pulumi jobs do without it. */
  const REVIEWED: Record<string, string> = {
    "node_modules/@pulumi/kubernetes":
      "installs the resource plugin, which the Pulumi CLI installs itself from the package's pulumi.resource",
    "node_modules/bcrypt":
      "builds a native module of redis-commander's optional dependency; Commander falls back to bcryptjs",
    "node_modules/protobufjs": "only warns about version schemes of the packages that depend on it",
    "node_modules/redis-commander": "only prints that errors of bcrypt can be ignored",
  };

  it("the packages with an install script are exactly the reviewed ones (a new one needs a review)", () => {
    const found = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([k]) => k)
      .sort();
    assert.deepEqual(found, Object.keys(REVIEWED).sort());
  });

  it("@pulumi/* packages with an install script declare their plugin (pulumi.resource) for the CLI", () => {
    for (const key of Object.keys(REVIEWED).filter((k) => k.includes("@pulumi/"))) {
      const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, key, "package.json"), "utf8")) as {
        version: string;
        pulumi?: { resource?: boolean; version?: string };
      };
      assert.equal(pkg.pulumi?.resource, true, key);
      assert.equal(pkg.pulumi?.version, pkg.version, key);
    }
  });

  /** The packages (bare specifiers) the modules reachable from `entry` import. */
  function packagesImportedFrom(entry: string): Set<string> {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(file, "utf8");
      const specifiers = [...text.matchAll(/(?:from|import|require)\s*\(?\s*"([^"]+)"/g)].map(
        (m) => m[1],
      );
      for (const spec of specifiers) {
        if (!spec.startsWith(".")) {
          packages.add(
            spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0],
          );
          continue;
        }
        const base = path.resolve(path.dirname(file), spec);
        const found = [`${base}.ts`, path.join(base, "index.ts")].find((f) => fs.existsSync(f));
        assert.ok(found, `${file} imports ${spec}, which is no TypeScript file`);
        visit(found);
      }
    };
    visit(entry);
    return packages;
  }

  it("the Pulumi program loads neither bcrypt nor redis-commander (it hashes with bcryptjs)", () => {
    const packages = packagesImportedFrom(path.join(ROOT, "index.ts"));
    assert.ok(packages.has("@pulumi/pulumi") && packages.has("bcryptjs"), [...packages].join(" "));
    assert.ok(!packages.has("bcrypt") && !packages.has("redis-commander"), [...packages].join(" "));
  });

  it("bcrypt is optional and redis-commander falls back to bcryptjs", () => {
    assert.equal(lock.packages["node_modules/bcrypt"].optional, true);
    const app = fs.readFileSync(path.join(ROOT, "node_modules/redis-commander/lib/app.js"), "utf8");
    assert.match(
      app,
      /bcrypt = require\('bcrypt'\);\s*\} catch[^{]*\{\s*bcrypt = require\('bcryptjs'\)/,
    );
    assert.ok(require.resolve("bcryptjs"));
  });
});

describe("GitHub workflows: every action pinned by commit, the Pulumi CLI by version", () => {
  const all = workflowFiles().map((f) => [path.basename(f), fs.readFileSync(f, "utf8")] as const);

  for (const [name, text] of all) {
    it(`${name}: every uses: is owner/repo@<40 hex> # <tag>`, () => {
      assert.deepEqual(pinProblems(text), []);
      assert.ok(pins(text).length > 0);
    });
  }

  it("one action, one commit and tag, in every workflow", () => {
    const seen = new Map<string, Set<string>>();
    for (const [, text] of all)
      for (const [action, pin] of pins(text))
        seen.set(action, (seen.get(action) ?? new Set()).add(pin));
    for (const [action, set] of seen)
      assert.equal(set.size, 1, `${action}: ${[...set].join(" | ")}`);
  });

  it("the check refuses a tag, a short SHA, a SHA without its tag, a branch", () => {
    const text = [
      "      - uses: actions/checkout@v7",
      "      - uses: actions/checkout@3d3c42e",
      "        uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
      "      - uses: pulumi/actions@main # v7",
      "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
      "    uses: ./.github/workflows/test.yml",
    ].join("\n");
    assert.equal(pinProblems(text).length, 4);
  });

  for (const file of workflowFiles()) {
    it(`${path.basename(file)}: the Pulumi CLI at an exact version, installed before it runs`, () => {
      for (const [key, job] of Object.entries(load(file).jobs))
        assert.deepEqual(pulumiCliProblems(job), [], key);
    });
  }

  it("the pinned CLI is not older than the @pulumi/pulumi SDK of package-lock.json", () => {
    const cli = pulumiVersionOf({ "pulumi-version-file": ".pulumi.version" });
    assert.ok(!(cli instanceof Error), String(cli));
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
    const sdk: string = lock.packages["node_modules/@pulumi/pulumi"].version;
    const num = (v: string) => v.split(".").map(Number);
    const [a, b] = [num(cli), num(sdk)];
    const cmp = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    assert.ok(cmp >= 0, `CLI ${cli} is older than the SDK ${sdk}`);
  });

  it("the check refuses a range, both inputs, none, and a CLI run before the install", () => {
    assert.ok(pulumiVersionOf({ "pulumi-version": "^3" }) instanceof Error);
    assert.ok(pulumiVersionOf({ "pulumi-version": "3.x" }) instanceof Error);
    assert.ok(pulumiVersionOf({}) instanceof Error);
    assert.ok(
      pulumiVersionOf({
        "pulumi-version": "3.1.0",
        "pulumi-version-file": ".pulumi.version",
      }) instanceof Error,
    );
    assert.equal(pulumiVersionOf({ "pulumi-version": "3.1.0" }), "3.1.0");
    const late: Job = {
      steps: [
        { run: "pulumi up --yes" },
        { uses: "pulumi/actions@x", with: { "pulumi-version": "3.1.0" } },
      ],
    };
    assert.deepEqual(pulumiCliProblems(late), ["runs pulumi before pulumi/actions installs it"]);
    const curl: Job = { steps: [{ run: "curl -fsSL https://get.pulumi.com | sh" }] };
    assert.equal(pulumiCliProblems(curl).length, 1);
  });
});

describe("GitHub workflows: OIDC credentials for each backend the docs list", () => {
  const pulumiJobs: RunJob[] = [...jobsOn("pull_request"), ...jobsOn("push", "main")].filter(
    (j) => pulumiSteps(j.job).length > 0 || runIndex(j.job, /^\s*pulumi\s/) >= 0,
  );

  it("the backends of docs/operations/pulumi-backend.md, file:// aside (a runner's disk is gone after the job), each have a credentials step", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/operations/pulumi-backend.md"), "utf8");
    const selfManaged = /Self-managed:([\s\S]*?)then choose/.exec(doc)?.[1] ?? "";
    const listed = [...new Set([...selfManaged.matchAll(/\b([a-z0-9]+:\/\/)/g)].map((m) => m[1]))]
      .filter((s) => s !== "file://")
      .sort();
    assert.deepEqual(listed, ["azblob://", "gs://", "s3://"]);
    const covered = CREDENTIAL_STEPS.map((c) => c.backend);
    for (const b of [...listed, "Pulumi Cloud"]) assert.ok(covered.includes(b as never), b);
  });

  for (const j of jobsOn("pull_request").concat(jobsOn("push", "main"))) {
    it(`${j.id}: ${pulumiJobs.includes(j) ? "each backend's OIDC step between npm ci and Pulumi, id-token write" : "no credentials, no id-token"}`, () => {
      assert.deepEqual(credentialProblems(j.job), []);
    });
  }

  it("the check catches a missing backend, a static key, a step without its condition, another action after the credentials, id-token without credentials", () => {
    const ok = pulumiJobs[0].job;
    const without = (action: string): Job => ({
      ...ok,
      steps: steps(ok).filter((s) => actionOf(s) !== action),
    });
    assert.deepEqual(credentialProblems(without("azure/login")), [
      "no credentials step for azblob:// (azure/login)",
    ]);
    const keyed: Job = {
      ...ok,
      steps: steps(ok).map((s) =>
        actionOf(s) === "aws-actions/configure-aws-credentials"
          ? {
              ...s,
              if: undefined,
              with: { ...s.with, "aws-secret-access-key": "${{ secrets.AWS_KEY }}" },
            }
          : s,
      ),
    };
    assert.equal(credentialProblems(keyed).length, 3);
    const late: Job = {
      ...ok,
      steps: [...steps(ok), { uses: "actions/upload-artifact@x", with: { path: "." } }],
    };
    assert.deepEqual(credentialProblems(late), [
      `actions/upload-artifact runs after the credentials (step ${steps(ok).length})`,
    ]);
    assert.deepEqual(credentialProblems({ permissions: { "id-token": "write" }, steps: [] }), [
      "id-token: write without credentials steps",
    ]);
  });
});

describe("GitHub workflows: workflow-level permissions and literal credentials", () => {
  const TOKEN_LIKE = [
    /pul-[0-9a-f]{40}/, // Pulumi access token
    /gh[pousr]_[A-Za-z0-9]{30,}/, // GitHub token
    /github_pat_[A-Za-z0-9_]{30,}/,
    /AKIA[0-9A-Z]{16}/, // AWS access key
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    /(client-key-data|client-certificate-data|certificate-authority-data|token):\s*[A-Za-z0-9+/=._-]{16,}/,
    /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./, // a JWT
  ];
  /** The secrets of docs/operations/ci-and-deploys.md, which scripts may only write to a file. */
  const SECRETS = [
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_DEV",
    "PULUMI_CONFIG_PASSPHRASE_PROD",
    "KUBECONFIG_PROD",
    "KUBECONFIG_PROD_PREVIEW",
  ];

  for (const file of workflowFiles()) {
    const name = path.basename(file);
    const text = fs.readFileSync(file, "utf8");
    const wf = load(file);

    it(`${name}: permissions contents: read at the top, and nothing more`, () => {
      assert.deepEqual(wf.permissions, { contents: "read" });
    });

    it(`${name}: no literal token, key or kubeconfig`, () => {
      for (const re of TOKEN_LIKE) assert.doesNotMatch(text, re);
    });

    it(`${name}: every env or with value named like a credential is exactly \${{ secrets.* }}`, () => {
      const credential = /token$|passphrase$|password|secret|kubeconfig_prod|private/i;
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
    });

    it(`${name}: secrets reach a script only through env, and no script prints one`, () => {
      for (const [at, value] of strings(wf)) {
        if (/secrets\./.test(value)) {
          assert.doesNotMatch(at, /\.run$/, `${at} expands a secret into the script`);
          assert.match(value, /\$\{\{[^}]*secrets\.[^}]*\}\}/, `${at}: secrets outside \${{ }}`);
        }
        if (!at.endsWith(".run")) continue;
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
        assert.doesNotMatch(
          value,
          /set -x|cat "?\$RUNNER_TEMP\/(kubeconfig|connection|ci-passphrase)/,
          at,
        );
      }
    });
  }
});

describe("GitHub workflows: every run script passes shellcheck (bash, GitHub's shell on Ubuntu)", () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-workflow-scripts-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const file of workflowFiles()) {
    it(`${path.basename(file)}`, function () {
      this.timeout(60_000);
      const scripts: string[] = [];
      for (const [key, job] of Object.entries(load(file).jobs)) {
        steps(job).forEach((s, i) => {
          if (s.run === undefined) return;
          const script = path.join(dir, `${path.basename(file, ".yml")}-${key}-${i}.sh`);
          fs.writeFileSync(script, `#!/bin/bash\n${s.run}`);
          scripts.push(script);
        });
      }
      assert.ok(scripts.length > 0);
      const result = spawnSync("shellcheck", ["-s", "bash", ...scripts], { encoding: "utf8" });
      assert.equal(result.error, undefined, "shellcheck is not installed");
      assert.equal(result.status, 0, result.stdout);
    });
  }
});

describe("GitHub workflows: the throwaway stack's scripts, run with a stand-in pulumi", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-ci-stack-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = (stack: string) => ({ STACK: stack, GITHUB_RUN_ID: "42" });

  it("Pulumi.dev.yaml holds no secure: value (the throwaway stack could not decrypt it)", () => {
    const text = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    assert.deepEqual(
      strings(parse(text)).filter(([at]) => /\.secure$/.test(at)),
      [],
    );
    assert.doesNotMatch(text, /secure:/);
  });

  for (const stack of ["ci-42", "acme/ci-42"]) {
    it(`creating ${stack}: the dev stack's config and nothing else in Pulumi.ci-42.yaml, a random passphrase in a file of mode 600, stack init with it`, () => {
      const step = ciStackStep(/^\s*pulumi stack init\b/);
      const run = runWithStandInPulumi(step, dir, env(stack));
      assert.equal(run.status, 0, run.out);
      assert.deepEqual(run.calls, [
        `stack init ${stack} --secrets-provider passphrase --non-interactive`,
      ]);
      const written = parse(fs.readFileSync(path.join(run.work, "Pulumi.ci-42.yaml"), "utf8"));
      const dev = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
      assert.deepEqual(written, { config: dev.config });
      const passphrase = path.join(run.temp, "ci-passphrase");
      assert.equal(fs.statSync(passphrase).mode & 0o777, 0o600);
      assert.ok(fs.readFileSync(passphrase, "utf8").trim().length >= 40);
      assert.equal(step.env?.PULUMI_CONFIG_PASSPHRASE_FILE, "${{ runner.temp }}/ci-passphrase");
    });
  }

  it("the destroy step destroys, then removes the stack; with no stack to select, it ends without error", () => {
    const step = ciStackStep(/^\s*pulumi destroy\b/);
    const done = runWithStandInPulumi(step, path.join(dir, "1"), env("ci-42"));
    assert.equal(done.status, 0, done.out);
    assert.deepEqual(
      done.calls.map((c) => c.split(" ").slice(0, 2).join(" ")),
      ["stack select", "destroy --yes", "stack rm"],
    );
    const none = runWithStandInPulumi(step, path.join(dir, "2"), env("ci-42"), { status: 1 });
    assert.equal(none.status, 0, none.out);
    assert.deepEqual(none.calls, ["stack select ci-42 --non-interactive"]);
  });

  it("the smoke test writes the connection to a file of mode 600 under $RUNNER_TEMP, and fails when Redis does not answer", function () {
    this.timeout(30_000);
    // Nothing listens on port 1: the client's connect fails at once.
    const connection = {
      redis: [{ host: "127.0.0.1", port: 1 }],
      users: { app: { username: "app", password: "p" } },
    };
    const step = ciStackStep(/^\s*pulumi stack output connection\b/);
    const run = runWithStandInPulumi(step, dir, env("ci-42"), {
      stdout: JSON.stringify(connection),
    });
    assert.equal(run.status, 1, run.out);
    assert.match(run.out, /ECONNREFUSED|connect/);
    assert.equal(fs.statSync(path.join(run.temp, "connection.json")).mode & 0o777, 0o600);
    assert.deepEqual(run.calls, ["stack output connection --show-secrets --json --stack ci-42"]);
  });
});
