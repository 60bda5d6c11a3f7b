import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { ResolvedConfig } from "../../config/resolve";
import { loadStackConfig } from "../../config/stack-file";
import {
  AlertRule,
  BACKUP_MAX_AGE_HOURS,
  alertRuleGroups,
  renderAlertRules,
} from "../../render/alerts";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";

/**
 * The alert rules under `promtool`: every rules file passes `promtool check rules`, and for every
 * alert `promtool test rules` runs series where it fires (its labels and expanded annotations
 * asserted) and healthy series where it does not: before its `for:`, in other namespaces and
 * jobs, and the edge cases of its expression.
 */

const NAME = "lowcode-redis";
const NS = "lowcode";
const REDIS_JOB = `${NAME}-metrics`;
const SENTINEL_JOB = `${NAME}-sentinel-metrics`;
const CRONJOB = `${NAME}-backup`;
/** Another namespace with a deployment of the same name, and another deployment in ours. */
const OTHER_NS = "staging";
const OTHER_JOB = "billing-redis-metrics";
const MASTER_HOST = `${NAME}-0.${NAME}-headless.${NS}.svc.cluster.local`;

type Labels = Record<string, string>;
interface Series {
  readonly name: string;
  readonly labels: Labels;
  /** promtool's expanding notation, one value per `interval`. */
  readonly values: string;
}
/** An alert expected to fire: the labels of its expression's result and the value. */
interface Firing {
  readonly labels: Labels;
  readonly value: number;
}
interface Case {
  readonly title: string;
  readonly alert: string;
  readonly series: readonly Series[];
  /** `eval_time` → the alerts firing then ([] = none). */
  readonly expect: Readonly<Record<string, readonly Firing[]>>;
  /** The series' interval and the rules' evaluation interval (default 1m). */
  readonly step?: string;
}

function target(job: string, pod: string, namespace = NS): Labels {
  return { namespace, service: job, job, pod, instance: `${pod}:9121` };
}
const redisPod = (i: number, namespace = NS) => target(REDIS_JOB, `${NAME}-${i}`, namespace);
const sentinelPod = (i: number, namespace = NS) =>
  target(SENTINEL_JOB, `${NAME}-sentinel-${i}`, namespace);
const otherJobPod = (i: number) => target(OTHER_JOB, `billing-redis-${i}`);
const series = (name: string, labels: Labels, values: string): Series => ({
  name,
  labels,
  values,
});
const ksm = (namespace = NS, cronjob = CRONJOB): Labels => ({
  namespace,
  cronjob,
  job: "kube-state-metrics",
  instance: "10.0.9.9:8080",
});
const role = (labels: Labels, r: string, values: string) =>
  series("redis_instance_info", { ...labels, role: r, redis_version: "7.2.5" }, values);
const sentinelMaster = (
  labels: Labels,
  address: string,
  values = "1x10",
  master = "lowcode-master",
) =>
  series(
    "redis_sentinel_master_status",
    { ...labels, master_name: master, master_address: address, master_status: "ok" },
    values,
  );
const okSentinels = (labels: Labels, values: string) =>
  series(
    "redis_sentinel_master_ok_sentinels",
    { ...labels, master_name: "lowcode-master", master_address: `${MASTER_HOST}:6379` },
    values,
  );
const none: readonly Firing[] = [];
const at = (labels: Labels, value: number): Firing => ({ labels, value });
const H = 3600;

/** Cases of the prod stack (sentinel group, allkeys-lru, backups on). */
function groupCases(): Case[] {
  const ours = [0, 1, 2].map((i) => redisPod(i));
  const sentinels = [0, 1, 2].map((i) => sentinelPod(i));
  const addr0 = `${MASTER_HOST}:6379`;
  const addr1 = `${NAME}-1.${NAME}-headless.${NS}.svc.cluster.local:6379`;
  return [
    // 1. Redis down, the exporter's target down, pods missing.
    {
      title: "RedisDown fires 1m after redis_up turns 0, only for that pod",
      alert: "RedisDown",
      series: [
        series("redis_up", ours[0], "1 1 0x10"),
        series("redis_up", ours[1], "1x12"),
        series("redis_up", ours[2], "1x12"),
      ],
      expect: { "2m": none, "3m": [at(ours[0], 0)] },
    },
    {
      title: "RedisDown ignores redis_up 0 of another namespace and of another job",
      alert: "RedisDown",
      series: [
        ...ours.map((l) => series("redis_up", l, "1x10")),
        series("redis_up", redisPod(0, OTHER_NS), "0x10"),
        series("redis_up", otherJobPod(0), "0x10"),
      ],
      expect: { "5m": none },
    },
    {
      title: "RedisMetricsTargetDown fires for a Redis and a sentinel target after 5m down",
      alert: "RedisMetricsTargetDown",
      series: [
        series("up", ours[1], "1 0x10"),
        series("up", sentinels[2], "1 0x10"),
        series("up", ours[0], "1x11"),
      ],
      expect: { "5m": none, "6m": [at(ours[1], 0), at(sentinels[2], 0)] },
    },
    {
      title: "RedisMetricsTargetDown ignores other namespaces and jobs",
      alert: "RedisMetricsTargetDown",
      series: [
        series("up", ours[0], "1x10"),
        series("up", redisPod(0, OTHER_NS), "0x10"),
        series("up", otherJobPod(1), "0x10"),
      ],
      expect: { "10m": none },
    },
    {
      title:
        "RedisNodesMissing fires after 3m when a node is gone or down; another namespace's node does not count",
      alert: "RedisNodesMissing",
      series: [
        series("redis_up", ours[0], "1x10"),
        series("redis_up", ours[1], "0x10"),
        series("redis_up", redisPod(2, OTHER_NS), "1x10"),
      ],
      expect: { "2m": none, "3m": [at({}, 1)] },
    },
    {
      title: "RedisNodesMissing stays quiet with every node up",
      alert: "RedisNodesMissing",
      series: ours.map((l) => series("redis_up", l, "1x10")),
      expect: { "10m": none },
    },
    // 2. Masters and sentinels.
    {
      title: "RedisNoMaster fires 1m after the last master is gone",
      alert: "RedisNoMaster",
      series: [
        role(ours[0], "master", "1 1 stale"),
        role(ours[1], "slave", "1x10"),
        role(ours[2], "slave", "1x10"),
      ],
      expect: { "1m": none, "2m": none, "3m": [at({}, 0)] },
    },
    {
      title: "RedisNoMaster fires when no Redis series is scraped at all",
      alert: "RedisNoMaster",
      series: [series("redis_up", sentinelPod(0), "1x5")],
      expect: { "1m": [at({}, 0)] },
    },
    {
      title: "RedisNoMaster: a master of another namespace or job is not ours",
      alert: "RedisNoMaster",
      series: [
        role(ours[0], "slave", "1x10"),
        role(redisPod(0, OTHER_NS), "master", "1x10"),
        role(otherJobPod(0), "master", "1x10"),
      ],
      expect: { "2m": [at({}, 0)] },
    },
    {
      title: "RedisNoMaster stays quiet with one master and two replicas",
      alert: "RedisNoMaster",
      series: [
        role(ours[0], "master", "1x10"),
        role(ours[1], "slave", "1x10"),
        role(ours[2], "slave", "1x10"),
      ],
      expect: { "10m": none },
    },
    {
      title: "RedisMultipleMasters fires 1m after a second node reports master",
      alert: "RedisMultipleMasters",
      series: [
        role(ours[0], "master", "1x10"),
        role(ours[1], "slave", "1 1 stale"),
        role(ours[1], "master", "_ _ 1x8"),
        role(ours[2], "slave", "1x10"),
      ],
      expect: { "1m": none, "2m": none, "3m": [at({}, 2)] },
    },
    {
      title: "RedisMultipleMasters: masters of another namespace or job are not ours",
      alert: "RedisMultipleMasters",
      series: [
        role(ours[0], "master", "1x10"),
        role(ours[1], "slave", "1x10"),
        role(redisPod(1, OTHER_NS), "master", "1x10"),
        role(otherJobPod(0), "master", "1x10"),
      ],
      expect: { "5m": none },
    },
    {
      title: "RedisSentinelsDisagree fires 1m after one sentinel names another master",
      alert: "RedisSentinelsDisagree",
      series: [
        sentinelMaster(sentinels[0], addr0),
        sentinelMaster(sentinels[1], addr0),
        sentinelMaster(sentinels[2], addr1),
      ],
      expect: { "0m": none, "1m": [at({}, 2)] },
    },
    {
      title: "RedisSentinelsDisagree ignores other namespaces and other master names",
      alert: "RedisSentinelsDisagree",
      series: [
        ...sentinels.map((l) => sentinelMaster(l, addr0)),
        sentinelMaster(sentinelPod(0, OTHER_NS), addr1),
        sentinelMaster(sentinels[1], addr1, "1x10", "other-master"),
      ],
      expect: { "5m": none },
    },
    {
      title: "RedisSentinelQuorumLost fires 1m after only one sentinel is up",
      alert: "RedisSentinelQuorumLost",
      series: [
        series("redis_up", sentinels[0], "1x10"),
        series("redis_up", sentinels[1], "0x10"),
        okSentinels(sentinels[0], "1x10"),
      ],
      expect: { "0m": none, "1m": [at({}, 1)] },
    },
    {
      title: "RedisSentinelQuorumLost fires when every sentinel is up but sees only itself",
      alert: "RedisSentinelQuorumLost",
      series: [
        ...sentinels.map((l) => series("redis_up", l, "1x10")),
        ...sentinels.map((l) => okSentinels(l, "1x10")),
      ],
      expect: { "1m": [at({}, 1)] },
    },
    {
      title:
        "RedisSentinelQuorumLost fires when none of our sentinels is scraped (others' do not count)",
      alert: "RedisSentinelQuorumLost",
      series: [0, 1, 2].flatMap((i) => [
        series("redis_up", sentinelPod(i, OTHER_NS), "1x10"),
        okSentinels(sentinelPod(i, OTHER_NS), "3x10"),
      ]),
      expect: { "1m": [at({}, 0)] },
    },
    {
      title:
        "RedisSentinelQuorumLost stays quiet with two of three sentinels up and seeing each other",
      alert: "RedisSentinelQuorumLost",
      series: [
        series("redis_up", sentinels[0], "1x10"),
        series("redis_up", sentinels[1], "1x10"),
        series("redis_up", sentinels[2], "0x10"),
        okSentinels(sentinels[0], "2x10"),
        okSentinels(sentinels[1], "2x10"),
      ],
      expect: { "5m": none },
    },
    {
      title: "RedisSentinelsMissing fires after 3m with two of three sentinels up",
      alert: "RedisSentinelsMissing",
      series: [
        series("redis_up", sentinels[0], "1x10"),
        series("redis_up", sentinels[1], "1x10"),
        series("redis_up", sentinelPod(2, OTHER_NS), "1x10"),
      ],
      expect: { "2m": none, "3m": [at({}, 2)] },
    },
    {
      title: "RedisSentinelsMissing stays quiet with every sentinel up",
      alert: "RedisSentinelsMissing",
      series: sentinels.map((l) => series("redis_up", l, "1x10")),
      expect: { "10m": none },
    },
    // 3. Replication.
    {
      title: "RedisReplicaLinkDown fires 2m after a replica's link goes down",
      alert: "RedisReplicaLinkDown",
      series: [
        series(
          "redis_master_link_up",
          { ...ours[1], master_host: MASTER_HOST, master_port: "6379" },
          "1 0x10",
        ),
        series(
          "redis_master_link_up",
          { ...ours[2], master_host: MASTER_HOST, master_port: "6379" },
          "1x10",
        ),
      ],
      expect: {
        "2m": none,
        "3m": [at({ ...ours[1], master_host: MASTER_HOST, master_port: "6379" }, 0)],
      },
    },
    {
      title: "RedisReplicaLinkDown ignores other namespaces",
      alert: "RedisReplicaLinkDown",
      series: [
        series(
          "redis_master_link_up",
          { ...redisPod(1, OTHER_NS), master_host: MASTER_HOST, master_port: "6379" },
          "0x10",
        ),
      ],
      expect: { "10m": none },
    },
    {
      title: "RedisReplicaLagging fires when the lag stays above 10 s for 30 s",
      alert: "RedisReplicaLagging",
      series: [
        series(
          "redis_connected_slave_lag_seconds",
          lagLabels(ours[0], "10.0.0.12"),
          "0 1 15 16 17",
        ),
        series("redis_connected_slave_lag_seconds", lagLabels(ours[0], "10.0.0.13"), "0x5"),
      ],
      expect: { "2m": none, "3m": [at(lagLabels(ours[0], "10.0.0.12"), 16)] },
    },
    {
      title: "RedisReplicaLagging stays quiet at 10 s and in other namespaces",
      alert: "RedisReplicaLagging",
      series: [
        series("redis_connected_slave_lag_seconds", lagLabels(ours[0], "10.0.0.12"), "10x10"),
        series(
          "redis_connected_slave_lag_seconds",
          lagLabels(redisPod(0, OTHER_NS), "10.1.0.12"),
          "30x10",
        ),
      ],
      expect: { "10m": none },
    },
    // 4. Memory.
    {
      title: "RedisMemoryHigh fires after 5m above 90% of maxmemory",
      alert: "RedisMemoryHigh",
      series: [
        series("redis_memory_used_bytes", ours[0], "95x10"),
        series("redis_memory_max_bytes", ours[0], "100x10"),
      ],
      expect: { "4m": none, "5m": [at(ours[0], 0.95)] },
    },
    {
      title: "RedisMemoryHigh stays quiet at 80%, with maxmemory 0 and in other namespaces",
      alert: "RedisMemoryHigh",
      series: [
        series("redis_memory_used_bytes", ours[0], "80x10"),
        series("redis_memory_max_bytes", ours[0], "100x10"),
        series("redis_memory_used_bytes", ours[1], "1000000000x10"),
        series("redis_memory_max_bytes", ours[1], "0x10"),
        series("redis_memory_used_bytes", redisPod(0, OTHER_NS), "99x10"),
        series("redis_memory_max_bytes", redisPod(0, OTHER_NS), "100x10"),
      ],
      expect: { "10m": none },
    },
    // 5. Evictions of keys without TTL.
    {
      title:
        "RedisEvictingKeysWithoutTTL fires while keys are evicted and a database holds keys without TTL",
      alert: "RedisEvictingKeysWithoutTTL",
      series: [
        series("redis_evicted_keys_total", ours[0], "0+10x10"),
        ...keyspace(ours[0], { db0: [100, 100], db1: [50, 40] }),
      ],
      expect: { "5m": [at(ours[0], 10 / 60)] },
    },
    {
      title:
        "RedisEvictingKeysWithoutTTL stays quiet when every key has a TTL, without evictions, and across pods or namespaces",
      alert: "RedisEvictingKeysWithoutTTL",
      series: [
        // Evictions, every key with a TTL.
        series("redis_evicted_keys_total", ours[0], "0+10x10"),
        ...keyspace(ours[0], { db0: [100, 100], db1: [0, 0] }),
        // Keys without TTL, no evictions.
        series("redis_evicted_keys_total", ours[1], "7x10"),
        ...keyspace(ours[1], { db0: [100, 50] }),
        // Evictions here, keys without TTL only on another pod (ours[1]) and namespace.
        series("redis_evicted_keys_total", ours[2], "0+10x10"),
        ...keyspace(ours[2], { db0: [10, 10] }),
        series("redis_evicted_keys_total", redisPod(0, OTHER_NS), "0+10x10"),
        ...keyspace(redisPod(0, OTHER_NS), { db0: [100, 0] }),
      ],
      expect: { "5m": none },
    },
    // 6. Rejected connections, refused writes.
    {
      title:
        "RedisRejectingConnections fires at once when a Redis node or a sentinel rejects connections",
      alert: "RedisRejectingConnections",
      series: [
        series("redis_rejected_connections_total", ours[0], "0 0 0 1x3"),
        series("redis_rejected_connections_total", sentinels[1], "0 0 0 2x3"),
        series("redis_rejected_connections_total", ours[1], "4x6"),
      ],
      expect: { "2m": none, "3m": [at(ours[0], 1), at(sentinels[1], 2)] },
    },
    {
      title:
        "RedisRejectingConnections stays quiet with flat counters, once the window has passed, and in other namespaces",
      alert: "RedisRejectingConnections",
      series: [
        series("redis_rejected_connections_total", ours[0], "0 1 1x20"),
        series("redis_rejected_connections_total", redisPod(0, OTHER_NS), "0+1x20"),
        series("redis_rejected_connections_total", otherJobPod(0), "0+1x20"),
      ],
      expect: { "10m": none },
    },
    {
      title: "RedisWritesRefused fires at once on OOM, NOREPLICAS and MISCONF errors",
      alert: "RedisWritesRefused",
      series: [
        series("redis_errors_total", { ...ours[0], err: "OOM" }, "0 0 3x3"),
        series("redis_errors_total", { ...ours[0], err: "NOREPLICAS" }, "0 0 1x3"),
        series("redis_errors_total", { ...ours[1], err: "MISCONF" }, "0 0 2x3"),
      ],
      expect: {
        "1m": none,
        "2m": [
          at({ ...ours[0], err: "OOM" }, 3),
          at({ ...ours[0], err: "NOREPLICAS" }, 1),
          at({ ...ours[1], err: "MISCONF" }, 2),
        ],
      },
    },
    {
      title: "RedisWritesRefused stays quiet on other errors, flat counters and other namespaces",
      alert: "RedisWritesRefused",
      series: [
        series("redis_errors_total", { ...ours[0], err: "ERR" }, "0+5x10"),
        series("redis_errors_total", { ...ours[0], err: "WRONGTYPE" }, "0+5x10"),
        series("redis_errors_total", { ...ours[1], err: "OOM" }, "3x10"),
        series("redis_errors_total", { ...redisPod(0, OTHER_NS), err: "OOM" }, "0+5x10"),
      ],
      expect: { "5m": none },
    },
    // 7. Data volumes.
    ...volumeCases(),
    // 8. Backups.
    ...backupCases(),
  ];
}

/** Kubelet's labels of a claim's volume series, as kube-prometheus-stack scrapes them. */
function kubelet(claim: string, namespace = NS): Labels {
  return {
    namespace,
    persistentvolumeclaim: claim,
    job: "kubelet",
    service: "kube-prometheus-stack-kubelet",
    instance: "10.0.1.4:10250",
    node: "node-a",
    metrics_path: "/metrics",
  };
}

/** A claim's capacity (1 GB) and available bytes (promtool values). */
function volume(labels: Labels, available: string, samples: number): Series[] {
  return [
    series("kubelet_volume_stats_capacity_bytes", labels, `1000000000x${samples}`),
    series("kubelet_volume_stats_available_bytes", labels, available),
  ];
}

function volumeCases(): Case[] {
  const data = (i: number, namespace = NS) => kubelet(`data-${NAME}-${i}`, namespace);
  return [
    {
      title:
        "RedisDataVolumeLow fires 10m after a data claim has less than 30% free, only for that claim",
      alert: "RedisDataVolumeLow",
      series: [
        ...volume(data(0), "600000000x15", 15),
        ...volume(data(1), "250000000x15", 15),
        ...volume(data(2), "310000000x15", 15),
      ],
      expect: { "9m": none, "11m": [at(data(1), 0.25)] },
    },
    {
      title:
        "RedisDataVolumeLow ignores the sentinels' state claims, other namespaces and other deployments' claims",
      alert: "RedisDataVolumeLow",
      series: [
        ...volume(data(0), "500000000x15", 15),
        ...volume(kubelet(`state-${NAME}-sentinel-0`), "50000000x15", 15),
        ...volume(data(0, OTHER_NS), "50000000x15", 15),
        ...volume(kubelet("data-billing-redis-0"), "50000000x15", 15),
        ...volume(kubelet(`data-${NAME}-cache-0`), "50000000x15", 15),
      ],
      expect: { "12m": none },
    },
    {
      title:
        "RedisDataVolumeFillingUp fires when the last hours' trend fills a volume less than half free within 4 h",
      alert: "RedisDataVolumeFillingUp",
      // 75 MB/h down from 450 MB: at 1 h 375 MB left (4 h more empty it: not yet), at 3 h 225 MB.
      series: volume(data(1), "450000000-12500000x24", 24),
      step: "10m",
      expect: { "1h": none, "3h": [at(data(1), 0.225)] },
    },
    {
      title:
        "RedisDataVolumeFillingUp fires 5m after a volume has less than 10% free, trend or not",
      alert: "RedisDataVolumeFillingUp",
      series: volume(data(2), "80000000x10", 10),
      expect: { "4m": none, "5m": [at(data(2), 0.08)] },
    },
    {
      title:
        "RedisDataVolumeFillingUp stays quiet on a volume filling fast but more than half free, on a low steady one, and for others' claims",
      alert: "RedisDataVolumeFillingUp",
      series: [
        ...volume(data(0), "900000000-12500000x24", 24),
        ...volume(data(1), "200000000x24", 24),
        ...volume(data(2, OTHER_NS), "300000000-12500000x24", 24),
        ...volume(kubelet(`state-${NAME}-sentinel-0`), "50000000x24", 24),
      ],
      step: "10m",
      expect: { "3h": none },
    },
  ];
}

function lagLabels(master: Labels, ip: string): Labels {
  return { ...master, slave_ip: ip, slave_port: "6379", slave_state: "online" };
}

/** `redis_db_keys` and `redis_db_keys_expiring` per database: [keys, expiring]. */
function keyspace(labels: Labels, dbs: Record<string, [number, number]>): Series[] {
  return Object.entries(dbs).flatMap(([db, [keys, expiring]]) => [
    series("redis_db_keys", { ...labels, db }, `${keys}x10`),
    series("redis_db_keys_expiring", { ...labels, db }, `${expiring}x10`),
  ]);
}

function backupCases(): Case[] {
  // One sample and one evaluation every 10 minutes: 28 h in 170 steps.
  const samples = 28 * 6 + 2;
  const cronJob = ksm();
  const cronJobLabels = {
    namespace: NS,
    cronjob: CRONJOB,
    job: "kube-state-metrics",
    instance: "10.0.9.9:8080",
  };
  return [
    {
      title: `RedisBackupTooOld: a backup 25 h old does not fire, 27 h old fires (limit ${BACKUP_MAX_AGE_HOURS} h)`,
      alert: "RedisBackupTooOld",
      series: [
        series("kube_cronjob_created", cronJob, `0x${samples}`),
        // The last success finished at 1 h.
        series("kube_cronjob_status_last_successful_time", cronJob, `${H}x${samples}`),
      ],
      step: "10m",
      expect: { "26h": none, "28h": [at(cronJobLabels, 27 * H)] },
    },
    {
      title: "RedisBackupTooOld ignores old backups of other namespaces and other CronJobs",
      alert: "RedisBackupTooOld",
      series: [
        series("kube_cronjob_status_last_successful_time", cronJob, `${27 * H}x${samples}`),
        series("kube_cronjob_status_last_successful_time", ksm(OTHER_NS), `${H}x${samples}`),
        series(
          "kube_cronjob_status_last_successful_time",
          ksm(NS, "billing-redis-backup"),
          `${H}x${samples}`,
        ),
      ],
      step: "10m",
      expect: { "28h": none },
    },
    {
      title:
        "RedisBackupNeverSucceeded fires 26 h after the CronJob was created without a success, not before",
      alert: "RedisBackupNeverSucceeded",
      series: [series("kube_cronjob_created", cronJob, `0x${samples}`)],
      step: "10m",
      expect: { "25h": none, "27h": [at(cronJobLabels, 27 * H)] },
    },
    {
      title:
        "RedisBackupNeverSucceeded stays quiet once a backup succeeded, and for other namespaces",
      alert: "RedisBackupNeverSucceeded",
      series: [
        series("kube_cronjob_created", cronJob, `0x${samples}`),
        series("kube_cronjob_status_last_successful_time", cronJob, `${2 * H}x${samples}`),
        series("kube_cronjob_created", ksm(OTHER_NS), `0x${samples}`),
      ],
      step: "10m",
      expect: { "27h": none },
    },
    {
      title: "RedisBackupNotMonitored fires after 1h without our CronJob in kube-state-metrics",
      alert: "RedisBackupNotMonitored",
      series: [series("kube_cronjob_created", ksm(OTHER_NS), "0x90")],
      expect: { "59m": none, "60m": [at({ namespace: NS, cronjob: CRONJOB }, 1)] },
    },
    {
      title: "RedisBackupNotMonitored stays quiet while kube-state-metrics reports the CronJob",
      alert: "RedisBackupNotMonitored",
      series: [series("kube_cronjob_created", cronJob, "0x90")],
      expect: { "80m": none },
    },
  ];
}

/** Cases of a standalone production stack: one node, whose loss is critical. */
function standaloneCases(): Case[] {
  const node = redisPod(0);
  return [
    {
      title: "RedisDown is critical",
      alert: "RedisDown",
      series: [series("redis_up", node, "0x5")],
      expect: { "0m": none, "1m": [at(node, 0)] },
    },
    {
      title: "RedisNodesMissing fires 3m after the one node is gone",
      alert: "RedisNodesMissing",
      series: [
        series("redis_up", node, "1 stale"),
        series("redis_up", redisPod(0, OTHER_NS), "1x10"),
      ],
      expect: { "3m": none, "4m": [at({}, 0)] },
    },
    {
      title: "RedisNodesMissing stays quiet with the node up",
      alert: "RedisNodesMissing",
      series: [series("redis_up", node, "1x10")],
      expect: { "10m": none },
    },
  ];
}

// What Prometheus's template functions print (template.go), for the annotations' expected text.
function goG4(v: number): string {
  if (v === 0) return "0";
  const exponent = Math.floor(Math.log10(Math.abs(v)));
  assert.ok(exponent >= -4 && exponent < 4, `%.4g of ${v} would use an exponent`);
  return String(Number(v.toPrecision(4)));
}
function humanizeDuration(v: number): string {
  assert.ok(v >= 60, `humanizeDuration of ${v}: only whole minutes and more are modelled`);
  const d = Math.trunc(v);
  const [days, hours, minutes, seconds] = [
    Math.floor(d / 86400),
    Math.floor(d / 3600) % 24,
    Math.floor(d / 60) % 60,
    d % 60,
  ];
  if (days) return `${days}d ${hours}h ${minutes}m ${seconds}s`;
  if (hours) return `${hours}h ${minutes}m ${seconds}s`;
  return `${minutes}m ${seconds}s`;
}
/** Expands the templates the rules use; any other template fails the test. */
function expand(text: string, labels: Labels, value: number): string {
  return text.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, inner: string) => {
    const label = /^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
    if (label) {
      assert.ok(label[1] in labels, `template ${inner}: the alert has no label ${label[1]}`);
      return labels[label[1]];
    }
    if (inner === "$value") return String(value);
    if (inner === "$value | humanizePercentage") return `${goG4(value * 100)}%`;
    if (inner === "$value | humanizeDuration") return humanizeDuration(value);
    throw new Error(`template {{ ${inner} }} is not modelled by this test`);
  });
}

function seriesText(s: Series): string {
  const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${s.name}{${labels.join(",")}}`;
}

/** promtool's unit-test file of one case against the rules file `rulesFile` holding `rules`. */
function unitTestFile(rulesFile: string, rules: readonly AlertRule[], c: Case): string {
  const rule = rules.find((r) => r.alert === c.alert);
  assert.ok(rule, `${c.title}: no rule ${c.alert}`);
  const step = c.step ?? "1m";
  return stringify(
    {
      rule_files: [rulesFile],
      evaluation_interval: step,
      tests: [
        {
          interval: step,
          input_series: c.series.map((s) => ({ series: seriesText(s), values: s.values })),
          alert_rule_test: Object.entries(c.expect).map(([evalTime, firing]) => ({
            eval_time: evalTime,
            alertname: c.alert,
            exp_alerts: firing.map((f) => ({
              exp_labels: { ...f.labels, ...rule.labels },
              exp_annotations: Object.fromEntries(
                Object.entries(rule.annotations).map(([k, v]) => [k, expand(v, f.labels, f.value)]),
              ),
            })),
          })),
        },
      ],
    },
    { lineWidth: 0 },
  );
}

function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile("promtool", args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      done({ code, output: `${stdout}${stderr}${err && code === -1 ? String(err) : ""}` });
    });
  });
}

const rulesOf = (cfg: ResolvedConfig) => alertRuleGroups(cfg, NAME).flatMap((g) => g.rules);
const namesOf = (cfg: ResolvedConfig) => rulesOf(cfg).map((r) => r.alert);

const REQUIRED = {
  always: [
    "RedisDown",
    "RedisMetricsTargetDown",
    "RedisNodesMissing",
    "RedisMemoryHigh",
    "RedisRejectingConnections",
    "RedisWritesRefused",
    "RedisDataVolumeLow",
    "RedisDataVolumeFillingUp",
  ],
  allkeys: ["RedisEvictingKeysWithoutTTL"],
  sentinel: [
    "RedisNoMaster",
    "RedisMultipleMasters",
    "RedisSentinelsDisagree",
    "RedisSentinelQuorumLost",
    "RedisSentinelsMissing",
    "RedisReplicaLinkDown",
    "RedisReplicaLagging",
  ],
  backup: ["RedisBackupTooOld", "RedisBackupNeverSucceeded", "RedisBackupNotMonitored"],
};

describe("Prometheus alert rules under promtool", function () {
  this.timeout(120_000);
  const prod = loadStackConfig("prod");
  const standalone = resolve(PROD_STANDALONE, "prod-standalone");
  const noBackups = resolve({ ...PROD, backupEnabled: false }, "prod");
  const volatile = resolve({ ...PROD, maxmemoryPolicy: "volatile-lru" }, "prod");
  const noeviction = resolve({ ...PROD, maxmemoryPolicy: "noeviction" }, "prod");
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lowcode-alerts-"));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the rules file of `cfg` into the temp dir; returns its name. */
  const writeRules = (cfg: ResolvedConfig, file: string) => {
    fs.writeFileSync(path.join(dir, file), renderAlertRules(cfg, NAME));
    return file;
  };

  it("the prod stack has every required alert: down, masters, sentinels, replication, memory, evictions, connections, data volumes, backups", () => {
    assert.equal(prod.topology, "sentinel");
    assert.equal(prod.backup.enabled, true);
    assert.ok(prod.redis.maxmemoryPolicy.startsWith("allkeys-"));
    assert.deepEqual(
      [...namesOf(prod)].sort(),
      [...REQUIRED.always, ...REQUIRED.allkeys, ...REQUIRED.sentinel, ...REQUIRED.backup].sort(),
    );
  });

  it("a standalone stack has no sentinel or replication alert; a stack without backups no backup alert", () => {
    assert.deepEqual(
      [...namesOf(standalone)].sort(),
      [...REQUIRED.always, ...REQUIRED.allkeys, ...REQUIRED.backup].sort(),
    );
    assert.ok(
      rulesOf(standalone).every((r) => !/sentinel|master_link|slave/.test(r.expr)),
      "a standalone rule reads sentinel or replication metrics",
    );
    assert.deepEqual(
      [...namesOf(noBackups)].sort(),
      [...REQUIRED.always, ...REQUIRED.allkeys, ...REQUIRED.sentinel].sort(),
    );
    assert.ok(rulesOf(noBackups).every((r) => !r.expr.includes("kube_cronjob")));
  });

  it("evictions of keys without TTL are watched only under allkeys-* (volatile-* never evicts them); noeviction makes full memory critical", () => {
    assert.ok(!namesOf(volatile).includes("RedisEvictingKeysWithoutTTL"));
    assert.ok(!namesOf(noeviction).includes("RedisEvictingKeysWithoutTTL"));
    const severity = (cfg: ResolvedConfig) =>
      rulesOf(cfg).find((r) => r.alert === "RedisMemoryHigh")!.labels.severity;
    assert.equal(severity(prod), "warning");
    assert.equal(severity(volatile), "warning");
    assert.equal(severity(noeviction), "critical");
  });

  it("the rules file is the PrometheusRule's groups under a 2-line header", () => {
    const text = renderAlertRules(prod, NAME);
    const lines = text.split("\n");
    assert.equal(
      lines[0],
      "# alert-rules.yaml of lowcode-redis, stack prod, profile production, target kubernetes, topology sentinel.",
    );
    assert.equal(lines[1], "# Rendered from the stack config: change the config, not this file.");
    assert.match(lines[2], /^groups:$/);
    assert.deepEqual(parse(text), { groups: alertRuleGroups(prod, NAME) });
  });

  for (const [title, cfg] of [
    ["prod (sentinel group)", () => prod],
    ["production standalone", () => standalone],
    ["prod without backups", () => noBackups],
    ["prod with volatile-lru", () => volatile],
    ["prod with noeviction", () => noeviction],
  ] as const) {
    it(`the rules file of ${title} passes promtool check rules`, async () => {
      const file = writeRules(cfg(), `check-${title.replace(/\W+/g, "-")}.yaml`);
      const { code, output } = await promtool(["check", "rules", file], dir);
      assert.equal(code, 0, output);
      assert.match(output, new RegExp(`SUCCESS: ${rulesOf(cfg()).length} rules found`));
    });
  }

  it("every alert of the prod and standalone rules has a promtool case where it fires and one where it does not", () => {
    for (const [cfg, cases] of [
      [prod, groupCases()],
      [standalone, standaloneCases()],
    ] as const) {
      const fires = new Set(
        cases.filter((c) => Object.values(c.expect).some((f) => f.length > 0)).map((c) => c.alert),
      );
      const quiet = new Set(
        cases
          .filter((c) => Object.values(c.expect).some((f) => f.length === 0))
          .map((c) => c.alert),
      );
      const tested = cfg === standalone ? ["RedisDown", "RedisNodesMissing"] : namesOf(cfg);
      for (const alert of tested) {
        assert.ok(fires.has(alert), `${alert}: no case where it fires`);
        assert.ok(quiet.has(alert), `${alert}: no case where it stays quiet`);
      }
    }
  });

  /** Runs `promtool test rules` on one case; returns its exit code and output. */
  const runCase = async (cfg: ResolvedConfig, rulesFile: string, c: Case, file: string) => {
    writeRules(cfg, rulesFile);
    fs.writeFileSync(path.join(dir, file), unitTestFile(rulesFile, rulesOf(cfg), c));
    return promtool(["test", "rules", file], dir);
  };

  for (const [stack, cfg, cases] of [
    ["prod", () => prod, groupCases()],
    ["standalone", () => standalone, standaloneCases()],
  ] as const) {
    cases.forEach((c, i) => {
      it(`promtool, ${stack}: ${c.title}`, async () => {
        const { code, output } = await runCase(
          cfg(),
          `${stack}-rules.yaml`,
          c,
          `test-${stack}-${i}.yaml`,
        );
        assert.equal(code, 0, output);
        assert.match(output, /SUCCESS/);
      });
    });
  }

  it("promtool test rules fails when an expectation is wrong (the harness can fail)", async () => {
    const wrong: Case = {
      title: "RedisDown expected to fire while Redis is up",
      alert: "RedisDown",
      series: [series("redis_up", redisPod(0), "1x10")],
      expect: { "5m": [at(redisPod(0), 1)] },
    };
    const { code, output } = await runCase(prod, "prod-rules.yaml", wrong, "test-wrong.yaml");
    assert.notEqual(code, 0, output);
    assert.match(output, /FAILED/);
  });
});
