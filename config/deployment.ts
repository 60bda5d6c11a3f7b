import { z } from "zod";
import { KeySpec, int, oneOf } from "./schemas";

/** The keys of what runs where: the target, the profile, the topology, the image and its ports. */

/** Docker reference grammar: path components separated by "/", a Redis 7 tag, an optional digest. */
const IMAGE_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE = new RegExp(
  `^${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*:7\\.\\d{1,4}\\.\\d{1,4}(?:[-._][a-z0-9._-]{0,100})?(?:@sha256:[0-9a-f]{64})?$`,
);
const IMAGE_ALLOWED =
  'must be a Redis 7 image pinned to an exact version tag, e.g. "redis:7.2.5-alpine"';
/** The repository's last path component: a mirror (registry.example.com/mirror/redis) is still Redis. */
const SERVER_IMAGES = ["redis", "valkey"];
const imageProblem = (image: string) => {
  const repository = image.replace(/@.*$/, "").replace(/:[^/]*$/, "");
  const name = repository.slice(repository.lastIndexOf("/") + 1);
  return SERVER_IMAGES.includes(name)
    ? undefined
    : `${IMAGE_ALLOWED}: its repository must end in /redis or /valkey (the scripts run redis-server, redis-cli and redis-check-rdb), not ${JSON.stringify(name)}`;
};

export const DEPLOYMENT_KEYS = {
  target: {
    type: "string",
    description: "Where to deploy: docker or kubernetes.",
    default: "docker",
    schema: oneOf(["docker", "kubernetes"]),
  },
  profile: {
    type: "string",
    description: "Settings profile: dev or production (security, write safety).",
    default: "dev",
    schema: oneOf(["dev", "production"]),
  },
  topology: {
    type: "string",
    description: "standalone (one Redis) or sentinel (replicas watched by sentinels).",
    default: "standalone",
    schema: oneOf(["standalone", "sentinel"]),
  },
  redisImage: {
    type: "string",
    description: "Official Redis 7 image, pinned to an exact version tag.",
    default: "redis:7.2.5-alpine",
    schema: z
      .string({ error: IMAGE_ALLOWED })
      .max(255, { error: IMAGE_ALLOWED })
      .regex(IMAGE, { error: IMAGE_ALLOWED })
      .superRefine((v, ctx) => {
        const problem = imageProblem(v);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
  },
  port: {
    type: "integer",
    description: "Redis port inside the container or pod.",
    default: 6379,
    schema: int(1, 65535),
  },
  hostPort: {
    type: "integer",
    description: "Docker: port published on 127.0.0.1 of the host.",
    default: 6379,
    schema: int(1, 65535),
  },
} as const satisfies Record<string, KeySpec>;
