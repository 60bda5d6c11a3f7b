import { strict as assert } from "node:assert";
import { PLATFORM_DATABASES } from "../helpers/config";
import { SENTINEL_ACL_RULES } from "../../render/acl";
import {
  backupView,
  SentinelReplies,
  buildReport,
  formatReport,
  parseReplicas,
  sentinelView,
} from "../../ops/monitor";
import { parseInfo } from "../../lib/redis-clients";
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

/** SENTINEL MASTER as Redis 7.0 answers it (flat field/value list), with fields overridden. */
function masterReply(over: Record<string, string> = {}): unknown[] {
  const f: Record<string, string> = {
    name: "lowcode-master",
    ip: "localhost",
    port: "7001",
    runid: "b077",
    flags: "master",
    "link-pending-commands": "0",
    "role-reported": "master",
    "role-reported-time": "5770",
    "config-epoch": "0",
    "num-slaves": "2",
    "num-other-sentinels": "2",
    quorum: "2",
    "failover-timeout": "60000",
    ...over,
  };
  return Object.entries(f).flat();
}

const peer = (port: number, flags = "sentinel") => [
  "name",
  `id${port}`,
  "ip",
  "localhost",
  "port",
  String(port),
  "flags",
  flags,
];

const GROUP = {
  topology: "sentinel",
  masterName: "lowcode-master",
  databases: PLATFORM_DATABASES,
} as unknown as ConnectionInfo;

const GROUP_INFO = [
  "# Replication",
  "role:master",
  "connected_slaves:2",
  "slave0:ip=localhost,port=7002,state=online,offset=1000,lag=0",
  "slave1:ip=localhost,port=7003,state=send_bulk,offset=400,lag=3",
  "master_repl_offset:1000",
].join("\r\n");

describe("monitor report of a sentinel group: the master, each sentinel's view, replica lag", () => {
  it("the sentinel-client user may not run SENTINEL CKQUORUM: the quorum is derived instead", () => {
    assert.doesNotMatch(
      SENTINEL_ACL_RULES["sentinel-client"],
      /ckquorum|\+@all|(^|\s)\+sentinel(\s|$)/i,
    );
  });

  it("reads each replica's lag and unacknowledged bytes from the master's slaveN lines", () => {
    assert.deepEqual(parseReplicas(parseInfo(GROUP_INFO)), [
      { address: "localhost:7002", state: "online", lagSeconds: 0, bytesBehind: 0 },
      { address: "localhost:7003", state: "send_bulk", lagSeconds: 3, bytesBehind: 600 },
    ]);
    assert.deepEqual(parseReplicas(parseInfo("role:master\r\nconnected_slaves:0")), []);
  });

  // The table of sentinelIsQuorumReachable (sentinel.c): usable = itself + peers not s_down or
  // o_down; NOQUORUM when usable < quorum; NOAUTH when usable < a majority of known + itself.
  const cases: Array<
    [string, string[], number, { usable: number; reached: boolean; authorized: boolean }]
  > = [
    ["all up", ["sentinel", "sentinel"], 2, { usable: 3, reached: true, authorized: true }],
    [
      "one peer down",
      ["s_down,sentinel", "sentinel"],
      2,
      { usable: 2, reached: true, authorized: true },
    ],
    [
      "two peers down",
      ["s_down,sentinel", "o_down,sentinel"],
      2,
      { usable: 1, reached: false, authorized: false },
    ],
    [
      "quorum 3, one down",
      ["sentinel", "s_down,sentinel"],
      3,
      { usable: 2, reached: false, authorized: true },
    ],
    [
      "disconnected is not down",
      ["disconnected,sentinel", "sentinel"],
      2,
      { usable: 3, reached: true, authorized: true },
    ],
  ];
  for (const [what, flags, quorum, expected] of cases) {
    it(`quorum as CKQUORUM computes it: ${what}`, () => {
      const view = sentinelView({
        sentinel: "127.0.0.1:27001",
        master: masterReply({ quorum: String(quorum) }),
        peers: flags.map((f, i) => peer(27002 + i, f)),
      });
      assert.deepEqual(view.quorum, { ...expected, known: 3, quorum });
    });
  }

  it("a sentinel sees the master unless it flags it s_down, o_down or disconnected", () => {
    const sees = (flags: string) =>
      sentinelView({ sentinel: "s", master: masterReply({ flags }), peers: [] }).seesMaster;
    assert.equal(sees("master"), true);
    assert.equal(sees("s_down,master"), false);
    assert.equal(sees("o_down,s_down,master"), false);
    assert.equal(sees("master,disconnected"), false);
  });

  it("reports the master, every sentinel's view and the replicas' lag", () => {
    const replies: SentinelReplies[] = [
      { sentinel: "127.0.0.1:27001", master: masterReply(), peers: [peer(27002), peer(27003)] },
      {
        sentinel: "127.0.0.1:27002",
        master: masterReply({ "config-epoch": "1", "role-reported-time": "5770" }),
        peers: [peer(27001), peer(27003, "s_down,sentinel")],
      },
      { sentinel: "127.0.0.1:27003", error: "Command timed out" },
    ];
    const report = buildReport(GROUP_INFO, [], GROUP, replies);
    assert.equal(report.group?.master, "localhost:7001");
    assert.equal(report.group?.sentinels[1].epoch, 1);
    assert.equal(report.group?.sentinels[2].error, "Command timed out");
    const text = formatReport(report);
    assert.match(
      text,
      /^master lowcode-master at localhost:7001 \(named by 2 of 2 answering sentinels\)$/m,
    );
    assert.match(text, /^ {2}localhost:7003 +send_bulk +lag 3 s, behind 600 bytes$/m);
    assert.match(
      text,
      /^ {2}127\.0\.0\.1:27001 +sees master localhost:7001 \(flags master\), quorum reached \(3 of 3 sentinels usable, quorum 2\), last failover: none \(epoch 0\)$/m,
    );
    assert.match(
      text,
      /^ {2}127\.0\.0\.1:27002 +sees master localhost:7001 \(flags master\), quorum reached \(2 of 3 sentinels usable, quorum 2\), last failover: epoch 1, master at this address for 5\.8 s$/m,
    );
    assert.match(text, /^ {2}127\.0\.0\.1:27003 +no answer: Command timed out$/m);
  });

  it("says so when no quorum, no majority, a failover in progress, or no sentinel answers", () => {
    const lost: SentinelReplies = {
      sentinel: "127.0.0.1:27001",
      master: masterReply({
        flags: "o_down,master",
        "failover-state": "select_slave",
        "config-epoch": "2",
      }),
      peers: [peer(27002, "s_down,sentinel"), peer(27003, "s_down,sentinel")],
    };
    assert.equal(sentinelView(lost).failoverState, "select_slave");
    assert.match(
      formatReport(buildReport(GROUP_INFO, [], GROUP, [lost])),
      /DOES NOT SEE master localhost:7001 \(flags o_down,master\), NO QUORUM \(1 of 3 sentinels usable, quorum 2\), NO MAJORITY to authorize a failover, failover in progress \(select_slave, epoch 2\)$/m,
    );
    const none = formatReport(
      buildReport(GROUP_INFO, [], GROUP, [{ sentinel: "s", error: "connect ECONNREFUSED" }]),
    );
    assert.match(none, /^master lowcode-master: no sentinel answered$/m);
  });

  it("shows no group lines for a standalone server", () => {
    const text = formatReport(buildReport(INFO, [], CONNECTION));
    assert.doesNotMatch(text, /^(master|sentinels|replicas)/m);
  });
});

describe("monitor: the age of the latest good backup, from backup.status", () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  const epoch = (ms: number) => String(Math.round(ms / 1000));

  it("a good last run: the latest backup's age, file and size", () => {
    const view = backupView(
      "/b",
      [
        "result=ok",
        `time=${epoch(now - 3 * 3600_000)}`,
        "file=prod-20260126T090000Z.rdb",
        "size=1048576",
        "message=from localhost:7001",
        `last_good_time=${epoch(now - 3 * 3600_000)}`,
        "last_good_file=prod-20260126T090000Z.rdb",
        "last_good_size=1048576",
      ].join("\n"),
      now,
    );
    assert.deepEqual(view.lastGood, {
      file: "prod-20260126T090000Z.rdb",
      size: 1048576,
      ageSeconds: 10800,
    });
    assert.match(
      formatReport({ ...buildReport("", [], CONNECTION), backup: view }),
      /^backups in \/b: latest good backup 3\.0 h old: prod-20260126T090000Z\.rdb \(1\.0 MB\)$/m,
    );
  });

  it("a failed last run is shown beside the last good backup; no status says why", () => {
    const view = backupView(
      "/b",
      [
        "result=failed",
        `time=${epoch(now - 300_000)}`,
        "message=no master found (asked: a:1 b:2)",
        `last_good_time=${epoch(now - 2 * 86_400_000)}`,
        "last_good_file=prod-20260124T120000Z.rdb",
        "last_good_size=10",
      ].join("\n"),
      now,
    );
    const text = formatReport({ ...buildReport("", [], CONNECTION), backup: view });
    assert.match(
      text,
      /latest good backup 2\.0 d old: prod-20260124T120000Z\.rdb .*; LAST RUN FAILED 5 min ago: no master found/,
    );
    const none = backupView("/b", new Error("no backup.status: no backup has run yet"), now);
    assert.match(
      formatReport({ ...buildReport("", [], CONNECTION), backup: none }),
      /^backups in \/b: no status \(no backup\.status: no backup has run yet\)$/m,
    );
  });
});
