import { strict as assert } from "node:assert";
import { OFFSITE_MISSING_WARNING } from "../../config/backup";
import { OWN_LABEL_KEYS } from "../../config/metrics";
import { loadStackConfig } from "../../config/stack-file";
import { labels } from "../../render/kubernetes";
import { DEV, PROD, problemsOf, resolve } from "../helpers/config";

const S3_KEYS = { backupS3AccessKeyId: { secure: "x" }, backupS3SecretAccessKey: { secure: "y" } };
const SECRET = ["backupS3AccessKeyId", "backupS3SecretAccessKey"];
const OFFSITE = { ...S3_KEYS, backupS3Bucket: "lowcode-backups" };
const BY_NAME = { ...OFFSITE, backupS3Endpoint: "https://s3.example.com" };

const problems = (values: Record<string, unknown>) =>
  problemsOf(
    values,
    SECRET.filter((k) => k in values),
  );
/**
 * The warnings of a stack that resolves, but the eviction one every allkeys-* stack gets and the
 * missing off-site copy's, which every production stack without a bucket gets (tested below).
 */
const warnings = (values: Record<string, unknown>) =>
  resolve(
    values,
    "test",
    SECRET.filter((k) => k in values),
  ).warnings.filter((w) => !w.includes(":maxmemoryPolicy ") && w !== OFFSITE_MISSING_WARNING);

const NOT_OFFSITE =
  "off-site copies go to a server outside the cluster and its nodes, and the backup is let through to the endpoint's address";
const CIDR_ALLOWED =
  'must be a list of CIDR blocks such as "203.0.113.10/32" or "2001:db8::/48" (IPv4 prefix 0-32, IPv6 0-128)';
const OWN_FOLDER = 'use a folder of its own, such as "/var/backups/lowcode-redis"';
const RENDER_DIR_ALLOWED =
  'must be "" (apply to the cluster) or a folder of the project for the manifests, such as "manifests/prod": a relative path of letters, digits, ".", "_", "-" separated by "/", without empty, hidden (".git") or ".." segments';
const BUCKET_ALLOWED =
  'must be "" (no off-site copy) or an S3 bucket name: 3 to 63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit, without "..", not an IP address, without a prefix or suffix S3 reserves (xn--, sthree-, amzn-s3-demo-; -s3alias, --ol-s3, .mrap, --x-s3, --table-s3)';
const SUBNET_ALLOWED =
  'must be a private IPv4 network (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a prefix from /16 to /24, written as its network address, e.g. "172.28.0.0/24"';
const PRIVATE_NOTE =
  "it may be a pod, Service or node of this cluster (kubeadm gives Services 10.96.0.0/12) rather than an S3 server outside it: make sure it is the off-site server (an endpoint inside the cluster takes networkPolicyOffsiteNamespace)";
const CLEAR =
  "the Ingress would serve Commander's sign-in page over plain HTTP, and the password would cross the network in clear";

/** [what, stack values, the one problem they get]. */
const REFUSED: Array<[string, Record<string, unknown>, string]> = [
  ...(
    [
      ["http://169.254.169.254", "169.254.169.254, the cloud instance metadata service"],
      ["http://127.0.0.1:9000", "127.0.0.1, a loopback address"],
      ["http://0x7f.1", "127.0.0.1, a loopback address"],
      ["http://2130706433", "127.0.0.1, a loopback address"],
      ["http://0251.0376.0251.0376", "169.254.169.254, the cloud instance metadata service"],
      ["http://0", "0.0.0.0, an unspecified (this-network) address"],
      ["http://[::1]:9000", "::1, a loopback address"],
      ["http://[::ffff:127.0.0.1]", "127.0.0.1 (as ::ffff:7f00:1), a loopback address"],
      ["http://[fd00:ec2::254]", "fd00:ec2::254, the cloud instance metadata service (AWS, IPv6)"],
      ["http://[fe80::1]", "fe80::1, a link-local address"],
      ["http://localhost:9000", "localhost, a loopback address"],
      [
        "http://metadata.google.internal",
        "metadata.google.internal, the cloud instance metadata service",
      ],
      [
        "https://kubernetes.default.svc",
        "kubernetes.default.svc, the Service of the Kubernetes API server",
      ],
    ] as const
  ).map(([endpoint, named]): [string, Record<string, unknown>, string] => [
    `backupS3Endpoint ${endpoint}`,
    { ...PROD, ...OFFSITE, backupS3Endpoint: endpoint },
    `Invalid lowcode-redis:backupS3Endpoint "${endpoint}": names ${named}: ${NOT_OFFSITE}.`,
  ]),
  ...(
    [
      ["http://0xcb.0.113.7:9000", "http://203.0.113.7:9000"],
      ["http://3405803783", "http://203.0.113.7"],
      ["HTTPS://S3.Example.com", "https://s3.example.com"],
      ["https://s3.example.com:443", "https://s3.example.com"],
    ] as const
  ).map(([endpoint, canonical]): [string, Record<string, unknown>, string] => [
    `backupS3Endpoint ${endpoint} (another spelling)`,
    { ...PROD, ...OFFSITE, backupS3Endpoint: endpoint },
    `Invalid lowcode-redis:backupS3Endpoint "${endpoint}": must be written as "${canonical}": rclone is given the endpoint as written and the NetworkPolicy the address it stands for, so they must be one spelling.`,
  ]),
  ...(
    [
      ["0.0.0.0/0", 'must not hold every address: "0.0.0.0/0" would let'],
      ["::/0", 'must not hold every address: "::/0" would let'],
    ] as const
  ).map(([cidr, start]): [string, Record<string, unknown>, string] => [
    `networkPolicyOffsiteCidrs ${cidr}`,
    { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: [cidr] },
    `Invalid lowcode-redis:networkPolicyOffsiteCidrs ["${cidr}"]: ${start} the backup reach anything, the cloud metadata service and the cluster's own pods included; list the S3 server's addresses.`,
  ]),
  ...(
    [
      ["169.254.169.254/32", "169.254.169.254/32, the cloud instance metadata service"],
      ["169.254.0.0/16", "169.254.169.254/32, the cloud instance metadata service"],
      ["128.0.0.0/1", "169.254.169.254/32, the cloud instance metadata service"],
      ["127.0.0.0/8", "127.0.0.0/8, a loopback address"],
      ["fe80::/64", "fe80::/10, a link-local address"],
      ["::1/128", "::1/128, a loopback address"],
    ] as const
  ).map(([cidr, held]): [string, Record<string, unknown>, string] => [
    `networkPolicyOffsiteCidrs ${cidr}`,
    { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: [cidr] },
    `Invalid lowcode-redis:networkPolicyOffsiteCidrs ["${cidr}"]: must not hold ${held}: "${cidr}" would let the backup reach it; list the S3 server's addresses.`,
  ]),
  ...(
    [
      ["2001:db8::1/64", '"2001:db8::1/64" has host bits set: the block is 2001:db8::/64'],
      ["fe80::1%eth0/64", '"fe80::1%eth0/64" has a zone id, which names an interface of one host'],
      ["10.0.0.0/08", 'the prefix length of "10.0.0.0/08" has a leading zero: write "10.0.0.0/8"'],
      [
        "2001:db8::/048",
        'the prefix length of "2001:db8::/048" has a leading zero: write "2001:db8::/48"',
      ],
      ["2001:DB8::/32", 'write "2001:DB8::/32" as "2001:db8::/32"'],
      ["2001:0db8:0:0::/32", 'write "2001:0db8:0:0::/32" as "2001:db8::/32"'],
      [
        "::ffff:10.0.0.0/104",
        '"::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 block: write the IPv4 block 10.0.0.0/8',
      ],
      ["10.1.2.3/8", '"10.1.2.3/8" has host bits set: the block is 10.0.0.0/8'],
    ] as const
  ).map(([cidr, why]): [string, Record<string, unknown>, string] => [
    `networkPolicyOffsiteCidrs ${cidr}`,
    { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: [cidr] },
    `Invalid lowcode-redis:networkPolicyOffsiteCidrs ["${cidr}"]: ${CIDR_ALLOWED}; ${why}.`,
  ]),
  ...(
    [
      ["010.0.0.0/8", CIDR_ALLOWED],
      ["10.0.0/8", CIDR_ALLOWED],
    ] as const
  ).map(([cidr, why]): [string, Record<string, unknown>, string] => [
    `networkPolicyOffsiteCidrs ${cidr}`,
    { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: [cidr] },
    `Invalid lowcode-redis:networkPolicyOffsiteCidrs ["${cidr}"]: ${why}.`,
  ]),
  ...(
    [
      ["/etc", "/etc"],
      ["/var/run/docker.sock", "/var/run"],
      ["/run/containerd/containerd.sock", "/run"],
      ["/root/.ssh", "/root"],
      ["/proc", "/proc"],
      ["/var/lib/docker/volumes", "/var/lib/docker"],
    ] as const
  ).map(([dir, system]): [string, Record<string, unknown>, string] => [
    `backupHostDir ${dir}`,
    { ...DEV, backupHostDir: dir },
    `Invalid lowcode-redis:backupHostDir "${dir}": must not be inside ${system}, a system folder of the host: the backup container mounts it writable and runs as root; ${OWN_FOLDER}.`,
  ]),
  [
    "backupHostDir /home/ops/.ssh",
    { ...DEV, backupHostDir: "/home/ops/.ssh" },
    `Invalid lowcode-redis:backupHostDir "/home/ops/.ssh": must not be or be inside ".ssh", a hidden folder (credentials and settings such as .ssh, .docker, .kube live in those); ${OWN_FOLDER}.`,
  ],
  [
    "backupHostDir /srv/app/api.sock",
    { ...DEV, backupHostDir: "/srv/app/api.sock" },
    `Invalid lowcode-redis:backupHostDir "/srv/app/api.sock": must not be or be inside "api.sock", a socket (a daemon's control socket gives whoever writes to it that daemon); ${OWN_FOLDER}.`,
  ],
  [
    "backupHostDir /home",
    { ...DEV, backupHostDir: "/home" },
    `Invalid lowcode-redis:backupHostDir "/home": must not be /home itself, which the whole host shares (backups are pruned there); ${OWN_FOLDER}.`,
  ],
  [
    "backupHostDir //etc",
    { ...DEV, backupHostDir: "//etc" },
    'Invalid lowcode-redis:backupHostDir "//etc": must be "" (a Docker named volume) or an absolute host path of letters, digits, ".", "_", "-" and "/", without empty, "." or ".." segments, not "/".',
  ],
  [
    "renderYamlTo /etc/kubernetes/manifests",
    { ...PROD, renderYamlTo: "/etc/kubernetes/manifests" },
    `Invalid lowcode-redis:renderYamlTo "/etc/kubernetes/manifests": ${RENDER_DIR_ALLOWED}; an absolute path would write the Secrets outside the project.`,
  ],
  [
    "renderYamlTo ../../srv",
    { ...PROD, renderYamlTo: "../../srv" },
    `Invalid lowcode-redis:renderYamlTo "../../srv": ${RENDER_DIR_ALLOWED}; ".." would write the Secrets outside the project.`,
  ],
  [
    "renderYamlTo manifests/../../srv",
    { ...PROD, renderYamlTo: "manifests/../../srv" },
    `Invalid lowcode-redis:renderYamlTo "manifests/../../srv": ${RENDER_DIR_ALLOWED}; ".." would write the Secrets outside the project.`,
  ],
  ...[
    "$(id)",
    "manifests;id",
    "`id`",
    "manifests prod",
    ".git/hooks",
    ".github/workflows",
    "manifests//prod",
    "-rf",
  ].map((dir): [string, Record<string, unknown>, string] => [
    `renderYamlTo ${dir}`,
    { ...PROD, renderYamlTo: dir },
    `Invalid lowcode-redis:renderYamlTo ${JSON.stringify(dir)}: ${RENDER_DIR_ALLOWED}.`,
  ]),
  ...["kube-system", "kube-public", "kube-node-lease"].map(
    (namespace): [string, Record<string, unknown>, string] => [
      `appSecretNamespaces ${namespace}`,
      { ...PROD, appSecretNamespaces: ["lowcode", namespace] },
      `Invalid lowcode-redis:appSecretNamespaces ["lowcode","${namespace}"]: must not name ${namespace}, a namespace of Kubernetes itself: the connection Secret holds the app password and belongs with the applications.`,
    ],
  ),
  [
    "commanderIngressHost without TLS, production",
    { ...PROD, commanderIngressHost: "redis-commander.example.com" },
    `Invalid lowcode-redis:commanderIngressHost "redis-commander.example.com": needs lowcode-redis:commanderIngressTlsSecret on the production profile: ${CLEAR}.`,
  ],
  ...(
    [
      ["busybox:7.0.0", "busybox"],
      ["registry.example.com/mirror/busybox:7.2.5", "busybox"],
      ["redis/redis-stack-server:7.2.0-v10", "redis-stack-server"],
    ] as const
  ).map(([image, name]): [string, Record<string, unknown>, string] => [
    `redisImage ${image}`,
    { ...DEV, redisImage: image },
    `Invalid lowcode-redis:redisImage "${image}": must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, as name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/"), e.g. "redis:7.2.16-alpine": its repository must end in /redis or /valkey (the scripts run redis-server, redis-cli and redis-check-rdb), not "${name}".`,
  ]),
  ...(
    [
      ["my..bucket", "has two adjacent periods"],
      ["192.168.5.4", "is formatted as an IP address"],
      ["xn--bucket", 'starts with "xn--", which S3 reserves'],
      ["sthree-bucket", 'starts with "sthree-", which S3 reserves'],
      ["amzn-s3-demo-bucket", 'starts with "amzn-s3-demo-", which S3 reserves'],
      ["bucket-s3alias", 'ends with "-s3alias", which S3 reserves'],
      ["bucket--ol-s3", 'ends with "--ol-s3", which S3 reserves'],
      ["bucket.mrap", 'ends with ".mrap", which S3 reserves'],
      ["bucket--x-s3", 'ends with "--x-s3", which S3 reserves'],
      ["bucket--table-s3", 'ends with "--table-s3", which S3 reserves'],
    ] as const
  ).map(([bucket, why]): [string, Record<string, unknown>, string] => [
    `backupS3Bucket ${bucket}`,
    { ...PROD, ...S3_KEYS, backupS3Bucket: bucket },
    `Invalid lowcode-redis:backupS3Bucket "${bucket}": ${BUCKET_ALLOWED}; "${bucket}" ${why}.`,
  ]),
  [
    "restoreFrom from a bucket S3 refuses",
    { ...PROD, ...OFFSITE, restoreFrom: "s3://xn--bucket/a.rdb" },
    'Invalid lowcode-redis:restoreFrom "s3://xn--bucket/a.rdb": must be "" (no restore), a backup file name in the backup storage such as "prod-20260101T020000Z.rdb", or "s3://<backupS3Bucket>/<key>.rdb" when off-site copies are configured.',
  ],
  ...["172.17.0.0/16", "172.17.5.0/24"].map((subnet): [string, Record<string, unknown>, string] => [
    `dockerSubnet ${subnet}`,
    { ...DEV, dockerSubnet: subnet },
    `Invalid lowcode-redis:dockerSubnet "${subnet}": ${SUBNET_ALLOWED}; not inside 172.17.0.0/16, the subnet of Docker's default bridge network (docker0), which Docker would refuse to overlap.`,
  ]),
  ...OWN_LABEL_KEYS.map((key): [string, Record<string, unknown>, string] => [
    `metricsLabels ${key}`,
    { ...PROD, metricsServiceMonitor: true, metricsLabels: `release=prom,${key}=x` },
    `Invalid lowcode-redis:metricsLabels "release=prom,${key}=x": must not set ${key}, a label the ServiceMonitor and PrometheusRule carry of their own (${OWN_LABEL_KEYS.join(", ")}); add labels beside them.`,
  ]),
];

/** [what, stack values, the warnings they get]. */
const WARNED: Array<[string, Record<string, unknown>, string[]]> = [
  ...["10.96.0.1", "192.168.1.20:9000", "172.20.0.1", "100.64.0.10"].map(
    (host): [string, Record<string, unknown>, string[]] => {
      const port = host.includes(":") ? host.split(":")[1] : "80";
      return [
        `backupS3Endpoint http://${host}`,
        { ...PROD, ...OFFSITE, backupS3Endpoint: `http://${host}` },
        [
          `lowcode-redis:backupS3Endpoint "http://${host}" is ${host.split(":")[0]}, a ${host.startsWith("100.") ? "shared (RFC 6598)" : "private (RFC 1918)"} address: the backup may send to it on port ${port}; ${PRIVATE_NOTE}.`,
        ],
      ];
    },
  ),
  [
    "networkPolicyOffsiteCidrs in private ranges",
    { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: ["10.20.0.0/16", "fd12:3456::/32"] },
    [
      `lowcode-redis:networkPolicyOffsiteCidrs "10.20.0.0/16" reaches private (RFC 1918) addresses (10.0.0.0/8): the backup may send to them on port 443; ${PRIVATE_NOTE}.`,
      `lowcode-redis:networkPolicyOffsiteCidrs "fd12:3456::/32" reaches unique local (RFC 4193) addresses (fc00::/7): the backup may send to them on port 443; ${PRIVATE_NOTE}.`,
    ],
  ],
  [
    "networkPolicy false, production",
    { ...PROD, networkPolicy: false },
    [
      "lowcode-redis:networkPolicy is false on the production profile: every pod of the cluster can reach Redis, the sentinels and Commander, and the backup any address; only the passwords stand in the way.",
    ],
  ],
  [
    "commanderIngressHost without TLS, dev profile on Kubernetes",
    { ...PROD, profile: "dev", commanderIngressHost: "redis-commander.example.com" },
    [
      `lowcode-redis:commanderIngressHost "redis-commander.example.com" has no commanderIngressTlsSecret: ${CLEAR}.`,
    ],
  ],
];

/** Values next to the risky ones that stay valid, without a warning. */
const ACCEPTED: Array<[string, Record<string, unknown>]> = [
  ["an endpoint by name", { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: ["198.51.100.0/24"] }],
  [
    "a public endpoint address",
    { ...PROD, ...OFFSITE, backupS3Endpoint: "http://203.0.113.7:9000/" },
  ],
  [
    "a private endpoint on Docker",
    { ...DEV, ...OFFSITE, backupS3Endpoint: "http://10.1.2.3:9000" },
  ],
  ["an IPv6 block", { ...PROD, ...BY_NAME, networkPolicyOffsiteCidrs: ["2001:db8::/48"] }],
  ["a host folder of its own", { ...DEV, backupHostDir: "/var/backups/lowcode-redis" }],
  ["a folder under /home", { ...DEV, backupHostDir: "/home/ops/redis-backups" }],
  ["a manifests folder", { ...PROD, renderYamlTo: "manifests/prod.v1" }],
  ["application namespaces", { ...PROD, appSecretNamespaces: ["lowcode", "default", "kubes"] }],
  [
    "an Ingress with TLS",
    { ...PROD, commanderIngressHost: "redis.example.com", commanderIngressTlsSecret: "redis-tls" },
  ],
  ["networkPolicy true", { ...PROD, networkPolicy: true }],
  ["networkPolicy false on the dev profile", { ...PROD, profile: "dev", networkPolicy: false }],
  [
    "a registry mirror of Redis",
    { ...DEV, redisImage: "registry.example.com/mirror/redis:7.2.5-alpine" },
  ],
  ["Valkey", { ...DEV, redisImage: "valkey/valkey:7.2.5" }],
  [
    "a bucket with dots",
    {
      ...PROD,
      ...BY_NAME,
      backupS3Bucket: "backups.example.com",
      networkPolicyOffsiteCidrs: ["198.51.100.0/24"],
    },
  ],
  ["a subnet next to docker0's", { ...DEV, dockerSubnet: "172.18.0.0/16" }],
  [
    "operator labels",
    { ...PROD, metricsServiceMonitor: true, metricsLabels: "release=kube-prometheus-stack" },
  ],
];

describe("config: risky values are refused or warned about, in every spelling", () => {
  for (const [what, values, message] of REFUSED)
    it(`refuses ${what}`, () => assert.deepEqual(problems(values), [message]));

  for (const [what, values, expected] of WARNED)
    it(`warns for ${what}`, () => assert.deepEqual(warnings(values), expected));

  for (const [what, values] of ACCEPTED)
    it(`accepts ${what}, without a warning`, () => assert.deepEqual(warnings(values), []));

  it("the ServiceMonitor's own labels are the labels the renderer gives it", () =>
    assert.deepEqual(OWN_LABEL_KEYS, Object.keys(labels("lowcode-redis", "metrics"))));

  it("the stack files of the project resolve without a warning of these", () => {
    // Only the eviction warning of the default allkeys-lru policy, and on prod the missing
    // off-site copy: Pulumi.prod.yaml names no bucket of the operator's.
    for (const [stack, expected] of [
      ["dev", []],
      ["prod", [OFFSITE_MISSING_WARNING]],
    ] as const) {
      const cfg = loadStackConfig(stack);
      assert.deepEqual(
        cfg.warnings.filter((w) => !w.includes(":maxmemoryPolicy ")),
        expected,
        stack,
      );
    }
  });

  it("warns a production stack without an off-site copy, on either target; not with a bucket, nor on dev", () => {
    const all = (values: Record<string, unknown>) =>
      resolve(
        values,
        "test",
        SECRET.filter((k) => k in values),
      ).warnings;
    assert.ok(all(PROD).includes(OFFSITE_MISSING_WARNING));
    assert.ok(all({ ...PROD, backupEnabled: false }).includes(OFFSITE_MISSING_WARNING));
    assert.ok(all({ ...DEV, profile: "production" }).includes(OFFSITE_MISSING_WARNING));
    assert.ok(!all({ ...PROD, ...OFFSITE }).includes(OFFSITE_MISSING_WARNING));
    assert.ok(!all(DEV).includes(OFFSITE_MISSING_WARNING));
    assert.match(
      OFFSITE_MISSING_WARNING,
      /^lowcode-redis:backupS3Bucket is "" on the production profile: no off-site copy/,
    );
  });
});
