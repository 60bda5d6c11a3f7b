import Redis from "ioredis";
import { ioredisOptions } from "../render/client-options";
import { ConnectionInfo } from "../render/connection";
import { directClient } from "./clients";
import { Sandbox } from "./sandbox";

/** The port of the node one sentinel names master. */
export async function masterPortNamedBy(
  connection: ConnectionInfo,
  sentinel: { readonly host: string; readonly port: number },
): Promise<number> {
  const client = directClient(sentinel.host, sentinel.port, {
    username: connection.sentinelUser?.username,
    password: connection.sentinelUser?.password,
  });
  try {
    await client.connect();
    const [, port] = (await client.call(
      "SENTINEL",
      "GET-MASTER-ADDR-BY-NAME",
      connection.masterName,
    )) as string[];
    return Number(port);
  } finally {
    client.disconnect();
  }
}

/** The port of the node the sentinels name master (the first that answers). */
export async function currentMasterPort(connection: ConnectionInfo): Promise<number> {
  for (const sentinel of connection.sentinels) {
    try {
      return await masterPortNamedBy(connection, sentinel);
    } catch {
      // ask the next sentinel
    }
  }
  throw new Error("no sentinel answered");
}

export interface FailoverResult {
  /** Port of the master that was killed. */
  readonly killedPort: number;
  /** Port of the master afterwards. */
  readonly newMasterPort: number;
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
  const killedPort = await currentMasterPort(connection);
  const node = sandbox.nodes.find((n) => n.port === killedPort);
  if (!node) throw new Error(`no sandbox node on port ${killedPort}`);

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
    return {
      killedPort,
      newMasterPort: await currentMasterPort(connection),
      outageMs: recoveredAt - killedAt,
      acknowledged: acknowledged.length,
      lost,
    };
  } finally {
    client.disconnect();
  }
}
