export * from "./redis-instance";
export * from "./secrets";
