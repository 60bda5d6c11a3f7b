import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ResolvedConfig } from "../../config/resolve";
import { loadStackConfig } from "../../config/stack-file";
import {
  AlertRule,
  BACKUP_MAX_AGE_HOURS,
  MEMORY_ALERT_RATIO,
  REPLICA_LAG_SECONDS,
  VOLUME_CRITICAL_RATIO,
  VOLUME_FULL_WITHIN_HOURS,
  VOLUME_LOW_RATIO,
  VOLUME_TREND_MAX_RATIO,
  VOLUME_TREND_WINDOW,
  alertRuleGroups,
  backupMaxAgeSeconds,
  alertScope,
  sentinelsNeeded,
} from "../../render/alerts";
import { redisObjects } from "../../render/kubernetes";
import { PROD, PROD_STANDALONE, resolve } from "../helpers/config";

const NAME = "lowcode-redis";
/** Labels Prometheus adds to every scraped series (the ServiceMonitor's target labels). */
const TARGET_LABELS = new Set(["namespace", "job", "service", "pod", "instance"]);
const FIXTURES = path.join(__dirname, "..", "fixtures", "alerts");

/** metric name → the label names it carries, from the exporter's real output. */
function exporterMetrics(): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const file of fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".prom"))) {
    for (const line of fs.readFileSync(path.join(FIXTURES, file), "utf8").split("\n")) {
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
      if (!sample) continue;
      const labels = metrics.get(sample[1]) ?? new Set<string>();
      for (const m of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(m[1]);
      metrics.set(sample[1], labels);
    }
  }
  return metrics;
}

interface Selector {
  readonly metric: string;
  readonly matchers: Readonly<Record<string, { op: string; value: string }>>;
}

/** Every `metric{…}` of an expression. */
function selectors(expr: string): Selector[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1],
    matchers: Object.fromEntries(
      [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"/g)].map((x) => [
        x[1],
        { op: x[2], value: x[3] },
      ]),
    ),
  }));
}

const rulesOf = (cfg: ResolvedConfig, name = NAME): AlertRule[] =>
  alertRuleGroups(cfg, name).flatMap((g) => g.rules);

describe("alert rules: shape, scope and the exporter's metric names", () => {
  const prod = loadStackConfig("prod");
  const configs: [string, ResolvedConfig][] = [
    ["prod", prod],
    ["production standalone", resolve(PROD_STANDALONE)],
    [
      "namespace cache, noeviction",
      resolve({ ...PROD, namespace: "cache", maxmemoryPolicy: "noeviction" }),
    ],
  ];

  for (const [title, cfg] of configs) {
    it(`${title}: every rule has a unique name, a severity, a summary and a description saying what to do first`, () => {
      const rules = rulesOf(cfg);
      assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, "duplicate alert names");
      for (const r of rules) {
        assert.match(r.alert, /^Redis[A-Za-z]+$/);
        assert.ok(["critical", "warning"].includes(r.labels.severity), `${r.alert}: severity`);
        assert.equal(r.labels.namespace, cfg.kubernetes.namespace, `${r.alert}: namespace label`);
        assert.equal(r.labels.redis_deployment, NAME, `${r.alert}: redis_deployment label`);
        assert.ok(r.annotations.summary.length > 10, `${r.alert}: summary`);
        assert.match(r.annotations.description, /First: /, `${r.alert}: no first step`);
        if (r.for !== undefined) assert.match(r.for, /^\d+[smh]$/, `${r.alert}: for`);
      }
    });

    it(`${title}: every selector names this deployment's namespace and its job or CronJob`, () => {
      const s = alertScope(cfg, NAME);
      const ourJobs = new Set([s.redisJob, s.sentinelJob]);
      for (const r of rulesOf(cfg)) {
        // No metric is read without a selector (a bare name would match every deployment).
        const bare = r.expr.replace(/[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}/g, "{}");
        assert.doesNotMatch(
          bare,
          /\b(redis_\w+|up|kube_\w+|kubelet_\w+)\b(?!\s*\()/,
          `${r.alert}: ${r.expr}`,
        );
        const found = selectors(r.expr);
        assert.ok(found.length > 0, `${r.alert}: no selector`);
        for (const { metric, matchers } of found) {
          const where = `${r.alert}: ${metric}`;
          assert.deepEqual(matchers.namespace, { op: "=", value: s.namespace }, where);
          if (metric.startsWith("kubelet_volume_stats_")) {
            // Kubelet's series: this deployment's data claims, whatever job scrapes kubelet.
            assert.deepEqual(
              matchers.persistentvolumeclaim,
              { op: "=~", value: s.dataClaims },
              where,
            );
            continue;
          }
          if (metric.startsWith("kube_cronjob_")) {
            assert.deepEqual(matchers.cronjob, { op: "=", value: s.backupCronJob }, where);
            continue;
          }
          const job = matchers.job;
          assert.ok(job, `${where}: no job matcher`);
          const jobs = job.op === "=" ? [job.value] : job.op === "=~" ? job.value.split("|") : [];
          assert.ok(
            jobs.length > 0 && jobs.every((j) => ourJobs.has(j)),
            `${where}: job ${job.value}`,
          );
        }
      }
    });
  }

  it("the name given is the one in every job and CronJob; the config's namespace is used", () => {
    const cfg = resolve({ ...PROD, namespace: "cache" });
    const text = JSON.stringify(alertRuleGroups(cfg, "session-redis"));
    assert.ok(!text.includes("lowcode-redis"), "the default name leaked into the rules");
    assert.match(text, /job=\\"session-redis-metrics\\"/);
    assert.match(text, /job=\\"session-redis-sentinel-metrics\\"/);
    assert.match(text, /cronjob=\\"session-redis-backup\\"/);
    assert.ok(!text.includes('namespace=\\"lowcode\\"'));
  });

  it("every redis_* metric and label the rules read exists in redis_exporter 1.45's real output", () => {
    const metrics = exporterMetrics();
    assert.ok(metrics.size > 100, `only ${metrics.size} metrics in the fixtures`);
    for (const r of rulesOf(prod)) {
      for (const { metric, matchers } of selectors(r.expr)) {
        if (!metric.startsWith("redis_")) continue;
        const labels = metrics.get(metric);
        assert.ok(labels, `${r.alert}: ${metric} is not a metric of redis_exporter 1.45`);
        for (const label of Object.keys(matchers).filter((l) => !TARGET_LABELS.has(l)))
          assert.ok(labels.has(label), `${r.alert}: ${metric} has no label ${label}`);
      }
      for (const m of r.expr.matchAll(/\bby \(([^)]*)\) \((redis_\w+)/g))
        for (const label of m[1].split(/,\s*/).filter((l) => !TARGET_LABELS.has(l)))
          assert.ok(metrics.get(m[2])?.has(label), `${r.alert}: ${m[2]} has no label ${label}`);
    }
    // The label values the rules match on, as the exporter writes them.
    const master = fs.readFileSync(path.join(FIXTURES, "redis-exporter-1.45-master.prom"), "utf8");
    const replica = fs.readFileSync(
      path.join(FIXTURES, "redis-exporter-1.45-replica.prom"),
      "utf8",
    );
    assert.match(master, /^redis_instance_info\{[^}]*role="master"/m);
    assert.match(replica, /^redis_instance_info\{[^}]*role="slave"/m);
    assert.match(master, /^redis_errors_total\{err="NOREPLICAS"\} 1$/m);
    assert.match(replica, /^redis_memory_max_bytes 0$/m, "a replica without maxmemory reports 0");
  });

  it("the thresholds are the exported constants", () => {
    const rule = (alert: string) => rulesOf(prod).find((r) => r.alert === alert)!;
    assert.match(rule("RedisMemoryHigh").expr, new RegExp(`> ${MEMORY_ALERT_RATIO}$`));
    assert.match(rule("RedisMemoryHigh").expr, /redis_memory_max_bytes\{[^}]*\} > 0\)/);
    assert.match(rule("RedisReplicaLagging").expr, new RegExp(`> ${REPLICA_LAG_SECONDS}$`));
    assert.match(rule("RedisBackupTooOld").expr, new RegExp(`> ${BACKUP_MAX_AGE_HOURS * 3600}$`));
    assert.match(
      rule("RedisBackupNeverSucceeded").expr,
      new RegExp(`> ${BACKUP_MAX_AGE_HOURS * 3600}\\)`),
    );
    assert.match(rule("RedisNodesMissing").expr, / < 3$/);
    assert.match(rule("RedisSentinelsMissing").expr, / < 3$/);
  });

  it("the data-volume alerts read exactly the Redis data claims of the rendered StatefulSet", () => {
    for (const cfg of [prod, resolve(PROD_STANDALONE)]) {
      const pattern = new RegExp(`^(?:${alertScope(cfg, NAME).dataClaims})$`);
      const claims = (name: string) =>
        redisObjects(cfg, name)
          .filter((o) => o.kind === "StatefulSet")
          .flatMap((o) => {
            const spec = o.spec as {
              replicas: number;
              volumeClaimTemplates: { metadata: { name: string } }[];
            };
            return Array.from(
              { length: spec.replicas },
              (_, i) => `${spec.volumeClaimTemplates[0].metadata.name}-${o.metadata.name}-${i}`,
            );
          });
      const [data, state] = [
        claims(NAME).filter((c) => c.startsWith("data-")),
        claims(NAME).filter((c) => !c.startsWith("data-")),
      ];
      assert.equal(data.length, cfg.sentinel.nodes);
      for (const claim of data) assert.match(claim, pattern);
      // Not the sentinels' state claims, nor the claims of another deployment named alike.
      assert.equal(state.length, cfg.topology === "sentinel" ? cfg.sentinel.sentinels : 0);
      for (const claim of [...state, ...claims(`${NAME}-cache`), ...claims("x" + NAME)])
        assert.doesNotMatch(claim, pattern);
    }
  });

  it("the data-volume thresholds: a warning below 30% free, a page below 10% or when the last 6 h's trend fills it within 4 h", () => {
    const rule = (alert: string) => rulesOf(prod).find((r) => r.alert === alert)!;
    assert.deepEqual(
      [VOLUME_LOW_RATIO, VOLUME_CRITICAL_RATIO, VOLUME_TREND_MAX_RATIO],
      [0.3, 0.1, 0.5],
    );
    assert.match(rule("RedisDataVolumeLow").expr, / < 0\.3$/);
    assert.equal(rule("RedisDataVolumeLow").labels.severity, "warning");
    const critical = rule("RedisDataVolumeFillingUp");
    assert.equal(critical.labels.severity, "critical");
    assert.match(critical.expr, /\) < 0\.1\) or \(/);
    assert.match(critical.expr, / < 0\.5 and predict_linear\(/);
    assert.ok(
      critical.expr.includes(`[${VOLUME_TREND_WINDOW}], ${VOLUME_FULL_WITHIN_HOURS} * 3600) < 0)`),
      critical.expr,
    );
    // Both divide by a capacity above 0: a claim reporting no capacity fires nothing.
    for (const r of [rule("RedisDataVolumeLow"), critical])
      assert.match(r.expr, /kubelet_volume_stats_capacity_bytes\{[^}]*\} > 0\)/);
  });

  it("a failover needs the quorum and a majority of the sentinels: the quorum alert uses the larger", () => {
    assert.equal(sentinelsNeeded(prod), 2);
    assert.equal(sentinelsNeeded(resolve({ ...PROD, sentinels: 3, quorum: 1 })), 2);
    assert.equal(sentinelsNeeded(resolve({ ...PROD, sentinels: 3, quorum: 3 })), 3);
    assert.equal(sentinelsNeeded(resolve({ ...PROD, sentinels: 5, quorum: 2 })), 3);
    const quorum = rulesOf(resolve({ ...PROD, sentinels: 5, quorum: 2 })).find(
      (r) => r.alert === "RedisSentinelQuorumLost",
    )!;
    assert.equal(quorum.expr.match(/ < 3\b/g)?.length, 2, quorum.expr);
  });

  it("the sentinel group's master name scopes the sentinels' view", () => {
    const cfg = resolve({ ...PROD, masterName: "cache-master" });
    const sentinelRules = rulesOf(cfg).filter((r) => r.expr.includes("redis_sentinel_"));
    assert.ok(sentinelRules.length >= 2);
    for (const r of sentinelRules)
      for (const s of selectors(r.expr).filter((x) => x.metric.startsWith("redis_sentinel_")))
        assert.deepEqual(s.matchers.master_name, { op: "=", value: "cache-master" }, r.alert);
  });
});

describe("alert rules: the backup age limit follows the schedule", () => {
  const limitHours = (schedule: string) =>
    backupMaxAgeSeconds(resolve({ ...PROD, backupSchedule: schedule }, "prod")) / 3600;

  it("26 h for a daily or more frequent schedule, the longest gap plus 2 h for a sparser one", () => {
    assert.equal(limitHours("0 2 * * *"), BACKUP_MAX_AGE_HOURS);
    assert.equal(limitHours("*/30 * * * *"), BACKUP_MAX_AGE_HOURS);
    assert.equal(limitHours("0 2 * * 0"), 7 * 24 + 2);
    // Monday and Thursday at 02:00: the longest gap is Thursday to Monday, 4 days.
    assert.equal(limitHours("0 2 * * 1,4"), 4 * 24 + 2);
    // Once every four years, on 29 February.
    assert.equal(limitHours("0 2 29 2 *"), 1461 * 24 + 2);
    // On the 1st of the month: the longest gap is 31 days.
    assert.equal(limitHours("0 3 1 * *"), 31 * 24 + 2);
  });

  it("the rule uses that limit", () => {
    const groups = alertRuleGroups(
      resolve({ ...PROD, backupSchedule: "0 2 * * 0" }, "prod"),
      "lowcode-redis",
    );
    const tooOld = groups.flatMap((g) => g.rules).find((r) => r.alert === "RedisBackupTooOld")!;
    assert.match(tooOld.expr, new RegExp(`> ${(7 * 24 + 2) * 3600}$`));
  });
});
