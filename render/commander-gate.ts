import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The gate Commander's launcher puts in front of Commander's own request handler: what Redis
 * Commander 0.9.0 does not do and we need, in the process that runs it, without a fork of it.
 *
 * - Security headers on every response: a Content-Security-Policy with no inline script but the
 *   page's own (by hash), `X-Frame-Options: DENY`, `nosniff`, `Referrer-Policy: no-referrer`.
 * - Names shown as text: the key tree (jstree) inserts each node's text as HTML, so a key named
 *   `<img src=x onerror=…>` ran as script; jstree's own `force_text` makes it text. The key views'
 *   buttons called `deleteKey('<conn>','<key>')` from an onclick attribute, where the HTML-escaped
 *   quote of a key comes back as a quote: their arguments now come from a data attribute, as JSON.
 * - No connection to any other server: `/login` and `/login/detectDb` ("add a connection") are
 *   refused; Commander reaches only the rendered connections.
 * - Sessions of a bounded age: `/signin` issues tokens that carry the time of the password sign-in,
 *   and a refresh never outlives it by more than `sessionSeconds`. The signing key is derived from
 *   the generated session secret, the user and the password hash: a new password revokes every
 *   token.
 *
 * The launcher embeds the source of this function and of each of its parts
 * (Function.prototype.toString): each uses nothing but its arguments — no import, no module-level
 * name. This function derives what the parts share once (`GateContext`); a part reaches another
 * through `gate.parts`.
 */
export function commanderGate(
  modules: CommanderGateModules,
  options: CommanderGateOptions,
  parts: CommanderGateParts,
) {
  const prefix = options.urlPrefix.replace(/\/+$/, "");
  const tokens = parts.sessionTokens(modules.crypto, modules.jwt, options);
  const patched = parts.patchedFiles(modules, options, prefix, parts);
  const gate: GateContext = {
    modules,
    options,
    parts,
    tokens,
    routes: {
      signin: `${prefix}/${options.signinPath}`.toLowerCase(),
      refused: [`${prefix}/login`, `${prefix}/login/detectdb`],
      page: `${prefix}/`,
    },
    patchedFiles: patched.files,
    templateHandlers: patched.templateHandlers,
  };
  return {
    signingKey: tokens.signingKey,
    patchTemplate: parts.patchTemplate,
    /** The patched templates' handlers, allowed by hash on the page. */
    patchedHandlers: gate.templateHandlers,
    pagePolicy: (html: string) => parts.pagePolicy(gate, html),
    mint: tokens.mint,
    sessionOf: tokens.sessionOf,
    handle: (req: IncomingMessage, res: ServerResponse, next: () => void) =>
      parts.handle(gate, req, res, next),
    /** Puts the gate in front of every HTTP server this process creates: Commander's one. */
    install: () => parts.install(gate),
  };
}

/** The gate's parts by name: the launcher embeds each one's source next to the gate's. */
export const COMMANDER_GATE_PARTS = {
  sessionTokens,
  patchTemplate,
  patchedFiles,
  handlersOf,
  inlineScriptsOf,
  pagePolicy,
  guardHead,
  routeOf,
  readBody,
  fieldsOf,
  reply,
  bearerOf,
  sameText,
  signin,
  servePage,
  refuse,
  handle,
  install,
};
export type CommanderGateParts = typeof COMMANDER_GATE_PARTS;

/** What the gate derived once from the launcher's modules and options, shared by its parts. */
export interface GateContext {
  readonly modules: CommanderGateModules;
  readonly options: CommanderGateOptions;
  readonly parts: CommanderGateParts;
  readonly tokens: SessionTokens;
  /** The paths the gate answers or refuses, as `routeOf` gives them. */
  readonly routes: { readonly signin: string; readonly refused: string[]; readonly page: string };
  /** Files served in place of Commander's, by path. */
  readonly patchedFiles: Map<string, PatchedFile>;
  /** The patched templates' inline handlers, allowed by hash on the page. */
  readonly templateHandlers: string[];
}

export interface PatchedFile {
  readonly type: string;
  readonly body: string;
}

/** The session tokens of the gate, signed with a key derived from the password hash. */
export interface SessionTokens {
  readonly signingKey: string;
  /** The clock of tokens, in seconds. */
  now(): number;
  /** A token of the session that signed in at `signedInAt`: Commander's 60 s, never past the session. */
  mint(signedInAt: number, singleUse: boolean): string;
  /** The claims of a token this gate signed and that has not expired; undefined otherwise. */
  claimsOf(token: string): Record<string, unknown> | undefined;
  /** The sign-in time of a valid, refreshable session token; undefined otherwise. */
  sessionOf(token: string): number | undefined;
}

/**
 * Sessions of a bounded age. The signing key is the HMAC-SHA256 of the user and the password hash
 * under the generated secret, as hex; the tokens are Commander's own (issuer, subject, HS256).
 */
export function sessionTokens(
  crypto: CommanderGateModules["crypto"],
  jwt: JsonWebToken,
  options: CommanderGateOptions,
): SessionTokens {
  const TOKEN = { issuer: "Redis Commander", subject: "Session Token" } as const;
  const signingKey = crypto
    .createHmac("sha256", options.sessionSecret)
    .update(`lowcode-redis Commander sessions\n${options.username}\n${options.passwordHash}`)
    .digest("hex");
  const now = () => Math.floor(Date.now() / 1000);
  const mint = (signedInAt: number, singleUse: boolean) => {
    const exp = Math.min(now() + options.tokenSeconds, signedInAt + options.sessionSeconds);
    return jwt.sign({ signedInAt, exp, ...(singleUse ? { singleUse } : {}) }, signingKey, {
      ...TOKEN,
      algorithm: "HS256",
    });
  };
  const claimsOf = (token: string) => {
    try {
      return jwt.verify(token, signingKey, { ...TOKEN, algorithms: ["HS256"] }) as Record<
        string,
        unknown
      >;
    } catch {
      return undefined;
    }
  };
  const sessionOf = (token: string) => {
    const claims = claimsOf(token);
    if (claims === undefined) return undefined;
    const at = claims.signedInAt;
    // Single-use tokens are for downloads, not for a new session token.
    if (claims.singleUse || typeof at !== "number" || !Number.isInteger(at)) return undefined;
    return now() < at + options.sessionSeconds ? at : undefined;
  };
  return { signingKey, now, mint, claimsOf, sessionOf };
}

/**
 * A key view template with each onclick's interpolated arguments moved to a data attribute:
 * `onclick="deleteKey('<%= connectionId %>','<%= key %>')"` becomes
 * `data-args-onclick="<%= JSON.stringify([String(connectionId), String(key)]) %>"
 * onclick="deleteKey(JSON.parse(this.dataset.argsOnclick)[0], …)"`. EJS escapes the JSON for the
 * attribute, the browser unescapes it, JSON.parse reads it back: a quote in a key stays text. The
 * handler's code no longer depends on the key, so the policy allows it by its hash.
 */
export function patchTemplate(name: string, source: string): string {
  const handler = /(\s)on([a-z]+)="([^"]*)"/g;
  return source.replace(handler, (attribute, space: string, event: string, code: string) => {
    const args: string[] = [];
    const rewritten = code.replace(/'<%=\s*([\s\S]*?)\s*%>'/g, (_: string, expression: string) => {
      args.push(`String(${expression})`);
      return `JSON.parse(this.dataset.argsOn${event})[${args.length - 1}]`;
    });
    if (rewritten.includes("<%"))
      throw new Error(`${name}: an on${event} handler interpolates other than a quoted argument`);
    if (args.length === 0) return attribute;
    return `${space}data-args-on${event}="<%= JSON.stringify([${args.join(", ")}]) %>" on${event}="${rewritten}"`;
  });
}

/**
 * Files served in place of Commander's, by path: the patched templates, jstree with names as
 * text; and the patched templates' inline handlers.
 */
export function patchedFiles(
  modules: CommanderGateModules,
  options: CommanderGateOptions,
  prefix: string,
  parts: Pick<CommanderGateParts, "patchTemplate" | "handlersOf">,
): { files: Map<string, PatchedFile>; templateHandlers: string[] } {
  const { fs, path } = modules;
  const templatesDir = path.join(options.home, "web", "static", "templates");
  const templates = new Map<string, string>();
  for (const file of fs.readdirSync(templatesDir).filter((f) => f.endsWith(".ejs")))
    templates.set(
      `${prefix}/templates/${file}`,
      parts.patchTemplate(file, fs.readFileSync(path.join(templatesDir, file), "utf8")),
    );
  const jstree = fs.readFileSync(options.jstreeFile, "utf8");
  if (!/force_text\s*:\s*false/.test(jstree))
    throw new Error(`${options.jstreeFile}: not the jstree release with core.force_text`);
  const files = new Map<string, PatchedFile>([
    ...[...templates].map(
      ([url, body]) => [url, { type: "text/plain; charset=utf-8", body }] as const,
    ),
    [
      `${prefix}/jstree/jstree.js`,
      {
        type: "application/javascript; charset=utf-8",
        // Names as text, never HTML; and the tree parsed in the page, not in a worker made from
        // a blob: URL, which the policy does not allow.
        body: `${jstree}\njQuery.jstree.defaults.core.force_text = true;\njQuery.jstree.defaults.core.worker = false;\n`,
      },
    ],
  ]);
  return { files, templateHandlers: [...templates.values()].flatMap(parts.handlersOf) };
}

/** Every inline event handler's code in HTML (the attribute value, as written). */
export function handlersOf(html: string): string[] {
  return [...html.matchAll(/\son[a-z]+="([^"]*)"/g)].map((m) => m[1]);
}

/** Every inline script's text in HTML (those with a src are files, allowed by 'self'). */
export function inlineScriptsOf(html: string): string[] {
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)]
    .filter((m) => !/\bsrc\s*=/i.test(m[1]))
    .map((m) => m[2]);
}

/**
 * The page's policy. 'unsafe-eval' stays: Commander renders its key views with client-side EJS
 * (compiled with Function) and jQuery runs a view's scripts with eval; what it does not allow is
 * any inline script or event handler but the page's own and the patched templates', by hash.
 */
export function pagePolicy(gate: GateContext, html: string): string {
  const { crypto } = gate.modules;
  const sha256Source = (text: string) =>
    `'sha256-${crypto.createHash("sha256").update(text, "utf8").digest("base64")}'`;
  const inline = [
    ...gate.parts.inlineScriptsOf(html),
    ...gate.parts.handlersOf(html),
    ...gate.templateHandlers,
  ];
  const hashes = new Set(inline.map(sha256Source));
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-eval' 'unsafe-hashes' ${[...hashes].join(" ")}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    // The "Commands" button shows redis.io's command reference in a frame.
    "frame-src https://redis.io",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * Sets the security headers as the response's head goes out (Express's 404 handler, for one, sets
 * a policy of its own before): the policy is `policyOf()` then, whoever set what before.
 */
export function guardHead(res: ServerResponse, policyOf: () => string): void {
  const HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    for (const [name, value] of Object.entries(HEADERS)) res.setHeader(name, value);
    res.setHeader("Content-Security-Policy", policyOf());
    return writeHead(...args);
  }) as typeof res.writeHead;
}

/** A request's path as Express routes it: case-insensitive, one trailing slash ignored. */
export function routeOf(url: string | undefined): string {
  return (url ?? "/")
    .split("?")[0]
    .toLowerCase()
    .replace(/(.)\/$/, "$1");
}

/** A request's body, up to `limit` bytes; a longer one is refused. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // The rest is read and dropped, so the answer reaches the client.
      req.removeAllListeners("data");
      req.resume();
      reject(new Error("request body too large"));
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** A form's fields, JSON or URL-encoded as its content type says; none when unreadable. */
export function fieldsOf(body: string, contentType: string | undefined): Record<string, unknown> {
  if (/^application\/([\w.+-]+\+)?json\b/i.test(contentType ?? "")) {
    try {
      const parsed: unknown = JSON.parse(body);
      return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

/** A JSON answer, never cached. */
export function reply(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  res.end(JSON.stringify(value));
}

/** The bearer token of a request, from the header Commander reads. */
export function bearerOf(req: IncomingMessage, authHeader: string): string | undefined {
  const [scheme, token] = String(req.headers[authHeader.toLowerCase()] ?? "").split(/\s+/);
  return /^Bearer$/i.test(scheme) && token ? token : undefined;
}

/** Whether two texts are equal, in a time that does not tell how much of them is. */
export function sameText(crypto: CommanderGateModules["crypto"], a: string, b: string): boolean {
  const key = crypto.randomBytes(32);
  const digest = (s: string) => crypto.createHmac("sha256", key).update(s).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

/** Commander's sign-in and refresh, as its page calls them, with the session's age bounded. */
export async function signin(
  gate: GateContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { modules, options, parts, tokens } = gate;
  let fields: Record<string, unknown>;
  try {
    fields = parts.fieldsOf(await parts.readBody(req, 16 * 1024), req.headers["content-type"]);
  } catch {
    res.setHeader("Connection", "close");
    return parts.reply(res, 413, { ok: false });
  }
  let signedInAt: number | undefined;
  if (fields.username || fields.password) {
    const user = parts.sameText(modules.crypto, String(fields.username), options.username);
    const password = await modules.bcrypt.compare(String(fields.password), options.passwordHash);
    // Behind an Ingress the peer is the proxy: name the address it forwarded too.
    const forwarded = req.headers["x-forwarded-for"];
    const from = `${req.socket.remoteAddress}${forwarded ? ` (forwarded for ${String(forwarded)})` : ""}`;
    modules.log(
      user && password
        ? `Login success for user ${options.username} from remote ip ${from}`
        : `Login failed from remote ip ${from}`,
    );
    if (user && password) signedInAt = tokens.now();
  } else {
    const token = parts.bearerOf(req, options.authHeader);
    if (token !== undefined) signedInAt = tokens.sessionOf(token);
  }
  if (signedInAt === undefined) return parts.reply(res, 200, { ok: false });
  parts.reply(res, 200, {
    ok: true,
    bearerToken: tokens.mint(signedInAt, false),
    queryToken: tokens.mint(signedInAt, true),
  });
}

/**
 * The page: its policy names its own inline scripts and handlers, read from the page as it is
 * sent (the page holds no data of Redis); never a 304, whose cached page would keep a policy
 * without them.
 */
export function servePage(
  gate: GateContext,
  req: IncomingMessage,
  res: ServerResponse,
  setPolicy: (policy: string) => void,
): void {
  delete req.headers["if-none-match"];
  delete req.headers["if-modified-since"];
  res.setHeader("Cache-Control", "no-store");
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    if (args[0]) setPolicy(gate.parts.pagePolicy(gate, String(args[0])));
    return end(...args);
  }) as typeof res.end;
}

/** Refused to everyone: 403 to a signed-in user, to others what every data endpoint says. */
export function refuse(gate: GateContext, req: IncomingMessage, res: ServerResponse): void {
  const token = gate.parts.bearerOf(req, gate.options.authHeader);
  if (token !== undefined && gate.tokens.claimsOf(token) !== undefined)
    return gate.parts.reply(res, 403, {
      ok: false,
      message: "Connections come from the settings only.",
    });
  res.writeHead(401).end("Unauthorized - Missing Token");
}

/** The gate in front of Commander's handler (`next`): headers, refusals, sign-in, patched files. */
export function handle(
  gate: GateContext,
  req: IncomingMessage,
  res: ServerResponse,
  next: () => void,
): void {
  const { parts, routes } = gate;
  // Every response but the page's: nothing runs, nothing loads, if a browser ever shows it.
  let policy = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  parts.guardHead(res, () => policy);
  // A browser sends a path ("origin form"), never a fragment or a whole URL; Express would
  // still route "/login#x" or "http://host/login" to /login, past the match below.
  if (!/^\/[^#]*$/.test(req.url ?? ""))
    return parts.reply(res, 400, { ok: false, message: "Bad request target." });
  const at = parts.routeOf(req.url);
  if (routes.refused.includes(at)) return parts.refuse(gate, req, res);
  if (at === routes.signin && req.method === "POST")
    return void parts.signin(gate, req, res).catch(() => parts.reply(res, 500, { ok: false }));
  if (req.method === "GET" || req.method === "HEAD") {
    const pathname = (req.url ?? "/").split("?")[0];
    const file = gate.patchedFiles.get(pathname);
    if (file) {
      res.setHeader("Content-Type", file.type);
      res.setHeader("Cache-Control", "no-cache");
      return void res.end(req.method === "HEAD" ? undefined : file.body);
    }
    if (pathname === routes.page) parts.servePage(gate, req, res, (p) => (policy = p));
  }
  next();
}

/** Puts the gate in front of every HTTP server this process creates: Commander's one. */
export function install(gate: GateContext): void {
  const target = gate.modules.http as unknown as { createServer: (...args: unknown[]) => unknown };
  const createServer = target.createServer;
  target.createServer = (...args: unknown[]) =>
    createServer(
      ...args.map((arg) =>
        typeof arg === "function"
          ? (req: IncomingMessage, res: ServerResponse) =>
              gate.parts.handle(gate, req, res, () => arg(req, res))
          : arg,
      ),
    );
}

/** jsonwebtoken's synchronous calls, as the gate uses them. */
export interface JsonWebToken {
  sign(payload: object, key: string, options: object): string;
  verify(token: string, key: string, options: object): unknown;
}

export interface CommanderGateModules {
  readonly crypto: typeof import("node:crypto");
  readonly fs: typeof import("node:fs");
  readonly http: typeof import("node:http");
  readonly path: typeof import("node:path");
  /** Commander's own jsonwebtoken: the tokens are the ones Commander verifies. */
  readonly jwt: JsonWebToken;
  /** Commander's bcrypt: the native module when it was built, else bcryptjs. */
  readonly bcrypt: { compare(data: string, hash: string): Promise<boolean> };
  /** Where sign-ins are logged: Commander's log (standard output). */
  readonly log: (line: string) => void;
}

export interface CommanderGateOptions {
  /** Commander's application folder: its templates. */
  readonly home: string;
  /** The jstree script Commander serves at /jstree/jstree.js. */
  readonly jstreeFile: string;
  readonly urlPrefix: string;
  readonly signinPath: string;
  /** The header the page sends its bearer token in (Commander's `httpAuthHeaderName`). */
  readonly authHeader: string;
  readonly username: string;
  readonly passwordHash: string;
  /** The generated secret the signing key is derived from. */
  readonly sessionSecret: string;
  /** How long a session lasts after the password sign-in, refreshes included. */
  readonly sessionSeconds: number;
  /** How long one token lasts: the page refreshes it every 20 s. */
  readonly tokenSeconds: number;
}
