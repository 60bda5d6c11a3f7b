import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis, { RedisOptions } from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import { ConnectionInfo } from "../../render/connection";
import { currentMasterPort } from "../../sandbox/drills/failover";
import { Sandbox, startSandbox } from "../../sandbox/sandbox";
import { SandboxProcess } from "../../sandbox/process-list";
import { PROD, resolve } from "../helpers/config";
import { directClient } from "../helpers/platform";
import { freeBasePort } from "../helpers/ports";
import { waitFor } from "../helpers/wait";

/** A command with sentinels frozen must settle within this; it is also how long the contrast waits. */
const SETTLE_BOUND_MS = 3_000;
/** After SIGCONT the same client must serve commands again within this. */
const RECOVERY_BOUND_MS = 10_000;

interface Outcome<T> {
  readonly settled: boolean;
  readonly value?: T;
  readonly error?: Error;
  /** From the call to settling, or to giving up. */
  readonly ms: number;
}

/** How `promise` ends within `ms`, measured from `since`; `settled: false` when it has not. */
async function outcomeWithin<T>(
  promise: Promise<T>,
  ms: number,
  since = Date.now(),
): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((r) => {
    timer = setTimeout(() => r("pending"), Math.max(0, since + ms - Date.now()));
  });
  try {
    const result = await Promise.race([
      promise.then(
        (value) => ({ settled: true, value }),
        (error: Error) => ({ settled: true, error }),
      ),
      pending.then(() => ({ settled: false })),
    ]);
    return { ...result, ms: Date.now() - since };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves with the time of the next `event` on `emitter` that passes `accept`; rejects after
 * `timeoutMs`. (events.once would reject on ioredis's "error" events, which are expected here.)
 */
function nextEvent<A extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  timeoutMs: number,
  accept: (...args: A) => boolean = () => true,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!accept(...(args as A))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(Date.now());
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

/** The scheduler state of a process: "T" when stopped. */
function processState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
}

function pidOf(sandbox: Sandbox, p: SandboxProcess): number {
  const pid = sandbox.supervisor.pid(p.name);
  assert.ok(pid, `${p.name} is running`);
  return pid;
}

/** Freezes the processes (the kernel still accepts their connections; nothing answers). */
async function freeze(pids: readonly number[]): Promise<void> {
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  // The signal is delivered asynchronously.
  for (const pid of pids)
    await waitFor(
      `process ${pid} stopped`,
      () => (processState(pid) === "T" ? true : undefined),
      2_000,
      5,
    );
}

function thaw(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // already gone: nothing left to continue
    }
  }
}

/** A sentinel client with ioredis's defaults: no timeouts, default retries (docs/connecting.md). */
function untimedOptions(connection: ConnectionInfo): RedisOptions {
  return {
    sentinels: connection.sentinels.map(({ host, port }) => ({ host, port })),
    name: connection.masterName,
    sentinelUsername: connection.sentinelUser?.username,
    sentinelPassword: connection.sentinelUser?.password,
    username: connection.users.app.username,
    password: connection.users.app.password,
    maxRetriesPerRequest: 3,
    lazyConnect: true,
  };
}

function quietClient(options: RedisOptions): Redis {
  const client = new Redis(options);
  client.on("error", () => undefined);
  return client;
}

describe("client settings of the connection contract: ioredis never hangs on frozen sentinels (prod stack, real processes)", function () {
  let dir: string;
  let sandbox: Sandbox | undefined;
  let connection: ConnectionInfo;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-timeouts-"));
    sandbox = await startSandbox(resolve(PROD, "prod"), { dir, basePort: await freeBasePort(3) });
    connection = sandbox.connection;
  });

  after(async () => {
    await sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("serves the app user through the sentinels; commandTimeout also cuts a longer blocking command", async () => {
    const { client: settings } = connection;
    assert.ok(settings.commandTimeoutMs + 500 <= SETTLE_BOUND_MS);
    const client = quietClient(ioredisOptions(connection, "app", connection.databases.flowCache));
    try {
      await client.connect();
      assert.equal(await client.ping(), "PONG");
      await client.set("timeouts:ping", "1");
      assert.equal(await client.get("timeouts:ping"), "1");
      // Why a connection for blocking commands must not carry commandTimeout.
      const blpop = await outcomeWithin(
        client.blpop("timeouts:empty-queue", (settings.commandTimeoutMs + 1000) / 1000),
        SETTLE_BOUND_MS,
      );
      assert.match(String(blpop.error?.message), /Command timed out/);
      assert.ok(blpop.ms < settings.commandTimeoutMs + 500, `BLPOP settled after ${blpop.ms} ms`);
    } finally {
      client.disconnect();
    }
  });

  it("every sentinel frozen: a command settles within commandTimeout, the same client serves again after SIGCONT; an untimed client's command waits", async () => {
    const { client: settings } = connection;
    const sentinelPids = sandbox!.sentinels.map((s) => pidOf(sandbox!, s));
    const client = quietClient(ioredisOptions(connection, "app"));
    const untimed = quietClient(untimedOptions(connection));
    const admin = directClient(await currentMasterPort(connection), connection.users.admin);
    let untimedGet: Promise<string | null> | undefined;
    try {
      await client.connect();
      await untimed.connect();
      await admin.connect();
      await client.set("timeouts:key", "before");

      let readyAgain: Promise<number> | undefined;
      let killedAt = 0;
      try {
        await freeze(sentinelPids);
        // Both clients lose their connection to the master and must ask the sentinels again.
        const reconnecting = [client, untimed].map((c) => nextEvent(c, "reconnecting", 2_000));
        // One "sentinelError" per sentinel that did not answer a lookup; one "error" per round
        // in which none did.
        const unanswered: number[] = [];
        const roundsFailed: number[] = [];
        client.on("sentinelError", () => unanswered.push(Date.now()));
        client.on("error", (e: Error) => {
          if (/All sentinels are unreachable/.test(e.message)) roundsFailed.push(Date.now());
        });
        killedAt = Date.now();
        assert.ok(((await admin.call("CLIENT", "KILL", "USER", "app")) as number) >= 2);
        await Promise.all(reconnecting);

        const start = Date.now();
        untimedGet = untimed.get("timeouts:key");
        untimedGet.catch(() => undefined);
        const ours = await outcomeWithin(client.get("timeouts:key"), SETTLE_BOUND_MS, start);
        assert.ok(
          ours.settled,
          `a command with every sentinel frozen still pending after ${ours.ms} ms`,
        );
        assert.match(String(ours.error?.message), /Command timed out/);
        assert.ok(ours.ms >= settings.commandTimeoutMs - 50, `settled early: ${ours.ms} ms`);
        const theirs = await outcomeWithin(untimedGet, SETTLE_BOUND_MS, start);
        assert.equal(theirs.settled, false, "the untimed client's command settled");
        assert.notEqual(untimed.status, "ready");

        // Each sentinel asked gets sentinelCommandTimeout, so every lookup round is bounded. (A
        // reconnection resumes after the sentinel that answered last: the first round may ask
        // fewer than all; the next rounds ask every sentinel.)
        assert.ok(
          roundsFailed.length >= 1,
          "no lookup round failed while the sentinels were frozen",
        );
        const rounds = roundsFailed.map((end, i) => {
          const begin = i === 0 ? killedAt : roundsFailed[i - 1];
          const asked = unanswered.filter((t) => t > begin && t <= end).length;
          return { asked, ms: end - begin };
        });
        for (const { asked, ms } of rounds) {
          assert.ok(asked >= 1 && asked <= connection.sentinels.length, `${asked} sentinels asked`);
          // + the reconnection delay before the round and the time to give up on a sentinel
          assert.ok(
            ms < asked * settings.sentinelCommandTimeoutMs! + 300,
            `a lookup round over ${asked} sentinels took ${ms} ms`,
          );
        }
        console.log(
          `      every sentinel frozen: GET settled in ${ours.ms} ms (${ours.error?.message}); ` +
            `lookup rounds failed after ${rounds.map((r) => `${r.ms} ms (${r.asked} sentinels)`).join(", ")}; ` +
            `the untimed client's GET still pending after ${theirs.ms} ms`,
        );
        readyAgain = nextEvent(client, "ready", RECOVERY_BOUND_MS);
        readyAgain.catch(() => undefined);
      } finally {
        thaw(sentinelPids);
      }
      const thawedAt = Date.now();
      const readyAt = await readyAgain;
      assert.equal(await client.get("timeouts:key"), "before");
      const servedAt = Date.now();
      // The untimed client's GET was waiting on the frozen sentinel: it completes only now.
      const theirs = await outcomeWithin(untimedGet!, RECOVERY_BOUND_MS);
      assert.equal(theirs.value, "before");
      console.log(
        `      after SIGCONT: ready in ${readyAt - thawedAt} ms, serving in ${servedAt - thawedAt} ms; ` +
          `the untimed client's GET returned ${Date.now() - killedAt} ms after the kill (the whole freeze)`,
      );
    } finally {
      client.disconnect();
      untimed.disconnect();
      admin.disconnect();
    }
  });

  it("one sentinel frozen: the client asks the next one after sentinelCommandTimeout; without it a client stays on the frozen one", async () => {
    const { client: settings } = connection;
    const first = sandbox!.sentinels.find((s) => s.port === connection.sentinels[0].port)!;
    const pid = pidOf(sandbox!, first);
    const ours = quietClient(ioredisOptions(connection, "app"));
    const without = quietClient({
      ...ioredisOptions(connection, "app"),
      sentinelCommandTimeout: undefined,
    });
    let withoutConnect: Promise<void> | undefined;
    try {
      try {
        await freeze([pid]);
        const start = Date.now();
        withoutConnect = without.connect();
        withoutConnect.catch(() => undefined);
        const withoutGet = without.get("timeouts:key");
        withoutGet.catch(() => undefined);
        const connected = await outcomeWithin(ours.connect(), SETTLE_BOUND_MS, start);
        assert.ok(connected.settled && !connected.error, `connect: ${connected.error?.message}`);
        assert.ok(
          connected.ms < settings.sentinelCommandTimeoutMs! + 1_000,
          `ready after ${connected.ms} ms`,
        );
        assert.equal(await ours.ping(), "PONG");
        // Its commands are bounded by commandTimeout, but the client never gets past the lookup.
        const get = await outcomeWithin(withoutGet, SETTLE_BOUND_MS, start);
        assert.match(String(get.error?.message), /Command timed out/);
        const stuck = await outcomeWithin(withoutConnect, SETTLE_BOUND_MS, start);
        assert.equal(stuck.settled, false, "connect without sentinelCommandTimeout settled");
        console.log(
          `      one sentinel frozen: ready in ${connected.ms} ms; without sentinelCommandTimeout ` +
            `still connecting after ${stuck.ms} ms (its GET: "${get.error?.message}" after ${get.ms} ms)`,
        );
      } finally {
        thaw([pid]);
      }
      // Once the sentinel answers, the stuck lookup completes.
      const late = await outcomeWithin(withoutConnect, RECOVERY_BOUND_MS);
      assert.ok(late.settled && !late.error, `late connect: ${late.error?.message ?? "pending"}`);
    } finally {
      ours.disconnect();
      without.disconnect();
    }
  });
});
