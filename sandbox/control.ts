import * as fs from "node:fs";
import * as net from "node:net";
import * as readline from "node:readline";
import { RecreateEvent, RecreateOptions, RecreateResult } from "./recreate";

/**
 * A pods-mode sandbox's control socket: how a drill in another process asks the sandbox, which
 * owns the pods and restarts their processes, to delete and recreate one. A Unix socket, 0600, in
 * the network's root-only pin directory (listed in processes.json); one request per connection,
 * a JSON line, answered by JSON lines: each event of the recreation, then the result or an error.
 */

export interface RecreateRequest extends RecreateOptions {
  readonly op: "recreate-pod";
  readonly pod: string;
}

type Reply =
  | { readonly event: RecreateEvent }
  | { readonly result: RecreateResult }
  | { readonly error: string };

export type Recreate = (
  name: string,
  options: RecreateOptions,
  onEvent: (e: RecreateEvent) => void,
) => Promise<RecreateResult>;

/** Serves recreation requests on `socketPath`, one at a time. */
export function serveControl(socketPath: string, recreate: Recreate): net.Server {
  fs.rmSync(socketPath, { force: true });
  let busy = false;
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    const send = (reply: Reply) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
    };
    readline.createInterface({ input: socket }).once("line", (line) => {
      void (async () => {
        try {
          const request = JSON.parse(line) as RecreateRequest;
          if (request.op !== "recreate-pod") throw new Error(`unknown op ${String(request.op)}`);
          if (busy) throw new Error("another pod is being recreated");
          busy = true;
          try {
            const result = await recreate(
              request.pod,
              { goneMs: request.goneMs, preStop: request.preStop },
              (event) => send({ event }),
            );
            send({ result });
          } finally {
            busy = false;
          }
        } catch (err) {
          send({ error: (err as Error).message });
        }
        socket.end();
      })();
    });
  });
  server.listen(socketPath, () => fs.chmodSync(socketPath, 0o600));
  server.unref();
  return server;
}

/** Asks the sandbox behind `socketPath` to recreate a pod; resolves with the result. */
export function requestRecreate(
  socketPath: string,
  request: Omit<RecreateRequest, "op">,
  onEvent: (e: RecreateEvent) => void = () => undefined,
): Promise<RecreateResult> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let settled = false;
    const settle = (err: Error | undefined, result?: RecreateResult) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    socket.once("error", (err) =>
      settle(new Error(`the sandbox's control socket ${socketPath}: ${err.message}`)),
    );
    socket.once("connect", () =>
      socket.write(`${JSON.stringify({ op: "recreate-pod", ...request })}\n`),
    );
    readline.createInterface({ input: socket }).on("line", (line) => {
      const reply = JSON.parse(line) as Reply;
      if ("event" in reply) onEvent(reply.event);
      else if ("result" in reply) settle(undefined, reply.result);
      else settle(new Error(reply.error));
    });
    socket.once("close", () => settle(new Error("the sandbox closed the control socket")));
  });
}
