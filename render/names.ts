/** Name of the Redis deployment: container `lowcode-redis`, Service `lowcode-redis`, … */
export const DEPLOYMENT_NAME = "lowcode-redis";
