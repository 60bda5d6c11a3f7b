import { z } from "zod";
import { DNS_SUBDOMAIN, Invalid, KeySpec, KeyValues, checked } from "./schemas";

/**
 * The images of a deployment, each a key, and the registry mirror and pull Secrets that apply to
 * all of them. DEFAULT_IMAGES is the only place an image is named; renovate.json updates it.
 */

/**
 * The default of each image key. One line each, each ending in a `renovate: image` comment, which
 * renovate.json's regex manager matches: keep the shape when adding one.
 */
export const DEFAULT_IMAGES = {
  // The 7.2 line: the last BSD-licensed one, supported to 2029-12.
  redis: "redis:7.2.16-alpine", // renovate: image
  exporter: "oliver006/redis_exporter:v1.88.0", // renovate: image
  // The redis-commander npm package's release (package.json pins the same; renovate groups both).
  commander: "ghcr.io/joeferner/redis-commander:0.9.0", // renovate: image
  rclone: "rclone/rclone:1.68.2", // renovate: image
  insight: "redis/redisinsight:2.66.0", // renovate: image
} as const;

/** Docker's reference grammar (distribution/reference): one path component, lowercase. */
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
/** A registry host: DNS labels (either case), optionally a port. */
const REGISTRY_HOST =
  /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?$/;
const REPOSITORY_AND_TAG = new RegExp(
  `^(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?:@(sha256:[0-9a-f]{64}))?$`,
);
/** Docker refuses a name longer than this; a whole reference (tag and digest too) is held to it here. */
const MAX_REFERENCE = 255;
/** Where an image without a registry host of its own comes from. */
export const DOCKER_HUB = "docker.io";

/** An image reference taken apart: `[registry/]repository:tag[@digest]`. */
export interface ImageReference {
  /** The registry host (and port) the reference names; undefined = Docker Hub. */
  readonly registry?: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest?: string;
}

/**
 * Parses `name:tag` or `name:tag@sha256:<64 hex>`, as Docker does: the first path component is a
 * registry host when it holds a "." or a ":" or is "localhost". Undefined when it is no such
 * reference (no tag, an empty component, uppercase in the path, a digest of another form).
 */
export function parseImage(reference: string): ImageReference | undefined {
  if (reference.length > MAX_REFERENCE) return undefined;
  const slash = reference.indexOf("/");
  const first = slash < 0 ? "" : reference.slice(0, slash);
  const hosted = /[.:]/.test(first) || first === "localhost";
  const registry = hosted ? first : undefined;
  if (registry !== undefined && !REGISTRY_HOST.test(registry)) return undefined;
  const rest = hosted ? reference.slice(slash + 1) : reference;
  const m = REPOSITORY_AND_TAG.exec(rest);
  if (!m) return undefined;
  const [, repository, tag, digest] = m;
  return { registry, repository, tag, digest };
}

function format(image: ImageReference): string {
  return `${image.registry ? `${image.registry}/` : ""}${image.repository}:${image.tag}${image.digest ? `@${image.digest}` : ""}`;
}

/**
 * The reference pulled with `imageRegistry` set: an image of Docker Hub (no registry host, or
 * docker.io) comes from the mirror instead, under its full Docker Hub path (official images under
 * `library/`, as a pull-through cache of Docker Hub names them); an image of another registry
 * (ghcr.io…) is left as it is.
 */
export function withRegistry(reference: string, mirror: string): string {
  const image = parseImage(reference);
  if (mirror === "" || !image) return reference;
  if (image.registry !== undefined && image.registry !== DOCKER_HUB) return reference;
  const repository = image.repository.includes("/")
    ? image.repository
    : `library/${image.repository}`;
  return format({ ...image, registry: mirror, repository });
}

const FORM =
  'name:tag or name:tag@sha256:<64 hex digits> (the name may start with a registry host and port such as "registry.example.com:5000/")';

/** What a key of an image allows, with its default as the example. */
const imageAllowed = (example: string) =>
  `must be an image pinned to a tag, as ${FORM}, not "latest", e.g. "${example}"`;

/** An image key's schema: a parsable reference with a tag other than `latest`. */
const image = (example: string) =>
  checked(imageAllowed(example), (v) => {
    const parsed = parseImage(v);
    return parsed && parsed.tag !== "latest" ? undefined : imageAllowed(example);
  });

const REDIS_IMAGE_ALLOWED = `must be a Redis 7 image (or Valkey 7.2 or 8) pinned to an exact version tag, as ${FORM}, e.g. "redis:7.2.16-alpine"`;
/** The servers whose images run the scripts unchanged, and the release lines they may be. */
const SERVER_TAGS: Readonly<Record<string, RegExp>> = {
  redis: /^7\.\d{1,4}\.\d{1,4}(?:[-._][a-z0-9._-]{0,100})?$/,
  // Valkey 7.2 and 8 speak Redis 7.2's protocol and install redis-* links to their binaries.
  valkey: /^(?:7\.2|8\.\d{1,4})\.\d{1,4}(?:[-._][a-z0-9._-]{0,100})?$/,
};

/** What is wrong with a Redis image, or undefined. */
function redisImageProblem(v: string): string | undefined {
  const parsed = parseImage(v);
  if (!parsed) return REDIS_IMAGE_ALLOWED;
  // The repository's last path component: a mirror (registry.example.com/mirror/redis) is still Redis.
  const name = parsed.repository.slice(parsed.repository.lastIndexOf("/") + 1);
  const tags = SERVER_TAGS[name];
  if (!Object.hasOwn(SERVER_TAGS, name))
    return `${REDIS_IMAGE_ALLOWED}: its repository must end in /redis or /valkey (the scripts run redis-server, redis-cli and redis-check-rdb), not ${JSON.stringify(name)}`;
  return tags.test(parsed.tag) ? undefined : REDIS_IMAGE_ALLOWED;
}

const REGISTRY_ALLOWED =
  'must be "" (each image from its own registry) or a registry host, optionally with a port and a path, such as "registry.example.com:5000/dockerhub" (no scheme, no tag, no trailing "/")';
const SECRET_NAME = DNS_SUBDOMAIN;
const PULL_SECRETS_ALLOWED =
  "must be a list of Secret names in the namespace (lowercase letters, digits, '-' and '.', at most 253), each once";

export const IMAGE_KEYS = {
  redisImage: {
    type: "string",
    description:
      "Redis 7 image (official redis, or valkey 7.2/8), pinned to an exact version tag, optionally with @sha256: digest.",
    default: DEFAULT_IMAGES.redis,
    schema: checked(REDIS_IMAGE_ALLOWED, redisImageProblem),
  },
  exporterImage: {
    type: "string",
    description: "Kubernetes metrics: the redis_exporter sidecar's image, name:tag[@sha256:…].",
    default: DEFAULT_IMAGES.exporter,
    schema: image(DEFAULT_IMAGES.exporter),
  },
  commanderImage: {
    type: "string",
    description:
      "Redis Commander's image, name:tag[@sha256:…], of the redis-commander release package.json pins: the launcher and settings are made for it.",
    default: DEFAULT_IMAGES.commander,
    schema: image(DEFAULT_IMAGES.commander),
  },
  rcloneImage: {
    type: "string",
    description: "Off-site copies and the s3:// restore: rclone's image, name:tag[@sha256:…].",
    default: DEFAULT_IMAGES.rclone,
    schema: image(DEFAULT_IMAGES.rclone),
  },
  insightImage: {
    type: "string",
    description: "RedisInsight's image (insightEnabled), name:tag[@sha256:…].",
    default: DEFAULT_IMAGES.insight,
    schema: image(DEFAULT_IMAGES.insight),
  },
  imageRegistry: {
    type: "string",
    description:
      'A mirror of Docker Hub every Docker Hub image is pulled from (redis:… as <mirror>/library/redis:…); images of other registries are kept; "" = none.',
    default: "",
    schema: checked(REGISTRY_ALLOWED, registryProblem),
  },
  imagePullSecrets: {
    type: "array",
    description:
      "Kubernetes: Secrets of type kubernetes.io/dockerconfigjson every pod pulls its images with.",
    default: [],
    schema: z
      .array(
        z
          .string({ error: PULL_SECRETS_ALLOWED })
          .regex(SECRET_NAME, { error: PULL_SECRETS_ALLOWED }),
        { error: PULL_SECRETS_ALLOWED },
      )
      .max(16, { error: "must list at most 16 Secrets" })
      .refine((list) => new Set(list).size === list.length, { error: PULL_SECRETS_ALLOWED }),
  },
} as const satisfies Record<string, KeySpec>;

/** A mirror: a registry host first, then a repository path (lowercase components, no "//"). */
function registryProblem(v: string): string | undefined {
  if (v === "") return undefined;
  const parsed = parseImage(`${v}/x:t`);
  return parsed?.registry !== undefined && !v.endsWith("/") ? undefined : REGISTRY_ALLOWED;
}

/** The images the components pull, each with imageRegistry applied, and the pull Secrets. */
export interface ImagesConfig {
  readonly redis: string;
  readonly exporter: string;
  readonly commander: string;
  readonly rclone: string;
  readonly insight: string;
  /** Kubernetes: `imagePullSecrets` of every pod. */
  readonly pullSecrets: readonly string[];
}

export function resolveImages(
  values: KeyValues<typeof IMAGE_KEYS>,
  context: { readonly target: "docker" | "kubernetes" },
  invalid: Invalid,
): { images: ImagesConfig; problems: string[] } {
  const problems: string[] = [];
  if (context.target !== "kubernetes" && values.imagePullSecrets.length > 0)
    problems.push(
      invalid(
        "imagePullSecrets",
        values.imagePullSecrets,
        `is for the Kubernetes target only; this stack's target is ${context.target}, where Docker pulls with the host's own credentials (docker login)`,
      ),
    );
  const pulled = (reference: string) => withRegistry(reference, values.imageRegistry);
  return {
    images: {
      redis: pulled(values.redisImage),
      exporter: pulled(values.exporterImage),
      commander: pulled(values.commanderImage),
      rclone: pulled(values.rcloneImage),
      insight: pulled(values.insightImage),
      pullSecrets: values.imagePullSecrets,
    },
    problems,
  };
}
