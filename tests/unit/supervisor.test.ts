import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  DEFAULT_RESTART_POLICY,
  ProcessSpec,
  Supervisor,
  lastMeaningfulLine,
  nextRestart,
} from "../../sandbox/runtime/supervisor";
import { waitFor } from "../helpers/wait";

describe("supervisor: a restart policy for processes that ran, not for ones that never started", () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  let lines: string[];
  let starts: Array<{ name: string; pid: number; at: number }>;

  const spec = (name: string, script: string): ProcessSpec => ({
    name,
    command: "sh",
    args: ["-c", script],
    cwd: dir,
    logFile: path.join(dir, `${name}.log`),
  });
  const make = (restart = {}) =>
    (supervisor = new Supervisor((line) => lines.push(line), {
      restart,
      onStart: (name, pid) => starts.push({ name, pid, at: Date.now() }),
    }));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-supervisor-"));
    lines = [];
    starts = [];
  });
  afterEach(async () => {
    await supervisor?.stopAll();
    supervisor = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("does not restart a process that exits before it was ready, and keeps what its log said", async () => {
    const s = make();
    s.start(
      spec("bad", "echo '*** FATAL CONFIG FILE ERROR ***'; echo 'Bad directive'; echo; exit 3"),
    );
    const status = await s.exited("bad");
    assert.deepEqual(status, { code: 3, signal: null });
    assert.equal(s.state("bad"), "failed", "no restart is pending");
    assert.equal(s.restarts("bad"), 0);
    assert.equal(starts.length, 1);
    const failure = s.startFailure("bad")!;
    assert.equal(failure.logFile, path.join(dir, "bad.log"));
    assert.equal(lastMeaningfulLine(failure.output), "Bad directive");
    assert.deepEqual(lines, ["bad exited during start-up (code 3); not restarting"]);
  });

  it("reports only the failed run's output, not earlier runs' in the same log", async () => {
    fs.writeFileSync(path.join(dir, "bad.log"), "an earlier run said this\n");
    const s = make();
    s.start(spec("bad", "exit 1"));
    await s.exited("bad");
    assert.equal(s.startFailure("bad")!.output, "");
  });

  it("a program that cannot be started at all fails the same way", async () => {
    const s = make();
    s.start({ ...spec("missing", ""), command: path.join(dir, "no-such-program") });
    const status = await s.exited("missing");
    assert.match(status.error ?? "", /ENOENT/);
    assert.equal(s.state("missing"), "failed");
    assert.equal(starts.length, 0);
  });

  it("restarts a process that was ready and died, after the base delay", async () => {
    const s = make({ baseDelayMs: 20 });
    s.start(spec("ok", "exec sleep 60"));
    s.markReady("ok");
    const first = s.pid("ok");
    s.signal("ok", "SIGKILL");
    assert.equal((await s.exited("ok")).signal, "SIGKILL");
    assert.equal(s.state("ok"), "restarting");
    await waitFor("a second start", () => (starts.length === 2 ? true : undefined));
    assert.notEqual(s.pid("ok"), first);
    assert.equal(s.restarts("ok"), 1);
    assert.equal(s.state("ok"), "running");
    assert.match(lines[0], /^ok exited \(SIGKILL\) after \d+ ms; restarting in 20 ms$/);
  });

  it("backs off, doubling up to the cap, while a process keeps dying right after each start", async () => {
    const s = make({ baseDelayMs: 10, maxDelayMs: 80, stableAfterMs: 60_000 });
    s.start(spec("crash", "exit 1"));
    s.markReady("crash");
    await waitFor("six starts", () => (starts.length >= 6 ? true : undefined), 20_000);
    await s.stopAll();
    const delays = lines
      .map((l) => /restarting in (\d+) ms$/.exec(l)?.[1])
      .filter((d): d is string => d !== undefined)
      .map(Number);
    assert.deepEqual(delays.slice(0, 5), [10, 20, 40, 80, 80]);
    // Each start came at least the announced delay after the one before.
    for (let i = 1; i < 6; i++)
      assert.ok(starts[i].at - starts[i - 1].at >= delays[i - 1] - 1, `start ${i}`);
    assert.equal(s.state("crash"), "stopped", "stopAll cancels a pending restart");
  });

  it("the policy: doubling per quick exit, capped, back to the base after a stable run", () => {
    const p = DEFAULT_RESTART_POLICY;
    assert.deepEqual(p, { baseDelayMs: 200, maxDelayMs: 10_000, stableAfterMs: 10_000 });
    let quick = 0;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const next = nextRestart(p, quick, 50);
      delays.push(next.delayMs);
      quick = next.quickExits;
    }
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    assert.deepEqual(nextRestart(p, quick, 10_000), { delayMs: 200, quickExits: 1 });
  });

  it("pause stops a process for good, also while a restart is pending; resume starts it", async () => {
    const s = make({ baseDelayMs: 60_000 });
    s.start(spec("p", "exit 1"));
    s.markReady("p");
    await s.exited("p");
    assert.equal(s.state("p"), "restarting");
    await s.pause("p");
    assert.equal(s.state("p"), "paused");
    s.resume("p");
    assert.equal(starts.length, 2);
  });
});

describe("lastMeaningfulLine: what a failed process's log says last", () => {
  it("strips Redis's log prefix and skips blank lines and banners", () => {
    const log = [
      "1234:M 26 Nov 2026 10:00:00.000 # Warning: Could not create server TCP listening socket 127.0.0.1:7001: bind: Address already in use",
      "1234:M 26 Nov 2026 10:00:00.001 # Failed listening on port 7001 (tcp), aborting.",
      "",
    ].join("\n");
    assert.equal(lastMeaningfulLine(log), "Failed listening on port 7001 (tcp), aborting.");
    assert.equal(lastMeaningfulLine("\n\n"), undefined);
    assert.equal(
      lastMeaningfulLine("sh: 1: exec: redis-server: not found\n"),
      "sh: 1: exec: redis-server: not found",
    );
  });
});
