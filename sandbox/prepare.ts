import * as fs from "node:fs";
import * as path from "node:path";
import { ResolvedConfig } from "../config/resolve";
import { CommanderSecrets } from "../render/commander";
import { Files } from "../render/files";
import { SecretValues, ServerLayout, redisServerArgs } from "../render/redis-conf";
import { Endpoint } from "../render/connection";
import { CONNECTION_FILE } from "./contract";
import { ownerOnlyDir, writeFile } from "./private-files";
import { ANNOUNCED_HOST, HOST, SandboxProcess, endpointOf } from "./process-list";
import { backupPaths, prepareBackup, restoreNode } from "./runtime/backup";
import { Deviation, applyDeviations, detectDeviations } from "./runtime/capabilities";
import { commanderHome, commanderPaths, prepareCommander } from "./runtime/commander";
import { Pod } from "./runtime/pod-network";
import { hostProgramPod, prepareDeploymentPods } from "./runtime/pods";
import { ProcessSpec } from "./runtime/supervisor";
import { commanderSecretsOf, loadOrCreateSecrets } from "./secrets";
import { StartContext } from "./start-context";

/** Every sandbox process listens on loopback only: both addresses "localhost" may resolve to. */
const LOOPBACK_BIND = ["--bind", "127.0.0.1", "-::1"];

/** Commander, ready to start: how it runs, and where it listens. */
export interface PreparedCommander {
  readonly spec: ProcessSpec;
  readonly address: string;
  readonly port: number;
  readonly secrets: CommanderSecrets;
}

/** Everything written and decided before the first process starts. */
export interface Prepared {
  readonly secrets: SecretValues;
  readonly deviations: readonly Deviation[];
  /** The contract's backup entry: `sh <script>` takes one backup. */
  readonly backup: { script: string; dir: string };
  readonly backupLogFile: string;
  /** How each Redis process starts, by name. */
  readonly specs: ReadonlyMap<string, ProcessSpec>;
  readonly commander?: PreparedCommander;
}

/** Writes a process's rendered files, the same bytes a container or pod gets, all 0600. */
function prepareProcess(dir: string, p: SandboxProcess, files: Files): void {
  for (const d of [path.join(dir, p.name), p.confDir, p.dataDir]) ownerOnlyDir(d);
  for (const [file, content] of Object.entries(files))
    writeFile(path.join(p.confDir, file), content, 0o600);
}

function layoutOf(node: SandboxProcess): ServerLayout {
  return {
    redisConf: path.join(node.confDir, "redis.conf"),
    secretsConf: path.join(node.confDir, "secrets.conf"),
    usersAcl: path.join(node.confDir, "users.acl"),
    dataDir: node.dataDir,
  };
}

/**
 * redis-server arguments in the sandbox: the deployed ones, then the node's port, loopback as the
 * node's own address, and each deviation's.
 */
export function sandboxServerArgs(
  cfg: ResolvedConfig,
  node: SandboxProcess,
  deviations: readonly Deviation[],
): string[] {
  return [
    ...redisServerArgs(cfg, layoutOf(node)),
    "--port",
    String(node.port),
    ...LOOPBACK_BIND,
    ...deviations.flatMap((d) => d.args ?? []),
  ];
}

/** What the start scripts get from Kubernetes or Docker: stable addresses of the group. */
function groupEnvOf({ processes }: StartContext) {
  const { nodes, sentinels } = processes;
  return {
    ...process.env,
    DEFAULT_MASTER: `${nodes[0].announced} ${nodes[0].port}`,
    SENTINELS: sentinels.map((s) => `${s.announced}:${s.port}`).join(" "),
    NODES: nodes.map((n) => `${n.announced}:${n.port}`).join(" "),
  };
}

type GroupEnv = ReturnType<typeof groupEnvOf>;

/** The backup's files; in pods mode, `sh <script>` runs it in the backup pod. */
function prepareBackupFiles(
  start: StartContext,
  secrets: SecretValues,
  groupEnv: GroupEnv,
  backupPod: Pod | undefined,
): { script: string; dir: string } {
  const { cfg, dir, network, grouped } = start;
  const node0 = start.processes.nodes[0];
  const entry = prepareBackup(cfg, dir, secrets, {
    nodes: grouped ? groupEnv.NODES : `${node0.host}:${node0.port}`,
    sentinels: grouped ? groupEnv.SENTINELS : "",
  });
  if (!backupPod || !network) return entry;
  // The contract's `sh <script>` takes one backup: from the backup pod, where the names resolve.
  const wrapper = path.join(path.dirname(entry.script), "backup-in-pod.sh");
  writeFile(
    wrapper,
    [
      "#!/bin/sh",
      "# Runs backup.sh in the sandbox's backup pod (its network namespace and hosts file); needs root.",
      `exec ${network.enter(backupPod).join(" ")} sh ${entry.script} "$@"`,
      "",
    ].join("\n"),
    0o700,
  );
  return { ...entry, script: wrapper };
}

/** As a deployment's restore step: node 0's data is seeded before it starts, only when empty. */
function startRestore(start: StartContext): Promise<string> | undefined {
  const { cfg, dir, options } = start;
  if (options.restoreFrom === undefined && cfg.backup.restore === undefined) return undefined;
  const node0 = start.processes.nodes[0];
  ownerOnlyDir(path.join(dir, node0.name));
  ownerOnlyDir(node0.dataDir);
  return restoreNode(cfg, dir, node0.dataDir, options.restoreFrom);
}

/** Pods mode: each pod laid out and initialised from the rendered manifests. */
function preparePodSpecs(
  start: StartContext,
  secrets: SecretValues,
  deviations: readonly Deviation[],
): Map<string, ProcessSpec> {
  const { cfg, dir, network, running } = start;
  const { all } = start.processes;
  for (const p of all) ownerOnlyDir(path.join(dir, p.name));
  const pods = prepareDeploymentPods(
    cfg,
    network!,
    dir,
    secrets,
    deviations,
    all.map((p) => ({
      name: p.name,
      kind: p.kind,
      ordinal: Number(p.name.split("-").at(-1)),
      claim: p.dataDir,
    })),
  );
  running.pods = pods;
  return new Map(
    all.map((p) => {
      const [command, ...args] = pods.get(p.name)!.main;
      return [
        p.name,
        {
          name: p.name,
          command,
          args,
          cwd: dir,
          logFile: p.logFile,
          env: { PATH: process.env.PATH },
        },
      ];
    }),
  );
}

/** The plan's files and start script of a process. */
function plannedOf({ processes }: StartContext, p: SandboxProcess) {
  const spec = processes.planned.get(p.name);
  if (!spec?.files || !spec.script)
    throw new Error(`the deployment plan has no files or start script for ${p.name}`);
  return { files: spec.files, script: spec.script };
}

/** The plan's files of a process; redis.conf with the deviations. */
function filesOf(
  start: StartContext,
  p: SandboxProcess,
  secrets: SecretValues,
  deviations: readonly Deviation[],
): Files {
  const { files } = plannedOf(start, p);
  const plain = { ...files.plain };
  if (plain["redis.conf"] !== undefined)
    plain["redis.conf"] = applyDeviations(plain["redis.conf"], deviations);
  return { ...plain, ...files.secret({ values: secrets }) };
}

/** Loopback: each process's rendered files in DIR, started as deployed through its start script. */
function prepareLoopbackSpecs(
  start: StartContext,
  secrets: SecretValues,
  deviations: readonly Deviation[],
  groupEnv: GroupEnv,
): Map<string, ProcessSpec> {
  const { cfg, dir, grouped } = start;
  const { nodes, sentinels, all } = start.processes;
  for (const p of all) prepareProcess(dir, p, filesOf(start, p, secrets, deviations));
  const script = (p: SandboxProcess) => path.join(p.confDir, plannedOf(start, p).script);
  const specs = new Map<string, ProcessSpec>();
  for (const node of nodes) {
    const dirs = { CONF_DIR: node.confDir, DATA_DIR: node.dataDir };
    specs.set(node.name, {
      name: node.name,
      command: "sh",
      // As deployed: every node starts through its start script.
      args: [script(node), ...sandboxServerArgs(cfg, node, deviations)],
      cwd: node.dataDir,
      logFile: node.logFile,
      env: grouped
        ? { ...groupEnv, ...dirs, NODE_HOST: ANNOUNCED_HOST, NODE_PORT: String(node.port) }
        : { ...process.env, ...dirs },
    });
  }
  for (const sentinel of sentinels)
    specs.set(sentinel.name, {
      name: sentinel.name,
      command: "sh",
      args: [script(sentinel), "--port", String(sentinel.port), ...LOOPBACK_BIND],
      cwd: sentinel.dataDir,
      logFile: sentinel.logFile,
      env: {
        ...groupEnv,
        CONF_DIR: sentinel.confDir,
        STATE_DIR: sentinel.dataDir,
        NODE_HOST: ANNOUNCED_HOST,
      },
    });
  return specs;
}

/** Commander from the npm package, with the container's renderer and the sandbox's addresses. */
function prepareCommanderRun(
  start: StartContext,
  port: number,
  secrets: SecretValues,
  pod: Pod | undefined,
): PreparedCommander {
  const { cfg, dir, network, inPods } = start;
  const { nodes, sentinels } = start.processes;
  /** How Commander names the group: as the group names itself (pods), or where this host reaches it. */
  const commanderView = (p: SandboxProcess): Endpoint =>
    inPods ? { host: p.announced, port: p.port } : endpointOf(p);
  const own = commanderSecretsOf(secrets);
  const address = pod?.ip ?? HOST;
  const { confDir, launcher } = prepareCommander(cfg, dir, secrets, own, {
    listen: { address, port },
    redis: commanderView(nodes[0]),
    sentinels: sentinels.map(commanderView),
  });
  const [command, ...prefix] =
    network && pod ? [...network.enter(pod), process.execPath] : [process.execPath];
  const spec: ProcessSpec = {
    name: "commander",
    command,
    args: [...prefix, launcher],
    cwd: confDir,
    logFile: commanderPaths(dir).logFile,
    // NODE_ENV as in the image.
    env: {
      ...process.env,
      NODE_ENV: "production",
      COMMANDER_CONF_DIR: confDir,
      COMMANDER_HOME: commanderHome(),
    },
  };
  return { spec, address, port, secrets: own };
}

/**
 * Writes every file the processes read (secrets generated once per DIR, each process's rendered
 * files or pod, the backup's and Commander's), and seeds node 0 when a restore is asked for.
 */
export async function prepareFiles(start: StartContext): Promise<Prepared> {
  const { cfg, dir, network, inPods, log } = start;
  const { commanderPort } = start.processes;
  ownerOnlyDir(dir);
  ownerOnlyDir(path.join(dir, "logs"));
  // A connection.json left from an earlier run must not pass for this one's.
  fs.rmSync(path.join(dir, CONNECTION_FILE), { force: true });
  const secrets = loadOrCreateSecrets(cfg, dir);
  const groupEnv = groupEnvOf(start);
  // Host programs of pods mode (Commander, the backup, a client for drills) in pods of their own.
  if (network) hostProgramPod(network, dir, "client");
  const commanderPod =
    network && commanderPort !== undefined ? hostProgramPod(network, dir, "commander") : undefined;
  const backupPod =
    network && cfg.backup.enabled ? hostProgramPod(network, dir, "backup") : undefined;
  const backup = prepareBackupFiles(start, secrets, groupEnv, backupPod);
  // The seed runs while the rest is prepared.
  const restoring = startRestore(start);
  // Pods bind the production addresses for real: only the loopback mode deviates there.
  const deviations = detectDeviations(cfg).filter((d) => !inPods || d.setting !== "bind");
  if (restoring) log(await restoring);
  const specs = network
    ? preparePodSpecs(start, secrets, deviations)
    : prepareLoopbackSpecs(start, secrets, deviations, groupEnv);
  const commander =
    commanderPort === undefined
      ? undefined
      : prepareCommanderRun(start, commanderPort, secrets, commanderPod);
  return { secrets, deviations, backup, backupLogFile: backupPaths(dir).logFile, specs, commander };
}
