import { z } from "zod";
import { BindAddress, bindConflict, parseBindAddress } from "./addresses";
import { Profile, ProfileSettings } from "./profiles";
import { Invalid, KeySpec, KeyValues, NAMESPACE, password } from "./schemas";

/**
 * The keys of how a node is reached and who may use it: the addresses it binds, the channels of
 * the app user, and the users' passwords. The profile sets the rest (config/profiles.ts).
 */

const ADDRESS_FORMAT =
  'must be IPv4 or IPv6 addresses (e.g. "127.0.0.1"), optionally prefixed with "-". Redis\'s "*" and "::*" mean every IPv4 and every IPv6 address';
const bindAddresses = z
  .array(z.string({ error: ADDRESS_FORMAT }), { error: "must be a list of addresses" })
  .max(16, { error: "must list at most 16 addresses (Redis binds at most 16)" })
  .superRefine((list, ctx) => {
    const parsed: BindAddress[] = [];
    for (const given of list) {
      const address = parseBindAddress(given);
      if ("problem" in address) {
        ctx.addIssue({
          code: "custom",
          message:
            address.problem === "not an address"
              ? `${ADDRESS_FORMAT}; ${JSON.stringify(given)} is not an address`
              : `${ADDRESS_FORMAT}; ${address.problem}`,
        });
        return;
      }
      parsed.push(address);
    }
    const conflict = bindConflict(parsed);
    if (conflict) ctx.addIssue({ code: "custom", message: conflict });
  });

const CHANNEL = /^[A-Za-z0-9][A-Za-z0-9:_.@{}*?-]*$/;
const CHANNELS_ALLOWED =
  "must be a list of 1 to 32 channel patterns of 1 to 128 characters: letters, digits and :_.@{}*?- starting with a letter or digit, so that no pattern can match a reserved channel such as __sentinel__:hello or __keyevent@0__:expired";

/** Redis binds at most 16 addresses (CONFIG_BINDADDR_MAX). */
const REDIS_MAX_BIND = 16;

export const BIND_KEYS = {
  bind: {
    type: "array",
    description:
      "Addresses Redis binds; [] = profile default (dev 0.0.0.0, production 127.0.0.1 plus the node's own address).",
    default: [],
    schema: bindAddresses,
  },
} as const satisfies Record<string, KeySpec>;

export const APP_CHANNEL_KEYS = {
  appChannels: {
    type: "array",
    description:
      "Pub/sub channels (Redis glob patterns) the app user may publish and subscribe to, besides keyspace notifications.",
    default: ["flow:*:cursors"],
    schema: z
      .array(
        z
          .string({ error: CHANNELS_ALLOWED })
          .max(128, { error: CHANNELS_ALLOWED })
          .regex(CHANNEL, { error: CHANNELS_ALLOWED }),
        { error: CHANNELS_ALLOWED },
      )
      .min(1, { error: CHANNELS_ALLOWED })
      .max(32, { error: CHANNELS_ALLOWED }),
  },
} as const satisfies Record<string, KeySpec>;

/** The password keys, each used by one profile. */
export const PASSWORD_KEYS = {
  defaultPassword: {
    type: "string",
    description: "Dev: password of the default user (requirepass); generated when unset.",
    default: undefined,
    schema: password,
    secret: true,
  },
  appPassword: {
    type: "string",
    description: "Production: password of the app user; generated when unset.",
    default: undefined,
    schema: password,
    secret: true,
  },
  appPasswordPrevious: {
    type: "string",
    description:
      "Production: the app user's previous password, accepted beside appPassword while the applications move to the new one (rotation without outage); remove it afterwards.",
    default: undefined,
    schema: password,
    secret: true,
  },
  adminPassword: {
    type: "string",
    description: "Production: password of the admin user; generated when unset.",
    default: undefined,
    schema: password,
    secret: true,
  },
} as const satisfies Record<string, KeySpec>;

/** The profile whose users a password key is for. */
const PASSWORD_PROFILE: Readonly<Record<keyof typeof PASSWORD_KEYS, Profile>> = {
  defaultPassword: "dev",
  appPassword: "production",
  appPasswordPrevious: "production",
  adminPassword: "production",
};

/**
 * The profile's rules on the addresses a node binds, and on the passwords set: each is for the
 * users of one profile. `supplied` names the secret keys set in the stack config.
 */
export function resolveSecurity(
  values: KeyValues<typeof BIND_KEYS>,
  context: {
    readonly profile: Profile;
    readonly security: ProfileSettings;
    readonly supplied: ReadonlySet<string>;
  },
  invalid: Invalid,
): { bind: readonly string[]; problems: string[] } {
  const problems: string[] = [];
  const { profile, security } = context;
  const bind = values.bind.length > 0 ? values.bind : security.bind;
  if (profile === "production") {
    // Compared by address, not spelling: "::0", "0:0:0:0:0:0:0:0", "-::*" all listen everywhere.
    const open = bind.find((a) => {
      const address = parseBindAddress(a);
      return "wildcard" in address && address.wildcard;
    });
    if (open)
      problems.push(
        invalid(
          "bind",
          values.bind,
          `the production profile binds specific addresses; "${open}" listens everywhere`,
        ),
      );
  }
  if (security.bindNodeAddress && bind.length > REDIS_MAX_BIND - 1) {
    problems.push(
      invalid(
        "bind",
        values.bind,
        `must list at most ${REDIS_MAX_BIND - 1} addresses: the ${profile} profile adds the node's own address, and Redis binds at most ${REDIS_MAX_BIND}`,
      ),
    );
  }
  for (const [key, usedBy] of Object.entries(PASSWORD_PROFILE)) {
    if (!context.supplied.has(key) || usedBy === profile) continue;
    problems.push(
      `Invalid ${NAMESPACE}:${key} (secret value not shown): used only by the ${usedBy} profile; this stack's profile is ${profile}.`,
    );
  }
  return { bind, problems };
}
