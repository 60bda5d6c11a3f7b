/**
 * The CI/CD rules of docs/operations/ci-and-deploys.md as pure checks: each takes a parsed
 * workflow (or its text) and returns the problems it finds, one sentence each, [] when none.
 * tests/unit/workflows.test.ts runs them on the real workflows and on broken ones.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  Job,
  PULUMI_ACTION,
  ROOT,
  Workflow,
  actionOf,
  environmentOf,
  firstPulumiUse,
  namesStack,
  scriptLines,
  secretNames,
  steps,
  strings,
} from "./workflows";

/** The token GitHub gives every job; the only secret a step may pass through `with`. */
const GITHUB_TOKEN = "${{ secrets.GITHUB_TOKEN }}";

/** Secrets appear only in a step's env (or as GITHUB_TOKEN in its `with`): never workflow- or job-wide. */
export function secretsOutsideStepEnv(wf: Workflow): string[] {
  const problems: string[] = [];
  for (const [at, value] of strings(wf)) {
    if (!/\bsecrets\s*[.[]/.test(value)) continue;
    const inStepEnv = /^\.jobs\.[^.]+\.steps\[\d+\]\.env\.[A-Za-z_][A-Za-z0-9_]*$/.test(at);
    const tokenInWith =
      /^\.jobs\.[^.]+\.steps\[\d+\]\.with\.[a-z-]+$/.test(at) && value === GITHUB_TOKEN;
    if (!inStepEnv && !tokenInWith) problems.push(`${at}: ${value}`);
  }
  return problems;
}

/** The OIDC credential step of each backend a workflow may use (docs/operations/pulumi-backend.md). */
export const CREDENTIAL_STEPS = [
  {
    backend: "s3://",
    action: "aws-actions/configure-aws-credentials",
    if: "startsWith(vars.PULUMI_BACKEND_URL, 's3://')",
    with: ["role-to-assume", "aws-region"],
  },
  {
    backend: "gs://",
    action: "google-github-actions/auth",
    if: "startsWith(vars.PULUMI_BACKEND_URL, 'gs://')",
    with: ["workload_identity_provider", "service_account"],
  },
  {
    backend: "azblob://",
    action: "azure/login",
    if: "startsWith(vars.PULUMI_BACKEND_URL, 'azblob://')",
    with: ["client-id", "tenant-id", "subscription-id"],
  },
  {
    backend: "Pulumi Cloud",
    action: "pulumi/auth-actions",
    if: "vars.PULUMI_BACKEND_URL == ''",
    with: ["organization", "requested-token-type", "scope"],
  },
] as const;

function credentialSteps(job: Job): number[] {
  return steps(job)
    .map((s, i) => (CREDENTIAL_STEPS.some((c) => c.action === actionOf(s)) ? i : -1))
    .filter((i) => i >= 0);
}

/**
 * Whether a secret can be in the job's environment: a step reads a secret (GITHUB_TOKEN aside),
 * the job runs in a GitHub environment, or it gets cloud credentials.
 */
export function hasSecretsInScope(job: Job): boolean {
  return (
    secretNames(steps(job).map((s) => s.env ?? {})).some((n) => n !== "GITHUB_TOKEN") ||
    environmentOf(job) !== undefined ||
    credentialSteps(job).length > 0
  );
}

/** A script line that installs npm packages (and so may run their install scripts). */
const NPM_INSTALL = /\b(npm\s+(ci|install|i|add|rebuild)|yarn|pnpm)\b/;

/** In a job with secrets in scope, every npm install runs without install scripts. */
export function installScriptProblems(job: Job): string[] {
  if (!hasSecretsInScope(job)) return [];
  return steps(job).flatMap((s) =>
    scriptLines(s)
      .filter((l) => NPM_INSTALL.test(l) && !/^\s*npm ci\b.*\s--ignore-scripts\b/.test(l))
      .map((l) => `runs "${l.trim()}" with secrets in scope: npm ci --ignore-scripts only`),
  );
}

/**
 * Prod secrets (a name with PROD) only in jobs of the environments production and
 * production-preview; the kubeconfig that can write (KUBECONFIG_PROD) only in production; none at
 * all in a workflow that runs for pull requests.
 */
export function prodSecretProblems(job: Job, forPullRequests: boolean): string[] {
  const env = environmentOf(job);
  const names = secretNames(job);
  return names
    .filter((n) => /PROD/.test(n))
    .flatMap((n) => {
      if (forPullRequests) return [`${n} in a workflow that runs for pull requests`];
      if (n === "KUBECONFIG_PROD" && env !== "production")
        return [`${n} outside the environment production (${env ?? "none"})`];
      if (env !== "production" && env !== "production-preview")
        return [`${n} outside the environments production and production-preview`];
      return [];
    });
}

/** Each stack has its own passphrase secret: PULUMI_CONFIG_PASSPHRASE_<STACK> for dev and prod. */
export function passphraseProblems(job: Job): string[] {
  const problems: string[] = [];
  for (const step of steps(job)) {
    const value = step.env?.PULUMI_CONFIG_PASSPHRASE;
    if (value === undefined) continue;
    const stack = String(step.with?.["stack-name"] ?? "");
    const expected = ["dev", "prod"].find((s) => namesStack(stack, s));
    if (!expected) problems.push(`a passphrase for "${stack}", which is neither dev nor prod`);
    else if (value !== `\${{ secrets.PULUMI_CONFIG_PASSPHRASE_${expected.toUpperCase()} }}`)
      problems.push(`${expected}'s passphrase is ${String(value)}`);
  }
  return problems;
}

/** `owner/repo[/path]@<40 hex> # v1[.2[.3]]`: an action pinned by commit, its tag beside it. */
const PINNED =
  /^\s*(?:-\s+)?uses:\s+([\w.-]+\/[\w./-]+)@([0-9a-f]{40})\s+#\s+(v\d+(?:\.\d+){0,2})\s*$/;

/** Every action of a workflow's text pinned by commit SHA with its tag in a comment. */
export function pinProblems(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => /^\s*(-\s+)?uses:/.test(line) && !/uses:\s+\.\//.test(line))
    .filter((line) => !PINNED.test(line))
    .map((line) => `not pinned by a commit SHA with its tag in a comment: ${line.trim()}`);
}

/** Each action's commit and tag, as the workflows pin them ("action" → "sha # tag"). */
export function pins(text: string): Array<[string, string]> {
  return text.split("\n").flatMap((line) => {
    const m = PINNED.exec(line);
    return m ? [[m[1], `${m[2]} # ${m[3]}`] as [string, string]] : [];
  });
}

const EXACT_VERSION = /^\d+\.\d+\.\d+$/;

/** The Pulumi CLI version a pulumi/actions step installs, or a problem. */
export function pulumiVersionOf(with_: Record<string, unknown> | undefined): string | Error {
  const version = with_?.["pulumi-version"];
  const file = with_?.["pulumi-version-file"];
  if ((version === undefined) === (file === undefined))
    return new Error("exactly one of pulumi-version and pulumi-version-file");
  if (version !== undefined)
    return EXACT_VERSION.test(String(version))
      ? String(version)
      : new Error(`pulumi-version ${String(version)} is not an exact version`);
  const full = path.join(ROOT, String(file));
  if (!fs.existsSync(full)) return new Error(`pulumi-version-file ${String(file)} does not exist`);
  const content = fs.readFileSync(full, "utf8").trim();
  return EXACT_VERSION.test(content)
    ? content
    : new Error(`${String(file)} holds "${content}", not an exact version`);
}

/**
 * The Pulumi CLI is installed by pulumi/actions at an exact version before any step runs it, and
 * nothing else installs it.
 */
export function pulumiCliProblems(job: Job): string[] {
  const problems: string[] = [];
  const install = steps(job).findIndex((s) => actionOf(s) === PULUMI_ACTION);
  const first = firstPulumiUse(job);
  if (first >= 0 && (install < 0 || install > first))
    problems.push("runs pulumi before pulumi/actions installs it");
  steps(job).forEach((s, i) => {
    if (actionOf(s) === PULUMI_ACTION) {
      const v = pulumiVersionOf(s.with);
      if (v instanceof Error) problems.push(`step ${i}: ${v.message}`);
    }
    for (const l of scriptLines(s))
      if (/get\.pulumi\.com|pulumi\/pulumi\/releases|brew install pulumi/.test(l))
        problems.push(`step ${i} installs the Pulumi CLI itself: ${l.trim()}`);
  });
  return problems;
}

/**
 * A job that runs Pulumi has every backend's OIDC step (each only for its backend, with its OIDC
 * inputs and nothing else: no key, no secret), after npm ci and before Pulumi runs, followed by no
 * other action than Pulumi's; and `id-token: write` exactly when it has them.
 */
export function credentialProblems(job: Job): string[] {
  const problems: string[] = [];
  const first = firstPulumiUse(job);
  const ci = steps(job).findIndex((s) => scriptLines(s).some((l) => /^\s*npm ci\b/.test(l)));
  const found = credentialSteps(job);
  if (first >= 0) {
    for (const c of CREDENTIAL_STEPS) {
      const at = steps(job).findIndex((s) => actionOf(s) === c.action);
      const step = steps(job)[at];
      if (!step) {
        problems.push(`no credentials step for ${c.backend} (${c.action})`);
        continue;
      }
      if (step.if !== c.if) problems.push(`${c.action}: if is ${step.if}, not ${c.if}`);
      const keys = Object.keys(step.with ?? {}).sort();
      if (keys.join() !== [...c.with].sort().join())
        problems.push(`${c.action}: with ${keys.join(", ")}, not ${c.with.join(", ")}`);
      if (secretNames(step).length > 0) problems.push(`${c.action} reads a secret: OIDC only`);
      if (!(ci < at && at < first)) problems.push(`${c.action} is not between npm ci and Pulumi`);
    }
  }
  // The credentials stay in the job's environment for the steps after them: only Pulumi's action
  // and this repository's scripts may follow.
  if (found.length > 0)
    steps(job)
      .slice(found[0])
      .forEach((s, i) => {
        const action = actionOf(s);
        if (
          action &&
          action !== PULUMI_ACTION &&
          !CREDENTIAL_STEPS.some((c) => c.action === action)
        )
          problems.push(`${action} runs after the credentials (step ${found[0] + i})`);
      });
  const perms = job.permissions;
  const idToken = typeof perms === "object" && perms["id-token"] === "write";
  if (idToken !== found.length > 0)
    problems.push(`id-token: write ${idToken ? "without" : "missing for"} credentials steps`);
  return problems;
}
