import { strict as assert } from "node:assert";
import {
  PEER_WAIT_SECONDS,
  PRE_STOP_SECONDS,
  SENTINEL_START_WAIT_SECONDS,
  masterWaitSeconds,
  terminationGraceSeconds,
} from "../../render/sentinel";
import * as fs from "node:fs";
import * as path from "node:path";
import { kubernetesObjects, renderArtifacts } from "../../render/artifacts";
import {
  K8sObject,
  SENTINEL_MEMORY_MI,
  redisObjects,
  startupLoadSeconds,
} from "../../render/kubernetes";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";
import { checkHardening, checkInvariants, validateAgainstSchema } from "../helpers/k8s-schema";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("Kubernetes objects: valid against the Kubernetes schemas and consistent with each other", () => {
  const variants: Array<[string, Record<string, unknown>]> = [
    ["production standalone", PROD_STANDALONE],
    [
      "dev on kubernetes, hard anti-affinity, storage class",
      {
        target: "kubernetes",
        profile: "dev",
        antiAffinity: "hard",
        storageClass: "fast-ssd",
        createNamespace: false,
      },
    ],
    [
      "production group restoring a local backup",
      { ...PROD, restoreFrom: "prod-20260101T020000Z.rdb" },
    ],
    [
      "production standalone, off-site copies, restoring from S3, backups of a storage class",
      {
        ...PROD_STANDALONE,
        storageClass: "fast-ssd",
        backupS3Bucket: "lowcode-backups",
        backupS3AccessKeyId: { secure: "x" },
        backupS3SecretAccessKey: { secure: "y" },
        restoreFrom: "s3://lowcode-backups/prod-20260101T020000Z.rdb",
      },
    ],
    ["production group without backups", { ...PROD, backupEnabled: false }],
  ];
  for (const [what, values] of variants) {
    it(`${what}: every object validates and the invariants hold`, () => {
      const objects = kubernetesObjects(
        resolve(
          values,
          "test",
          ["backupS3AccessKeyId", "backupS3SecretAccessKey"].filter((k) => k in values),
        ),
      );
      for (const object of objects) validateAgainstSchema(object);
      checkInvariants(objects);
      checkHardening(objects);
    });
  }

  it("the invariants catch a backup pod's mount without a volume and a restore Job's missing claim", () => {
    const objects = structuredClone(
      kubernetesObjects(resolve({ ...PROD, restoreFrom: "prod-20260101T020000Z.rdb" })),
    ) as Json[];
    const cron = objects.find((o) => o.kind === "CronJob")!;
    cron.spec.jobTemplate.spec.template.spec.volumes.pop();
    assert.throws(() => checkInvariants(objects as K8sObject[]), /mount backups has no volume/);
    const fresh = structuredClone(
      kubernetesObjects(resolve({ ...PROD, restoreFrom: "prod-20260101T020000Z.rdb" })),
    ) as Json[];
    const without = fresh.filter(
      (o) => !(o.kind === "PersistentVolumeClaim" && o.metadata.name === "data-lowcode-redis-0"),
    );
    assert.throws(
      () => checkInvariants(without as K8sObject[]),
      /claim data-lowcode-redis-0 is not in the set/,
    );
  });

  it("the schema check catches a wrong type", () => {
    const [sts] = kubernetesObjects(resolve(PROD_STANDALONE)).filter(
      (o) => o.kind === "StatefulSet",
    ) as Json[];
    const broken = structuredClone(sts);
    broken.spec.replicas = "three";
    assert.throws(() => validateAgainstSchema(broken as K8sObject), /replicas/);
  });

  it("the invariants catch a selector that does not match", () => {
    const objects = structuredClone(kubernetesObjects(resolve(PROD_STANDALONE))) as Json[];
    objects.find((o) => o.kind === "StatefulSet")!.spec.selector.matchLabels[
      "app.kubernetes.io/component"
    ] = "other";
    assert.throws(() => checkInvariants(objects as K8sObject[]), /selector does not match/);
  });

  describe("the Redis pod", () => {
    const cfg = resolve(PROD_STANDALONE);
    const sts = kubernetesObjects(cfg).find((o) => o.kind === "StatefulSet") as Json;
    const pod = sts.spec.template.spec;
    const redis = pod.containers[0];

    it("runs non-root with RuntimeDefault seccomp; containers drop ALL, read-only root, no escalation", () => {
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: 999,
        runAsGroup: 999,
        fsGroup: 999,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const c of [...pod.initContainers, ...pod.containers]) {
        assert.deepEqual(c.securityContext, {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    });

    it("limits memory to maxmemory plus fork headroom, request = limit", () => {
      assert.deepEqual(redis.resources, {
        requests: { cpu: "100m", memory: "816Mi" },
        limits: { memory: "816Mi" },
      });
    });

    it("probes authenticate through the probe script: readiness as rendered, liveness and startup tolerate LOADING", () => {
      assert.deepEqual(redis.readinessProbe.exec.command, ["sh", "/conf/probe.sh"]);
      assert.deepEqual(redis.livenessProbe.exec.command, ["sh", "/conf/probe.sh", "live"]);
      assert.deepEqual(redis.startupProbe.exec.command, ["sh", "/conf/probe.sh", "live"]);
      // The start may wait for a failover and then load the data before liveness applies.
      const budget = redis.startupProbe.periodSeconds * redis.startupProbe.failureThreshold;
      const wait = PEER_WAIT_SECONDS + masterWaitSeconds(cfg);
      assert.ok(budget >= wait + startupLoadSeconds(cfg.redis.maxmemoryBytes));
      assert.ok(budget < wait + startupLoadSeconds(cfg.redis.maxmemoryBytes) + 5);
    });

    it("the startup probe's load budget is 60 s + 2 × maxmemory ÷ 10 MiB/s: 137 s for production's 384mb", () => {
      assert.equal(cfg.redis.maxmemory, "384mb");
      assert.equal(startupLoadSeconds(cfg.redis.maxmemoryBytes), 60 + Math.ceil((2 * 384) / 10));
      assert.equal(startupLoadSeconds(cfg.redis.maxmemoryBytes), 137);
    });

    it("the startup probe's budget grows with maxmemory", () => {
      const budget = (maxmemory: string) => {
        // The volume is derived from maxmemory (5 x maxmemory + 25%): 16gb needs 100Gi.
        const big = resolve({ ...PROD_STANDALONE, maxmemory });
        const set = kubernetesObjects(big).find((o) => o.kind === "StatefulSet") as Json;
        const probe = set.spec.template.spec.containers[0].startupProbe;
        return probe.periodSeconds * probe.failureThreshold;
      };
      const small = budget("384mb");
      const large = budget("4gb");
      const huge = budget("16gb");
      assert.ok(small < large && large < huge, `${small} < ${large} < ${huge}`);
      // Twice 4gb at 10 MiB/s instead of twice 384mb, to the probe's period of 5 s.
      const grown = Math.ceil((2 * 4096) / 10) - Math.ceil((2 * 384) / 10);
      assert.ok(Math.abs(large - small - grown) < 5, `${large - small} ≈ ${grown}`);
    });

    it("copies config and secrets into a writable in-memory volume before start", () => {
      assert.deepEqual(pod.initContainers[0].command, ["sh", "/etc/redis-config/prepare.sh"]);
      assert.deepEqual(pod.volumes.find((v: Json) => v.name === "conf").emptyDir, {
        medium: "Memory",
        sizeLimit: "1Mi",
      });
      assert.ok(
        redis.volumeMounts.some(
          (m: Json) => m.name === "conf" && m.mountPath === "/conf" && !m.readOnly,
        ),
      );
    });

    it("binds the pod IP in production through $(POD_IP) from the downward API", () => {
      assert.deepEqual(redis.args.slice(-3), ["--bind", "127.0.0.1", "$(POD_IP)"]);
      assert.deepEqual(redis.env, [
        { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "CONF_DIR", value: "/conf" },
        { name: "DATA_DIR", value: "/data" },
      ]);
    });

    it("keeps secrets owner-only: start script with umask, owner-only mounts, fsGroup applied once", () => {
      // start-redis.sh sets umask 077 before Redis writes RDB, AOF or a rewritten redis.conf.
      assert.deepEqual(redis.command, ["sh", "/conf/start-redis.sh"]);
      assert.equal(pod.securityContext.fsGroupChangePolicy, "OnRootMismatch");
      const volume = (name: string) => pod.volumes.find((v: Json) => v.name === name);
      assert.equal(volume("secret").secret.defaultMode, 0o400);
      assert.equal(volume("config").configMap.defaultMode, 0o400);
    });

    it("keeps data on a volumeClaimTemplate", () => {
      // 5 x maxmemory 384mb + 25%, whole Gi (config/storage.ts).
      assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "3Gi");
      assert.ok(redis.volumeMounts.some((m: Json) => m.name === "data" && m.mountPath === "/data"));
    });

    it("holds no secret in the ConfigMap", () => {
      const cm = kubernetesObjects(cfg).find((o) => o.kind === "ConfigMap") as Json;
      assert.doesNotMatch(JSON.stringify(cm.data), /requirepass|user \w+ on|rename-command CONFIG/);
    });
  });
});

describe("Kubernetes objects of a sentinel group: valid, consistent, and wired for stable names", () => {
  const cfg = resolve(PROD);
  const objects = kubernetesObjects(cfg) as Json[];
  const sts = (name: string) =>
    objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === name)!;

  it("every object validates and the invariants hold", () => {
    for (const object of objects) validateAgainstSchema(object as K8sObject);
    checkInvariants(objects as K8sObject[]);
  });

  it("has no plain client Service for Redis (it would send writes to replicas), and a sentinel Service", () => {
    const services = objects
      .filter((o) => o.kind === "Service")
      .map((o) => o.metadata.name)
      .sort();
    assert.deepEqual(services, [
      // Commander's web page, not a way to Redis.
      "lowcode-redis-commander",
      "lowcode-redis-headless",
      // The exporters' metrics port, one Service per set.
      "lowcode-redis-metrics",
      "lowcode-redis-sentinel",
      "lowcode-redis-sentinel-headless",
      "lowcode-redis-sentinel-metrics",
    ]);
  });

  it("PodDisruptionBudgets allow one pod of each set down at a time", () => {
    const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget");
    assert.deepEqual(
      pdbs.map((p) => [p.metadata.name, p.spec.maxUnavailable]),
      [
        ["lowcode-redis", 1],
        ["lowcode-redis-sentinel", 1],
      ],
    );
  });

  it("Redis nodes start through start-redis.sh with their stable DNS name and every sentinel's", () => {
    const env = Object.fromEntries(
      sts("lowcode-redis")
        .spec.template.spec.containers[0].env.filter((e: Json) => e.value)
        .map((e: Json) => [e.name, e.value]),
    );
    assert.equal(env.NODE_HOST, "$(POD_NAME).lowcode-redis-headless.lowcode.svc.cluster.local");
    assert.equal(
      env.DEFAULT_MASTER,
      "lowcode-redis-0.lowcode-redis-headless.lowcode.svc.cluster.local 6379",
    );
    assert.equal(env.SENTINELS.split(" ").length, 3);
    assert.match(
      env.SENTINELS,
      /^lowcode-redis-sentinel-0\.lowcode-redis-sentinel-headless\.lowcode\.svc\.cluster\.local:26379 /,
    );
  });

  it("a Redis node runs the pre-stop hook before SIGTERM, within a grace period longer than the hook's bound", () => {
    const pod = sts("lowcode-redis").spec.template.spec;
    assert.deepEqual(pod.containers[0].lifecycle.preStop.exec.command, ["sh", "/conf/pre-stop.sh"]);
    // The hook ends within PRE_STOP_SECONDS; Redis then needs time to shut down.
    assert.ok(pod.terminationGracePeriodSeconds >= PRE_STOP_SECONDS + 20);
    assert.equal(terminationGraceSeconds(), pod.terminationGracePeriodSeconds);
    const sentinelPod = sts("lowcode-redis-sentinel").spec.template.spec;
    assert.equal(sentinelPod.containers[0].lifecycle, undefined);
  });

  it("sentinels keep their state on a persistent volume of sentinelStorageSize and bind their pod IP", () => {
    const set = sts("lowcode-redis-sentinel");
    const pod = set.spec.template.spec;
    assert.deepEqual(pod.containers[0].args, ["--bind", "127.0.0.1", "$(POD_IP)"]);
    // Not an emptyDir: the state must outlive the pod, or a whole-group restart forgets the master.
    assert.ok(!pod.volumes.some((v: Json) => v.name === "state"));
    assert.deepEqual(
      set.spec.volumeClaimTemplates.map((c: Json) => [c.metadata.name, c.spec.resources.requests]),
      [["state", { storage: "16Mi" }]],
    );
    assert.ok(
      pod.containers[0].volumeMounts.some(
        (m: Json) => m.name === "state" && m.mountPath === "/state",
      ),
    );
    const sized = redisObjects(
      resolve({ ...PROD, sentinelStorageSize: "128Mi", storageClass: "fast" }, "prod"),
      "lowcode-redis",
    ).find((o) => o.kind === "StatefulSet" && o.metadata.name === "lowcode-redis-sentinel") as Json;
    assert.deepEqual(sized.spec.volumeClaimTemplates[0].spec, {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "128Mi" } },
      storageClassName: "fast",
    });
  });

  it("every script gets NODES and SENTINELS in ordinal order; a sentinel waits for the nodes' choice under a startup probe", () => {
    const env = (name: string) =>
      Object.fromEntries(
        sts(name).spec.template.spec.containers[0].env.map((e: Json) => [e.name, e.value]),
      );
    const nodes = [0, 1, 2]
      .map((i) => `lowcode-redis-${i}.lowcode-redis-headless.lowcode.svc.cluster.local:6379`)
      .join(" ");
    for (const name of ["lowcode-redis", "lowcode-redis-sentinel"]) {
      assert.equal(env(name).NODES, nodes);
      assert.match(env(name).SENTINELS, /^lowcode-redis-sentinel-0\..*:26379 .*-1\..* .*-2\./);
    }
    const sentinel = sts("lowcode-redis-sentinel").spec.template.spec.containers[0];
    const allowed = sentinel.startupProbe.periodSeconds * sentinel.startupProbe.failureThreshold;
    assert.ok(allowed >= SENTINEL_START_WAIT_SECONDS, `${allowed} s`);
    // The headless Service publishes pods before they are Ready: choosing nodes find each other.
    const headless = objects.find(
      (o) => o.kind === "Service" && o.metadata.name === "lowcode-redis-headless",
    ) as Json;
    assert.equal(headless.spec.publishNotReadyAddresses, true);
  });

  it("soft anti-affinity by default, spreading each set over nodes", () => {
    for (const name of ["lowcode-redis", "lowcode-redis-sentinel"]) {
      const affinity = sts(name).spec.template.spec.affinity.podAntiAffinity;
      assert.equal(
        affinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey,
        "kubernetes.io/hostname",
      );
    }
  });
});

describe("Kubernetes names in the cluster's DNS domain (clusterDomain), and each container's memory", () => {
  const DOMAIN = "corp.example";
  const env = (container: Json) =>
    Object.fromEntries(
      container.env.filter((e: Json) => e.value).map((e: Json) => [e.name, e.value]),
    );

  it("a group: every pod and Service name, in env and rendered files, ends in the configured domain", () => {
    const cfg = resolve({ ...PROD, clusterDomain: DOMAIN });
    const objects = kubernetesObjects(cfg) as Json[];
    const container = (name: string) =>
      objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === name)!.spec.template.spec
        .containers[0];
    const redis = env(container("lowcode-redis"));
    const sentinel = env(container("lowcode-redis-sentinel"));
    assert.equal(redis.NODE_HOST, `$(POD_NAME).lowcode-redis-headless.lowcode.svc.${DOMAIN}`);
    assert.equal(
      sentinel.NODE_HOST,
      `$(POD_NAME).lowcode-redis-sentinel-headless.lowcode.svc.${DOMAIN}`,
    );
    for (const e of [redis, sentinel]) {
      assert.equal(
        e.DEFAULT_MASTER,
        `lowcode-redis-0.lowcode-redis-headless.lowcode.svc.${DOMAIN} 6379`,
      );
      assert.equal(
        e.SENTINELS,
        [0, 1, 2]
          .map(
            (i) =>
              `lowcode-redis-sentinel-${i}.lowcode-redis-sentinel-headless.lowcode.svc.${DOMAIN}:26379`,
          )
          .join(" "),
      );
    }
    // Every name anywhere in what is deployed: manifests, scripts, config files.
    const text = JSON.stringify(renderArtifacts(cfg));
    const domains = [...text.matchAll(/\.svc\.([a-z0-9.-]*[a-z0-9])/g)].map((m) => m[1]);
    assert.ok(domains.length >= 10, `only ${domains.length} names`);
    assert.deepEqual([...new Set(domains)], [DOMAIN]);
    assert.ok(!text.includes("cluster.local"));
  });

  it("a standalone server: nothing rendered names the default domain", () => {
    const text = JSON.stringify(
      renderArtifacts(resolve({ ...PROD_STANDALONE, clusterDomain: DOMAIN })),
    );
    assert.ok(!text.includes("cluster.local"));
  });

  it("no source file writes the domain but the config's default", () => {
    const root = path.join(__dirname, "..", "..");
    const hits: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.name.startsWith(".") || ["node_modules", "tests"].includes(entry.name)) continue;
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith(".ts"))
          fs.readFileSync(file, "utf8")
            .split("\n")
            .forEach((line) => {
              if (line.includes("cluster.local"))
                hits.push(`${path.relative(root, file)}: ${line.trim()}`);
            });
      }
    };
    walk(root);
    assert.deepEqual(hits, [
      'config/kubernetes.ts: const DEFAULT_CLUSTER_DOMAIN = "cluster.local";',
    ]);
  });

  it("a group's Redis containers hold maxmemory, the replication buffers and the fork headroom", () => {
    const objects = kubernetesObjects(resolve(PROD)) as Json[];
    const redis = objects.find(
      (o) => o.kind === "StatefulSet" && o.metadata.name === "lowcode-redis",
    )!;
    // 2 x 384 + 2 replicas x 96 + 32 backlog + 48 for the clients; request = limit.
    assert.deepEqual(redis.spec.template.spec.containers[0].resources, {
      requests: { cpu: "100m", memory: "1040Mi" },
      limits: { memory: "1040Mi" },
    });
  });

  it("sentinels have the memory limit the Docker sentinels share", () => {
    const objects = kubernetesObjects(resolve(PROD)) as Json[];
    const sentinel = objects.find(
      (o) => o.kind === "StatefulSet" && o.metadata.name === "lowcode-redis-sentinel",
    )!;
    assert.deepEqual(SENTINEL_MEMORY_MI, { request: 32, limit: 128 });
    assert.deepEqual(sentinel.spec.template.spec.containers[0].resources, {
      requests: { cpu: "50m", memory: "32Mi" },
      limits: { memory: "128Mi" },
    });
  });
});
