export * from "./redis-instance";
export * from "./secrets";
export * from "./sentinel-group";
