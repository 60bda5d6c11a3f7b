import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_IMAGES, IMAGE_KEYS, parseImage, withRegistry } from "../../config/images";
import { kubernetesObjects } from "../../render/artifacts";
import { planDeployment } from "../../plan";
import { DEV, PROD, problemsOf, resolve } from "../helpers/config";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = path.join(__dirname, "..", "..");
const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const OFFSITE = {
  backupS3Bucket: "lowcode-backups",
  backupS3AccessKeyId: { secure: "x" },
  backupS3SecretAccessKey: { secure: "y" },
};
const OFFSITE_SECRETS = ["backupS3AccessKeyId", "backupS3SecretAccessKey"];

/** Every container (init containers too) of every pod template of a list of objects, by where. */
function containers(objects: Json[]): [string, Json][] {
  return objects.flatMap((o) => {
    const pod = podSpec(o);
    if (!pod) return [];
    return [...(pod.initContainers ?? []), ...pod.containers].map((c: Json): [string, Json] => [
      `${o.kind}/${o.metadata.name}/${c.name}`,
      c,
    ]);
  });
}

function podSpec(o: Json): Json | undefined {
  if (o.kind === "CronJob") return o.spec.jobTemplate.spec.template.spec;
  if (["StatefulSet", "Deployment", "Job"].includes(o.kind)) return o.spec.template.spec;
  return undefined;
}

describe("image keys: name:tag or name:tag@sha256:<digest>, validated", () => {
  it("accepts tags, digests, registry hosts with ports, and Valkey 7.2 and 8 as the Redis image", () => {
    const good: [string, string][] = [
      ["redisImage", "redis:7.2.16-alpine"],
      ["redisImage", `redis:7.2.16-alpine@${DIGEST}`],
      ["redisImage", "registry.example.com:5000/redis:7.2.16-alpine"],
      ["redisImage", `registry.example.com:5000/mirror/redis:7.2.16@${DIGEST}`],
      ["redisImage", "localhost/redis:7.2.16"],
      ["redisImage", "valkey/valkey:8.1.1-alpine"],
      ["redisImage", "valkey/valkey:8.0.2"],
      ["redisImage", "valkey/valkey:7.2.8"],
      ["exporterImage", `oliver006/redis_exporter:v1.45.0@${DIGEST}`],
      ["exporterImage", "quay.io/oliver006/redis_exporter:v1.88.0-alpine"],
      ["commanderImage", `registry.example.com:5000/joeferner/redis-commander:0.9.0@${DIGEST}`],
      ["rcloneImage", "rclone/rclone:1.68.2"],
      ["insightImage", "redis/redisinsight:2.66.0"],
    ];
    for (const [key, value] of good)
      assert.deepEqual(problemsOf({ ...PROD, [key]: value }), [], `${key} ${value}`);
  });

  it("refuses a bad reference, naming the key, the value and the allowed form", () => {
    const FORM =
      'as name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/")';
    const bad: [string, string][] = [
      ["exporterImage", "oliver006/redis_exporter"],
      ["exporterImage", "oliver006/redis_exporter:latest"],
      ["exporterImage", "Oliver006/redis_exporter:v1.88.0"],
      ["exporterImage", "oliver006/redis_exporter:v1.88.0@sha256:abc"],
      ["exporterImage", `oliver006/redis_exporter:v1.88.0@md5:${"0".repeat(32)}`],
      ["exporterImage", `oliver006/redis_exporter@${DIGEST}`],
      ["commanderImage", "https://ghcr.io/joeferner/redis-commander:0.9.0"],
      ["commanderImage", "ghcr.io//redis-commander:0.9.0"],
      ["rcloneImage", "rclone/rclone:1.68.2 "],
      ["insightImage", "registry.example.com:port/redisinsight:2.66.0"],
    ];
    for (const [key, value] of bad) {
      const example = IMAGE_KEYS[key as "exporterImage"].default;
      assert.deepEqual(
        problemsOf({ ...PROD, [key]: value }),
        [
          `Invalid lowcode-redis:${key} ${JSON.stringify(value)}: must be an image pinned to a tag, ${FORM}, not "latest", e.g. "${example}".`,
        ],
        `${key} ${value}`,
      );
    }
    const redisBad = ["redis:8.0.2", "valkey/valkey:9.0.0", "valkey/valkey:7.0.15", "redis:7"];
    for (const value of redisBad)
      assert.deepEqual(problemsOf({ ...PROD, redisImage: value }), [
        `Invalid lowcode-redis:redisImage ${JSON.stringify(value)}: must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, ${FORM}, e.g. "redis:7.2.16-alpine".`,
      ]);
  });

  it("refuses a bad mirror or pull Secret, and pull Secrets on Docker", () => {
    for (const value of ["https://mirror.example.com", "mirror.example.com/", "hub", "a//b"])
      assert.match(
        problemsOf({ ...PROD, imageRegistry: value }).join("\n"),
        new RegExp(
          `^Invalid lowcode-redis:imageRegistry ${JSON.stringify(value).replace(/[./]/g, "\\$&")}: must be "" \\(each image from its own registry\\) or a registry host`,
        ),
        value,
      );
    assert.deepEqual(problemsOf({ ...PROD, imageRegistry: "mirror.example.com:5000/hub" }), []);
    assert.match(
      problemsOf({ ...PROD, imagePullSecrets: ["Registry_Creds"] }).join("\n"),
      /^Invalid lowcode-redis:imagePullSecrets \["Registry_Creds"\]: must be a list of Secret names in the namespace/,
    );
    assert.match(
      problemsOf({ ...PROD, imagePullSecrets: ["a", "a"] }).join("\n"),
      /^Invalid lowcode-redis:imagePullSecrets \["a","a"\]: must be a list of Secret names .*each once/,
    );
    assert.deepEqual(problemsOf({ ...DEV, imagePullSecrets: ["regcred"] }), [
      `Invalid lowcode-redis:imagePullSecrets ["regcred"]: is for the Kubernetes target only; this stack's target is docker, where Docker pulls with the host's own credentials (docker login).`,
    ]);
  });

  it("the defaults: Redis 7.2.16, a current exporter, each a valid reference of its key", () => {
    assert.equal(DEFAULT_IMAGES.redis, "redis:7.2.16-alpine");
    assert.equal(resolve(PROD).image, "redis:7.2.16-alpine");
    const exporter = parseImage(DEFAULT_IMAGES.exporter)!;
    assert.equal(exporter.repository, "oliver006/redis_exporter");
    const [major, minor] = exporter.tag.slice(1).split(".").map(Number);
    assert.ok(major === 1 && minor >= 67, exporter.tag);
    for (const [key, value] of Object.entries(DEFAULT_IMAGES))
      assert.deepEqual(problemsOf({ ...PROD, [`${key}Image`]: value }), [], key);
  });
});

describe("imageRegistry: a mirror of Docker Hub", () => {
  const mirror = "mirror.example.com:5000/hub";
  it("takes every Docker Hub image, official ones under library/, and keeps other registries and digests", () => {
    assert.equal(
      withRegistry("redis:7.2.16-alpine", mirror),
      "mirror.example.com:5000/hub/library/redis:7.2.16-alpine",
    );
    assert.equal(
      withRegistry("docker.io/library/redis:7.2.16", mirror),
      "mirror.example.com:5000/hub/library/redis:7.2.16",
    );
    assert.equal(
      withRegistry(`oliver006/redis_exporter:v1.88.0@${DIGEST}`, mirror),
      `mirror.example.com:5000/hub/oliver006/redis_exporter:v1.88.0@${DIGEST}`,
    );
    assert.equal(
      withRegistry("ghcr.io/joeferner/redis-commander:0.9.0", mirror),
      "ghcr.io/joeferner/redis-commander:0.9.0",
    );
    assert.equal(withRegistry("redis:7.2.16", ""), "redis:7.2.16");
  });

  it("applies to the resolved images", () => {
    const images = resolve({ ...PROD, imageRegistry: mirror }).images;
    assert.equal(images.redis, `${mirror}/library/redis:7.2.16-alpine`);
    assert.equal(images.exporter, `${mirror}/${DEFAULT_IMAGES.exporter}`);
    assert.equal(images.commander, DEFAULT_IMAGES.commander);
    assert.equal(images.rclone, `${mirror}/${DEFAULT_IMAGES.rclone}`);
    assert.equal(images.insight, `${mirror}/${DEFAULT_IMAGES.insight}`);
  });
});

describe("the config's images and pull Secrets on every pod", () => {
  const configured = {
    redisImage: `registry.example.com:5000/redis:7.2.16-alpine@${DIGEST}`,
    exporterImage: `oliver006/redis_exporter:v1.88.0@${DIGEST}`,
    commanderImage: `registry.example.com:5000/redis-commander:0.9.0@${DIGEST}`,
    rcloneImage: `rclone/rclone:1.68.2@${DIGEST}`,
    insightImage: `redis/redisinsight:2.66.0@${DIGEST}`,
  };

  it("Kubernetes: StatefulSets, Deployments, the CronJob and the restore Job", () => {
    const cfg = resolve(
      {
        ...PROD,
        ...OFFSITE,
        ...configured,
        insightEnabled: true,
        restoreFrom: "s3://lowcode-backups/prod-20260101T020000Z.rdb",
        imagePullSecrets: ["regcred", "mirror-creds"],
      },
      "prod",
      OFFSITE_SECRETS,
    );
    const objects = kubernetesObjects(cfg) as Json[];
    const byContainer = Object.fromEntries(
      containers(objects).map(([where, c]) => [where, c.image]),
    );
    assert.deepEqual(byContainer, {
      "Job/lowcode-redis-restore/fetch": configured.rcloneImage,
      "Job/lowcode-redis-restore/restore": configured.redisImage,
      "CronJob/lowcode-redis-backup/backup": configured.redisImage,
      "CronJob/lowcode-redis-backup/offsite": configured.rcloneImage,
      "StatefulSet/lowcode-redis/config": configured.redisImage,
      "StatefulSet/lowcode-redis/redis": configured.redisImage,
      "StatefulSet/lowcode-redis/metrics": configured.exporterImage,
      "StatefulSet/lowcode-redis-sentinel/config": configured.redisImage,
      "StatefulSet/lowcode-redis-sentinel/sentinel": configured.redisImage,
      "StatefulSet/lowcode-redis-sentinel/metrics": configured.exporterImage,
      "Deployment/lowcode-redis-commander/commander": configured.commanderImage,
      "Deployment/lowcode-redis-insight/insight": configured.insightImage,
    });
    const pods = objects.filter((o) => podSpec(o) !== undefined);
    assert.equal(pods.length, 6);
    for (const o of pods)
      assert.deepEqual(
        podSpec(o)!.imagePullSecrets,
        [{ name: "regcred" }, { name: "mirror-creds" }],
        `${o.kind}/${o.metadata.name}`,
      );
    // None set: no field.
    for (const o of kubernetesObjects(resolve(PROD)) as Json[])
      if (podSpec(o)) assert.equal(podSpec(o)!.imagePullSecrets, undefined);
  });

  it("Docker: the images pulled are the config's", () => {
    const cfg = resolve(
      { ...DEV, ...OFFSITE, ...configured, insightEnabled: true, topology: "sentinel" },
      "dev",
      OFFSITE_SECRETS,
    );
    const pulled = new Set<string>();
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(visit);
      else if (typeof value === "object" && value !== null) {
        const v = value as Json;
        if (typeof v.resourceName === "string" && v.resourceName.endsWith("-image"))
          pulled.add(v.name);
        Object.values(v).forEach(visit);
      }
    };
    visit(planDeployment(cfg));
    assert.deepEqual(
      [...pulled].sort(),
      [
        configured.redisImage,
        configured.commanderImage,
        configured.rcloneImage,
        configured.insightImage,
      ].sort(),
    );
  });
});

describe("renovate.json updates the default images and pins npm versions", () => {
  const renovate = JSON.parse(fs.readFileSync(path.join(ROOT, "renovate.json"), "utf8")) as Json;

  it("its regex manager reads each default of config/images.ts, and nothing else", () => {
    const [manager] = (renovate.customManagers as Json[]).filter((m) =>
      m.managerFilePatterns.some((p: string) => p.includes("images")),
    );
    assert.equal(manager.customType, "regex");
    assert.equal(manager.datasourceTemplate, "docker");
    const file = "config/images.ts";
    const pattern = (manager.managerFilePatterns as string[])[0];
    assert.match(file, new RegExp(pattern.slice(1, -1)));
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const found = (manager.matchStrings as string[]).flatMap((s) =>
      [...text.matchAll(new RegExp(s, "g"))].map((m) => {
        const { depName, currentValue, currentDigest } = m.groups!;
        return `${depName}:${currentValue}${currentDigest ? `@${currentDigest}` : ""}`;
      }),
    );
    assert.deepEqual(found.sort(), Object.values(DEFAULT_IMAGES).sort());
  });

  it("npm dependencies stay exact pins; Redis stays on 7.2; Commander's image and package move together", () => {
    const rules = renovate.packageRules as Json[];
    assert.ok(rules.some((r) => r.matchManagers?.includes("npm") && r.rangeStrategy === "pin"));
    const redis = rules.find((r) => r.matchPackageNames?.includes("redis"))!;
    const allowed = new RegExp(redis.allowedVersions.slice(1, -1));
    assert.ok(allowed.test("7.2.17-alpine") && !allowed.test("7.4.0-alpine"));
    assert.ok(!allowed.test("8.0.0-alpine"));
    const commander = rules.find((r) => r.groupName === "redis-commander")!;
    assert.deepEqual(commander.matchPackageNames, [
      "redis-commander",
      parseImage(DEFAULT_IMAGES.commander)!.registry + "/joeferner/redis-commander",
    ]);
  });

  it("the Pulumi CLI pin (.pulumi.version) is read as @pulumi/pulumi's version and moves with the SDK", () => {
    const [manager] = (renovate.customManagers as Json[]).filter((m) =>
      m.managerFilePatterns.some((p: string) => new RegExp(p.slice(1, -1)).test(".pulumi.version")),
    );
    const text = fs.readFileSync(path.join(ROOT, ".pulumi.version"), "utf8");
    const m = new RegExp(manager.matchStrings[0], "m").exec(text);
    assert.equal(m?.groups?.currentValue, text.trim());
    assert.equal(manager.depNameTemplate, "@pulumi/pulumi");
    const rules = renovate.packageRules as Json[];
    assert.ok(rules.some((r) => r.groupName && r.matchPackageNames?.includes("@pulumi/pulumi")));
  });
});
