import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { isAlias, isNode, parse, parseDocument, visit } from "yaml";
import { OFFSITE_MISSING_WARNING } from "../../config/backup";
import { K8sObject } from "../../render/kubernetes";
import {
  checkHardening,
  checkInvariants,
  loadOperatorModels,
  validateAgainstSchema,
} from "../helpers/k8s-schema";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = path.join(__dirname, "..", "..");

/** `npm run render -- --stack prod [--config FILE] --out DIR`, as an operator runs it. */
async function renderProd(
  configFile?: string,
): Promise<{ dir: string; files: Record<string, string>; stderr: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-manifests-"));
  const { stderr } = await promisify(execFile)(
    process.execPath,
    [
      "-r",
      "ts-node/register/transpile-only",
      "scripts/render.ts",
      "--stack",
      "prod",
      ...(configFile ? ["--config", configFile] : []),
      "--out",
      dir,
    ],
    { cwd: ROOT, timeout: 60_000 },
  );
  const manifests = path.join(dir, "manifests");
  const files = Object.fromEntries(
    fs.readdirSync(manifests).map((f) => [f, fs.readFileSync(path.join(manifests, f), "utf8")]),
  );
  return { dir, files, stderr };
}

/** Anchors and aliases of a YAML text: reviewers read every value where it is used. */
function anchorsAndAliases(text: string): string[] {
  const found: string[] = [];
  visit(parseDocument(text), (_key, node) => {
    if (isAlias(node)) found.push(`*${node.source}`);
    else if (isNode(node) && node.anchor) found.push(`&${node.anchor}`);
  });
  return found;
}

for (const [what, extra] of [
  ["the prod stack", undefined],
  [
    "the prod stack with the Prometheus operator's resources and off-site copies",
    {
      "lowcode-redis:metricsServiceMonitor": true,
      "lowcode-redis:metricsPrometheusRule": true,
      "lowcode-redis:metricsLabels": "release=kube-prometheus-stack",
      "lowcode-redis:backupS3Bucket": "lowcode-backups",
      "lowcode-redis:backupS3AccessKeyId": { secure: "x" },
      "lowcode-redis:backupS3SecretAccessKey": { secure: "y" },
    },
  ],
] as const) {
  describe(`npm run render -- --stack prod: manifests as reviewers read them, ${what}`, function () {
    let dir: string;
    let files: Record<string, string>;
    let stderr: string;
    let objects: K8sObject[];

    before(async () => {
      let configFile: string | undefined;
      if (extra) {
        const stackFile = parse(
          fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"),
        ) as Json;
        configFile = path.join(
          fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-stack-")),
          "Pulumi.prod.yaml",
        );
        fs.writeFileSync(configFile, JSON.stringify({ config: { ...stackFile.config, ...extra } }));
      }
      await loadOperatorModels();
      ({ dir, files, stderr } = await renderProd(configFile));
      objects = Object.values(files).map((text) => parse(text) as K8sObject);
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("warns on stderr when no off-site copy is configured, and only then", () => {
      const offsite = extra !== undefined && "lowcode-redis:backupS3Bucket" in extra;
      assert.equal(stderr.includes(`warning: ${OFFSITE_MISSING_WARNING}\n`), !offsite, stderr);
    });

    it("no YAML anchors or aliases in any manifest", () => {
      for (const [file, text] of Object.entries(files))
        assert.deepEqual(anchorsAndAliases(text), [], `${file} uses anchors or aliases`);
    });

    it("every object validates against its schema and the cross-object invariants hold", () => {
      for (const object of objects) validateAgainstSchema(object);
      checkInvariants(objects);
    });

    it("every pod, the exporter sidecars included, is hardened", () => {
      checkHardening(objects);
      const sets = objects.filter((o) => o.kind === "StatefulSet") as Json[];
      for (const set of sets)
        assert.deepEqual(
          set.spec.template.spec.containers.map((c: Json) => c.name).slice(-1),
          ["metrics"],
          `${set.metadata.name} has no exporter sidecar`,
        );
    });

    it("has the NetworkPolicies, the metrics Services and the applications' connection Secret", () => {
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      for (const expected of [
        "NetworkPolicy/lowcode-redis-default-deny",
        "NetworkPolicy/lowcode-redis-redis",
        "NetworkPolicy/lowcode-redis-sentinel",
        "NetworkPolicy/lowcode-redis-commander",
        "NetworkPolicy/lowcode-redis-backup",
        "Service/lowcode-redis-metrics",
        "Service/lowcode-redis-sentinel-metrics",
        "Secret/lowcode-redis-connection",
      ])
        assert.ok(names.includes(expected), `${expected} is missing`);
      const operator = names.filter((n) => /^(ServiceMonitor|PrometheusRule)\//.test(n));
      assert.deepEqual(
        operator,
        extra ? ["ServiceMonitor/lowcode-redis", "PrometheusRule/lowcode-redis"] : [],
      );
    });

    it("secrets appear only as references", () => {
      const connection = objects.find(
        (o) => o.metadata.name === "lowcode-redis-connection",
      ) as Json;
      assert.equal(connection.stringData.REDIS_PASSWORD, "{{secret:appPassword}}");
      assert.equal(
        connection.stringData.REDIS_SENTINEL_PASSWORD,
        "{{secret:sentinelClientPassword}}",
      );
      assert.equal(connection.stringData.REDIS_USERNAME, "app");
    });
  });
}

describe("npm run render -- --stack prod: every image from the config, pinned by digest", function () {
  const digest = `sha256:${"ab".repeat(32)}`;
  const images = {
    redisImage: `registry.example.com:5000/redis:7.2.16-alpine@${digest}`,
    exporterImage: `registry.example.com:5000/oliver006/redis_exporter:v1.88.0@${digest}`,
    commanderImage: `registry.example.com:5000/joeferner/redis-commander:0.9.0@${digest}`,
    rcloneImage: `registry.example.com:5000/rclone/rclone:1.68.2@${digest}`,
    insightImage: `registry.example.com:5000/redis/redisinsight:2.66.0@${digest}`,
  };
  let dir: string;
  let objects: Json[];

  before(async () => {
    const stackFile = parse(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")) as Json;
    const config = { ...stackFile.config, "lowcode-redis:insightEnabled": true };
    for (const [key, value] of Object.entries(images)) config[`lowcode-redis:${key}`] = value;
    config["lowcode-redis:imagePullSecrets"] = ["regcred"];
    // An off-site copy, so that the backup runs rclone's image too.
    config["lowcode-redis:backupS3Bucket"] = "lowcode-backups";
    config["lowcode-redis:backupS3AccessKeyId"] = { secure: "x" };
    config["lowcode-redis:backupS3SecretAccessKey"] = { secure: "y" };
    const configFile = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-redis-stack-")),
      "Pulumi.prod.yaml",
    );
    fs.writeFileSync(configFile, JSON.stringify({ config }));
    let files: Record<string, string>;
    ({ dir, files } = await renderProd(configFile));
    objects = Object.values(files).map((text) => parse(text) as Json);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("each container runs its key's image, digest included, and each pod has the pull Secret", () => {
    const pods = objects.flatMap((o) =>
      o.kind === "CronJob"
        ? [o.spec.jobTemplate.spec.template.spec]
        : ["StatefulSet", "Deployment", "Job"].includes(o.kind)
          ? [o.spec.template.spec]
          : [],
    );
    assert.equal(pods.length, 5); // nodes, sentinels, Commander, RedisInsight, backup
    const used = new Set<string>();
    for (const pod of pods) {
      assert.deepEqual(pod.imagePullSecrets, [{ name: "regcred" }]);
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) used.add(c.image);
    }
    assert.deepEqual([...used].sort(), Object.values(images).sort());
    checkHardening(objects as K8sObject[]);
  });
});

describe("the hardening check catches what a renderer could drop", () => {
  const pod = (container: Json): K8sObject =>
    ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: {
        template: {
          spec: {
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              seccompProfile: { type: "RuntimeDefault" },
            },
            automountServiceAccountToken: false,
            containers: [container],
          },
        },
      },
    }) as unknown as K8sObject;
  const good = {
    name: "c",
    image: "redis:7.2.16-alpine",
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    },
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } },
  };

  it("accepts a hardened container and refuses each missing field", () => {
    checkHardening([pod(good)]);
    for (const field of Object.keys(good.securityContext)) {
      const securityContext: Json = { ...good.securityContext };
      delete securityContext[field];
      assert.throws(
        () => checkHardening([pod({ ...good, securityContext })]),
        new RegExp(field),
        field,
      );
    }
    assert.throws(() => checkHardening([pod({ ...good, image: "redis:latest" })]), /pinned/);
    assert.throws(() => checkHardening([pod({ ...good, image: "redis" })]), /image tag/);
    assert.throws(
      () => checkHardening([pod({ ...good, image: "registry.example.com:5000/redis" })]),
      /image tag/,
    );
    checkHardening([pod({ ...good, image: "registry.example.com:5000/redis:7.2.16-alpine" })]);
    assert.throws(() => checkHardening([pod({ ...good, resources: {} })]), /requests/);
  });
});
