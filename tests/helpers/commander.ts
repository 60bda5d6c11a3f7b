import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as path from "node:path";
import {
  COMMANDER_GATE_PARTS,
  CommanderGateModules,
  CommanderGateOptions,
  JsonWebToken,
  commanderGate,
} from "../../render/commander-gate";
import { COMMANDER_SESSION_SECONDS, COMMANDER_TOKEN_SECONDS } from "../../render/commander";
import { commanderHome } from "../../sandbox/runtime/commander";

/** A small HTTP client for Redis Commander's API, as its own pages call it. */

export interface Reply {
  readonly status: number;
  readonly body: string;
}

export async function request(
  url: string,
  options: { method?: string; token?: string; json?: unknown; form?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  }
  const res = await fetch(url, {
    method: options.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.text() };
}

/** Signs in as Commander's page does; the bearer token, or undefined when refused. */
export async function signIn(
  base: string,
  username: string,
  password: string,
): Promise<string | undefined> {
  const reply = await request(`${base}/signin`, { json: { username, password } });
  if (reply.status !== 200) return undefined;
  const parsed = JSON.parse(reply.body) as { ok: boolean; bearerToken?: string };
  return parsed.ok ? parsed.bearerToken : undefined;
}

export interface CommanderConnection {
  readonly label: string;
  readonly conId: string;
  readonly options: { readonly db: number; readonly type: string };
}

export async function connections(base: string, token: string): Promise<CommanderConnection[]> {
  const reply = await request(`${base}/connections`, { token });
  if (reply.status !== 200) throw new Error(`GET /connections: ${reply.status} ${reply.body}`);
  return (JSON.parse(reply.body) as { connections: CommanderConnection[] }).connections;
}

/** A key as Commander shows it (GET /apiv2/key/<connection>/<key>). */
export async function keyDetails(
  base: string,
  token: string,
  conId: string,
  key: string,
): Promise<Reply> {
  return request(`${base}/apiv2/key/${encodeURIComponent(conId)}/${encodeURIComponent(key)}`, {
    token,
  });
}

/** The claims of a session token, read without checking its signature. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** A command typed in Commander's console: what the console shows (the reply, or the error). */
export async function consoleExec(
  base: string,
  token: string,
  conId: string,
  cmd: string,
): Promise<Reply> {
  return request(`${base}/apiv2/exec/${encodeURIComponent(conId)}`, { token, form: { cmd } });
}

/** A TCP listener on loopback that counts who connects: a port Commander must never reach. */
export async function countingListener(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.end("-ERR not a server of this deployment\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Modules as the launcher hands them to the gate: Commander's own jsonwebtoken and bcryptjs. */
export function commanderModules(): CommanderGateModules & { jwt: JsonWebToken } {
  const fromCommander = createRequire(path.join(commanderHome(), "package.json"));
  return {
    crypto,
    fs,
    http,
    path,
    jwt: fromCommander("jsonwebtoken") as JsonWebToken,
    bcrypt: fromCommander("bcryptjs") as CommanderGateModules["bcrypt"],
    log: () => undefined,
  };
}

/** The launcher's options of the gate over the npm package's Commander, with its defaults. */
export function gateOptions(
  options: Partial<CommanderGateOptions> & { passwordHash: string },
): CommanderGateOptions {
  const home = commanderHome();
  const fromCommander = createRequire(path.join(home, "package.json"));
  return {
    home,
    jstreeFile: path.join(
      path.dirname(fromCommander.resolve("jstree/package.json")),
      "dist",
      "jstree.js",
    ),
    urlPrefix: "",
    signinPath: "signin",
    authHeader: "Authorization",
    username: "admin",
    sessionSecret: "a-generated-session-secret-0123456789",
    sessionSeconds: COMMANDER_SESSION_SECONDS,
    tokenSeconds: COMMANDER_TOKEN_SECONDS,
    ...options,
  };
}

/** The launcher's gate over the npm package's Commander, with the launcher's defaults. */
export function gateOf(options: Partial<CommanderGateOptions> & { passwordHash: string }) {
  return commanderGate(commanderModules(), gateOptions(options), COMMANDER_GATE_PARTS);
}
