import * as fs from "node:fs";
import * as path from "node:path";
import { BACKUP_KEYS } from "../config/backup";
import { CLIENT_LIMIT_KEYS } from "../config/client-limits";
import { CLUSTER_KEYS } from "../config/cluster";
import { COMMANDER_KEYS } from "../config/commander";
import { IMAGE_KEYS } from "../config/images";
import { KEYS, KEY_NAMES, KeyName, KeySpec, NAMESPACE } from "../config/keys";
import { METRICS_KEYS } from "../config/metrics";
import { NETWORK_POLICY_KEYS } from "../config/network-policy";
import { PLACEMENT_KEYS } from "../config/placement";

// Writes docs/configuration.md from the key registry (config/keys.ts), the same source as
// Pulumi.yaml's declarations: `npm run docs:config`. tests/unit/config-docs.test.ts fails when the
// committed file differs from what this renders, so a key cannot be added or changed undocumented.

/** Where the generated page lives, relative to the project. */
export const CONFIG_DOC = path.join("docs", "configuration.md");

interface Section {
  readonly title: string;
  readonly anchor: string;
  readonly intro: string;
  readonly keys: readonly string[];
}

const names = (keys: object): string[] => Object.keys(keys);

/** The sections of the page, in order; a key of no section lands in "Other keys". */
const SECTIONS: readonly Section[] = [
  {
    title: "Deployment",
    anchor: "deployment",
    intro: "Where and what to deploy.",
    keys: ["target", "profile", "topology", "port", "hostPort", "bind"],
  },
  {
    title: "Images",
    anchor: "images",
    intro:
      "Each image as `name:tag` or `name:tag@sha256:<digest>`; `imageRegistry` and `imagePullSecrets` apply to all of them, Valkey and the exporter's versions: [images.md](images.md).",
    keys: names(IMAGE_KEYS),
  },
  {
    title: "Memory and clients",
    anchor: "memory-and-clients",
    intro:
      "How the memory limit follows from these: [profiles.md](profiles.md#memory-limit); the client bounds: [security.md](security.md#memory-bounds-for-every-client); each command of appDeniedCommands and why: [security.md](security.md#the-app-users-commands).",
    keys: [
      "maxmemory",
      "maxmemoryPolicy",
      "maxmemorySamples",
      "memoryLimit",
      "replBacklogSize",
      "cpuRequest",
      "maxclients",
      "tcpKeepalive",
      ...names(CLIENT_LIMIT_KEYS).filter((k) => k !== "maxclients" && k !== "tcpKeepalive"),
    ],
  },
  {
    title: "Persistence and keyspace events",
    anchor: "persistence-and-keyspace-events",
    intro: "",
    keys: ["appendonly", "appendfsync", "save", "activedefrag", "notifyKeyspaceEvents"],
  },
  {
    title: "Databases",
    anchor: "databases",
    intro:
      "The platform's six logical databases by purpose; the connection contract and the connection Secret name them ([connecting.md](connecting.md)).",
    keys: [
      "databases",
      "dbSessions",
      "dbFlowCache",
      "dbComponents",
      "dbCollaboration",
      "dbRateLimiting",
      "dbQueryCache",
    ],
  },
  {
    title: "Sentinel group",
    anchor: "sentinel-group",
    intro: "With `topology: sentinel` ([architecture.md](architecture.md#the-sentinel-group)).",
    keys: [
      "replicas",
      "sentinels",
      "quorum",
      "masterName",
      "downAfterMs",
      "failoverTimeoutMs",
      "minReplicasToWrite",
      "minReplicasMaxLag",
    ],
  },
  {
    title: "Users, passwords and channels",
    anchor: "users-passwords-and-channels",
    intro:
      "Secrets are set with `pulumi config set --secret`; which are generated: [security.md](security.md#secrets).",
    keys: ["appChannels", "defaultPassword", "appPassword", "appPasswordPrevious", "adminPassword"],
  },
  {
    title: "Kubernetes",
    anchor: "kubernetes",
    intro: "",
    keys: [
      "namespace",
      "createNamespace",
      "clusterDomain",
      "storageSize",
      "sentinelStorageSize",
      "storageClass",
      "antiAffinity",
      ...names(PLACEMENT_KEYS),
      ...names(CLUSTER_KEYS),
    ],
  },
  {
    title: "Docker",
    anchor: "docker",
    intro: "The network's rules: [profiles.md](profiles.md#docker-network).",
    keys: ["dockerNetwork", "dockerNetworkCreate", "dockerSubnet"],
  },
  {
    title: "Backups and restore",
    anchor: "backups-and-restore",
    intro: "How backups and restores work: [backups.md](backups.md).",
    keys: names(BACKUP_KEYS),
  },
  {
    title: "Redis Commander and RedisInsight",
    anchor: "redis-commander-and-redisinsight",
    intro:
      "Published ports must differ from each other and from Redis's and the sentinels'; in the sandbox `commanderPort` shifts as far as `--base-port` is from 7001 ([profiles.md](profiles.md#redis-commander)).",
    keys: names(COMMANDER_KEYS),
  },
  {
    title: "Network policies",
    anchor: "network-policies",
    intro: "What the policies allow: [security.md](security.md#networkpolicies).",
    keys: names(NETWORK_POLICY_KEYS),
  },
  {
    title: "Metrics",
    anchor: "metrics",
    intro: "The exporter, the Services and the alerts: [metrics.md](metrics.md).",
    keys: names(METRICS_KEYS),
  },
];

const WIDTH = 100;

/** Words, a code span with blanks counting as one. */
const WORDS = /(?:[^\s`]*`[^`]*`)+[^\s`]*|\S+/g;

/** Words joined into lines of at most WIDTH characters, the first after `lead`, the rest indented. */
function wrap(lead: string, text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = lead;
  let empty = true;
  for (const word of text.match(WORDS) ?? []) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = indent + word;
    } else line = empty ? line + word : `${line} ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** A default as the reader writes it in a stack file. */
function defaultText(spec: KeySpec): string {
  if (spec.secret) return "no default";
  if (spec.default === undefined) return "no fixed default";
  if (Array.isArray(spec.default)) {
    if (spec.default.length === 0) return "default `[]`";
    return `default (${spec.default.length}) ${spec.default.map((v) => `\`${JSON.stringify(v)}\``).join(", ")}`;
  }
  return `default \`${JSON.stringify(spec.default)}\``;
}

/** Plain text for Markdown: `<`, `*` and `_` outside code spans would be read as markup. */
function markdownText(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/[<*_]/g, (c) => `\\${c}`)))
    .join("");
}

/** One key: name, type, default, whether Pulumi.yaml declares it, and its meaning. */
function keyEntry(name: string): string[] {
  const spec: KeySpec = KEYS[name as KeyName];
  const type = spec.secret ? `secret ${spec.type}` : spec.type;
  const declared = spec.secret || spec.default === undefined ? "not in Pulumi.yaml" : "";
  const facts = [type, defaultText(spec), declared].filter((f) => f !== "").join("; ");
  return wrap("- ", `**\`${name}\`** (${facts}): ${markdownText(spec.description)}`, "  ");
}

function sectionText(section: Section): string[] {
  const present = section.keys.filter((k) => (KEY_NAMES as readonly string[]).includes(k));
  if (present.length === 0) return [];
  const intro = section.intro === "" ? [] : [...wrap("", section.intro, ""), ""];
  return [`## ${section.title}`, "", ...intro, ...present.flatMap(keyEntry), ""];
}

/** Every key of the registry in some section: the listed ones, then any other in "Other keys". */
function sectionsWithOthers(): Section[] {
  const listed = new Set(SECTIONS.flatMap((s) => s.keys));
  const others = KEY_NAMES.filter((k) => !listed.has(k));
  const other = { title: "Other keys", anchor: "other-keys", intro: "", keys: others };
  return others.length === 0 ? [...SECTIONS] : [...SECTIONS, other];
}

const HEAD = [
  "# Configuration",
  "",
  "<!-- Generated by scripts/config-docs.ts from config/keys.ts: edit the key registry, then run",
  "     `npm run docs:config` (tests/unit/config-docs.test.ts checks this file is up to date). -->",
  "",
  `Every key of the \`${NAMESPACE}:\` namespace, its type, default and meaning, from the key registry`,
  "(`config/keys.ts`) that validates the stack files and from which `Pulumi.yaml` is generated.",
  "",
];

const USAGE = [
  `Set a key with \`pulumi config set ${NAMESPACE}:maxmemory 512mb\`, or write it in`,
  "`Pulumi.<stack>.yaml`; `npm run render`, `npm run sandbox` and the drills read the same file,",
  "or `--config FILE` of the same shape, and validate it exactly as `pulumi up` does. An unknown key",
  "is an error (typos are caught). Invalid config exits with code 2 and a message naming the key, the",
  "value and what is allowed, e.g.",
  "",
  "```",
  'Invalid lowcode-redis:target "nomad": must be one of docker, kubernetes.',
  'Invalid lowcode-redis:maxmemory "700mb": must leave, after 84mb for the clients, 25% of the rest of lowcode-redis:memoryLimit "768Mi" free for forks (at most 528mb).',
  "```",
  "",
  "`Pulumi.yaml` declares each non-secret key that has a fixed default, with its type, description",
  "and default (generated by `scripts/dev/gen-pulumi-yaml.ts`). Secrets and the keys whose default",
  "depends on the profile or the stack are validated the same way but not declared (Pulumi would",
  'require a value for them); they are marked "not in Pulumi.yaml" below. An empty value ("" or `[]`)',
  "means the profile's or the derived default where the description says so. What each profile",
  "decides: [profiles.md](profiles.md).",
  "",
];

/** The whole page. */
export function configurationDoc(): string {
  const sections = sectionsWithOthers();
  const contents = sections.map((s) => `- [${s.title}](#${s.anchor})`);
  return [...HEAD, ...USAGE, "## Contents", "", ...contents, "", ...sections.flatMap(sectionText)]
    .join("\n")
    .replace(/\n+$/, "\n");
}

if (require.main === module) {
  const file = path.join(__dirname, "..", CONFIG_DOC);
  fs.writeFileSync(file, configurationDoc());
  process.stdout.write(`wrote ${CONFIG_DOC}\n`);
}
