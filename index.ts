import { loadPulumiConfig } from "./pulumi-config";
import { deployStack } from "./stack";

const { config, secrets } = loadPulumiConfig();
const outputs = deployStack(config, secrets);

/** The connection contract (docs/connecting.md); secret (it carries passwords). */
export const connection = outputs.connection;

/** Redis Commander's URL, when enabled. */
export const commanderUrl = outputs.commanderUrl;
/** Redis Commander's sign-in (username and password); secret. */
export const commanderLogin = outputs.commanderLogin;
