import { strict as assert } from "node:assert";
import { SECRET_DIGEST_ANNOTATION } from "../../components/targets/kubernetes";
import { DEV, PLATFORM_DATABASES, PROD_STANDALONE, resolve } from "../helpers/config";
import * as pulumi from "@pulumi/pulumi";
import { OFFSITE_MISSING_WARNING } from "../../config/backup";
import { loadStackConfig } from "../../config/stack-file";
import { sha256Hex } from "../../render/redis-conf";
import { dockerNetwork } from "../../stack";
import {
  Json,
  MockRecorder,
  containsSecret,
  expectedParent,
  isWrappedSecret,
  outcomeOf,
  promiseOf,
  unwrap,
} from "../helpers/pulumi-mocks";
import { validateAgainstSchema } from "../helpers/k8s-schema";

const recorder = new MockRecorder();
const PROD_STANDALONE_FILE = `${__dirname}/../fixtures/prod-standalone.yaml`;

/** Every string of a value, with secrets left out. */
function plainStrings(value: unknown): string[] {
  if (isWrappedSecret(value)) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(plainStrings);
  if (typeof value === "object" && value !== null)
    return Object.values(value).flatMap(plainStrings);
  return [];
}

describe("Pulumi program: the dev stack's resource graph (Docker)", () => {
  let connection: pulumi.Output<unknown>;
  before(async () => {
    connection = await recorder.deploy(loadStackConfig("dev"), {});
  });

  it("creates exactly the network, the component and its children, with names derived from the component name", () => {
    const created = recorder.resources.map((r) => `${r.type} ${r.name}`).sort();
    assert.deepEqual(created, [
      "docker:index/container:Container lowcode-redis-backup",
      "docker:index/container:Container lowcode-redis-commander-container",
      "docker:index/container:Container lowcode-redis-container",
      "docker:index/network:Network lowcode-network",
      "docker:index/remoteImage:RemoteImage lowcode-redis-backup-image",
      "docker:index/remoteImage:RemoteImage lowcode-redis-commander-image",
      "docker:index/remoteImage:RemoteImage lowcode-redis-image",
      "docker:index/volume:Volume lowcode-redis-backup-conf",
      "docker:index/volume:Volume lowcode-redis-backup-volume",
      "docker:index/volume:Volume lowcode-redis-commander-conf",
      "docker:index/volume:Volume lowcode-redis-data",
      "lowcode:redis:BackupCronJob lowcode-redis-backup",
      "lowcode:redis:CommanderUI lowcode-redis-commander",
      "lowcode:redis:RedisInstance lowcode-redis",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-redis-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-session-secret",
      "random:index/randomPassword:RandomPassword lowcode-redis-default-password",
      "random:index/randomString:RandomString lowcode-redis-commander-salt",
    ]);
  });

  it("parents every child to the RedisInstance", () => {
    for (const r of recorder.resources.filter((r) => r.name.startsWith("lowcode-redis-"))) {
      assert.equal(
        r.parentType,
        expectedParent(r, "lowcode:redis:RedisInstance"),
        `${r.type} ${r.name}`,
      );
    }
  });

  it("network lowcode-network with a fixed subnet", () => {
    assert.deepEqual(
      unwrap(recorder.find("docker:index/network:Network", "lowcode-network").inputs),
      {
        name: "lowcode-network",
        driver: "bridge",
        ipamConfigs: [{ subnet: "172.28.0.0/24" }],
      },
    );
  });

  it("pins the image and keeps a named data volume", () => {
    assert.equal(
      recorder.find("docker:index/remoteImage:RemoteImage", "lowcode-redis-image").inputs.name,
      "redis:7.2.16-alpine",
    );
    assert.equal(
      recorder.find("docker:index/volume:Volume", "lowcode-redis-data").inputs.name,
      "lowcode-redis-data",
    );
  });

  it("container lowcode-redis: published on 127.0.0.1 only, restart policy, authenticated healthcheck, non-root", () => {
    const c = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-container").inputs,
    ) as Json;
    assert.equal(c.name, "lowcode-redis");
    assert.deepEqual(c.ports, [
      { internal: 6379, external: 6379, ip: "127.0.0.1", protocol: "tcp" },
    ]);
    assert.equal(c.restart, "unless-stopped");
    assert.deepEqual(c.healthcheck.tests, ["CMD", "sh", "/data/probe.sh"]);
    assert.equal(c.user, "999:999");
    assert.deepEqual(c.capabilities, { drops: ["ALL"] });
    assert.deepEqual(c.networksAdvanced, [
      { name: "lowcode-network", aliases: ["lowcode-redis"], ipv4Address: "172.28.0.10" },
    ]);
    assert.deepEqual(c.volumes, [{ volumeName: "lowcode-redis-data", containerPath: "/data" }]);
    // Through start-redis.sh, which sets the umask before Redis writes a file.
    assert.deepEqual(c.command, [
      "sh",
      "/data/start-redis.sh",
      "/data/redis.conf",
      "--dir",
      "/data",
      "--include",
      "/data/secrets.conf",
      // default and Commander's user.
      "--aclfile",
      "/data/users.acl",
    ]);
    assert.deepEqual(c.envs, ["CONF_DIR=/data", "DATA_DIR=/data"]);
    assert.equal(c.memory, 816);
  });

  it("uploads the rendered files; the uploads holding passwords reach the engine as secret", () => {
    const c = recorder.find("docker:index/container:Container", "lowcode-redis-container")
      .inputs as Json;
    // The engine keeps secretness per property: one secret upload makes `uploads` secret.
    assert.ok(containsSecret(c.uploads));
    const byFile = new Map((unwrap(c.uploads) as Json[]).map((u) => [u.file, u]));
    // Straight into the volume root, which the image's redis user owns: Docker would create a
    // missing parent folder as root, and CONFIG REWRITE could not replace redis.conf there.
    assert.deepEqual([...byFile.keys()].sort(), [
      "/data/probe.pass",
      "/data/probe.sh",
      "/data/redis.conf",
      "/data/secrets.conf",
      "/data/start-redis.sh",
      "/data/users.acl",
    ]);
    assert.match(
      byFile.get("/data/secrets.conf")!.content,
      /^requirepass "generated-lowcode-redis-default-password-0123456789"$/m,
    );
    assert.equal(
      byFile.get("/data/probe.pass")!.content,
      "generated-lowcode-redis-default-password-0123456789",
    );
    assert.match(byFile.get("/data/redis.conf")!.content, /^maxmemory 384mb$/m);
    for (const u of byFile.values())
      assert.deepEqual([u.owner, u.group, u.permissions], ["999", "999", "0600"]);
  });

  it("no password appears in any plain (non-secret) input", () => {
    const password = "generated-lowcode-redis-default-password-0123456789";
    for (const r of recorder.resources) {
      if (r.type.startsWith("random:")) continue;
      assert.ok(
        !plainStrings(r.inputs).some((s) => s.includes(password)),
        `${r.type} ${r.name} carries the password in clear`,
      );
    }
  });

  it("output connection follows the contract and is secret", async () => {
    assert.equal(await pulumi.isSecret(connection), true);
    const c = (await promiseOf(connection)) as Json;
    assert.deepEqual(c, {
      stack: "dev",
      profile: "dev",
      topology: "standalone",
      masterName: "",
      redis: [{ host: "127.0.0.1", port: 6379, role: "master" }],
      sentinels: [],
      users: {
        app: {
          username: "default",
          password: "generated-lowcode-redis-default-password-0123456789",
        },
        admin: {
          username: "default",
          password: "generated-lowcode-redis-default-password-0123456789",
        },
      },
      renamedCommands: {},
      databases: PLATFORM_DATABASES,
      commander: {
        url: "http://127.0.0.1:8081",
        username: "admin",
        password: "generated-lowcode-redis-commander-password-0123456789",
      },
      deviations: [],
      // Bounded waits for every client (render/connection.ts explains each value).
      client: {
        connectTimeoutMs: 2000,
        commandTimeoutMs: 2000,
        maxRetriesPerRequest: 3,
        retryBaseDelayMs: 50,
        retryMaxDelayMs: 1000,
      },
    });
  });
});

describe("Pulumi program: the production profile on Kubernetes (standalone)", () => {
  let connection: pulumi.Output<unknown>;
  before(async () => {
    connection = await recorder.deploy(loadStackConfig("prod-standalone", PROD_STANDALONE_FILE), {
      appPassword: "supplied-app-password-0123",
    });
  });

  it("creates the namespace, secrets, ConfigMap, Services and StatefulSet with derived names", () => {
    const created = recorder.resources.map((r) => `${r.type} ${r.name}`).sort();
    assert.deepEqual(created, [
      "kubernetes:apps/v1:Deployment lowcode-redis-commander-deployment",
      "kubernetes:apps/v1:StatefulSet lowcode-redis-statefulset",
      "kubernetes:batch/v1:CronJob lowcode-redis-backup-cronjob",
      "kubernetes:core/v1:ConfigMap lowcode-redis-backup-config",
      "kubernetes:core/v1:ConfigMap lowcode-redis-commander-config",
      "kubernetes:core/v1:ConfigMap lowcode-redis-config-configmap",
      "kubernetes:core/v1:Namespace lowcode-namespace",
      "kubernetes:core/v1:PersistentVolumeClaim lowcode-redis-backup-claim",
      "kubernetes:core/v1:PersistentVolumeClaimPatch data-lowcode-redis-0-persistentvolumeclaim-size",
      "kubernetes:core/v1:Secret lowcode-redis-auth-secret",
      "kubernetes:core/v1:Secret lowcode-redis-backup-auth",
      "kubernetes:core/v1:Secret lowcode-redis-commander-auth",
      "kubernetes:core/v1:Secret lowcode-redis-connection-secret",
      "kubernetes:core/v1:Service lowcode-redis-commander-service",
      "kubernetes:core/v1:Service lowcode-redis-headless-service",
      "kubernetes:core/v1:Service lowcode-redis-metrics-service",
      "kubernetes:core/v1:Service lowcode-redis-service",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-backup-network-policy",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-commander-network-policy",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-default-deny-networkpolicy",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-redis-networkpolicy",
      "lowcode:redis:BackupCronJob lowcode-redis-backup",
      "lowcode:redis:CommanderUI lowcode-redis-commander",
      "lowcode:redis:RedisInstance lowcode-redis",
      "random:index/randomPassword:RandomPassword lowcode-redis-admin-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-backup-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-redis-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-rollout-key",
      "random:index/randomPassword:RandomPassword lowcode-redis-commander-session-secret",
      "random:index/randomPassword:RandomPassword lowcode-redis-exporter-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-probe-password",
      "random:index/randomPassword:RandomPassword lowcode-redis-rollout-key",
      "random:index/randomString:RandomString lowcode-redis-commander-salt",
      "random:index/randomString:RandomString lowcode-redis-config-command",
    ]);
  });

  it("a changed password rolls the pods: the pod template carries a keyed digest of the Secret, in clear", async () => {
    const digestOf = () => {
      const sts = recorder.find("kubernetes:apps/v1:StatefulSet", "lowcode-redis-statefulset")
        .inputs as Json;
      assert.ok(!containsSecret(sts.spec), "the spec stays readable in a preview");
      return unwrap(sts.spec).template.metadata.annotations[SECRET_DIGEST_ANNOTATION] as string;
    };
    const first = digestOf();
    assert.match(first, /^[0-9a-f]{64}$/);
    // The same password: the same digest (nothing restarts needlessly); another: a new one.
    await recorder.deploy(loadStackConfig("prod-standalone", PROD_STANDALONE_FILE), {
      appPassword: "supplied-app-password-0123",
    });
    assert.equal(digestOf(), first);
    await recorder.deploy(loadStackConfig("prod-standalone", PROD_STANDALONE_FILE), {
      appPassword: "another-app-password-4567",
    });
    assert.notEqual(digestOf(), first);
    connection = await recorder.deploy(loadStackConfig("prod-standalone", PROD_STANDALONE_FILE), {
      appPassword: "supplied-app-password-0123",
    });
  });

  it("uses a supplied password instead of generating one", async () => {
    const c = (await promiseOf(connection)) as Json;
    assert.deepEqual(c.users.app, { username: "app", password: "supplied-app-password-0123" });
    assert.equal(c.users.admin.username, "admin");
    assert.deepEqual(c.renamedCommands, {
      CONFIG: "CONFIG_ABCDEF0123456789XYZW",
      FLUSHALL: "",
      FLUSHDB: "",
    });
    assert.equal(await pulumi.isSecret(connection), true);
  });

  it("the Secret's data is secret; the ConfigMap, labels and annotations hold no password", () => {
    const secret = recorder.find("kubernetes:core/v1:Secret", "lowcode-redis-auth-secret")
      .inputs as Json;
    assert.ok(isWrappedSecret(secret.stringData));
    const files = unwrap(secret.stringData) as Record<string, string>;
    assert.deepEqual(Object.keys(files).sort(), [
      "exporter.json",
      "probe.pass",
      "secrets.conf",
      "users.acl",
    ]);
    assert.ok(
      files["users.acl"].includes(`user app on #${sha256Hex("supplied-app-password-0123")}`),
    );
    for (const r of recorder.resources.filter(
      (r) => r.type.startsWith("kubernetes:") && r.type !== "kubernetes:core/v1:Secret",
    )) {
      const text = JSON.stringify(unwrap(r.inputs));
      assert.ok(!text.includes("supplied-app-password-0123"), `${r.name} carries the app password`);
      assert.ok(
        !text.includes("generated-lowcode-redis-admin-password"),
        `${r.name} carries the admin password`,
      );
      assert.ok(!text.includes("CONFIG_ABCDEF0123456789XYZW"), `${r.name} carries the CONFIG name`);
    }
  });

  it("every Kubernetes input is a valid object of its kind", () => {
    for (const r of recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
      const object = unwrap(r.inputs) as Json;
      if (object.kind === "Secret") object.stringData = {};
      validateAgainstSchema(object as never);
    }
  });

  it("parents the instance's objects to it and puts them in the namespace", () => {
    for (const r of recorder.resources.filter((r) => r.name.startsWith("lowcode-redis-"))) {
      assert.equal(
        r.parentType,
        expectedParent(r, "lowcode:redis:RedisInstance"),
        `${r.type} ${r.name}`,
      );
      if (r.type.startsWith("kubernetes:"))
        assert.equal((r.inputs.metadata as Json).namespace, "lowcode");
    }
  });

  it("connects applications to the client Service DNS name", async () => {
    const c = (await promiseOf(connection)) as Json;
    assert.deepEqual(c.redis, [
      { host: "lowcode-redis.lowcode.svc.cluster.local", port: 6379, role: "master" },
    ]);
  });
});

describe("Pulumi program: a standalone server on Kubernetes in another cluster domain", () => {
  it("connects applications to the client Service in clusterDomain", async () => {
    const connection = await recorder.deploy(
      resolve({ ...PROD_STANDALONE, clusterDomain: "corp.example" }, "prod-corp"),
      {},
    );
    const c = (await promiseOf(connection)) as Json;
    assert.deepEqual(c.redis, [
      { host: "lowcode-redis.lowcode.svc.corp.example", port: 6379, role: "master" },
    ]);
    for (const r of recorder.resources)
      assert.ok(!JSON.stringify(unwrap(r.inputs)).includes("cluster.local"), `${r.name}`);
  });
});

describe("Pulumi program: the Docker network, created (dockerNetworkCreate true) or the platform's joined (false)", () => {
  const LOOKUP = "docker:index/getNetwork:getNetwork";
  afterEach(() => recorder.dockerNetworks.clear());

  it("true (default): creates the network with the subnet and looks nothing up", async () => {
    // Even where a network of that name exists, which Docker then refuses: false is for that case.
    recorder.dockerNetworks.set("lowcode-network", ["172.28.0.0/24"]);
    await recorder.deploy(resolve(DEV, "dev"), {});
    assert.deepEqual(
      recorder.ofType("docker:index/network:Network").map((r) => unwrap(r.inputs)),
      [{ name: "lowcode-network", driver: "bridge", ipamConfigs: [{ subnet: "172.28.0.0/24" }] }],
    );
    assert.deepEqual(recorder.calls, []);
  });

  it("false: creates no network, looks it up by name and puts the container on it at its fixed address", async () => {
    recorder.dockerNetworks.set("platform_default", ["10.5.0.0/24"]);
    await recorder.deploy(
      resolve(
        {
          ...DEV,
          dockerNetworkCreate: false,
          dockerNetwork: "platform_default",
          dockerSubnet: "10.5.0.0/24",
        },
        "dev",
      ),
      {},
    );
    assert.deepEqual(recorder.ofType("docker:index/network:Network"), []);
    assert.deepEqual(recorder.calls, [{ token: LOOKUP, inputs: { name: "platform_default" } }]);
    const c = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-container").inputs,
    ) as Json;
    assert.deepEqual(c.networksAdvanced, [
      { name: "platform_default", aliases: ["lowcode-redis"], ipv4Address: "10.5.0.10" },
    ]);
  });

  it("false: an existing network of another subnet fails, naming both subnets", async () => {
    recorder.dockerNetworks.set("lowcode-network", ["172.18.0.0/16", "fd00::/64"]);
    await recorder.install("dev");
    await assert.rejects(
      outcomeOf(dockerNetwork(resolve({ ...DEV, dockerNetworkCreate: false }))),
      {
        message:
          'Invalid lowcode-redis:dockerSubnet "172.28.0.0/24": must be the subnet of the existing Docker network "lowcode-network" that lowcode-redis:dockerNetworkCreate false joins (it has 172.18.0.0/16, fd00::/64): the containers take fixed addresses from it.',
      },
    );
    assert.deepEqual(recorder.resources, []);
  });

  it("false: a missing network fails the lookup", async () => {
    await recorder.install("dev");
    await assert.rejects(
      outcomeOf(dockerNetwork(resolve({ ...DEV, dockerNetworkCreate: false }))),
      /no Docker network named lowcode-network/,
    );
  });
});

describe("Pulumi program: the config's warnings are logged as pulumi up runs it", () => {
  /** The messages `pulumi.log.warn` gets while `run` deploys. */
  async function warnedWhile(run: () => Promise<unknown>): Promise<string[]> {
    const warned: string[] = [];
    const original = pulumi.log.warn;
    Object.defineProperty(pulumi.log, "warn", {
      value: (message: string) => {
        warned.push(message);
        return Promise.resolve();
      },
      configurable: true,
      writable: true,
    });
    try {
      await run();
    } finally {
      Object.defineProperty(pulumi.log, "warn", {
        value: original,
        configurable: true,
        writable: true,
      });
    }
    return warned;
  }

  it("the prod stack file, which names no bucket: the missing off-site copy", async () => {
    const warned = await warnedWhile(() => recorder.deploy(loadStackConfig("prod"), {}));
    assert.ok(warned.includes(OFFSITE_MISSING_WARNING), warned.join("\n"));
  });

  it("a production stack with a bucket: no such warning", async () => {
    const cfg = resolve(
      {
        ...PROD_STANDALONE,
        backupS3Bucket: "lowcode-backups",
        backupS3AccessKeyId: { secure: "x" },
        backupS3SecretAccessKey: { secure: "y" },
      },
      "prod",
      ["backupS3AccessKeyId", "backupS3SecretAccessKey"],
    );
    const warned = await warnedWhile(() =>
      recorder.deploy(cfg, { backupS3AccessKeyId: "x", backupS3SecretAccessKey: "y" }),
    );
    assert.ok(!warned.includes(OFFSITE_MISSING_WARNING), warned.join("\n"));
    assert.deepEqual(warned, [...cfg.warnings]);
  });
});
