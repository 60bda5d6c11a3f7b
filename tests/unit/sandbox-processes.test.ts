import { strict as assert } from "node:assert";
import { processesFileContent } from "../../sandbox/contract";
import { listProcesses } from "../../sandbox/process-list";
import { DEV, PROD, resolve } from "../helpers/config";

describe("sandbox: which processes run, and processes.json", () => {
  it("lists a standalone server alone on the base port, and no Commander when it is off", () => {
    const list = listProcesses(
      resolve({ ...DEV, commanderEnabled: false }),
      "/srv/sbx",
      7101,
      undefined,
    );
    assert.deepEqual(
      list.all.map((p) => [p.name, p.kind, p.port, p.host, p.announced]),
      [["redis-0", "redis", 7101, "127.0.0.1", "localhost"]],
    );
    assert.deepEqual(list.sentinels, []);
    assert.equal(list.commanderPort, undefined);
    assert.deepEqual(
      [list.nodes[0].confDir, list.nodes[0].dataDir, list.nodes[0].logFile],
      ["/srv/sbx/redis-0/conf", "/srv/sbx/redis-0/data", "/srv/sbx/logs/redis-0.log"],
    );
  });

  it("lists a group's nodes from the base port, its sentinels 20000 above, Commander shifted as far as the base port", () => {
    const cfg = resolve({ ...PROD, commanderEnabled: true });
    const list = listProcesses(cfg, "/srv/sbx", 7101, undefined);
    assert.deepEqual(
      list.all.map((p) => `${p.name}@${p.port}`),
      [
        "redis-0@7101",
        "redis-1@7102",
        "redis-2@7103",
        "sentinel-0@27101",
        "sentinel-1@27102",
        "sentinel-2@27103",
      ],
    );
    assert.deepEqual(list.all, [...list.nodes, ...list.sentinels]);
    assert.equal(list.commanderPort, cfg.commander.port + 100);
  });

  it("writes only the processes started so far, each with its pid and the script variables it got", () => {
    const { all } = listProcesses(resolve(PROD), "/srv/sbx", 7001, undefined);
    const content = processesFileContent({
      processes: all,
      pids: new Map([["redis-0", 41]]),
      startTimes: new Map([["redis-0", 900]]),
      envOf: () => ({ CONF_DIR: "/c", DATA_DIR: "/d", PATH: "/bin", NODE_PORT: "7001" }),
      identity: { bootId: "boot", sandboxStartTime: 12 },
    });
    assert.equal(content.sandboxPid, process.pid);
    assert.deepEqual(
      content.processes.map((p) => [p.name, p.pid, p.env]),
      [["redis-0", 41, { CONF_DIR: "/c", DATA_DIR: "/d", NODE_PORT: "7001" }]],
    );
    assert.equal(content.pods, undefined);
    assert.deepEqual(
      [content.bootId, content.sandboxStartTime, content.started],
      ["boot", 12, [{ name: "redis-0", pid: 41, startTime: 900 }]],
    );
  });
});
