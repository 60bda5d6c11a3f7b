export * from "./backup-cron-job";
export * from "./commander-ui";
export * from "./redis-instance";
export * from "./secrets";
export * from "./sentinel-group";
