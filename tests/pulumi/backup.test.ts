import { strict as assert } from "node:assert";
import { loadStackConfig } from "../../config/stack-file";
import { DOCKER_BACKUP, backupPlainFiles } from "../../render/backup";
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT } from "../../render/kubernetes";
import { IMAGE_KEYS } from "../../config/images";
import { kubernetesBackupSite } from "../../render/kubernetes-backup";
import { DEV, PROD, resolve } from "../helpers/config";
import { validateAgainstSchema } from "../helpers/k8s-schema";
import {
  Json,
  MockRecorder,
  containsSecret,
  isWrappedSecret,
  unwrap,
} from "../helpers/pulumi-mocks";

const RCLONE_IMAGE = IMAGE_KEYS.rcloneImage.default;

const recorder = new MockRecorder();
const S3 = {
  backupS3Endpoint: "https://s3.example.com",
  backupS3Bucket: "lowcode-backups",
  backupS3Prefix: "redis/prod",
  backupS3AccessKeyId: { secure: "v1:x" },
  backupS3SecretAccessKey: { secure: "v1:y" },
};
const S3_SECRET_KEYS = ["backupS3AccessKeyId", "backupS3SecretAccessKey"];
const S3_VALUES = {
  backupS3AccessKeyId: "AKIA-supplied-key-id",
  backupS3SecretAccessKey: "supplied-s3-secret-key",
};

/** Every plain string of a value (secrets left out). */
const plainText = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (isWrappedSecret(v) ? "(secret)" : v));

describe("Pulumi program: BackupCronJob on Kubernetes (prod stack)", () => {
  const cfg = loadStackConfig("prod");
  before(async () => {
    await recorder.deploy(cfg, {});
  });

  it("a CronJob on the schedule in UTC, one run at a time, bounded, with history limits", () => {
    const cron = unwrap(
      recorder.find("kubernetes:batch/v1:CronJob", "lowcode-redis-backup-cronjob").inputs,
    ) as Json;
    validateAgainstSchema(cron as never);
    assert.equal(cron.metadata.name, "lowcode-redis-backup");
    assert.equal(cron.metadata.namespace, "lowcode");
    assert.equal(cron.metadata.labels["app.kubernetes.io/component"], "backup");
    const { jobTemplate, ...schedule } = cron.spec;
    assert.deepEqual(schedule, {
      schedule: "0 2 * * *",
      timeZone: "Etc/UTC",
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    assert.equal(jobTemplate.spec.backoffLimit, 2);
    assert.equal(jobTemplate.spec.activeDeadlineSeconds, 3600);
    const pod = jobTemplate.spec.template.spec;
    assert.deepEqual(pod.securityContext, POD_SECURITY_CONTEXT);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(pod.initContainers, undefined, "no off-site step without a bucket");
    assert.deepEqual(
      pod.containers.map((c: Json) => [c.name, c.image, c.command.join(" ")]),
      [["backup", cfg.image, "sh /conf/backup.sh"]],
    );
    const container = pod.containers[0];
    assert.deepEqual(container.securityContext, CONTAINER_SECURITY_CONTEXT);
    assert.deepEqual(container.resources, {
      requests: { cpu: "50m", memory: "64Mi" },
      limits: { memory: "256Mi" },
    });
    assert.deepEqual(pod.volumes, [
      {
        name: "conf",
        projected: {
          defaultMode: 0o440,
          sources: [
            { configMap: { name: "lowcode-redis-backup-config" } },
            { secret: { name: "lowcode-redis-backup-auth" } },
          ],
        },
      },
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
      { name: "backups", persistentVolumeClaim: { claimName: "lowcode-redis-backups" } },
    ]);
    // Every mount names a volume of the pod.
    const volumes = new Set(pod.volumes.map((v: Json) => v.name));
    for (const m of container.volumeMounts) assert.ok(volumes.has(m.name), m.name);
  });

  it("the claim is (retention + 1) x maxmemory; the ConfigMap holds the rendered scripts, byte for byte; the Secret only secret data", () => {
    const claim = unwrap(
      recorder.find("kubernetes:core/v1:PersistentVolumeClaim", "lowcode-redis-backup-claim")
        .inputs,
    ) as Json;
    validateAgainstSchema(claim as never);
    assert.deepEqual(claim.spec, {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "3072Mi" } },
    });
    const configMap = recorder.find("kubernetes:core/v1:ConfigMap", "lowcode-redis-backup-config");
    assert.deepEqual(
      unwrap(configMap.inputs).data,
      backupPlainFiles(cfg, kubernetesBackupSite(cfg, "lowcode-redis")),
    );
    assert.match(
      unwrap(configMap.inputs).data["backup.env"],
      /^SENTINELS='lowcode-redis-sentinel-0\.lowcode-redis-sentinel-headless\.lowcode\.svc\.cluster\.local:26379 /m,
    );
    assert.ok(!containsSecret(configMap.inputs));
    const secret = recorder.find("kubernetes:core/v1:Secret", "lowcode-redis-backup-auth");
    assert.ok(containsSecret(secret.inputs.stringData), "stringData is secret");
    assert.deepEqual(Object.keys(unwrap(secret.inputs.stringData)).sort(), [
      "backup.pass",
      "sentinel-client.pass",
    ]);
    for (const r of recorder.resources.filter((r) => r.name.startsWith("lowcode-redis-backup")))
      assert.ok(
        !/generated-/.test(plainText(r.inputs)),
        `${r.type} ${r.name}: a password in plain`,
      );
  });
});

describe("Pulumi program: BackupCronJob on Kubernetes with off-site copies and a restore", () => {
  before(async () => {
    const cfg = resolve(
      { ...PROD, ...S3, restoreFrom: "s3://lowcode-backups/redis/prod/prod-20260101T020000Z.rdb" },
      "prod",
      S3_SECRET_KEYS,
    );
    await recorder.deploy(cfg, S3_VALUES);
  });

  it("copies off-site in rclone's pinned image after the backup, with the S3 keys only in the Secret", () => {
    const cron = unwrap(
      recorder.find("kubernetes:batch/v1:CronJob", "lowcode-redis-backup-cronjob").inputs,
    ) as Json;
    validateAgainstSchema(cron as never);
    const pod = cron.spec.jobTemplate.spec.template.spec;
    assert.deepEqual(
      pod.initContainers.map((c: Json) => [c.name, c.command.join(" ")]),
      [["backup", "sh /conf/backup.sh"]],
    );
    assert.deepEqual(
      pod.containers.map((c: Json) => [c.name, c.image, c.command.join(" ")]),
      [["offsite", RCLONE_IMAGE, "sh /conf/offsite.sh"]],
    );
    assert.ok(
      pod.containers[0].volumeMounts.some((m: Json) => m.name === "backups" && m.readOnly),
      "the off-site step only reads the backups",
    );
    const secret = recorder.find("kubernetes:core/v1:Secret", "lowcode-redis-backup-auth");
    const data = unwrap(secret.inputs.stringData);
    assert.equal(data["s3-access-key-id"], S3_VALUES.backupS3AccessKeyId);
    assert.equal(data["s3-secret-access-key"], S3_VALUES.backupS3SecretAccessKey);
    for (const r of recorder.resources)
      assert.ok(
        !plainText(r.inputs).includes(S3_VALUES.backupS3SecretAccessKey),
        `${r.type} ${r.name} holds the S3 key in plain`,
      );
  });

  it("seeds the first node's claim with a Job before the StatefulSet: fetch in rclone's image, then restore.sh", () => {
    const claim = unwrap(
      recorder.find(
        "kubernetes:core/v1:PersistentVolumeClaim",
        "lowcode-redis-backup-restore-claim",
      ).inputs,
    ) as Json;
    assert.equal(claim.metadata.name, "data-lowcode-redis-0", "the StatefulSet's claim name");
    const job = unwrap(
      recorder.find("kubernetes:batch/v1:Job", "lowcode-redis-backup-restore-job").inputs,
    ) as Json;
    validateAgainstSchema(job as never);
    const pod = job.spec.template.spec;
    assert.deepEqual(
      pod.initContainers.map((c: Json) => [c.name, c.image, c.command.join(" ")]),
      [["fetch", RCLONE_IMAGE, "sh /conf/fetch.sh /staging"]],
    );
    const restore = pod.containers[0];
    assert.equal(restore.command.join(" "), "sh /conf/restore.sh");
    // The Redis image: restore.sh checks the backup with its redis-check-rdb.
    assert.equal(restore.image, resolve(PROD).image);
    assert.deepEqual(
      restore.env.filter((e: Json) => e.name !== "HOME"),
      [
        { name: "DATA_DIR", value: "/data" },
        { name: "RESTORE_SOURCE", value: "/staging/prod-20260101T020000Z.rdb" },
      ],
    );
    assert.ok(
      pod.volumes.some(
        (v: Json) =>
          v.name === "data" && v.persistentVolumeClaim.claimName === "data-lowcode-redis-0",
      ),
    );
  });
});

describe("Pulumi program: BackupCronJob on Docker (dev stack)", () => {
  const cfg = loadStackConfig("dev");
  before(async () => {
    await recorder.deploy(cfg, {});
  });

  it("a busybox crond container runs backup.sh on the schedule as the redis user, keeping only the capabilities to switch to it", () => {
    const c = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-backup").inputs,
    ) as Json;
    assert.equal(c.user, "0:0");
    assert.deepEqual(c.entrypoints, ["crond"]);
    assert.deepEqual(c.command, [
      "-f",
      "-l",
      "8",
      "-L",
      "/dev/stderr",
      "-c",
      DOCKER_BACKUP.crontabs,
    ]);
    assert.deepEqual(c.capabilities, { drops: ["ALL"], adds: ["SETUID", "SETGID"] });
    assert.deepEqual(c.securityOpts, ["no-new-privileges:true"]);
    assert.equal(c.readOnly, true);
    assert.equal(c.memory, 256);
    assert.deepEqual(c.volumes, [
      { volumeName: "lowcode-redis-backup-volume", containerPath: "/data", readOnly: false },
      // Docker copies the uploads into a read-only container only onto a volume.
      { volumeName: "lowcode-redis-backup-conf", containerPath: "/backup-conf" },
    ]);
    for (const upload of c.uploads as { file: string }[])
      assert.ok(upload.file.startsWith("/backup-conf/"), `${upload.file} is outside the volume`);
    assert.deepEqual(c.networksAdvanced, [{ name: "lowcode-network" }]);
    const crontab = c.uploads.find((u: Json) => u.file === `${DOCKER_BACKUP.crontabs}/redis`);
    assert.ok(crontab, "a crontab for the image's redis user");
    assert.match(
      crontab.content,
      /^0 2 \* \* \* sh \/backup-conf\/backup\.sh >> \/data\/backup\.log 2>&1$/m,
    );
    const raw = recorder.find("docker:index/container:Container", "lowcode-redis-backup");
    assert.ok(containsSecret(raw.inputs.uploads), "the uploads are secret");
    const env = c.uploads.find((u: Json) => u.file === `${DOCKER_BACKUP.confDir}/backup.env`);
    assert.match(env.content, /^NODES='172\.28\.0\.10:6379'$/m);
    assert.match(env.content, /^BACKUP_DIR='\/data'$/m);
  });

  it("backupHostDir mounts a host folder instead of the volume; a local restoreFrom seeds the node's volume first, read-only from the backups", async () => {
    await recorder.deploy(
      resolve(
        { ...DEV, backupHostDir: "/srv/redis-backups", restoreFrom: "dev-20260101T020000Z.rdb" },
        "dev",
      ),
      {},
    );
    const c = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-backup").inputs,
    ) as Json;
    assert.deepEqual(c.volumes, [
      { hostPath: "/srv/redis-backups", containerPath: "/data", readOnly: false },
      { volumeName: "lowcode-redis-backup-conf", containerPath: "/backup-conf" },
    ]);
    assert.deepEqual(
      recorder
        .ofType("docker:index/volume:Volume")
        .map((v) => v.name)
        .filter((n) => !n.endsWith("-conf")),
      ["lowcode-redis-data"],
      "no backup volume: only the data volume (and each container's files)",
    );
    const seed = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-backup-restore").inputs,
    ) as Json;
    assert.equal(seed.user, "999:999");
    assert.deepEqual(seed.command, ["sh", "/backup-conf/restore.sh"]);
    // The Redis image, as the backup's: restore.sh checks the backup with its redis-check-rdb.
    assert.equal(seed.image, c.image);
    const image = recorder.find(
      "docker:index/remoteImage:RemoteImage",
      "lowcode-redis-backup-image",
    );
    assert.equal((unwrap(image.inputs) as Json).name, resolve(DEV).image);
    assert.deepEqual(seed.envs, [
      "DATA_DIR=/seed",
      "RESTORE_SOURCE=/data/dev-20260101T020000Z.rdb",
    ]);
    assert.deepEqual(seed.volumes, [
      { hostPath: "/srv/redis-backups", containerPath: "/data", readOnly: true },
      { volumeName: "lowcode-redis-data", containerPath: "/seed" },
      { volumeName: "lowcode-redis-backup-restore-conf", containerPath: "/backup-conf" },
    ]);
    assert.equal(seed.mustRun, false);
    assert.equal(seed.attach, true);
    assert.equal(seed.networkMode, "none");
  });
});
