import { stringify } from "yaml";
import { longestIntervalMinutes } from "../config/backup";
import { ResolvedConfig } from "../config/resolve";
import { header } from "./redis-conf";

/**
 * Prometheus alert rules of a deployment on Kubernetes, scraped as the metrics sidecars and
 * ServiceMonitor publish it:
 *
 * - a `redis_exporter` (container `metrics`, port 9121) in every Redis pod, behind the Service
 *   `<name>-metrics`, and one in every sentinel pod, behind `<name>-sentinel-metrics`; the
 *   ServiceMonitor gives each series `namespace`, `service`, `pod`, `job` (the Service's name)
 *   and `instance`;
 * - kube-state-metrics for the backup CronJob `<name>-backup`: `kube_cronjob_created` and
 *   `kube_cronjob_status_last_successful_time` (absent until a run has succeeded). A run succeeds
 *   only after `redis-check-rdb` and the checksum passed, so a successful run is a good backup;
 * - kubelet's volume metrics of the Redis data claims (`kubelet_volume_stats_available_bytes`,
 *   `kubelet_volume_stats_capacity_bytes`, labelled `namespace` and `persistentvolumeclaim`).
 *
 * Every selector names this deployment's namespace and job (or CronJob), so that other Redis
 * deployments in the same Prometheus never fire these rules. Metric names and labels were read
 * from redis_exporter 1.45 (the oldest version in use) against Redis 7.0: master, replica and
 * sentinel (tests/fixtures/alerts/).
 *
 * Readiness: a Redis pod whose probe fails (the node does not answer, or a replica's link is
 * down) leaves its Service's endpoints unless the Service publishes unready pods, and its series
 * then disappear instead of reporting 0. The count alerts (`RedisNodesMissing`,
 * `RedisSentinelsMissing`, `RedisNoMaster`, `RedisSentinelQuorumLost`) count what is up, so they
 * fire either way.
 */

/** Used memory over maxmemory: the last tenth is the room for a burst of writes before Redis evicts (or refuses writes under noeviction). */
export const MEMORY_ALERT_RATIO = 0.9;
/** The backup runs daily: 24 h, plus 2 h for a late start, a retry and a slow run. */
export const BACKUP_MAX_AGE_HOURS = 26;
/** Redis's default min-replicas-max-lag: a replica silent longer (they acknowledge every second) no longer counts for min-replicas-to-write. */
export const REPLICA_LAG_SECONDS = 10;
/**
 * Free space of a Redis data volume below which the next big write Redis makes beside its files
 * may not fit. Steady state, a volume holds dump.rdb, the AOF's base and up to as much again in
 * increments before a rewrite (auto-aof-rewrite-percentage 100): about 3 copies of the dataset as
 * RDB. An AOF rewrite then writes a new base beside the old files, a BGSAVE a temporary RDB beside
 * dump.rdb, a replica's full sync the master's RDB: one more copy each, for a while. With 3 copies
 * in 70% of the volume, one more takes about 23%: below 30% free the next one may fail, and a
 * failed write of the AOF or RDB makes the node refuse every write (MISCONF).
 */
export const VOLUME_LOW_RATIO = 0.3;
/** Under this, a full volume is one rewrite or full sync away whatever the trend: paged. */
export const VOLUME_CRITICAL_RATIO = 0.1;
/**
 * The trend that pages: the free space of the last 6 h (long enough to average over AOF rewrites,
 * which shrink the files every so often) extrapolated 4 h ahead (time to grow the claim or stop
 * what writes, at night included), on a volume less than half free (a volume just filled by a
 * full sync would otherwise extrapolate that jump).
 */
export const VOLUME_TREND_WINDOW = "6h";
export const VOLUME_FULL_WITHIN_HOURS = 4;
export const VOLUME_TREND_MAX_RATIO = 0.5;
/** Window of the counters' increase: several scrapes at any usual interval (15-60 s). */
export const RATE_WINDOW = "5m";

/** How long each condition must hold before it fires, and why. */
export const FOR = {
  /** Longer than a Redis restart inside its pod (the exporter sees a refused connection for a scrape or two). */
  redisDown: "1m",
  /** A missed scrape or two is noise; 5 minutes blind is not. */
  targetDown: "5m",
  /** Longer than a pod's replacement in a rolling update (pre-stop hook at most 30 s, the start, the resync). */
  missing: "3m",
  /** A failover takes about 7 s, an aborted one is retried after 2 x failoverTimeoutMs (20 s by default), a restarted old master waits at most 35 s: a minute is longer than each. */
  master: "1m",
  /** Sentinels pass a new master on within seconds (hello messages every 2 s); a minute of disagreement is a sentinel cut off. */
  sentinels: "1m",
  /** After a failover or a restart a replica resyncs in seconds; two minutes is a replica that cannot. */
  replicaLink: "2m",
  /** Replicas acknowledge every second and the master drops one silent for repl-timeout (60 s): above the limit for 30 s is a stuck replica, before it is dropped. */
  replicaLag: "30s",
  /** A short peak above the ratio while keys expire or get evicted is normal. */
  memory: "5m",
  /** An AOF rewrite or a BGSAVE holds an extra copy of the dataset for a few minutes at most: a dip that long is not a full volume. */
  volume: "10m",
  /** The trend and the level are kubelet's, sampled every minute or so: a few samples. */
  volumeCritical: "5m",
  /** kube-state-metrics restarting or the CronJob being replaced by `pulumi up` take minutes, not an hour. */
  backupUnwatched: "1h",
} as const;

export type Severity = "critical" | "warning";

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook?: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** The names every selector uses. */
export function alertScope(cfg: ResolvedConfig, name: string) {
  return {
    namespace: cfg.kubernetes.namespace,
    redisJob: `${name}-metrics`,
    sentinelJob: `${name}-sentinel-metrics`,
    backupCronJob: `${name}-backup`,
    /**
     * The Redis data claims: the StatefulSet `name`'s volumeClaimTemplate `data`, one claim per
     * pod (`data-<name>-<ordinal>`; tests/unit/alerts.test.ts checks it against the rendered
     * StatefulSet). The sentinels' `state-…` claims do not match.
     */
    dataClaims: `data-${regexQuote(name)}-[0-9]+`,
  };
}

/** `{a="x",b=~"y"}`: matchers whose key ends in `~` are regex matchers. */
function selector(matchers: Record<string, string>): string {
  const parts = Object.entries(matchers).map(([key, value]) =>
    key.endsWith("~")
      ? `${key.slice(0, -1)}=~${JSON.stringify(value)}`
      : `${key}=${JSON.stringify(value)}`,
  );
  return `{${parts.join(",")}}`;
}

function regexQuote(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The sentinels needed for a failover: the quorum to agree the master is down, a majority to elect the leader that runs it. */
export function sentinelsNeeded(cfg: ResolvedConfig): number {
  return Math.max(cfg.sentinel.quorum, Math.floor(cfg.sentinel.sentinels / 2) + 1);
}

/**
 * How old the latest good backup may be: BACKUP_MAX_AGE_HOURS for a daily schedule, or the
 * schedule's longest gap between runs plus 2 h when runs are further apart (a weekly backup).
 */
export function backupMaxAgeSeconds(cfg: ResolvedConfig): number {
  const longest = longestIntervalMinutes(cfg.backup.schedule);
  return Math.max(BACKUP_MAX_AGE_HOURS * 3600, (longest + 120) * 60);
}

/** The rule groups: `spec.groups` of a PrometheusRule, `groups` of a rules file. */
export function alertRuleGroups(cfg: ResolvedConfig, name: string): RuleGroup[] {
  const { namespace, redisJob, sentinelJob, backupCronJob, dataClaims } = alertScope(cfg, name);
  const group = cfg.topology === "sentinel";
  const ns = `-n ${namespace}`;
  const redis = selector({ namespace, job: redisJob });
  const sentinels = selector({ namespace, job: sentinelJob });
  const bothJobs = group
    ? selector({ namespace, "job~": [redisJob, sentinelJob].map(regexQuote).join("|") })
    : redis;
  const master = selector({ namespace, job: sentinelJob, master_name: cfg.sentinel.masterName });
  const cronJob = selector({ namespace, cronjob: backupCronJob });
  const nodes = cfg.sentinel.nodes;
  const policy = cfg.redis.maxmemoryPolicy;
  const maxAge = backupMaxAgeSeconds(cfg);

  const rule = (
    alert: string,
    severity: Severity,
    expr: string,
    forDuration: string | undefined,
    summary: string,
    description: string,
    runbook?: string,
  ): AlertRule => ({
    alert,
    expr,
    ...(forDuration ? { for: forDuration } : {}),
    labels: { severity, namespace, redis_deployment: name },
    annotations: { summary, description, ...(runbook ? { runbook } : {}) },
  });
  // A lost node is an outage standalone; in a group the others serve (RedisNoMaster pages when not).
  const nodeSeverity: Severity = group ? "warning" : "critical";
  const redisLogs = `kubectl ${ns} logs {{ $labels.pod }} -c redis`;
  const sentinelLogs = `kubectl ${ns} logs ${name}-sentinel-0 -c sentinel`;

  const redisRules: AlertRule[] = [
    rule(
      "RedisDown",
      nodeSeverity,
      `redis_up${redis} == 0`,
      FOR.redisDown,
      "Redis in {{ $labels.pod }} does not answer its exporter",
      `The metrics sidecar of {{ $labels.pod }} (namespace ${namespace}) cannot reach the Redis server of its pod for ${FOR.redisDown}${group ? "; the sentinels fail over if it was the master" : ": the deployment is down"}. First: \`kubectl ${ns} describe pod {{ $labels.pod }}\` (restarts, OOMKilled, probes) and \`${redisLogs} --previous\`.`,
    ),
    rule(
      "RedisMetricsTargetDown",
      "warning",
      `up${bothJobs} == 0`,
      FOR.targetDown,
      "Prometheus cannot scrape {{ $labels.pod }}",
      `Prometheus cannot scrape the metrics sidecar of {{ $labels.pod }} (job {{ $labels.job }}) for ${FOR.targetDown}: the other Redis alerts are blind for this pod. First: \`kubectl ${ns} logs {{ $labels.pod }} -c metrics\` and \`kubectl ${ns} get pod {{ $labels.pod }}\`.`,
    ),
    rule(
      "RedisNodesMissing",
      nodeSeverity,
      `(count(redis_up${redis} == 1) or vector(0)) < ${nodes}`,
      FOR.missing,
      `{{ $value }} of ${nodes} Redis nodes are up`,
      `Only {{ $value }} of the ${nodes} Redis pods of ${name} are scraped and answer (down, not Ready and so out of the Service, or gone) for ${FOR.missing}. First: \`kubectl ${ns} get pods -l ${podLabels(name, "redis")} -o wide\` and describe the pods that are not Running and Ready.`,
    ),
    rule(
      "RedisMemoryHigh",
      policy === "noeviction" ? "critical" : "warning",
      `redis_memory_used_bytes${redis} / (redis_memory_max_bytes${redis} > 0) > ${MEMORY_ALERT_RATIO}`,
      FOR.memory,
      "Redis in {{ $labels.pod }} uses {{ $value | humanizePercentage }} of maxmemory",
      `Redis in {{ $labels.pod }} has used {{ $value | humanizePercentage }} of its maxmemory for ${FOR.memory}. ${memoryConsequence(policy)} First: find what grew (\`redis-cli --bigkeys\`, the keys per database in \`npm run monitor\`), then raise maxmemory and memoryLimit in the stack config or trim the data.`,
    ),
    rule(
      "RedisRejectingConnections",
      "critical",
      `increase(redis_rejected_connections_total${bothJobs}[${RATE_WINDOW}]) > 0`,
      undefined,
      "{{ $labels.pod }} rejects client connections",
      `{{ $labels.pod }} rejected new connections in the last ${RATE_WINDOW}: it has reached maxclients, so clients fail to connect. First: \`CLIENT LIST\` as the admin user (or \`npm run monitor\`) to find the client that leaks connections, and restart it.`,
    ),
    rule(
      "RedisWritesRefused",
      "critical",
      `increase(redis_errors_total${selector({ namespace, job: redisJob, "err~": "OOM|NOREPLICAS|MISCONF" })}[${RATE_WINDOW}]) > 0`,
      undefined,
      "Redis in {{ $labels.pod }} refuses writes ({{ $labels.err }})",
      `Redis in {{ $labels.pod }} answered writes with {{ $labels.err }} in the last ${RATE_WINDOW}. OOM: maxmemory is full and the policy (${policy}) frees nothing; NOREPLICAS: fewer than min-replicas-to-write replicas acknowledged within min-replicas-max-lag; MISCONF: the node could not write its AOF or its last RDB (see RedisDataVolumeLow). First: \`${redisLogs}\`, then RedisMemoryHigh, RedisReplicaLinkDown or the data volume's free space.`,
    ),
    ...volumeRules(cfg, name, dataClaims, rule),
  ];
  if (policy.startsWith("allkeys-")) {
    redisRules.push(
      rule(
        "RedisEvictingKeysWithoutTTL",
        "critical",
        `rate(redis_evicted_keys_total${redis}[${RATE_WINDOW}]) > 0 and on (namespace, pod) (sum by (namespace, pod) (redis_db_keys${redis} - redis_db_keys_expiring${redis}) > 0)`,
        undefined,
        "Redis in {{ $labels.pod }} evicts keys while it holds keys without TTL",
        `Redis in {{ $labels.pod }} is full and evicts keys (${policy}), and a database holds keys without TTL, which the platform cannot rebuild (flow:queue, ui:themes): they may be among the evicted. First: free memory now (raise maxmemory and memoryLimit, or delete cache keys), then find what filled it (\`redis-cli --bigkeys\`).`,
      ),
    );
  }

  const groups: RuleGroup[] = [{ name: `${name}.redis`, rules: redisRules }];

  if (group) {
    const needed = sentinelsNeeded(cfg);
    const masters = `redis_instance_info${selector({ namespace, job: redisJob, role: "master" })}`;
    groups.push({
      name: `${name}.sentinel`,
      rules: [
        rule(
          "RedisNoMaster",
          "critical",
          `(count(${masters}) or vector(0)) == 0`,
          FOR.master,
          `No Redis node of ${name} is master`,
          `None of the Redis nodes of ${name} reports role master for ${FOR.master}, longer than a failover: writes fail. First: \`${sentinelLogs}\` (look for +sdown, +odown, -failover-abort-*), and \`kubectl ${ns} get pods\` for nodes that are not Ready.`,
          `1. kubectl ${ns} get pods -o wide (nodes and sentinels Running and Ready?). 2. ${sentinelLogs} | grep -E 'odown|failover|switch-master'. 3. A failover that aborted is retried after twice failoverTimeoutMs; a replica that cannot be promoted (down, loading, link down) keeps it from succeeding: see RedisReplicaLinkDown. 4. Fewer sentinels than ${needed}: see RedisSentinelQuorumLost.`,
        ),
        rule(
          "RedisMultipleMasters",
          "critical",
          `count(${masters}) > 1`,
          FOR.master,
          `{{ $value }} Redis nodes of ${name} report role master`,
          `{{ $value }} Redis nodes of ${name} report role master for ${FOR.master}: clients that reach the one the sentinels do not name write data that will be lost. First: find the master the sentinels name (\`${sentinelLogs} | grep switch-master | tail -1\`), then restart the other: its start script follows the sentinels' master.`,
          `1. ${sentinelLogs} | grep switch-master | tail -1 names the master. 2. The other master's pod: kubectl ${ns} delete pod <pod> (start-redis.sh follows the sentinels' record). 3. Its writes since the split are lost; check the applications' errors for that window.`,
        ),
        rule(
          "RedisSentinelsDisagree",
          "critical",
          `count(count by (master_address) (redis_sentinel_master_status${master})) > 1`,
          FOR.sentinels,
          `The sentinels of ${name} name {{ $value }} different masters`,
          `The sentinels of ${name} name {{ $value }} different addresses for ${cfg.sentinel.masterName} for ${FOR.sentinels}: a client asking the wrong one writes to a replica (READONLY) or to a stale master. First: compare \`redis_sentinel_master_status{namespace="${namespace}",job="${sentinelJob}"}\` per pod, then check the odd sentinel's log and its network to the others.`,
          `1. Which pod is odd: the master_address label per pod. 2. kubectl ${ns} logs <that pod> -c sentinel. 3. If it cannot reach the others, fix the network (NetworkPolicy, DNS); if its state is stale, restart the pod: it takes the master with the highest config epoch.`,
        ),
        rule(
          "RedisSentinelQuorumLost",
          "critical",
          `(count(redis_up${sentinels} == 1) or vector(0)) < ${needed} or max(redis_sentinel_master_ok_sentinels${master}) < ${needed}`,
          FOR.sentinels,
          `Only {{ $value }} sentinels of ${name} are healthy, ${needed} are needed for a failover`,
          `Only {{ $value }} of the ${cfg.sentinel.sentinels} sentinels of ${name} are up and see each other for ${FOR.sentinels}; a failover needs ${needed} (quorum ${cfg.sentinel.quorum}, and a majority to elect its leader): if the master fails now, nothing replaces it. First: \`kubectl ${ns} get pods -l ${podLabels(name, "sentinel")}\` for sentinel pods not Ready, then their logs (-c sentinel).`,
        ),
        rule(
          "RedisSentinelsMissing",
          "warning",
          `(count(redis_up${sentinels} == 1) or vector(0)) < ${cfg.sentinel.sentinels}`,
          FOR.missing,
          `{{ $value }} of ${cfg.sentinel.sentinels} sentinels of ${name} are up`,
          `Only {{ $value }} of the ${cfg.sentinel.sentinels} sentinels of ${name} are scraped and answer for ${FOR.missing}; failovers still work with ${needed}. First: \`kubectl ${ns} get pods -l ${podLabels(name, "sentinel")}\` and describe the sentinel pods that are not Running and Ready.`,
        ),
        rule(
          "RedisReplicaLinkDown",
          "warning",
          `redis_master_link_up${redis} == 0`,
          FOR.replicaLink,
          "Replica {{ $labels.pod }} has lost its master",
          `Replica {{ $labels.pod }} has no link to its master {{ $labels.master_host }}:{{ $labels.master_port }} for ${FOR.replicaLink}: it serves stale data and cannot be promoted. First: \`${redisLogs}\` (auth errors, full syncs that fail, the master unreachable).`,
        ),
        rule(
          "RedisReplicaLagging",
          "warning",
          `redis_connected_slave_lag_seconds${redis} > ${REPLICA_LAG_SECONDS}`,
          FOR.replicaLag,
          "A replica of {{ $labels.pod }} lags {{ $value }} s",
          `The replica at {{ $labels.slave_ip }}:{{ $labels.slave_port }} has not acknowledged the master {{ $labels.pod }} for {{ $value }} s (more than ${REPLICA_LAG_SECONDS} s): it does not count for min-replicas-to-write, and a failover to it loses writes. First: the replica's CPU throttling and disk (\`kubectl ${ns} top pod\`), and its log.`,
        ),
      ],
    });
  }

  if (cfg.backup.enabled) {
    const lastSuccess = `kube_cronjob_status_last_successful_time${cronJob}`;
    const backupJobs = `kubectl ${ns} get jobs --sort-by=.metadata.creationTimestamp | grep ${backupCronJob}`;
    groups.push({
      name: `${name}.backup`,
      rules: [
        rule(
          "RedisBackupTooOld",
          "warning",
          `time() - ${lastSuccess} > ${maxAge}`,
          undefined,
          `The latest good backup of ${name} is {{ $value | humanizeDuration }} old`,
          `The last successful run of the CronJob ${backupCronJob} (a verified backup) finished {{ $value | humanizeDuration }} ago, more than ${maxAge / 3600} h. First: the latest runs' logs (\`${backupJobs}\`, then \`kubectl ${ns} logs job/<job>\`: "backup failed: <why>"), fix, and run one now: \`kubectl ${ns} create job --from=cronjob/${backupCronJob} backup-manual\`.`,
        ),
        rule(
          "RedisBackupNeverSucceeded",
          "warning",
          `(time() - kube_cronjob_created${cronJob} > ${maxAge}) unless on (namespace, cronjob) ${lastSuccess}`,
          undefined,
          `No backup of ${name} has succeeded since its CronJob was created`,
          `The CronJob ${backupCronJob} was created {{ $value | humanizeDuration }} ago and no run has succeeded yet. First: \`${backupJobs}\` (no job at all: the CronJob is suspended or its schedule is wrong), then \`kubectl ${ns} logs job/<job>\`.`,
        ),
        rule(
          "RedisBackupNotMonitored",
          "warning",
          `absent(kube_cronjob_created${cronJob})`,
          FOR.backupUnwatched,
          `Prometheus sees no CronJob ${backupCronJob}`,
          `kube-state-metrics reports no CronJob ${backupCronJob} in ${namespace} for ${FOR.backupUnwatched}, so the backup alerts cannot fire. First: \`kubectl ${ns} get cronjob ${backupCronJob}\` (deleted?), then whether kube-state-metrics runs and is scraped.`,
        ),
      ],
    });
  }
  return groups;
}

/**
 * The data volumes' free space, from kubelet's volume metrics of the claims: a warning while there
 * is time, a page when it fills within hours or is nearly full. Full, a node refuses writes
 * (MISCONF) and a group cannot fail over to a replica that is full too, until there is room again.
 */
function volumeRules(
  cfg: ResolvedConfig,
  name: string,
  dataClaims: string,
  rule: (
    alert: string,
    severity: Severity,
    expr: string,
    forDuration: string | undefined,
    summary: string,
    description: string,
  ) => AlertRule,
): AlertRule[] {
  const ns = `-n ${cfg.kubernetes.namespace}`;
  const claims = selector({
    namespace: cfg.kubernetes.namespace,
    "persistentvolumeclaim~": dataClaims,
  });
  const available = `kubelet_volume_stats_available_bytes${claims}`;
  const free = `${available} / (kubelet_volume_stats_capacity_bytes${claims} > 0)`;
  const look = `First: which files grew: \`kubectl ${ns} exec <pod> -c redis -- ls -la /data /data/appendonlydir\` (the pod is the claim's name without \`data-\`; increments piling up mean AOF rewrites fail: \`aof_last_bgrewrite_status\` in INFO persistence), then grow the claim (a storage class with allowVolumeExpansion) or the dataset's bound.`;
  return [
    rule(
      "RedisDataVolumeLow",
      "warning",
      `${free} < ${VOLUME_LOW_RATIO}`,
      FOR.volume,
      "The Redis data volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free",
      `The data volume {{ $labels.persistentvolumeclaim }} of ${name} has had less than ${VOLUME_LOW_RATIO * 100}% free for ${FOR.volume}: the next AOF rewrite, BGSAVE or full sync writes another copy of the dataset and may not fit; once a write of the AOF or RDB fails, the node refuses writes (MISCONF). ${look}`,
    ),
    rule(
      "RedisDataVolumeFillingUp",
      "critical",
      `(${free} < ${VOLUME_CRITICAL_RATIO}) or (${free} < ${VOLUME_TREND_MAX_RATIO} and predict_linear(${available}[${VOLUME_TREND_WINDOW}], ${VOLUME_FULL_WITHIN_HOURS} * 3600) < 0)`,
      FOR.volumeCritical,
      "The Redis data volume {{ $labels.persistentvolumeclaim }} is about to fill up ({{ $value | humanizePercentage }} free)",
      `The data volume {{ $labels.persistentvolumeclaim }} of ${name} has {{ $value | humanizePercentage }} free and, at the rate of the last ${VOLUME_TREND_WINDOW}, fills within ${VOLUME_FULL_WITHIN_HOURS} h (or has less than ${VOLUME_CRITICAL_RATIO * 100}% left): then the node refuses every write (MISCONF) until there is room again. ${look}`,
    ),
  ];
}

/** The label selector of a component's pods (render/kubernetes.ts `selector`). */
function podLabels(name: string, component: string): string {
  return `app.kubernetes.io/instance=${name},app.kubernetes.io/component=${component}`;
}

function memoryConsequence(policy: string): string {
  if (policy === "noeviction") return "With noeviction, writes fail with OOM once it is full.";
  if (policy.startsWith("volatile-"))
    return `With ${policy}, only keys with a TTL are evicted; when none is left, writes fail with OOM.`;
  return `With ${policy}, any key may be evicted once it is full, including keys without TTL.`;
}

/** The plain Prometheus rules file (`rule_files` of prometheus.yml, `promtool check rules`). */
export function renderAlertRules(cfg: ResolvedConfig, name: string): string {
  const lines = header(cfg, "alert-rules.yaml").slice(0, 2);
  return (
    lines.join("\n") +
    "\n" +
    stringify(
      { groups: alertRuleGroups(cfg, name) },
      { lineWidth: 0, aliasDuplicateObjects: false },
    )
  );
}
