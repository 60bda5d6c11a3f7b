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
): Promise<{ readonly open: () => number; close: () => void }> {
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
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

/** The most memory a process has held resident since it started (VmHWM), in bytes. */
export function peakResidentBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
