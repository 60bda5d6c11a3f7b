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
