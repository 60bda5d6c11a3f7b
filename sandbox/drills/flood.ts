/**
 * Hostile clients for the benchmarks and tests: floods of unread replies and of connections, and
 * the peak memory of a process, to show what the client limits hold.
 */
import * as fs from "node:fs";
import * as net from "node:net";

/** A command in Redis's wire protocol (RESP). */
export function resp(args: readonly string[]): Buffer {
  return Buffer.from(
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`,
  );
}

export interface FloodResult {
  /** Whether the server closed the connection before the bound. */
  readonly droppedByServer: boolean;
  readonly commandsSent: number;
  readonly ms: number;
}

/**
 * A client that sends `command` over and over and never reads a reply, as an attacker pipelining
 * cheap commands with expensive answers does: the replies pile up in the server's memory unless
 * the server drops the client. Authenticates first when `auth` is given (user, password); stops
 * when the server closes the connection, or after `boundMs` or `maxCommands`.
 */
export function floodUnread(
  port: number,
  auth: readonly [string, string] | undefined,
  command: readonly string[],
  boundMs = 5000,
  maxCommands = 2_000_000,
): Promise<FloodResult> {
  const batch = 500;
  const chunk = Buffer.concat(Array.from({ length: batch }, () => resp(command)));
  const started = Date.now();
  return new Promise((resolve) => {
    let sent = 0;
    let done = false;
    const socket = net.connect(port, "127.0.0.1");
    const finish = (droppedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ droppedByServer, commandsSent: sent, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), boundMs);
    socket.on("error", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("connect", () => {
      // Never read: the kernel's receive buffer fills, then the server's output buffer.
      socket.pause();
      if (auth) socket.write(resp(["AUTH", ...auth]));
      const send = () => {
        while (!done && sent < maxCommands) {
          sent += batch;
          if (!socket.write(chunk)) {
            socket.once("drain", send);
            return;
          }
        }
        if (sent >= maxCommands) finish(false);
      };
      send();
    });
  });
}

/**
 * Opens `count` plain TCP connections to a port and keeps them open (no password needed), as a
 * connection flood does; `close` ends them all. Resolves once each has connected or failed.
 */
export async function openConnections(
  port: number,
  count: number,
): Promise<{ readonly open: () => number; readonly sockets: net.Socket[]; close: () => void }> {
  const sockets: net.Socket[] = [];
  const alive = new Set<net.Socket>();
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect(port, "127.0.0.1");
          sockets.push(s);
          s.on("connect", () => {
            alive.add(s);
            resolve();
          });
          s.on("error", () => resolve());
          s.on("close", () => {
            alive.delete(s);
            resolve();
          });
        }),
    ),
  );
  return {
    open: () => alive.size,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * What a server answers a connection when every client slot is taken (before any command): its
 * greeting to a connection it refuses, or nothing within `waitMs` when it took the connection.
 */
function greeting(port: number, waitMs: number): Promise<{ text: string; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    const done = () => resolve({ text, socket });
    const timer = setTimeout(done, waitMs);
    socket.on("data", (d) => (text += d.toString()));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      done();
    });
  });
}

/**
 * Takes every client slot of a server with connections that send nothing (no password needed):
 * `count` at once, then more until a new connection is refused with "max number of clients
 * reached". The kernel completes a connection before the server accepts it, so connections that
 * seem open are not yet slots taken; the server's own refusal says the slots are. Bounded by
 * `timeoutMs`.
 */
export async function fillClientSlots(
  port: number,
  count: number,
  timeoutMs = 30_000,
): Promise<{ close: () => void }> {
  const flood = await openConnections(port, count);
  const extra: net.Socket[] = [];
  const close = () => {
    flood.close();
    for (const s of extra) s.destroy();
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { text, socket } = await greeting(port, 500);
    if (/max number of clients reached/.test(text)) {
      socket.destroy();
      return { close };
    }
    // Taken: it holds a slot too. Add more behind it.
    extra.push(socket, ...(await openConnections(port, 50)).sockets);
  }
  close();
  throw new Error(`the client slots of port ${port} were not all taken within ${timeoutMs} ms`);
}

/** The most memory a process has held resident since it started (VmHWM), in bytes. */
export function peakResidentBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
