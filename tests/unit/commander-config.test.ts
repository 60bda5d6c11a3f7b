import { strict as assert } from "node:assert";
import { commanderAclRules } from "../../render/acl";
import {
  commanderPasswordHash,
  commanderPlainFiles,
  commanderSite,
  renderCommanderSettings,
} from "../../render/commander";
import { compareSync } from "bcryptjs";
import { kubernetesObjects } from "../../render/artifacts";
import { K8sObject } from "../../render/kubernetes";
import { validateAgainstSchema } from "../helpers/k8s-schema";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
import { DEV, PROD, problemsOf as problems, resolve } from "../helpers/config";

describe("Commander config: keys, profile defaults and cross-key rules", () => {
  it("defaults: on, port 8081, user admin, read-write in dev and read-only in production, no Ingress, no RedisInsight", () => {
    const dev = resolve(DEV).commander;
    assert.deepEqual(dev, {
      enabled: true,
      port: 8081,
      username: "admin",
      readOnly: false,
      ingress: undefined,
      insight: { enabled: false, port: 8082 },
    });
    assert.equal(resolve(PROD).commander.readOnly, true);
    assert.equal(resolve({ ...DEV, commanderReadOnly: true }).commander.readOnly, true);
  });

  it("a read-write Commander in production is allowed, with a warning", () => {
    const cfg = resolve({ ...PROD, commanderReadOnly: false });
    assert.equal(cfg.commander.readOnly, false);
    assert.ok(
      cfg.warnings.some((w) => /commanderReadOnly is false on the production profile/.test(w)),
    );
  });

  it("refuses bad values, naming the key, the value and what is allowed", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...DEV, commanderPort: 80 },
        /^Invalid lowcode-redis:commanderPort 80: must be a whole number from 1024 to 65535\.$/,
      ],
      [
        { ...DEV, commanderPort: 6379 },
        /^Invalid lowcode-redis:commanderPort 6379: is already published for Redis node 0/,
      ],
      [
        { ...DEV, insightEnabled: true, insightPort: 8081 },
        /^Invalid lowcode-redis:insightPort 8081: is already published for Redis Commander\.$/,
      ],
      [
        { ...DEV, topology: "sentinel", commanderPort: 26380 },
        /^Invalid lowcode-redis:commanderPort 26380: is already published for sentinel 1\.$/,
      ],
      [
        { ...DEV, commanderUser: "ad min" },
        /^Invalid lowcode-redis:commanderUser "ad min": must be 1 to 64 letters/,
      ],
      [
        { ...DEV, commanderIngressHost: "redis.example.com" },
        /^Invalid lowcode-redis:commanderIngressHost "redis\.example\.com": is for the Kubernetes target only/,
      ],
      [
        { ...PROD, commanderIngressTlsSecret: "tls" },
        /^Invalid lowcode-redis:commanderIngressTlsSecret "tls": needs lowcode-redis:commanderIngressHost/,
      ],
      [
        { ...PROD, commanderIngressHost: "10.0.0.1" },
        /^Invalid lowcode-redis:commanderIngressHost "10\.0\.0\.1": must be "" \(no Ingress\) or a fully qualified host name/,
      ],
      [
        { ...PROD, commanderIngressHost: "*.example.com" },
        /commanderIngressHost "\*\.example\.com": must be/,
      ],
      [
        { ...PROD, commanderIngressHost: "Redis.Example.com" },
        /commanderIngressHost "Redis\.Example\.com": must be/,
      ],
      [{ ...PROD, commanderIngressHost: "localhost" }, /commanderIngressHost "localhost": must be/],
      [
        { ...DEV, commanderReadOnly: "yes" },
        /^Invalid lowcode-redis:commanderReadOnly "yes": must be true or false\.$/,
      ],
    ];
    for (const [values, expected] of cases) {
      const found = problems(values);
      assert.equal(found.length, 1, `${JSON.stringify(values)}: ${found.join(" | ")}`);
      assert.match(found[0], expected);
    }
  });

  it("a port published only when its UI is enabled: RedisInsight off frees its port", () => {
    assert.deepEqual(problems({ ...DEV, insightPort: 8081 }), []);
    assert.deepEqual(problems({ ...DEV, commanderEnabled: false, commanderPort: 6379 }), []);
  });

  it("commanderPassword: only with --secret, at least 16 characters, and only while Commander is enabled; never echoed", () => {
    const secret = { secure: "v1:x" };
    assert.match(
      problems({ ...DEV, commanderPassword: "plain-text-password-123" })[0],
      /^Invalid lowcode-redis:commanderPassword \(plain text\): passwords must be set with "pulumi config set --secret/,
    );
    const short = problems({ ...DEV, commanderPassword: "short" }, ["commanderPassword"]);
    assert.match(
      short[0],
      /^Invalid lowcode-redis:commanderPassword \(secret value not shown\): must be at least 16 characters\.$/,
    );
    assert.ok(!short[0].includes('short"'));
    assert.match(
      problems({ ...DEV, commanderEnabled: false, commanderPassword: secret }, [
        "commanderPassword",
      ])[0],
      /commanderPassword \(secret value not shown\): used only by Redis Commander, and lowcode-redis:commanderEnabled is false/,
    );
    assert.deepEqual(problems({ ...DEV, commanderPassword: secret }, ["commanderPassword"]), []);
  });

  it("Ingress with and without TLS on Kubernetes (without only on the dev profile)", () => {
    assert.deepEqual(
      resolve({ ...PROD, profile: "dev", commanderIngressHost: "redis.example.com" }).commander
        .ingress,
      {
        host: "redis.example.com",
        tlsSecret: "",
        className: "",
        annotations: {},
      },
    );
    assert.equal(resolve(PROD).commander.ingress, undefined);
  });

  it("the Ingress's class and annotations: rendered on the Ingress, the value everything after the first '='", () => {
    const annotations = [
      "cert-manager.io/cluster-issuer=letsencrypt",
      "nginx.ingress.kubernetes.io/auth-url=https://auth.example.com/oauth2/auth?rd=a=b",
      "example.com/empty=",
    ];
    const cfg = resolve({
      ...PROD,
      commanderIngressHost: "redis.example.com",
      commanderIngressTlsSecret: "redis-tls",
      commanderIngressClassName: "nginx-internal",
      commanderIngressAnnotations: annotations,
    });
    const ingress = kubernetesObjects(cfg).find((o) => o.kind === "Ingress") as Json;
    assert.equal(ingress.spec.ingressClassName, "nginx-internal");
    assert.deepEqual(ingress.metadata.annotations, {
      "cert-manager.io/cluster-issuer": "letsencrypt",
      "nginx.ingress.kubernetes.io/auth-url": "https://auth.example.com/oauth2/auth?rd=a=b",
      "example.com/empty": "",
    });
    validateAgainstSchema(ingress as K8sObject);
    // Unset: no class (the cluster's default) and no annotations.
    const plain = kubernetesObjects(
      resolve({
        ...PROD,
        commanderIngressHost: "redis.example.com",
        commanderIngressTlsSecret: "t",
      }),
    ).find((o) => o.kind === "Ingress") as Json;
    assert.equal(plain.spec.ingressClassName, undefined);
    assert.equal(plain.metadata.annotations, undefined);
  });

  it("refuses a bad IngressClass name or annotation, and either without an Ingress", () => {
    const withHost = {
      ...PROD,
      commanderIngressHost: "redis.example.com",
      commanderIngressTlsSecret: "redis-tls",
    };
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...withHost, commanderIngressClassName: "Nginx" },
        /^Invalid lowcode-redis:commanderIngressClassName "Nginx": must be "" \(the cluster's default IngressClass\) or the name of an IngressClass: dot-separated DNS-1123 labels/,
      ],
      [
        { ...withHost, commanderIngressClassName: "nginx_internal" },
        /^Invalid lowcode-redis:commanderIngressClassName "nginx_internal": must be/,
      ],
      [
        { ...withHost, commanderIngressAnnotations: ["cert-manager.io/cluster-issuer"] },
        /^Invalid lowcode-redis:commanderIngressAnnotations \["cert-manager.io\/cluster-issuer"\]: must be a list of "key=value" annotations.*; "cert-manager.io\/cluster-issuer" has no "="\.$/,
      ],
      [
        { ...withHost, commanderIngressAnnotations: ["Bad_Prefix/x=1"] },
        /commanderIngressAnnotations .*"Bad_Prefix\/x" has an invalid prefix/,
      ],
      [
        { ...withHost, commanderIngressAnnotations: ["example.com/-x=1"] },
        /commanderIngressAnnotations .*"example.com\/-x" is not an annotation key/,
      ],
      [
        { ...withHost, commanderIngressAnnotations: ["a=1", "a=2"] },
        /commanderIngressAnnotations .*"a" is given twice/,
      ],
      [
        { ...withHost, commanderIngressAnnotations: "a=1" },
        /^Invalid lowcode-redis:commanderIngressAnnotations "a=1": must be a list of "key=value"/,
      ],
      [
        { ...PROD, commanderIngressClassName: "nginx" },
        /^Invalid lowcode-redis:commanderIngressClassName "nginx": needs lowcode-redis:commanderIngressHost/,
      ],
      [
        { ...PROD, commanderIngressAnnotations: ["a=1"] },
        /^Invalid lowcode-redis:commanderIngressAnnotations \["a=1"\]: needs lowcode-redis:commanderIngressHost/,
      ],
      [
        { ...DEV, commanderIngressClassName: "nginx" },
        /^Invalid lowcode-redis:commanderIngressClassName "nginx": is for the Kubernetes target only/,
      ],
    ];
    for (const [values, message] of cases) assert.match(problems(values).join("\n"), message);
    assert.deepEqual(
      problems({
        ...withHost,
        commanderIngressClassName: "nginx",
        commanderIngressAnnotations: [],
      }),
      [],
    );
  });
});

describe("Commander rendering: pure, without secrets, the ACL per mode", () => {
  it("the settings and launcher are a pure function of the config, with no secret in them", () => {
    const cfg = resolve(PROD, "prod");
    const site = commanderSite(cfg, "lowcode-redis");
    assert.deepEqual(
      commanderPlainFiles(cfg, site),
      commanderPlainFiles(resolve(PROD, "prod"), site),
    );
    const settings = JSON.parse(renderCommanderSettings(cfg, site));
    assert.equal(settings.server.httpAuth.password, "");
    assert.equal(settings.server.httpAuth.passwordHash, undefined);
    for (const c of settings.connections) {
      assert.equal(c.password, undefined);
      assert.equal(c.sentinelPassword, undefined);
    }
    assert.equal(settings.noSave, true, "nothing added in the UI is written");
    assert.equal(settings.sso.enabled, false);
  });

  it("the bcrypt hash depends on the salt only as given: the same salt, the same hash", () => {
    const salt = "abcdefghijklmnopqrstuv";
    const a = commanderPasswordHash("a-sign-in-password-123", salt);
    assert.equal(a, commanderPasswordHash("a-sign-in-password-123", salt));
    assert.notEqual(a, commanderPasswordHash("a-sign-in-password-123", "bbcdefghijklmnopqrstuv"));
    assert.ok(compareSync("a-sign-in-password-123", a));
    assert.ok(!compareSync("a-sign-in-password-124", a));
    assert.throws(() => commanderPasswordHash("x".repeat(16), "short"), /22 characters/);
  });

  it("read-only: @read without @dangerous, INFO back; read-write adds @write", () => {
    assert.match(commanderAclRules(resolve(PROD)), /-@all \+@read -@dangerous \+info /);
    assert.doesNotMatch(commanderAclRules(resolve(PROD)), /@write|multi|exec/);
    assert.match(
      commanderAclRules(resolve(DEV)),
      /-@all \+@read \+@write \+multi \+exec \+discard -@dangerous \+info /,
    );
    assert.match(commanderAclRules(resolve(DEV)), /resetchannels/);
  });
});
