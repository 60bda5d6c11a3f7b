import * as net from "node:net";

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

let next = 20000 + Math.floor(Math.random() * 4000) * 5;

/**
 * A base port whose `count` ports, and the sentinel ports 20000 above them, are all free on
 * 127.0.0.1. Successive calls never hand out the same range.
 */
export async function freeBasePort(count = 6): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = next;
    next += count + 5;
    if (next > 45000) next = 20000;
    const ports = Array.from({ length: count }, (_, i) => [base + i, base + i + 20000]).flat();
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error("no free port range on 127.0.0.1");
}
