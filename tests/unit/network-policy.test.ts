import { strict as assert } from "node:assert";
import { kubernetesObjects } from "../../render/artifacts";
import { COMMANDER_CONTAINER_PORT } from "../../render/commander";
import { K8sObject } from "../../render/kubernetes";
import { EXPORTER_PORT } from "../../render/metrics";
import { SENTINEL_PORT } from "../../render/sentinel";
import { PROD, PROD_STANDALONE, problemsOf, resolve } from "../helpers/config";
import { Endpoint, connectionAllowed, podLabelsOf } from "../helpers/network-policy";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OFFSITE = {
  backupS3Bucket: "lowcode-backups",
  backupS3AccessKeyId: { secure: "x" },
  backupS3SecretAccessKey: { secure: "y" },
};
const SECRET_KEYS = ["backupS3AccessKeyId", "backupS3SecretAccessKey"];

function objectsOf(values: Record<string, unknown>): K8sObject[] {
  return kubernetesObjects(
    resolve(
      values,
      "test",
      SECRET_KEYS.filter((k) => k in values),
    ),
  );
}

/** The pods of the deployment, with the labels their templates give them, at cluster addresses. */
function podsOf(objects: K8sObject[]) {
  const labels = podLabelsOf(objects);
  const pod = (workload: string, ip: string): Endpoint => {
    assert.ok(labels[workload], `no workload ${workload}`);
    return { namespace: "lowcode", labels: labels[workload], ip };
  };
  return {
    redis: pod("lowcode-redis", "10.244.1.10"),
    sentinel: pod("lowcode-redis-sentinel", "10.244.1.20"),
    commander: pod("lowcode-redis-commander", "10.244.1.30"),
    backup: pod("lowcode-redis-backup", "10.244.1.40"),
  };
}

const CLIENT = "lowcode.ton/redis-client";
const app: Endpoint = {
  namespace: "lowcode",
  labels: { app: "api", [CLIENT]: "true" },
  ip: "10.244.2.1",
};
const unlabelled: Endpoint = { namespace: "lowcode", labels: { app: "api" }, ip: "10.244.2.2" };
const elsewhere: Endpoint = { namespace: "other", labels: { [CLIENT]: "true" }, ip: "10.244.2.3" };
const ingressController: Endpoint = {
  namespace: "ingress-nginx",
  labels: { "app.kubernetes.io/name": "ingress-nginx" },
  ip: "10.244.3.1",
};
const prometheus: Endpoint = {
  namespace: "monitoring",
  labels: { app: "prometheus" },
  ip: "10.244.4.1",
};
const dns: Endpoint = {
  namespace: "kube-system",
  labels: { "k8s-app": "kube-dns" },
  ip: "10.96.0.10",
};
const internet: Endpoint = { ip: "52.216.1.1" };
const metadataService: Endpoint = { ip: "169.254.169.254" };

describe("NetworkPolicies of the production group: who may reach whom", () => {
  const objects = objectsOf({ ...PROD, ...OFFSITE });
  const pods = podsOf(objects);
  const allowed = (from: Endpoint, to: Endpoint, port: number, protocol = "TCP") =>
    connectionAllowed(objects, from, to, port, protocol);

  it("a default-deny policy selects every pod of the deployment, for ingress and egress", () => {
    const deny = objects.find((o) => o.metadata.name === "lowcode-redis-default-deny") as Json;
    assert.ok(deny, "no default-deny policy");
    assert.deepEqual(deny.spec.policyTypes, ["Ingress", "Egress"]);
    assert.equal(deny.spec.ingress, undefined);
    assert.equal(deny.spec.egress, undefined);
    for (const [workload, labels] of Object.entries(podLabelsOf(objects)))
      assert.ok(
        Object.entries(deny.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v),
        `${workload}'s pods escape the default deny`,
      );
  });

  it("the platform's labelled client pods reach Redis and the sentinels", () => {
    assert.ok(allowed(app, pods.redis, 6379));
    assert.ok(allowed(app, pods.sentinel, SENTINEL_PORT));
  });

  it("unlabelled pods, and labelled pods of other namespaces, do not", () => {
    for (const stranger of [unlabelled, elsewhere]) {
      assert.ok(!allowed(stranger, pods.redis, 6379));
      assert.ok(!allowed(stranger, pods.sentinel, SENTINEL_PORT));
    }
  });

  it("the nodes and sentinels reach each other: replication, the sentinels' watch, the start scripts", () => {
    assert.ok(allowed(pods.redis, pods.redis, 6379), "replication");
    assert.ok(allowed(pods.redis, pods.sentinel, SENTINEL_PORT), "start and pre-stop scripts");
    assert.ok(allowed(pods.sentinel, pods.redis, 6379), "sentinels watch the nodes");
    assert.ok(allowed(pods.sentinel, pods.sentinel, SENTINEL_PORT), "sentinels talk to each other");
  });

  it("Commander and the backup reach Redis and the sentinels", () => {
    for (const from of [pods.commander, pods.backup]) {
      assert.ok(allowed(from, pods.redis, 6379));
      assert.ok(allowed(from, pods.sentinel, SENTINEL_PORT));
    }
  });

  it("Commander is reached from the Ingress controller's namespace only", () => {
    assert.ok(allowed(ingressController, pods.commander, COMMANDER_CONTAINER_PORT));
    assert.ok(!allowed(app, pods.commander, COMMANDER_CONTAINER_PORT));
    assert.ok(!allowed(ingressController, pods.redis, 6379));
  });

  it("Prometheus's namespace scrapes the exporters, and reaches nothing else", () => {
    assert.ok(allowed(prometheus, pods.redis, EXPORTER_PORT));
    assert.ok(allowed(prometheus, pods.sentinel, EXPORTER_PORT));
    assert.ok(!allowed(prometheus, pods.redis, 6379));
    assert.ok(!allowed(prometheus, pods.sentinel, SENTINEL_PORT));
    assert.ok(!allowed(app, pods.redis, EXPORTER_PORT));
  });

  it("every pod resolves names, and no pod but the backup leaves the deployment", () => {
    for (const [what, pod] of Object.entries(pods)) {
      assert.ok(allowed(pod, dns, 53, "UDP"), `${what}: DNS over UDP`);
      assert.ok(allowed(pod, dns, 53, "TCP"), `${what}: DNS over TCP`);
      assert.ok(!allowed(pod, { ip: "8.8.8.8" }, 53, "UDP"), `${what}: a DNS server outside`);
      assert.ok(
        allowed(pod, { ip: "169.254.20.10" }, 53, "UDP"),
        `${what}: a node-local DNS cache`,
      );
      if (what !== "backup")
        assert.ok(!allowed(pod, internet, 443), `${what} reaches the internet`);
      assert.ok(!allowed(pod, app, 8080), `${what} reaches an application pod`);
    }
  });

  it("the backup reaches the off-site endpoint's port on public addresses only", () => {
    assert.ok(allowed(pods.backup, internet, 443));
    assert.ok(!allowed(pods.backup, internet, 80));
    assert.ok(!allowed(pods.backup, metadataService, 443), "the cloud metadata service");
    assert.ok(!allowed(pods.backup, app, 443), "a pod of the cluster");
  });

  it("nothing reaches the backup's pods", () => {
    for (const from of [app, pods.redis, ingressController, prometheus])
      assert.ok(!allowed(from, pods.backup, 8080));
  });
});

describe("NetworkPolicies follow the config", () => {
  it("an off-site endpoint at an IP address is the backup's only way out, on the URL's port", () => {
    const objects = objectsOf({ ...PROD, ...OFFSITE, backupS3Endpoint: "http://203.0.113.7:9000" });
    const backup = podsOf(objects).backup;
    assert.ok(connectionAllowed(objects, backup, { ip: "203.0.113.7" }, 9000));
    assert.ok(!connectionAllowed(objects, backup, { ip: "203.0.113.8" }, 9000));
    assert.ok(!connectionAllowed(objects, backup, internet, 443));
  });

  it("networkPolicyOffsiteCidrs narrow an endpoint known by name", () => {
    const objects = objectsOf({
      ...PROD,
      ...OFFSITE,
      backupS3Endpoint: "https://s3.example.com",
      networkPolicyOffsiteCidrs: ["198.51.100.0/24"],
    });
    const backup = podsOf(objects).backup;
    assert.ok(connectionAllowed(objects, backup, { ip: "198.51.100.20" }, 443));
    assert.ok(!connectionAllowed(objects, backup, internet, 443));
  });

  it("an in-cluster endpoint: its namespace's pods on the endpoint's port, nothing else", () => {
    const objects = objectsOf({
      ...PROD,
      ...OFFSITE,
      backupS3Endpoint: "http://minio.storage.svc:9000",
      networkPolicyOffsiteNamespace: "storage",
    });
    const backup = podsOf(objects).backup;
    const minio: Endpoint = { namespace: "storage", labels: { app: "minio" }, ip: "10.244.9.9" };
    assert.ok(connectionAllowed(objects, backup, minio, 9000));
    assert.ok(!connectionAllowed(objects, backup, minio, 22));
    assert.ok(!connectionAllowed(objects, backup, { ...minio, namespace: "other" }, 9000));
    assert.ok(!connectionAllowed(objects, backup, internet, 443));
  });

  it("an endpoint by host name reaches no private, loopback, reserved or IPv6 address", () => {
    const objects = objectsOf({ ...PROD, ...OFFSITE, backupS3Endpoint: "https://s3.example.com" });
    const backup = podsOf(objects).backup;
    assert.ok(connectionAllowed(objects, backup, internet, 443));
    for (const ip of [
      "127.0.0.1",
      "0.1.2.3",
      "198.18.0.1",
      "240.0.0.1",
      "192.0.0.8",
      "2600:1f18::1",
    ])
      assert.ok(!connectionAllowed(objects, backup, { ip }, 443), ip);
  });

  it("without off-site copies the backup reaches nothing outside", () => {
    const objects = objectsOf(PROD);
    assert.ok(!connectionAllowed(objects, podsOf(objects).backup, internet, 443));
  });

  it("client labels and namespaces, the Ingress and monitoring namespaces come from the config", () => {
    const objects = objectsOf({
      ...PROD,
      networkPolicyClientLabels: "tier=api,team=flows",
      networkPolicyClientNamespaces: ["apps", "workers"],
      networkPolicyIngressNamespace: "traefik",
      networkPolicyMonitoringNamespace: "observability",
    });
    const pods = podsOf(objects);
    const api: Endpoint = {
      namespace: "workers",
      labels: { tier: "api", team: "flows" },
      ip: "10.244.5.1",
    };
    assert.ok(connectionAllowed(objects, api, pods.redis, 6379));
    assert.ok(!connectionAllowed(objects, { ...api, namespace: "lowcode" }, pods.redis, 6379));
    assert.ok(!connectionAllowed(objects, { ...api, labels: { tier: "api" } }, pods.redis, 6379));
    assert.ok(
      !connectionAllowed(objects, app, pods.redis, 6379),
      "the default label no longer admits",
    );
    const traefik: Endpoint = { namespace: "traefik", labels: {}, ip: "10.244.6.1" };
    assert.ok(connectionAllowed(objects, traefik, pods.commander, COMMANDER_CONTAINER_PORT));
    assert.ok(
      !connectionAllowed(objects, ingressController, pods.commander, COMMANDER_CONTAINER_PORT),
    );
    const observability: Endpoint = { namespace: "observability", labels: {}, ip: "10.244.7.1" };
    assert.ok(connectionAllowed(objects, observability, pods.redis, EXPORTER_PORT));
    assert.ok(!connectionAllowed(objects, prometheus, pods.redis, EXPORTER_PORT));
  });

  it("client namespaces default to the namespaces that get the connection Secret", () => {
    const objects = objectsOf({ ...PROD, appSecretNamespaces: ["apps"] });
    const pods = podsOf(objects);
    const inApps: Endpoint = { ...app, namespace: "apps" };
    assert.ok(connectionAllowed(objects, inApps, pods.redis, 6379));
    assert.ok(!connectionAllowed(objects, app, pods.redis, 6379));
  });

  it("a standalone server: its policy admits clients; no sentinel policy", () => {
    const objects = objectsOf(PROD_STANDALONE);
    const names = objects.filter((o) => o.kind === "NetworkPolicy").map((o) => o.metadata.name);
    assert.ok(!names.includes("lowcode-redis-sentinel"));
    const redis = {
      namespace: "lowcode",
      labels: podLabelsOf(objects)["lowcode-redis"],
      ip: "10.244.1.10",
    };
    assert.ok(connectionAllowed(objects, app, redis, 6379));
    assert.ok(!connectionAllowed(objects, unlabelled, redis, 6379));
  });

  it("off on the dev profile unless asked; networkPolicy false removes them from production", () => {
    const dev = { target: "kubernetes", profile: "dev", topology: "standalone" };
    const kinds = (values: Record<string, unknown>) =>
      objectsOf(values).filter((o) => o.kind === "NetworkPolicy").length;
    assert.equal(kinds(dev), 0);
    assert.ok(kinds({ ...dev, networkPolicy: true }) > 0);
    assert.equal(kinds({ ...PROD, networkPolicy: false }), 0);
  });

  it("bad keys are refused with the key, the value and what is allowed", () => {
    const expect = (values: Record<string, unknown>, start: string) => {
      const problems = problemsOf(
        values,
        SECRET_KEYS.filter((k) => k in values),
      );
      assert.ok(
        problems.some((p) => p.startsWith(start)),
        `expected a problem starting ${start}, got\n${problems.join("\n")}`,
      );
    };
    expect(
      { ...PROD, networkPolicyClientLabels: "tier" },
      'Invalid lowcode-redis:networkPolicyClientLabels "tier": must be "" or Kubernetes labels',
    );
    expect(
      { ...PROD, networkPolicyClientLabels: "a=b,a=c" },
      'Invalid lowcode-redis:networkPolicyClientLabels "a=b,a=c"',
    );
    expect(
      { ...PROD, networkPolicyClientNamespaces: ["Apps"] },
      'Invalid lowcode-redis:networkPolicyClientNamespaces ["Apps"]',
    );
    expect(
      { ...PROD, networkPolicyIngressNamespace: "ingress_nginx" },
      'Invalid lowcode-redis:networkPolicyIngressNamespace "ingress_nginx"',
    );
    expect(
      { ...PROD, ...OFFSITE, networkPolicyOffsiteCidrs: ["10.0.0.0/33"] },
      'Invalid lowcode-redis:networkPolicyOffsiteCidrs ["10.0.0.0/33"]',
    );
    expect(
      { ...PROD, networkPolicyOffsiteCidrs: ["203.0.113.0/24"] },
      'Invalid lowcode-redis:networkPolicyOffsiteCidrs ["203.0.113.0/24"]: needs off-site backups',
    );
    expect(
      { ...PROD, renderYamlTo: "manifests/prod", restoreFrom: "prod-20260101T020000Z.rdb" },
      'Invalid lowcode-redis:renderYamlTo "manifests/prod": cannot be combined with lowcode-redis:restoreFrom',
    );
    expect(
      { ...PROD, networkPolicyClientLabels: "" },
      'Invalid lowcode-redis:networkPolicyClientLabels "": must name at least one label',
    );
    expect(
      { ...PROD, ...OFFSITE, networkPolicyOffsiteCidrs: ["10.1.2.3/8"] },
      'Invalid lowcode-redis:networkPolicyOffsiteCidrs ["10.1.2.3/8"]: must be a list of CIDR blocks',
    );
    expect(
      { ...PROD, ...OFFSITE, backupS3Endpoint: "http://minio.storage.svc.cluster.local:9000" },
      'Invalid lowcode-redis:backupS3Endpoint "http://minio.storage.svc.cluster.local:9000": names a Service of the cluster',
    );
    expect(
      { ...PROD, ...OFFSITE, backupS3Endpoint: "http://minio:9000" },
      'Invalid lowcode-redis:backupS3Endpoint "http://minio:9000": names a Service of the cluster',
    );
    expect(
      { ...PROD, networkPolicyOffsiteNamespace: "storage" },
      'Invalid lowcode-redis:networkPolicyOffsiteNamespace "storage": needs off-site backups',
    );
    expect(
      {
        target: "docker",
        profile: "dev",
        topology: "standalone",
        networkPolicyIngressNamespace: "traefik",
      },
      'Invalid lowcode-redis:networkPolicyIngressNamespace "traefik": is for the Kubernetes target only',
    );
    expect(
      { target: "docker", profile: "dev", topology: "standalone", networkPolicy: true },
      "Invalid lowcode-redis:networkPolicy true: is for the Kubernetes target only",
    );
  });
});
