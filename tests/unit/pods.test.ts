import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadStackConfig } from "../../config/stack-file";
import { redisObjects } from "../../render/kubernetes";
import { DEPLOYMENT_NAME } from "../../render/names";
import { containerEnv, expandReferences, writeAtomicVolume } from "../../sandbox/runtime/kubelet";
import { chooseSubnet } from "../../sandbox/runtime/pod-network";

const toNumber = (ip: string) =>
  ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0) >>> 0;

describe("pods mode: the pure parts (subnet choice, kubelet's env and volume layout)", () => {
  it("chooses a /24 in 10.200-254.x that overlaps none of the host's networks", () => {
    // Every 10.200.0.0/13 taken but one /24: the choice lands there or fails, never on a used one.
    const taken: Array<[number, number]> = [
      [toNumber("10.200.0.0"), toNumber("10.254.7.255")],
      [toNumber("10.254.9.0"), toNumber("10.254.255.255")],
    ];
    let calls = 0;
    const random = () => (calls++ % 2 === 0 ? 54.5 / 55 : 8.5 / 256);
    assert.equal(chooseSubnet(taken, random), "10.254.8");
    assert.throws(
      () => chooseSubnet([[toNumber("10.0.0.0"), toNumber("10.255.255.255")]]),
      /no free \/24/,
    );
    // Random choices land in 10.200-254.x, never on a network the host has.
    const half: Array<[number, number]> = [[toNumber("10.200.0.0"), toNumber("10.227.255.255")]];
    for (let i = 0; i < 50; i++) {
      const [, second] = chooseSubnet(half).split(".").map(Number);
      assert.ok(second >= 228 && second <= 254, `10.${second}`);
    }
  });

  it("expands $(VAR) as kubelet does: known variables, $$ escapes, unknown references stay", () => {
    const env = { POD_IP: "10.1.2.3", POD_NAME: "lowcode-redis-0" };
    assert.equal(expandReferences("--bind 127.0.0.1 $(POD_IP)", env), "--bind 127.0.0.1 10.1.2.3");
    assert.equal(expandReferences("$$(POD_IP) $(NOPE)", env), "$(POD_IP) $(NOPE)");
    assert.equal(
      expandReferences("$(POD_NAME).lowcode-redis-headless", env),
      "lowcode-redis-0.lowcode-redis-headless",
    );
  });

  it("builds the Redis container's environment from the rendered StatefulSet: pod IP, pod name, the names built from them", () => {
    const cfg = loadStackConfig("prod");
    const set = redisObjects(cfg, DEPLOYMENT_NAME).find((o) => o.kind === "StatefulSet")!;
    const container = (set.spec as { template: { spec: { containers: unknown[] } } }).template.spec
      .containers[0] as Parameters<typeof containerEnv>[0];
    const env = containerEnv(container, { name: "lowcode-redis-2", ip: "10.9.9.12" });
    assert.equal(env.POD_IP, "10.9.9.12");
    assert.equal(env.POD_NAME, "lowcode-redis-2");
    assert.equal(env.NODE_HOST, "lowcode-redis-2.lowcode-redis-headless.lowcode.svc.cluster.local");
    assert.equal(env.PATH, "/bin");
    assert.equal(env.CONF_DIR, "/conf");
    assert.throws(
      () =>
        containerEnv(
          { name: "x", env: [{ name: "S", valueFrom: { secretKeyRef: {} } }] },
          {
            name: "p",
            ip: "10.0.0.1",
          },
        ),
      /env S: only values, status.podIP and metadata.name are supported/,
    );
  });

  it("lays a ConfigMap volume out as kubelet's atomic writer: ..data, one link per key, defaultMode with group read", function () {
    if (process.getuid?.() !== 0) {
      this.test!.title += " (skipped: chown to the fsGroup needs root)";
      this.skip();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-volume-"));
    try {
      writeAtomicVolume(dir, { "redis.conf": "port 6379\n", "probe.sh": "exit 0\n" }, 0o400, 999);
      const entries = fs.readdirSync(dir).sort();
      assert.equal(entries.length, 4);
      const data = fs.readlinkSync(path.join(dir, "..data"));
      assert.ok(entries.includes(data) && data.startsWith(".."), data);
      for (const key of ["redis.conf", "probe.sh"]) {
        assert.equal(fs.readlinkSync(path.join(dir, key)), `..data/${key}`);
        const st = fs.statSync(path.join(dir, key));
        assert.equal(st.mode & 0o777, 0o440);
        assert.equal(st.gid, 999);
      }
      assert.equal(fs.readFileSync(path.join(dir, "redis.conf"), "utf8"), "port 6379\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
