import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "../../config/stack-file";
import { SENTINEL_MEMORY_MI } from "../../render/kubernetes";
import { DEV, PROD, resolve } from "../helpers/config";
import { validateAgainstSchema } from "../helpers/k8s-schema";
import {
  Json,
  MockRecorder,
  containsSecret,
  expectedParent,
  isWrappedSecret,
  promiseOf,
  unwrap,
} from "../helpers/pulumi-mocks";

const recorder = new MockRecorder();

describe("Pulumi program: the prod stack's SentinelGroup on Kubernetes", () => {
  let connection: pulumi.Output<unknown>;
  before(async () => {
    connection = await recorder.deploy(loadStackConfig("prod"), {});
  });

  it("creates two StatefulSets, their Secrets, ConfigMaps, Services and PDBs under the SentinelGroup", () => {
    const kubernetes = recorder.resources
      .filter(
        (r) =>
          r.type.startsWith("kubernetes:") &&
          !r.name.startsWith("lowcode-redis-backup") &&
          !r.name.startsWith("lowcode-redis-commander"),
      )
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    assert.deepEqual(kubernetes, [
      "kubernetes:apps/v1:StatefulSet lowcode-redis-sentinel-statefulset",
      "kubernetes:apps/v1:StatefulSet lowcode-redis-statefulset",
      "kubernetes:core/v1:ConfigMap lowcode-redis-config-configmap",
      "kubernetes:core/v1:ConfigMap lowcode-redis-sentinel-config-configmap",
      "kubernetes:core/v1:Namespace lowcode-namespace",
      // Each claim's size, patched in place (tests/pulumi/storage.test.ts).
      "kubernetes:core/v1:PersistentVolumeClaimPatch data-lowcode-redis-0-persistentvolumeclaim-size",
      "kubernetes:core/v1:PersistentVolumeClaimPatch data-lowcode-redis-1-persistentvolumeclaim-size",
      "kubernetes:core/v1:PersistentVolumeClaimPatch data-lowcode-redis-2-persistentvolumeclaim-size",
      "kubernetes:core/v1:PersistentVolumeClaimPatch state-lowcode-redis-sentinel-0-persistentvolumeclaim-size",
      "kubernetes:core/v1:PersistentVolumeClaimPatch state-lowcode-redis-sentinel-1-persistentvolumeclaim-size",
      "kubernetes:core/v1:PersistentVolumeClaimPatch state-lowcode-redis-sentinel-2-persistentvolumeclaim-size",
      "kubernetes:core/v1:Secret lowcode-redis-auth-secret",
      // The applications' connection Secret (envFrom), in the stack's namespace by default.
      "kubernetes:core/v1:Secret lowcode-redis-connection-secret",
      "kubernetes:core/v1:Secret lowcode-redis-sentinel-auth-secret",
      "kubernetes:core/v1:Service lowcode-redis-headless-service",
      "kubernetes:core/v1:Service lowcode-redis-metrics-service",
      "kubernetes:core/v1:Service lowcode-redis-sentinel-headless-service",
      "kubernetes:core/v1:Service lowcode-redis-sentinel-metrics-service",
      "kubernetes:core/v1:Service lowcode-redis-sentinel-service",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-default-deny-networkpolicy",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-redis-networkpolicy",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-sentinel-networkpolicy",
      "kubernetes:policy/v1:PodDisruptionBudget lowcode-redis-poddisruptionbudget",
      "kubernetes:policy/v1:PodDisruptionBudget lowcode-redis-sentinel-poddisruptionbudget",
    ]);
    for (const r of recorder.resources.filter(
      (r) => r.name.startsWith("lowcode-redis-") && !r.type.startsWith("lowcode:"),
    )) {
      assert.equal(
        r.parentType,
        expectedParent(r, "lowcode:redis:SentinelGroup"),
        `${r.type} ${r.name}`,
      );
    }
  });

  it("generates every group credential under a name derived from the component", () => {
    const generated = recorder
      .ofType("random:index/randomPassword:RandomPassword")
      .map((r) => r.name)
      .sort();
    assert.deepEqual(generated, [
      "lowcode-redis-admin-password",
      "lowcode-redis-app-password",
      "lowcode-redis-backup-password",
      // Commander's Redis user is the group's; the sign-in and session key are Commander's own.
      "lowcode-redis-commander-password",
      "lowcode-redis-commander-redis-password",
      "lowcode-redis-commander-rollout-key",
      "lowcode-redis-commander-session-secret",
      "lowcode-redis-exporter-password",
      "lowcode-redis-failover-password",
      "lowcode-redis-probe-password",
      "lowcode-redis-replication-password",
      "lowcode-redis-rollout-key",
      "lowcode-redis-sentinel-client-password",
      "lowcode-redis-sentinel-node-password",
      "lowcode-redis-sentinel-peer-password",
    ]);
  });

  it("3 Redis pods and 3 sentinel pods, sentinels with their own Secret", () => {
    const redis = unwrap(
      recorder.find("kubernetes:apps/v1:StatefulSet", "lowcode-redis-statefulset").inputs,
    ) as Json;
    const sentinels = unwrap(
      recorder.find("kubernetes:apps/v1:StatefulSet", "lowcode-redis-sentinel-statefulset").inputs,
    ) as Json;
    assert.equal(redis.spec.replicas, 3);
    assert.equal(sentinels.spec.replicas, 3);
    assert.deepEqual(redis.spec.template.spec.containers[0].command, [
      "sh",
      "/conf/start-redis.sh",
    ]);
    assert.equal(
      sentinels.spec.template.spec.volumes.find((v: Json) => v.name === "secret").secret.secretName,
      "lowcode-redis-sentinel-auth",
    );
    for (const s of [redis, sentinels]) validateAgainstSchema(s as never);
  });

  it("the Secrets hold the credentials as secrets; the sentinel Secret has no Redis ACL file", () => {
    const node = recorder.find("kubernetes:core/v1:Secret", "lowcode-redis-auth-secret")
      .inputs as Json;
    const sentinel = recorder.find(
      "kubernetes:core/v1:Secret",
      "lowcode-redis-sentinel-auth-secret",
    ).inputs as Json;
    assert.ok(isWrappedSecret(node.stringData) && isWrappedSecret(sentinel.stringData));
    assert.deepEqual(Object.keys(unwrap(node.stringData)).sort(), [
      // The exporter sidecar's password file, its only item of the Secret.
      "exporter.json",
      "failover.pass",
      "probe.pass",
      "secrets.conf",
      "sentinel-client.pass",
      "users.acl",
    ]);
    assert.deepEqual(Object.keys(unwrap(sentinel.stringData)).sort(), [
      "exporter.json",
      "probe.pass",
      "sentinel-client.pass",
      "sentinel-secrets.conf",
    ]);
    const nodeConf = unwrap(node.stringData)["secrets.conf"] as string;
    assert.match(nodeConf, /^masteruser replication$/m);
    assert.match(
      nodeConf,
      /^masterauth "generated-lowcode-redis-replication-password-0123456789"$/m,
    );
    const sentinelConf = unwrap(sentinel.stringData)["sentinel-secrets.conf"] as string;
    assert.match(
      sentinelConf,
      /^sentinel rename-command lowcode-master CONFIG CONFIG_ABCDEF0123456789XYZW$/m,
    );
    for (const r of recorder.resources.filter(
      (r) => r.type.startsWith("kubernetes:") && !r.type.endsWith("Secret"),
    )) {
      assert.ok(
        !JSON.stringify(unwrap(r.inputs)).includes("generated-lowcode-redis"),
        `${r.name} carries a password`,
      );
    }
  });

  it("output connection carries the sentinels, the master name and the sentinel credentials, as a secret", async () => {
    assert.equal(await pulumi.isSecret(connection), true);
    const c = (await promiseOf(connection)) as Json;
    assert.equal(c.topology, "sentinel");
    assert.equal(c.masterName, "lowcode-master");
    assert.deepEqual(
      c.sentinels,
      [0, 1, 2].map((i) => ({
        host: `lowcode-redis-sentinel-${i}.lowcode-redis-sentinel-headless.lowcode.svc.cluster.local`,
        port: 26379,
      })),
    );
    assert.deepEqual(c.sentinelUser, {
      username: "sentinel-client",
      password: "generated-lowcode-redis-sentinel-client-password-0123456789",
    });
    assert.equal(
      c.redis[0].host,
      "lowcode-redis-0.lowcode-redis-headless.lowcode.svc.cluster.local",
    );
  });
});

describe("Pulumi program: a SentinelGroup on Docker (dev profile)", () => {
  let connection: pulumi.Output<unknown>;
  before(async () => {
    connection = await recorder.deploy(resolve({ ...DEV, topology: "sentinel" }, "dev-ha"), {});
  });

  it("runs 3 Redis and 3 sentinel containers on lowcode-network at fixed addresses", () => {
    const containers = recorder
      .ofType("docker:index/container:Container")
      .filter(
        (r) =>
          !r.name.startsWith("lowcode-redis-backup") &&
          !r.name.startsWith("lowcode-redis-commander"),
      )
      .map((r) => unwrap(r.inputs) as Json);
    assert.deepEqual(containers.map((c) => [c.name, c.networksAdvanced[0].ipv4Address]).sort(), [
      ["lowcode-redis-0", "172.28.0.10"],
      ["lowcode-redis-1", "172.28.0.11"],
      ["lowcode-redis-2", "172.28.0.12"],
      ["lowcode-redis-sentinel-0", "172.28.0.20"],
      ["lowcode-redis-sentinel-1", "172.28.0.21"],
      ["lowcode-redis-sentinel-2", "172.28.0.22"],
    ]);
    for (const c of containers) {
      assert.equal(c.restart, "unless-stopped");
      assert.equal(c.networksAdvanced[0].name, "lowcode-network");
      assert.equal(c.ports[0].ip, "127.0.0.1");
      assert.equal(c.user, "999:999");
    }
    const sentinel = containers.find((c) => c.name === "lowcode-redis-sentinel-1")!;
    assert.deepEqual(sentinel.command, ["sh", "/data/start-sentinel.sh"]);
    // The state file Sentinel rewrites lives apart from the uploaded sentinel.conf.
    assert.ok(sentinel.envs.includes("STATE_DIR=/data/state"));
    assert.ok(sentinel.envs.includes("CONF_DIR=/data"));
    assert.ok(
      sentinel.envs.includes("SENTINELS=172.28.0.20:26379 172.28.0.21:26379 172.28.0.22:26379"),
    );
    assert.ok(sentinel.envs.includes("DEFAULT_MASTER=172.28.0.10 6379"));
    // Every node and sentinel knows every node: choosing nodes ask each other, a sentinel
    // without state asks them which one is master.
    for (const c of containers)
      assert.ok(
        c.envs.includes("NODES=172.28.0.10:6379 172.28.0.11:6379 172.28.0.12:6379"),
        c.name,
      );
    assert.deepEqual(sentinel.ports[0], {
      internal: 26379,
      external: 26380,
      ip: "127.0.0.1",
      protocol: "tcp",
    });
    const node = containers.find((c) => c.name === "lowcode-redis-2")!;
    assert.equal(node.command[1], "/data/start-redis.sh");
    assert.ok(node.envs.includes("NODE_HOST=172.28.0.12"));
  });

  it("gives each container a data volume and uploads the secret files as secrets", () => {
    // Six data volumes, the backup volume, the backup container's and Commander's files.
    assert.equal(recorder.ofType("docker:index/volume:Volume").length, 9);
    for (const r of recorder.ofType("docker:index/container:Container")) {
      assert.ok(containsSecret(r.inputs.uploads), `${r.name} uploads`);
      assert.ok(
        !JSON.stringify(r.inputs.envs ?? []).includes("generated-"),
        `${r.name} env carries a password`,
      );
    }
  });

  it("outputs the published sentinels and the dev credentials", async () => {
    const c = (await promiseOf(connection)) as Json;
    assert.deepEqual(
      c.sentinels,
      [26379, 26380, 26381].map((port) => ({ host: "127.0.0.1", port })),
    );
    assert.equal(c.sentinelUser.username, "default");
    assert.equal(c.users.app.password, c.sentinelUser.password);
  });
});

describe("Pulumi program: a SentinelGroup on Kubernetes in another cluster domain", () => {
  const DOMAIN = "corp.example";
  let connection: pulumi.Output<unknown>;
  before(async () => {
    connection = await recorder.deploy(
      resolve({ ...PROD, clusterDomain: DOMAIN }, "prod-corp"),
      {},
    );
  });

  it("outputs every node and sentinel under the configured domain", async () => {
    const c = (await promiseOf(connection)) as Json;
    assert.deepEqual(
      c.redis.map((r: Json) => r.host),
      [0, 1, 2].map((i) => `lowcode-redis-${i}.lowcode-redis-headless.lowcode.svc.${DOMAIN}`),
    );
    assert.deepEqual(
      c.sentinels.map((s: Json) => s.host),
      [0, 1, 2].map(
        (i) => `lowcode-redis-sentinel-${i}.lowcode-redis-sentinel-headless.lowcode.svc.${DOMAIN}`,
      ),
    );
  });

  it("every name the StatefulSets and ConfigMaps hold is in that domain, none in cluster.local", () => {
    for (const r of recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
      const text = JSON.stringify(unwrap(r.inputs));
      assert.ok(!text.includes("cluster.local"), `${r.type} ${r.name}`);
      for (const m of text.matchAll(/\.svc\.([a-z0-9.-]*[a-z0-9])/g))
        assert.equal(m[1], DOMAIN, `${r.type} ${r.name}`);
    }
    const sts = unwrap(
      recorder.find("kubernetes:apps/v1:StatefulSet", "lowcode-redis-sentinel-statefulset").inputs,
    ) as Json;
    assert.ok(
      sts.spec.template.spec.containers[0].env.some(
        (e: Json) =>
          e.name === "NODE_HOST" &&
          e.value === `$(POD_NAME).lowcode-redis-sentinel-headless.lowcode.svc.${DOMAIN}`,
      ),
    );
  });
});

describe("Pulumi program: a SentinelGroup on Docker: memory limits and the platform's existing network", () => {
  before(async () => {
    recorder.dockerNetworks.set("lowcode-network", ["172.28.0.0/24"]);
    await recorder.deploy(
      resolve({ ...DEV, topology: "sentinel", dockerNetworkCreate: false }, "dev-ha"),
      {},
    );
  });
  after(() => recorder.dockerNetworks.clear());

  it("every container has a memory limit: Redis nodes with the replication buffers, sentinels as on Kubernetes", () => {
    const memory = Object.fromEntries(
      recorder
        .ofType("docker:index/container:Container")
        .map((r) => unwrap(r.inputs) as Json)
        .map((c) => [c.name, c.memory]),
    );
    assert.deepEqual(memory, {
      // 2 x 384 + 2 replicas x 96 + 1 backlog, in MiB.
      "lowcode-redis-0": 1040,
      "lowcode-redis-1": 1040,
      "lowcode-redis-2": 1040,
      "lowcode-redis-backup": 256,
      "lowcode-redis-commander": 256,
      "lowcode-redis-sentinel-0": SENTINEL_MEMORY_MI.limit,
      "lowcode-redis-sentinel-1": SENTINEL_MEMORY_MI.limit,
      "lowcode-redis-sentinel-2": SENTINEL_MEMORY_MI.limit,
    });
    assert.equal(SENTINEL_MEMORY_MI.limit, 128);
  });

  it("joins the existing network: no network created, one lookup, every container on it", () => {
    assert.deepEqual(recorder.ofType("docker:index/network:Network"), []);
    assert.deepEqual(recorder.calls, [
      { token: "docker:index/getNetwork:getNetwork", inputs: { name: "lowcode-network" } },
    ]);
    for (const r of recorder.ofType("docker:index/container:Container")) {
      assert.equal((unwrap(r.inputs) as Json).networksAdvanced[0].name, "lowcode-network");
    }
  });
});
