import * as net from "node:net";

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

// Below the kernel's ephemeral range (32768 and up on Linux), sentinel ports (base + 20000)
// included: an outgoing connection never takes a port a test or bench sandbox is about to listen on.
const FIRST = 10000;
const LAST = 12700;
let next = FIRST + Math.floor(Math.random() * 500) * 5;

/**
 * A base port whose `count` ports, and the sentinel ports 20000 above them, are all free on
 * 127.0.0.1. Successive calls never hand out the same range.
 */
export async function freeBasePort(count = 6): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = next;
    next += count + 5;
    if (next > LAST) next = FIRST;
    // And Commander's: commanderPort (8081) shifted as far as the base is from 7001.
    const ports = [
      ...Array.from({ length: count }, (_, i) => [base + i, base + i + 20000]).flat(),
      base + 1080,
    ];
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error("no free port range on 127.0.0.1");
}
