import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Recreate, requestRecreate, serveControl } from "../../sandbox/control";
import { RecreatePodResult, recreateFailures } from "../../sandbox/drills/recreate-pod";
import { RecreateEvent, RecreateResult } from "../../sandbox/recreate";

const result = (pod: string): RecreateResult => ({
  pod,
  oldIp: "10.200.0.10",
  newIp: "10.200.0.19",
  preStop: "",
  deletedAt: 1,
  createdAt: 2,
  readyAt: 3,
});

describe("the sandbox's control socket (recreate-pod from another process)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-control-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("passes the request on, streams each event and returns the result; the socket is 0600", async () => {
    const asked: Array<[string, unknown]> = [];
    const recreate: Recreate = async (name, options, onEvent) => {
      asked.push([name, options]);
      onEvent({ event: "deleted", at: 1, ip: "10.200.0.10" });
      onEvent({ event: "created", at: 2, ip: "10.200.0.19" });
      return result(name);
    };
    const socket = path.join(dir, "control.sock");
    const server = serveControl(socket, recreate);
    try {
      await new Promise((r) => server.once("listening", r));
      const events: RecreateEvent[] = [];
      const r = await requestRecreate(socket, { pod: "redis-1", goneMs: 3000 }, (e) =>
        events.push(e),
      );
      assert.deepEqual(r, result("redis-1"));
      assert.deepEqual(asked, [["redis-1", { goneMs: 3000, preStop: undefined }]]);
      assert.deepEqual(
        events.map((e) => `${e.event} ${e.ip}`),
        ["deleted 10.200.0.10", "created 10.200.0.19"],
      );
      assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
    } finally {
      server.close();
    }
  });

  it("a failed recreation, and a second one while the first runs, reach the caller as errors", async () => {
    let release: () => void = () => undefined;
    const recreate: Recreate = async (name) => {
      if (name === "nope") throw new Error("no pod nope");
      await new Promise<void>((r) => (release = r));
      return result(name);
    };
    const socket = path.join(dir, "control.sock");
    const server = serveControl(socket, recreate);
    try {
      await new Promise((r) => server.once("listening", r));
      await assert.rejects(requestRecreate(socket, { pod: "nope" }), /no pod nope/);
      const first = requestRecreate(socket, { pod: "redis-0" });
      // The first is under way once the server has read it: ask until the second is refused.
      let refused: Error | undefined;
      for (let i = 0; i < 100 && !refused; i++)
        refused = await requestRecreate(socket, { pod: "redis-2" }).then(
          () => undefined,
          (err: Error) => (/another pod/.test(err.message) ? err : undefined),
        );
      assert.match(refused?.message ?? "", /another pod is being recreated/);
      release();
      assert.equal((await first).pod, "redis-0");
    } finally {
      server.close();
    }
  });
});

describe("recreate-pod's verdict", () => {
  const passed: RecreatePodResult = {
    ...result("redis-0"),
    kind: "redis",
    wasMaster: true,
    masterBefore: "redis-0",
    masterAfter: "redis-1",
    epochBefore: 0,
    epochAfter: 1,
    failoverExpected: true,
    roleAfter: "slave",
    settleMs: 900,
    problems: [],
    contractFollows: true,
    outageMs: 1800,
    acknowledged: 1000,
    lost: 0,
  };

  it("passes a master recreated with a failover, rejoined, nothing lost", () => {
    assert.deepEqual(recreateFailures(passed), []);
  });

  it("names each failure: writes lost, stale entries, no due failover, an undue one, no rejoin, the old address kept", () => {
    assert.deepEqual(
      recreateFailures({
        ...passed,
        lost: 2,
        problems: ["sentinel-0 lists replicas redis-0 s_down,slave, redis-0 slave"],
        epochAfter: 0,
        masterAfter: "redis-0",
        roleAfter: "master",
        contractFollows: false,
      }),
      [
        "2 acknowledged writes lost",
        "the group did not settle: sentinel-0 lists replicas redis-0 s_down,slave, redis-0 slave",
        "connection.json does not follow the new address",
        "no failover",
        "redis-0 did not rejoin as a replica (role master)",
      ],
    );
    assert.deepEqual(
      recreateFailures({
        ...passed,
        pod: "sentinel-1",
        kind: "sentinel",
        wasMaster: false,
        failoverExpected: false,
        roleAfter: undefined,
      }),
      ["a failover (redis-0 -> redis-1)"],
    );
  });
});
