import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ResolvedConfig } from "../config/resolve";
import { PlanSecrets, Unit } from "../plan";
import { commanderPasswordHash, commanderUrl } from "../render/commander";
import { SecretValues } from "../render/redis-conf";
import { createUnits, rolloutKey } from "./targets/units";

export interface CommanderUIArgs {
  /** The validated stack config: Commander's user name and where it is reached (`commander.*`). */
  readonly config: ResolvedConfig;
  /**
   * The plan's units this component creates (`unitsOf(planDeployment(config), "commander")`):
   * Commander's, RedisInsight's, or both.
   */
  readonly units: readonly Unit[];
  /** Name of the RedisInstance or SentinelGroup Commander shows. */
  readonly redisName: string;
  /**
   * The deployment's secrets, as one secret Output: the `commander` user's password and, in a
   * group, the sentinel lookup's.
   */
  readonly redisSecrets: pulumi.Input<SecretValues>;
  /** The sign-in password (`commanderPassword`, set with --secret). Default: generated. */
  readonly password?: pulumi.Input<string>;
  /** Docker: network of the Redis containers. Required on the docker target. */
  readonly network?: pulumi.Input<string>;
  /** What to create first (the Redis component). Default none. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Redis Commander for the platform's databases, and RedisInsight when `insightEnabled`, on both
 * targets. Commander signs in every user (it gets only a bcrypt hash of the password, with a salt
 * generated once so the hash, and the container, stay the same across updates), signs its
 * sessions with a generated key, and reaches Redis as the `commander` ACL user, read-only where
 * `commanderReadOnly` says so.
 * - Docker: containers on the deployment's network, published on 127.0.0.1 only.
 * - Kubernetes: a Deployment, a ClusterIP Service, an Ingress when `commanderIngressHost` is set.
 */
export class CommanderUI extends pulumi.ComponentResource {
  /**
   * Where Commander is reached: http://127.0.0.1:<commanderPort>, the Ingress, or the Service;
   * undefined when only RedisInsight runs.
   */
  public readonly url?: pulumi.Output<string>;
  /** The sign-in; secret. Undefined when only RedisInsight runs. */
  public readonly login?: pulumi.Output<{ username: string; password: string }>;

  constructor(name: string, args: CommanderUIArgs, opts?: pulumi.ComponentResourceOptions) {
    super("lowcode:redis:CommanderUI", name, {}, opts);
    const cfg = args.config;
    if (args.units.length === 0)
      throw new Error(`CommanderUI ${name}: commanderEnabled and insightEnabled are both false`);
    if (cfg.target === "docker" && args.network === undefined)
      throw new Error(`CommanderUI ${name}: args.network is required on the docker target`);
    const redisSecrets = pulumi.secret(pulumi.output(args.redisSecrets));
    const key = rolloutKey(name, this);
    for (const unit of args.units) {
      const commander = unit.name === "commander";
      const password = commander ? this.password(name, args) : undefined;
      // Each unit on its own: RedisInsight's Deployment waits for its policy, not for Commander.
      createUnits(
        [unit],
        {
          name,
          component: "CommanderUI",
          parent: this,
          secrets: password
            ? this.secrets(name, redisSecrets, password)
            : redisSecrets.apply((values) => ({ values })),
          network: args.network,
          dependsOn: args.dependsOn,
        },
        key,
      );
      if (password) {
        this.url = pulumi.output(commanderUrl(cfg, args.redisName));
        this.login = pulumi.secret(
          password.apply((p) => ({ username: cfg.commander.username, password: p })),
        );
      }
    }
    this.registerOutputs({ url: this.url, login: this.login });
  }

  /** The sign-in password: the one set with --secret, or generated. */
  private password(name: string, args: CommanderUIArgs): pulumi.Output<string> {
    return pulumi.secret(
      args.password ??
        new random.RandomPassword(
          `${name}-password`,
          { length: 24, special: false },
          { parent: this },
        ).result,
    );
  }

  /**
   * The secrets of Commander's files: the Redis passwords, the bcrypt hash of the sign-in (a salt
   * generated once: the hash changes only with the password), a generated session-signing key.
   */
  private secrets(
    name: string,
    redisSecrets: pulumi.Output<SecretValues>,
    password: pulumi.Output<string>,
  ): pulumi.Output<PlanSecrets> {
    const sessionSecret = new random.RandomPassword(
      `${name}-session-secret`,
      { length: 48, special: false },
      { parent: this },
    ).result;
    const salt = new random.RandomString(
      `${name}-salt`,
      { length: 22, special: true, overrideSpecial: "./" },
      { parent: this },
    ).result;
    return pulumi
      .secret(pulumi.all([redisSecrets, password, salt, sessionSecret]))
      .apply(([values, p, s, session]) => ({
        values,
        commander: { passwordHash: commanderPasswordHash(p, s), sessionSecret: session },
      }));
  }
}
