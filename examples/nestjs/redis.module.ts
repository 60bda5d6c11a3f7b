import { Global, Logger, Module, OnApplicationShutdown } from "@nestjs/common";
import Redis from "ioredis";
import { redisOptionsFromEnv } from "./redis-options";

// One client per platform database, injected by its token.
export const REDIS_SESSIONS = "REDIS_SESSIONS";
export const REDIS_FLOW_CACHE = "REDIS_FLOW_CACHE";
export const REDIS_COMPONENTS = "REDIS_COMPONENTS";
export const REDIS_COLLABORATION = "REDIS_COLLABORATION";
export const REDIS_RATE_LIMITING = "REDIS_RATE_LIMITING";
export const REDIS_QUERY_CACHE = "REDIS_QUERY_CACHE";

const DATABASES = {
  [REDIS_SESSIONS]: "SESSIONS",
  [REDIS_FLOW_CACHE]: "FLOW_CACHE",
  [REDIS_COMPONENTS]: "COMPONENTS",
  [REDIS_COLLABORATION]: "COLLABORATION",
  [REDIS_RATE_LIMITING]: "RATE_LIMITING",
  [REDIS_QUERY_CACHE]: "QUERY_CACHE",
} as const;
const TOKENS = Object.keys(DATABASES) as (keyof typeof DATABASES)[];

const logger = new Logger("Redis");
const clients: Redis[] = [];

@Global()
@Module({
  providers: TOKENS.map((token) => ({
    provide: token,
    useFactory: (): Redis => {
      const client = new Redis(redisOptionsFromEnv(process.env, DATABASES[token]));
      // Connection errors while it reconnects; commands fail on their own (commandTimeout).
      client.on("error", (err: Error) => logger.warn(`${token}: ${err.message}`));
      clients.push(client);
      return client;
    },
  })),
  exports: TOKENS,
})
export class RedisModule implements OnApplicationShutdown {
  // Called on SIGTERM when main.ts calls app.enableShutdownHooks().
  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      clients.splice(0).map((client) =>
        client.status === "wait" // lazyConnect: never used, nothing to close
          ? client.disconnect()
          : client.quit().then(
              () => undefined,
              () => client.disconnect(),
            ),
      ),
    );
  }
}
