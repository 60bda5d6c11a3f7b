import { strict as assert } from "node:assert";
import { PLATFORM_DATABASES } from "../helpers/config";
import { buildReport, formatReport } from "../../ops/monitor";
import { parseInfo } from "../../sandbox/clients";
import { ConnectionInfo } from "../../render/connection";

const INFO = [
  "# Replication",
  "role:master",
  "connected_slaves:2",
  "# Memory",
  "used_memory:10485760",
  "maxmemory:402653184",
  "mem_fragmentation_ratio:1.25",
  "# Stats",
  "evicted_keys:3",
  "expired_keys:7",
  "keyspace_hits:75",
  "keyspace_misses:25",
  "instantaneous_ops_per_sec:120",
  "rejected_connections:0",
  "# Clients",
  "connected_clients:12",
  "blocked_clients:1",
  "# Commandstats",
  "cmdstat_get:calls=500,usec=1000,usec_per_call=2.00,rejected_calls=0,failed_calls=0",
  "cmdstat_set:calls=900,usec=2700,usec_per_call=3.00,rejected_calls=0,failed_calls=0",
  "# Keyspace",
  "db0:keys=42,expires=40,avg_ttl=3000",
  "db5:keys=8,expires=8,avg_ttl=100",
].join("\r\n");

const CONNECTION = {
  databases: PLATFORM_DATABASES,
} as unknown as ConnectionInfo;

describe("monitor report: INFO and SLOWLOG turned into the operator's view", () => {
  it("parses INFO fields", () => {
    assert.equal(parseInfo(INFO).role, "master");
    assert.equal(parseInfo(INFO).db0, "keys=42,expires=40,avg_ttl=3000");
  });

  it("reports memory, clients, hit ratio, keys per purpose, top commands and the slow log", () => {
    const report = buildReport(INFO, [[7, 1700000000, 15000, ["KEYS", "*"]]], CONNECTION);
    assert.deepEqual(report.memory, {
      used: 10485760,
      max: 402653184,
      fragmentation: 1.25,
      evictedKeys: 3,
    });
    assert.deepEqual(report.clients, { connected: 12, blocked: 1, rejected: 0 });
    assert.equal(report.ops.hitRatio, 0.75);
    assert.equal(report.replicas, 2);
    assert.equal(report.keys["sessions (db 0)"], 42);
    assert.equal(report.keys["queryCache (db 5)"], 8);
    assert.equal(report.keys["flowCache (db 1)"], 0);
    assert.deepEqual(
      report.commands.map((c) => c.command),
      ["set", "get"],
    );
    assert.deepEqual(report.slowlog, [{ id: 7, at: 1700000000, micros: 15000, command: "KEYS *" }]);
    const text = formatReport(report);
    assert.match(text, /^memory 10\.0 MB of 384\.0 MB \(fragmentation 1\.25\), evicted keys 3$/m);
    assert.match(text, /^ {2}#7 15000 us {2}KEYS \*$/m);
  });

  it("has no hit ratio before any lookup", () => {
    assert.equal(buildReport("role:master", [], CONNECTION).ops.hitRatio, null);
  });
});
