import { loadPulumiConfig } from "./config/pulumi";
import { deployStack } from "./stack";

const { config, secrets } = loadPulumiConfig();
const outputs = deployStack(config, secrets);

/** DESIGN §3 connection contract; secret (it carries passwords). */
export const connection = outputs.connection;
