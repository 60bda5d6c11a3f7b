export * from "./backup-cron-job";
export * from "./redis-instance";
export * from "./secrets";
export * from "./sentinel-group";
