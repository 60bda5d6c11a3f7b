import { strict as assert } from "node:assert";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";
import { Json, MockRecorder, isWrappedSecret, unwrap } from "../helpers/pulumi-mocks";
import { validateAgainstSchema } from "../helpers/k8s-schema";
import { K8sObject } from "../../render/kubernetes";

const recorder = new MockRecorder();

const DATABASE_VARIABLES = {
  REDIS_DB_SESSIONS: "0",
  REDIS_DB_FLOW_CACHE: "1",
  REDIS_DB_COMPONENTS: "2",
  REDIS_DB_COLLABORATION: "3",
  REDIS_DB_RATE_LIMITING: "4",
  REDIS_DB_QUERY_CACHE: "5",
};

describe("Pulumi program: the applications' connection Secret (prod group)", () => {
  before(async () => {
    await recorder.deploy(resolve({ ...PROD, appSecretNamespaces: ["apps", "workers"] }, "prod"), {
      appPassword: "supplied-app-password-0123",
    });
  });

  const secretIn = (namespace: string) =>
    recorder.find("kubernetes:core/v1:Secret", `lowcode-redis-connection-secret-${namespace}`);

  it("one Secret per listed namespace, named alike, parented to the SentinelGroup", () => {
    const made = recorder.resources
      .filter((r) => r.name.startsWith("lowcode-redis-connection"))
      .map((r) => [r.name, (unwrap(r.inputs) as Json).metadata.namespace, r.parentType]);
    assert.deepEqual(made, [
      ["lowcode-redis-connection-secret-apps", "apps", "lowcode:redis:SentinelGroup"],
      ["lowcode-redis-connection-secret-workers", "workers", "lowcode:redis:SentinelGroup"],
    ]);
    for (const namespace of ["apps", "workers"])
      assert.equal(
        (unwrap(secretIn(namespace).inputs) as Json).metadata.name,
        "lowcode-redis-connection",
      );
  });

  it("holds what an ioredis pod needs through the sentinels, as secret data", () => {
    const inputs = secretIn("apps").inputs as Json;
    assert.ok(isWrappedSecret(inputs.stringData), "stringData is secret");
    const env = unwrap(inputs.stringData) as Record<string, string>;
    assert.deepEqual(env, {
      REDIS_SENTINELS: [0, 1, 2]
        .map(
          (i) =>
            `lowcode-redis-sentinel-${i}.lowcode-redis-sentinel-headless.lowcode.svc.cluster.local:26379`,
        )
        .join(","),
      REDIS_MASTER_NAME: "lowcode-master",
      REDIS_SENTINEL_USERNAME: "sentinel-client",
      REDIS_SENTINEL_PASSWORD: "generated-lowcode-redis-sentinel-client-password-0123456789",
      REDIS_SENTINEL_COMMAND_TIMEOUT_MS: "500",
      REDIS_USERNAME: "app",
      REDIS_PASSWORD: "supplied-app-password-0123",
      REDIS_CONNECT_TIMEOUT_MS: "2000",
      REDIS_COMMAND_TIMEOUT_MS: "2000",
      REDIS_MAX_RETRIES_PER_REQUEST: "3",
      REDIS_RETRY_BASE_DELAY_MS: "50",
      REDIS_RETRY_MAX_DELAY_MS: "1000",
      ...DATABASE_VARIABLES,
    });
    validateAgainstSchema({ ...(unwrap(inputs) as K8sObject), stringData: env });
  });

  it("no other resource carries the app password", () => {
    for (const r of recorder.resources.filter((r) => r.type !== "kubernetes:core/v1:Secret"))
      assert.ok(!JSON.stringify(unwrap(r.inputs)).includes("supplied-app-password-0123"), r.name);
  });
});

describe("Pulumi program: the connection Secret of a standalone server, by default in the stack's namespace", () => {
  before(async () => {
    await recorder.deploy(resolve(PROD_STANDALONE, "prod"), {});
  });

  it("REDIS_HOST/REDIS_PORT name the client Service", () => {
    const secret = unwrap(
      recorder.find("kubernetes:core/v1:Secret", "lowcode-redis-connection-secret").inputs,
    ) as Json;
    assert.equal(secret.metadata.namespace, "lowcode");
    assert.equal(secret.stringData.REDIS_HOST, "lowcode-redis.lowcode.svc.cluster.local");
    assert.equal(secret.stringData.REDIS_PORT, "6379");
    assert.equal(secret.stringData.REDIS_SENTINELS, undefined);
    assert.equal(secret.stringData.REDIS_USERNAME, "app");
  });
});

describe("Pulumi program: renderYamlTo writes manifests through a provider of their own", () => {
  it("every Kubernetes resource goes to a provider with renderYamlToDirectory", async () => {
    await recorder.deploy(resolve({ ...PROD, renderYamlTo: "rendered/prod" }, "prod"), {});
    const provider = recorder.find("pulumi:providers:kubernetes", "lowcode-render-yaml");
    assert.equal(unwrap(provider.inputs).renderYamlToDirectory, "rendered/prod");
    const kubernetes = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
    assert.ok(kubernetes.length > 20);
    for (const r of kubernetes)
      assert.match(
        r.provider ?? "",
        /pulumi:providers:kubernetes::lowcode-render-yaml::/,
        `${r.type} ${r.name} is applied by another provider`,
      );
  });

  it("without it, no such provider: the stack's own kubernetes provider applies", async () => {
    await recorder.deploy(resolve(PROD, "prod"), {});
    assert.equal(
      recorder.ofType("pulumi:providers:kubernetes").filter((r) => r.name === "lowcode-render-yaml")
        .length,
      0,
    );
    for (const r of recorder.resources.filter((r) => r.type.startsWith("kubernetes:")))
      assert.doesNotMatch(r.provider ?? "", /lowcode-render-yaml/);
  });
});

describe("Pulumi program: the Prometheus operator's resources when asked", () => {
  it("a ServiceMonitor for the metrics Services and a PrometheusRule, with the selection labels", async () => {
    await recorder.deploy(
      resolve(
        {
          ...PROD,
          metricsServiceMonitor: true,
          metricsPrometheusRule: true,
          metricsLabels: "release=kube-prometheus-stack",
        },
        "prod",
      ),
      {},
    );
    const monitor = unwrap(
      recorder.find(
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "lowcode-redis-servicemonitor",
      ).inputs,
    ) as Json;
    assert.equal(monitor.metadata.labels.release, "kube-prometheus-stack");
    assert.deepEqual(
      monitor.spec.endpoints.map((e: Json) => e.port),
      ["metrics"],
    );
    for (const service of [
      "lowcode-redis-metrics-service",
      "lowcode-redis-sentinel-metrics-service",
    ]) {
      const labels = (unwrap(recorder.find("kubernetes:core/v1:Service", service).inputs) as Json)
        .metadata.labels;
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
        assert.equal(labels[k], v, `${service} is not selected by the ServiceMonitor`);
    }
    const rule = unwrap(
      recorder.find(
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "lowcode-redis-prometheusrule",
      ).inputs,
    ) as Json;
    assert.equal(rule.metadata.labels.release, "kube-prometheus-stack");
    assert.ok(rule.spec.groups.length > 0);
  });

  it("none by default (clusters without the operator have no such kinds)", async () => {
    await recorder.deploy(resolve(PROD, "prod"), {});
    assert.equal(
      recorder.resources.filter((r) => r.type.startsWith("kubernetes:monitoring.coreos.com"))
        .length,
      0,
    );
  });
});
