import { IMAGE_KEYS } from "../../config/images";
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { compareSync } from "bcryptjs";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "../../config/stack-file";
import {
  COMMANDER_FILES,
  COMMANDER_VERSION,
  REDIS_CLIENT_LABEL,
  commanderPasswordHash,
} from "../../render/commander";
import { CONTAINER_SECURITY_CONTEXT } from "../../render/kubernetes";
import { gateOf } from "../helpers/commander";
import { DEV, PROD, resolve } from "../helpers/config";
import { checkInvariants, validateAgainstSchema } from "../helpers/k8s-schema";
import { Json, MockRecorder, isWrappedSecret, promiseOf, unwrap } from "../helpers/pulumi-mocks";
import { deployStack } from "../../stack";

/** The default images (config/images.ts), which the stacks here keep. */
const COMMANDER_IMAGE = IMAGE_KEYS.commanderImage.default;
const INSIGHT_IMAGE = IMAGE_KEYS.insightImage.default;

const recorder = new MockRecorder();
const SUPPLIED = "supplied-commander-password-0123";

/** Every plain string of a value (secrets left out). */
const plainText = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (isWrappedSecret(v) ? "(secret)" : v));

/** What the mocks generate for a RandomPassword of that name. */
const generated = (name: string) => `generated-${name}-0123456789`;

describe("Pulumi program: CommanderUI on Docker (dev stack)", () => {
  before(async () => {
    await recorder.deploy(loadStackConfig("dev"), {});
  });

  it("pins the image of the redis-commander release the sandbox and the tests run", () => {
    const pkg = JSON.parse(
      fs.readFileSync(require.resolve("redis-commander/package.json"), "utf8"),
    ) as { version: string; dependencies: Record<string, string> };
    // And package.json pins that release.
    const own = JSON.parse(fs.readFileSync(`${__dirname}/../../package.json`, "utf8"));
    assert.equal(own.dependencies["redis-commander"], COMMANDER_VERSION);
    assert.equal(pkg.version, COMMANDER_VERSION);
    assert.ok(COMMANDER_IMAGE.endsWith(`:${COMMANDER_VERSION}`));
    const image = recorder.find(
      "docker:index/remoteImage:RemoteImage",
      "lowcode-redis-commander-image",
    );
    assert.equal(image.inputs.name, COMMANDER_IMAGE);
  });

  it("a hardened container on lowcode-network, published on 127.0.0.1:8081 only, with a health check", () => {
    const c = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-commander-container").inputs,
    ) as Json;
    assert.equal(c.name, "lowcode-redis-commander");
    assert.equal(c.user, "10000:10000");
    assert.deepEqual(c.ports, [
      { internal: 8081, external: 8081, ip: "127.0.0.1", protocol: "tcp" },
    ]);
    assert.deepEqual(c.networksAdvanced, [{ name: "lowcode-network" }]);
    assert.equal(c.readOnly, true);
    assert.deepEqual(c.capabilities, { drops: ["ALL"] });
    assert.deepEqual(c.securityOpts, ["no-new-privileges:true"]);
    assert.equal(c.restart, "unless-stopped");
    assert.equal(c.memory, 256);
    assert.deepEqual(c.healthcheck.tests, ["CMD", "node", "/redis-commander/bin/healthcheck.js"]);
    assert.deepEqual(c.command, ["node", "/etc/commander/start-commander.js"]);
    assert.equal(c.envs, undefined, "no environment: the settings are files");
    // Docker copies into a read-only container only onto a volume.
    assert.deepEqual(c.volumes, [
      { volumeName: "lowcode-redis-commander-conf", containerPath: "/etc/commander" },
    ]);
    for (const upload of c.uploads as { file: string }[])
      assert.ok(upload.file.startsWith("/etc/commander/"), upload.file);
  });

  it("uploads a bcrypt hash of the password, never the password; the uploads are secret", () => {
    const r = recorder.find(
      "docker:index/container:Container",
      "lowcode-redis-commander-container",
    );
    assert.ok(isWrappedSecret(r.inputs.uploads), "the uploads reach the engine as a secret");
    const uploads = unwrap(r.inputs.uploads) as {
      file: string;
      content: string;
      permissions: string;
    }[];
    const password = generated("lowcode-redis-commander-password");
    const all = JSON.stringify(uploads);
    assert.ok(!all.includes(password), "the sign-in password is uploaded");
    const hash = uploads.find((u) => u.file.endsWith(COMMANDER_FILES.passwordHash))!.content;
    assert.match(hash, /^\$2b\$12\$[./A-Za-z0-9]{53}$/);
    assert.ok(compareSync(password, hash), "the hash is of the sign-in password");
    for (const u of uploads) assert.equal(u.permissions, "0400", u.file);
    const settings = JSON.parse(
      uploads.find((u) => u.file.endsWith(COMMANDER_FILES.settings))!.content,
    );
    assert.equal(settings.server.httpAuth.username, "admin");
    assert.equal(settings.redis.readOnly, false, "dev: read-write");
    assert.deepEqual(
      settings.connections.map((c: Json) => [c.label, c.dbIndex, c.host, c.port, c.username]),
      [
        ["sessions (db0)", 0, "172.28.0.10", 6379, "commander"],
        ["flow cache (db1)", 1, "172.28.0.10", 6379, "commander"],
        ["component templates (db2)", 2, "172.28.0.10", 6379, "commander"],
        ["collaboration (db3)", 3, "172.28.0.10", 6379, "commander"],
        ["rate limiting (db4)", 4, "172.28.0.10", 6379, "commander"],
        ["query cache (db5)", 5, "172.28.0.10", 6379, "commander"],
      ],
    );
  });

  it("no password in any plain input of the stack: env values, labels, annotations included", () => {
    const passwords = [
      generated("lowcode-redis-commander-password"),
      generated("lowcode-redis-commander-redis-password"),
      generated("lowcode-redis-commander-session-secret"),
      generated("lowcode-redis-default-password"),
    ];
    for (const r of recorder.resources)
      for (const p of passwords)
        assert.ok(
          !plainText(r.inputs).includes(p),
          `${r.type} ${r.name} carries a password in clear`,
        );
  });

  it("the stack outputs the URL and the sign-in, as secrets where they carry the password", async () => {
    const outputs = deployStack(loadStackConfig("dev"), {});
    assert.equal(await promiseOf(outputs.commanderUrl!), "http://127.0.0.1:8081");
    assert.equal(await pulumi.isSecret(outputs.commanderLogin!), true);
    assert.deepEqual(await promiseOf(outputs.commanderLogin!), {
      username: "admin",
      password: generated("lowcode-redis-commander-password"),
    });
    assert.equal(await pulumi.isSecret(outputs.connection), true);
  });
});

describe("Pulumi program: CommanderUI on Docker with a supplied password and RedisInsight", () => {
  before(async () => {
    await recorder.deploy(
      resolve(
        {
          ...DEV,
          insightEnabled: true,
          commanderPort: 9081,
          commanderPassword: { secure: "v1:x" },
        },
        "dev",
        ["commanderPassword"],
      ),
      { commanderPassword: SUPPLIED },
    );
  });

  it("hashes the supplied password and generates none", () => {
    const uploads = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-commander-container").inputs
        .uploads,
    ) as { file: string; content: string }[];
    const hash = uploads.find((u) => u.file.endsWith(COMMANDER_FILES.passwordHash))!.content;
    assert.ok(compareSync(SUPPLIED, hash));
    assert.ok(!JSON.stringify(uploads).includes(SUPPLIED));
    assert.equal(
      recorder.resources.filter((r) => r.name === "lowcode-redis-commander-password").length,
      0,
    );
  });

  it("a new password, a new session key: the launcher derives it from the uploaded secret and hash", () => {
    const uploads = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-commander-container").inputs
        .uploads,
    ) as { file: string; content: string }[];
    const file = (name: string) => uploads.find((u) => u.file.endsWith(name))!.content;
    const launcher = file(COMMANDER_FILES.launcher);
    assert.ok(
      launcher.includes("jwtSecret = gate.signingKey;") && launcher.includes("gate.install();"),
    );
    const sessionSecret = file(COMMANDER_FILES.sessionSecret);
    assert.equal(sessionSecret, generated("lowcode-redis-commander-session-secret"));
    const keyOf = (passwordHash: string) => gateOf({ passwordHash, sessionSecret }).signingKey;
    const hash = file(COMMANDER_FILES.passwordHash);
    // The generated password's hash, with the same salt: what the stack had before.
    const before = commanderPasswordHash(
      generated("lowcode-redis-commander-password"),
      hash.slice(7, 29),
    );
    assert.notEqual(keyOf(hash), keyOf(before), "tokens of the old password stay valid");
    assert.equal(keyOf(hash), keyOf(hash));
  });

  it("RedisInsight: pinned image, 127.0.0.1:8082 only, hardened, its data in a volume, no credentials", () => {
    const c = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-commander-insight").inputs,
    ) as Json;
    const image = recorder.find(
      "docker:index/remoteImage:RemoteImage",
      "lowcode-redis-commander-insight-image",
    );
    assert.equal(image.inputs.name, INSIGHT_IMAGE);
    assert.match(INSIGHT_IMAGE, /:\d+\.\d+\.\d+$/);
    assert.deepEqual(c.ports, [
      { internal: 5540, external: 8082, ip: "127.0.0.1", protocol: "tcp" },
    ]);
    assert.equal(c.readOnly, true);
    assert.deepEqual(c.capabilities, { drops: ["ALL"] });
    assert.deepEqual(c.securityOpts, ["no-new-privileges:true"]);
    assert.deepEqual(c.volumes, [
      { volumeName: "lowcode-redis-commander-insight-data", containerPath: "/data" },
    ]);
    assert.equal(c.uploads, undefined);
    assert.ok(!/pass|secret/i.test(JSON.stringify(c.envs)));
    const commander = unwrap(
      recorder.find("docker:index/container:Container", "lowcode-redis-commander-container").inputs,
    ) as Json;
    assert.equal(commander.ports[0].external, 9081);
  });
});

describe("Pulumi program: CommanderUI on Kubernetes (prod stack)", () => {
  before(async () => {
    await recorder.deploy(
      resolve(
        {
          ...PROD,
          namespace: "lowcode",
          insightEnabled: true,
          commanderIngressHost: "redis-commander.example.com",
          commanderIngressTlsSecret: "redis-commander-tls",
          commanderIngressClassName: "nginx",
          commanderIngressAnnotations: ["cert-manager.io/cluster-issuer=letsencrypt"],
        },
        "prod",
      ),
      {},
    );
  });

  const objects = () =>
    recorder.resources
      .filter(
        (r) => r.type.startsWith("kubernetes:") && r.name.startsWith("lowcode-redis-commander"),
      )
      .map((r) => unwrap(r.inputs) as Json);
  const ofKind = (kind: string, name: string) =>
    objects().find((o) => o.kind === kind && o.metadata.name === name)!;

  it("a Deployment, ConfigMap, Secret, ClusterIP Services and an Ingress, valid objects of their kinds", () => {
    const kinds = objects()
      .map((o) => `${o.kind} ${o.metadata.name}`)
      .sort();
    assert.deepEqual(kinds, [
      "ConfigMap lowcode-redis-commander-config",
      "Deployment lowcode-redis-commander",
      "Deployment lowcode-redis-insight",
      "Ingress lowcode-redis-commander",
      "NetworkPolicy lowcode-redis-commander",
      "NetworkPolicy lowcode-redis-insight",
      "Secret lowcode-redis-commander-auth",
      "Service lowcode-redis-commander",
      "Service lowcode-redis-insight",
    ]);
    const all = objects().map((o) => (o.kind === "Secret" ? { ...o, stringData: {} } : o));
    for (const o of all) validateAgainstSchema(o as never);
    checkInvariants(all as never);
    for (const s of all.filter((o) => o.kind === "Service")) assert.equal(s.spec.type, "ClusterIP");
  });

  it("the Commander pod: hardened, probed, bounded, read-only settings, labelled as a Redis client", () => {
    const d = ofKind("Deployment", "lowcode-redis-commander");
    const pod = d.spec.template;
    const c = pod.spec.containers[0];
    assert.equal(c.image, COMMANDER_IMAGE);
    assert.deepEqual(c.securityContext, CONTAINER_SECURITY_CONTEXT);
    assert.equal(pod.spec.securityContext.runAsUser, 10000);
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(c.readinessProbe.httpGet.path, "/healthcheck");
    assert.equal(c.livenessProbe.httpGet.path, "/healthcheck");
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    assert.equal(pod.metadata.labels[REDIS_CLIENT_LABEL], "true");
    assert.equal(pod.metadata.labels["app.kubernetes.io/component"], "commander");
    const insight = ofKind("Deployment", "lowcode-redis-insight").spec.template;
    assert.equal(
      insight.metadata.labels[REDIS_CLIENT_LABEL],
      undefined,
      "RedisInsight holds no credential",
    );
    assert.equal(insight.spec.containers[0].image, INSIGHT_IMAGE);
    assert.deepEqual(insight.spec.containers[0].securityContext, CONTAINER_SECURITY_CONTEXT);
    const config = ofKind("ConfigMap", "lowcode-redis-commander-config").data;
    const settings = JSON.parse(config[COMMANDER_FILES.settings]);
    assert.ok(config[COMMANDER_FILES.launcher].includes("gate.install();"), "the gate guards it");
    assert.equal(settings.redis.readOnly, true);
    assert.equal(settings.connections.length, 6);
    for (const c of settings.connections) {
      assert.equal(c.sentinelName, "lowcode-master");
      assert.equal(c.sentinelUsername, "sentinel-client");
      assert.equal(c.sentinels.length, 3);
      assert.match(
        c.sentinels[0].host,
        /^lowcode-redis-sentinel-0\.lowcode-redis-sentinel-headless\.lowcode\.svc\./,
      );
    }
  });

  it("the Ingress serves the host with its TLS Secret, class and annotations, to the Commander Service only", () => {
    const ingress = ofKind("Ingress", "lowcode-redis-commander");
    assert.deepEqual(ingress.spec.tls, [
      { hosts: ["redis-commander.example.com"], secretName: "redis-commander-tls" },
    ]);
    assert.equal(ingress.spec.rules[0].host, "redis-commander.example.com");
    assert.equal(ingress.spec.ingressClassName, "nginx");
    assert.deepEqual(ingress.metadata.annotations, {
      "cert-manager.io/cluster-issuer": "letsencrypt",
    });
    assert.deepEqual(ingress.spec.rules[0].http.paths[0].backend, {
      service: { name: "lowcode-redis-commander", port: { name: "http" } },
    });
  });

  it("the Secret's data is secret and holds the hash, not the password; nothing plain holds a password", () => {
    const r = recorder.resources.find(
      (x) => x.type === "kubernetes:core/v1:Secret" && x.name === "lowcode-redis-commander-auth",
    )!;
    assert.ok(isWrappedSecret(r.inputs.stringData));
    const data = unwrap(r.inputs.stringData) as Record<string, string>;
    const password = generated("lowcode-redis-commander-password");
    assert.ok(compareSync(password, data[COMMANDER_FILES.passwordHash]));
    assert.ok(!JSON.stringify(data).includes(password));
    assert.equal(
      data[COMMANDER_FILES.redisPassword],
      generated("lowcode-redis-commander-redis-password"),
    );
    assert.equal(
      data[COMMANDER_FILES.sentinelPassword],
      generated("lowcode-redis-sentinel-client-password"),
    );
    for (const x of recorder.resources)
      for (const p of [
        password,
        generated("lowcode-redis-commander-redis-password"),
        generated("lowcode-redis-commander-session-secret"),
      ])
        assert.ok(
          !plainText(x.inputs).includes(p),
          `${x.type} ${x.name} carries a password in clear`,
        );
  });
});

describe("Pulumi program: RedisInsight without Commander (commanderEnabled false)", () => {
  for (const [target, values] of [
    ["docker", { ...DEV, commanderEnabled: false, insightEnabled: true }],
    ["kubernetes", { ...PROD, commanderEnabled: false, insightEnabled: true }],
  ] as const) {
    it(`${target}: RedisInsight only; no Commander object, sign-in, session key or salt; no commander output`, async () => {
      const rejections: unknown[] = [];
      const onRejection = (err: unknown) => rejections.push(err);
      process.on("unhandledRejection", onRejection);
      try {
        const cfg = resolve(values, "insight-only");
        await recorder.deploy(cfg, {});
        const ours = recorder.resources
          .filter((r) => r.name.startsWith("lowcode-redis-commander"))
          .map((r) => `${r.type} ${r.name}`)
          .sort();
        assert.deepEqual(
          ours,
          target === "docker"
            ? [
                "docker:index/container:Container lowcode-redis-commander-insight",
                "docker:index/remoteImage:RemoteImage lowcode-redis-commander-insight-image",
                "docker:index/volume:Volume lowcode-redis-commander-insight-data",
                "lowcode:redis:CommanderUI lowcode-redis-commander",
              ]
            : [
                "kubernetes:apps/v1:Deployment lowcode-redis-commander-insight-deployment",
                "kubernetes:core/v1:Service lowcode-redis-commander-insight-service",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy lowcode-redis-commander-insight-network-policy",
                "lowcode:redis:CommanderUI lowcode-redis-commander",
              ],
        );
        const outputs = deployStack(cfg, {});
        assert.equal(outputs.commanderUrl, undefined);
        assert.equal(outputs.commanderLogin, undefined);
        assert.equal((await promiseOf(outputs.connection)).commander, undefined);
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(rejections, [], "an apply failed");
      } finally {
        process.off("unhandledRejection", onRejection);
      }
    });
  }
});
