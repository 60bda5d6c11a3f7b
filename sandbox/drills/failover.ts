import Redis, { RedisOptions } from "ioredis";
import { ioredisOptions } from "../../render/client-options";
import { ConnectionInfo, Endpoint } from "../../render/connection";
import { sentinelClient, until } from "../../lib/redis-clients";
import { Sandbox } from "../sandbox";
import { SandboxProcess, nodeAt } from "../process-list";

/** The master one sentinel names: its announced name (or address) and port. */
export async function masterNamedBy(
  connection: ConnectionInfo,
  sentinel: { readonly host: string; readonly port: number },
  options: RedisOptions = {},
): Promise<Endpoint> {
  const client = sentinelClient(connection, sentinel, options);
  try {
    await client.connect();
    const [host, port] = (await client.call(
      "SENTINEL",
      "GET-MASTER-ADDR-BY-NAME",
      connection.masterName,
    )) as string[];
    return { host, port: Number(port) };
  } finally {
    client.disconnect();
  }
}

/** The port of the node one sentinel names master. */
export async function masterPortNamedBy(
  connection: ConnectionInfo,
  sentinel: { readonly host: string; readonly port: number },
): Promise<number> {
  return (await masterNamedBy(connection, sentinel)).port;
}

/**
 * The master the sentinels agree on: a majority of them answer and every answer names the same
 * node. Asked while they disagree (one has not yet heard of the last failover: they learn it from
 * hello messages, every 2 s; or one shows a failover's new epoch with the old address), it asks
 * again until they agree, for at most `timeoutMs`.
 */
export async function currentMaster(
  connection: ConnectionInfo,
  timeoutMs = 20_000,
): Promise<Endpoint> {
  let answers: Array<Endpoint | undefined> = [];
  const agreed = async () => {
    answers = await Promise.all(
      connection.sentinels.map((s) =>
        // a frozen sentinel accepts connections and answers nothing: it has no say
        masterNamedBy(connection, s, { commandTimeout: 2_000 }).catch(() => undefined),
      ),
    );
    const named = answers.filter((a) => a !== undefined);
    const first = named[0];
    if (2 * named.length <= answers.length) return undefined;
    return named.every((a) => a.host === first.host && a.port === first.port) ? first : undefined;
  };
  try {
    return await until("the sentinels agreeing on the master", timeoutMs, agreed);
  } catch (err) {
    const said = answers.map((a) => (a ? `${a.host}:${a.port}` : "no answer")).join(", ");
    throw new Error(`${(err as Error).message} (last answers: ${said})`);
  }
}

/** The port of the node the sentinels name master (loopback mode: each node has its own). */
export async function currentMasterPort(connection: ConnectionInfo): Promise<number> {
  return (await currentMaster(connection)).port;
}

/** The sandbox node the sentinels name master. */
export async function currentMasterNode(sandbox: {
  readonly connection: ConnectionInfo;
  readonly nodes: readonly SandboxProcess[];
}): Promise<SandboxProcess> {
  const at = await currentMaster(sandbox.connection);
  const node = nodeAt(sandbox.nodes, at);
  if (!node) throw new Error(`the sentinels name ${at.host}:${at.port}, no node of the sandbox`);
  return node;
}

export interface FailoverResult {
  /** Port of the master that was killed. */
  readonly killedPort: number;
  /** Port of the master afterwards. */
  readonly newMasterPort: number;
  /** Names of the node killed and of the master afterwards (`redis-1`). */
  readonly killedNode: string;
  readonly newMasterNode: string;
  /** From the kill to the first write acknowledged by WAIT afterwards, as the client saw it. */
  readonly outageMs: number;
  /** Writes acknowledged by a replica (WAIT 1) before, during and after the failover. */
  readonly acknowledged: number;
  /** Acknowledged writes missing afterwards. */
  readonly lost: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A writer sends writes continuously and counts those a replica acknowledged (`WAIT 1`); the
 * master is killed with SIGKILL; once writes are acknowledged again, every acknowledged write is
 * read back from the new master. All waits are bounded by `timeoutMs`.
 */
export async function failoverDrill(
  sandbox: Sandbox,
  options: {
    keyPrefix: string;
    writesBeforeKill?: number;
    writesAfter?: number;
    timeoutMs?: number;
  },
): Promise<FailoverResult> {
  const connection = sandbox.connection;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const node = await currentMasterNode(sandbox);
  const killedPort = node.port;

  const client = new Redis({
    ...ioredisOptions(connection, "app"),
    retryStrategy: () => 50,
    maxRetriesPerRequest: 1,
  });
  client.on("error", () => undefined);
  const acknowledged: string[] = [];
  let killedAt = 0;
  let recoveredAt = 0;
  let afterKill = 0;
  try {
    // ioredis keeps looking the master up while the sentinels answer nothing useful: bound it.
    await Promise.race([
      client.connect(),
      sleep(Math.max(0, deadline - Date.now())).then(() => {
        throw new Error(`failover drill: no connection to the master within ${timeoutMs} ms`);
      }),
    ]);
    for (let i = 0; ; i++) {
      if (Date.now() > deadline)
        throw new Error(`failover drill: writes not acknowledged again within ${timeoutMs} ms`);
      if (killedAt === 0 && acknowledged.length >= (options.writesBeforeKill ?? 50)) {
        sandbox.supervisor.signal(node.name, "SIGKILL");
        killedAt = Date.now();
      }
      const key = `${options.keyPrefix}:${i}`;
      try {
        await client.set(key, String(i));
        const replicas = (await client.call("WAIT", "1", "1000")) as number;
        if (replicas >= 1) {
          acknowledged.push(key);
          if (killedAt > 0) {
            if (recoveredAt === 0) recoveredAt = Date.now();
            if (++afterKill >= (options.writesAfter ?? 50)) break;
          }
        }
      } catch {
        await sleep(20);
      }
    }
    const values = await client.mget(...acknowledged);
    const lost = values.filter((v) => v === null).length;
    const newMaster = await currentMasterNode(sandbox);
    return {
      killedPort,
      newMasterPort: newMaster.port,
      killedNode: node.name,
      newMasterNode: newMaster.name,
      outageMs: recoveredAt - killedAt,
      acknowledged: acknowledged.length,
      lost,
    };
  } finally {
    client.disconnect();
  }
}

export interface AbortedFailover {
  /** From the kill of the master to Sentinel giving up its first attempt (no replica to promote). */
  readonly abortMs: number;
  /** From that abort to the new master Sentinel named on its next attempt. */
  readonly retryMs: number;
  readonly newMasterPort: number;
  readonly newMasterNode: string;
}

/**
 * A failover attempt that aborts, and Sentinel's next one: the master is killed (and stays down)
 * while every replica is frozen (SIGSTOP), so the attempt finds no replica to promote
 * (`-failover-abort-no-good-slave`); the replicas then run again and Sentinel retries after
 * 2 x failover-timeout. The master is started again at the end; it rejoins as a replica.
 */
export async function abortedFailover(
  sandbox: Sandbox,
  options: { timeoutMs?: number } = {},
): Promise<AbortedFailover> {
  const connection = sandbox.connection;
  const timeoutMs = options.timeoutMs ?? 4 * sandbox.config.sentinel.failoverTimeoutMs + 60_000;
  const master = await currentMasterNode(sandbox);
  const replicas = sandbox.nodes.filter((n) => n !== master);
  const events: Array<{ channel: string; at: number; message: string }> = [];
  const subscribers = connection.sentinels.map((s) => {
    const sub = sentinelClient(connection, s);
    sub.on("message", (channel: string, message: string) =>
      events.push({ channel, at: Date.now(), message }),
    );
    return sub;
  });
  const waitEvent = async (channel: string, after: number, within: number) => {
    const deadline = Date.now() + within;
    for (;;) {
      const event = events.find((e) => e.channel === channel && e.at >= after);
      if (event) return event;
      if (Date.now() > deadline) throw new Error(`no ${channel} within ${within} ms`);
      await sleep(50);
    }
  };
  try {
    for (const sub of subscribers) {
      await sub.connect();
      await sub.subscribe("-failover-abort-no-good-slave", "+switch-master");
    }
    const killedAt = Date.now();
    for (const replica of replicas) sandbox.supervisor.signal(replica.name, "SIGSTOP");
    await sandbox.supervisor.pause(master.name, "SIGKILL");
    let abort;
    try {
      abort = await waitEvent("-failover-abort-no-good-slave", killedAt, timeoutMs);
    } finally {
      for (const replica of replicas) sandbox.supervisor.signal(replica.name, "SIGCONT");
    }
    const switched = await waitEvent("+switch-master", abort.at, timeoutMs);
    // "<master name> <old host> <old port> <new host> <new port>"
    const [, , , host, port] = switched.message.split(" ");
    return {
      abortMs: abort.at - killedAt,
      retryMs: switched.at - abort.at,
      newMasterPort: Number(port),
      newMasterNode: nodeAt(sandbox.nodes, { host, port: Number(port) })?.name ?? `${host}:${port}`,
    };
  } finally {
    for (const sub of subscribers) sub.disconnect();
    sandbox.supervisor.resume(master.name);
  }
}
