import { KeySpec, int, oneOf } from "./schemas";

/** The keys of what runs where: the target, the profile, the topology and the ports (the images: config/images.ts). */

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
