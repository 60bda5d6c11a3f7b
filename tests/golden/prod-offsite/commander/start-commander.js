#!/usr/bin/env node
// start-commander.js of lowcode-redis, stack prod-offsite, profile production, target kubernetes, topology sentinel.
// Rendered from the stack config: change the config, not this file.
// COMMANDER_CONF_DIR (settings and secret files) and COMMANDER_HOME (the app) override the defaults.
"use strict";
const fs = require("fs");
const path = require("path");
const confDir = process.env.COMMANDER_CONF_DIR || "/etc/commander";
const home = process.env.COMMANDER_HOME || "/redis-commander";
function fail(message) {
  process.stderr.write("start-commander: " + message + "\n");
  process.exit(1);
}
function read(name) {
  try {
    return fs.readFileSync(path.join(confDir, name), "utf8");
  } catch (err) {
    return fail("cannot read " + path.join(confDir, name) + ": " + err.code);
  }
}
function secret(name) {
  const value = read(name).trim();
  if (value === "") fail(path.join(confDir, name) + " is empty");
  return value;
}
let settings;
try {
  settings = JSON.parse(read("commander.json"));
} catch (err) {
  fail("commander.json" + " is not JSON: " + err.message);
}
if (!settings.server || !settings.server.httpAuth || !settings.server.httpAuth.username) fail("no sign-in user in the settings");
const hash = secret("password.bcrypt");
if (!/^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$/.test(hash)) fail("password.bcrypt" + " is not a bcrypt hash");
settings.server.httpAuth.passwordHash = hash;
function fromCommander(id) {
  return require(require.resolve(id, { paths: [home] }));
}
function commanderBcrypt() {
  try {
    return fromCommander("bcrypt");
  } catch (err) {
    return fromCommander("bcryptjs");
  }
}
// The gate in front of Commander's request handler: headers, names as text, no foreign
// connection, sessions of a bounded age signed with a key that changes with the password.
let gate;
try {
  const gateParts = {
    sessionTokens: (function sessionTokens(crypto, jwt, options) {
    const TOKEN = { issuer: "Redis Commander", subject: "Session Token" };
    const signingKey = crypto
        .createHmac("sha256", options.sessionSecret)
        .update(`lowcode-redis Commander sessions\n${options.username}\n${options.passwordHash}`)
        .digest("hex");
    const now = () => Math.floor(Date.now() / 1000);
    const mint = (signedInAt, singleUse) => {
        const exp = Math.min(now() + options.tokenSeconds, signedInAt + options.sessionSeconds);
        return jwt.sign({ signedInAt, exp, ...(singleUse ? { singleUse } : {}) }, signingKey, {
            ...TOKEN,
            algorithm: "HS256",
        });
    };
    const claimsOf = (token) => {
        try {
            return jwt.verify(token, signingKey, { ...TOKEN, algorithms: ["HS256"] });
        }
        catch {
            return undefined;
        }
    };
    const sessionOf = (token) => {
        const claims = claimsOf(token);
        if (claims === undefined)
            return undefined;
        const at = claims.signedInAt;
        // Single-use tokens are for downloads, not for a new session token.
        if (claims.singleUse || typeof at !== "number" || !Number.isInteger(at))
            return undefined;
        return now() < at + options.sessionSeconds ? at : undefined;
    };
    return { signingKey, now, mint, claimsOf, sessionOf };
}),
    patchTemplate: (function patchTemplate(name, source) {
    const handler = /(\s)on([a-z]+)="([^"]*)"/g;
    return source.replace(handler, (attribute, space, event, code) => {
        const args = [];
        const rewritten = code.replace(/'<%=\s*([\s\S]*?)\s*%>'/g, (_, expression) => {
            args.push(`String(${expression})`);
            return `JSON.parse(this.dataset.argsOn${event})[${args.length - 1}]`;
        });
        if (rewritten.includes("<%"))
            throw new Error(`${name}: an on${event} handler interpolates other than a quoted argument`);
        if (args.length === 0)
            return attribute;
        return `${space}data-args-on${event}="<%= JSON.stringify([${args.join(", ")}]) %>" on${event}="${rewritten}"`;
    });
}),
    patchedFiles: (function patchedFiles(modules, options, prefix, parts) {
    const { fs, path } = modules;
    const templatesDir = path.join(options.home, "web", "static", "templates");
    const templates = new Map();
    for (const file of fs.readdirSync(templatesDir).filter((f) => f.endsWith(".ejs")))
        templates.set(`${prefix}/templates/${file}`, parts.patchTemplate(file, fs.readFileSync(path.join(templatesDir, file), "utf8")));
    const jstree = fs.readFileSync(options.jstreeFile, "utf8");
    if (!/force_text\s*:\s*false/.test(jstree))
        throw new Error(`${options.jstreeFile}: not the jstree release with core.force_text`);
    const files = new Map([
        ...[...templates].map(([url, body]) => [url, { type: "text/plain; charset=utf-8", body }]),
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
}),
    handlersOf: (function handlersOf(html) {
    return [...html.matchAll(/\son[a-z]+="([^"]*)"/g)].map((m) => m[1]);
}),
    inlineScriptsOf: (function inlineScriptsOf(html) {
    return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)]
        .filter((m) => !/\bsrc\s*=/i.test(m[1]))
        .map((m) => m[2]);
}),
    pagePolicy: (function pagePolicy(gate, html) {
    const { crypto } = gate.modules;
    const sha256Source = (text) => `'sha256-${crypto.createHash("sha256").update(text, "utf8").digest("base64")}'`;
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
}),
    guardHead: (function guardHead(res, policyOf) {
    const HEADERS = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    };
    const writeHead = res.writeHead.bind(res);
    res.writeHead = ((...args) => {
        for (const [name, value] of Object.entries(HEADERS))
            res.setHeader(name, value);
        res.setHeader("Content-Security-Policy", policyOf());
        return writeHead(...args);
    });
}),
    routeOf: (function routeOf(url) {
    return (url ?? "/")
        .split("?")[0]
        .toLowerCase()
        .replace(/(.)\/$/, "$1");
}),
    readBody: (function readBody(req, limit) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on("data", (chunk) => {
            size += chunk.length;
            if (size <= limit)
                return void chunks.push(chunk);
            // The rest is read and dropped, so the answer reaches the client.
            req.removeAllListeners("data");
            req.resume();
            reject(new Error("request body too large"));
        });
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}),
    fieldsOf: (function fieldsOf(body, contentType) {
    if (/^application\/([\w.+-]+\+)?json\b/i.test(contentType ?? "")) {
        try {
            const parsed = JSON.parse(body);
            return parsed && typeof parsed === "object" ? parsed : {};
        }
        catch {
            return {};
        }
    }
    return Object.fromEntries(new URLSearchParams(body));
}),
    reply: (function reply(res, status, value) {
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Cache-Control", "no-store");
    res.end(JSON.stringify(value));
}),
    bearerOf: (function bearerOf(req, authHeader) {
    const [scheme, token] = String(req.headers[authHeader.toLowerCase()] ?? "").split(/\s+/);
    return /^Bearer$/i.test(scheme) && token ? token : undefined;
}),
    sameText: (function sameText(crypto, a, b) {
    const key = crypto.randomBytes(32);
    const digest = (s) => crypto.createHmac("sha256", key).update(s).digest();
    return crypto.timingSafeEqual(digest(a), digest(b));
}),
    signin: (async function signin(gate, req, res) {
    const { modules, options, parts, tokens } = gate;
    let fields;
    try {
        fields = parts.fieldsOf(await parts.readBody(req, 16 * 1024), req.headers["content-type"]);
    }
    catch {
        res.setHeader("Connection", "close");
        return parts.reply(res, 413, { ok: false });
    }
    let signedInAt;
    if (fields.username || fields.password) {
        const user = parts.sameText(modules.crypto, String(fields.username), options.username);
        const password = await modules.bcrypt.compare(String(fields.password), options.passwordHash);
        // Behind an Ingress the peer is the proxy: name the address it forwarded too.
        const forwarded = req.headers["x-forwarded-for"];
        const from = `${req.socket.remoteAddress}${forwarded ? ` (forwarded for ${String(forwarded)})` : ""}`;
        modules.log(user && password
            ? `Login success for user ${options.username} from remote ip ${from}`
            : `Login failed from remote ip ${from}`);
        if (user && password)
            signedInAt = tokens.now();
    }
    else {
        const token = parts.bearerOf(req, options.authHeader);
        if (token !== undefined)
            signedInAt = tokens.sessionOf(token);
    }
    if (signedInAt === undefined)
        return parts.reply(res, 200, { ok: false });
    parts.reply(res, 200, {
        ok: true,
        bearerToken: tokens.mint(signedInAt, false),
        queryToken: tokens.mint(signedInAt, true),
    });
}),
    servePage: (function servePage(gate, req, res, setPolicy) {
    delete req.headers["if-none-match"];
    delete req.headers["if-modified-since"];
    res.setHeader("Cache-Control", "no-store");
    const end = res.end.bind(res);
    res.end = ((...args) => {
        if (args[0])
            setPolicy(gate.parts.pagePolicy(gate, String(args[0])));
        return end(...args);
    });
}),
    refuse: (function refuse(gate, req, res) {
    const token = gate.parts.bearerOf(req, gate.options.authHeader);
    if (token !== undefined && gate.tokens.claimsOf(token) !== undefined)
        return gate.parts.reply(res, 403, {
            ok: false,
            message: "Connections come from the settings only.",
        });
    res.writeHead(401).end("Unauthorized - Missing Token");
}),
    handle: (function handle(gate, req, res, next) {
    const { parts, routes } = gate;
    // Every response but the page's: nothing runs, nothing loads, if a browser ever shows it.
    let policy = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    parts.guardHead(res, () => policy);
    // A browser sends a path ("origin form"), never a fragment or a whole URL; Express would
    // still route "/login#x" or "http://host/login" to /login, past the match below.
    if (!/^\/[^#]*$/.test(req.url ?? ""))
        return parts.reply(res, 400, { ok: false, message: "Bad request target." });
    const at = parts.routeOf(req.url);
    if (routes.refused.includes(at))
        return parts.refuse(gate, req, res);
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
        if (pathname === routes.page)
            parts.servePage(gate, req, res, (p) => (policy = p));
    }
    next();
}),
    install: (function install(gate) {
    const target = gate.modules.http;
    const createServer = target.createServer;
    target.createServer = (...args) => createServer(...args.map((arg) => typeof arg === "function"
        ? (req, res) => gate.parts.handle(gate, req, res, () => arg(req, res))
        : arg));
}),
  };
  gate = (function commanderGate(modules, options, parts) {
    const prefix = options.urlPrefix.replace(/\/+$/, "");
    const tokens = parts.sessionTokens(modules.crypto, modules.jwt, options);
    const patched = parts.patchedFiles(modules, options, prefix, parts);
    const gate = {
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
        pagePolicy: (html) => parts.pagePolicy(gate, html),
        mint: tokens.mint,
        sessionOf: tokens.sessionOf,
        handle: (req, res, next) => parts.handle(gate, req, res, next),
        /** Puts the gate in front of every HTTP server this process creates: Commander's one. */
        install: () => parts.install(gate),
    };
})(
    {
      crypto: require("crypto"),
      fs,
      http: require("http"),
      path,
      jwt: fromCommander("jsonwebtoken"),
      bcrypt: commanderBcrypt(),
      log: console.log,
    },
    {
      home,
      jstreeFile: path.join(path.dirname(require.resolve("jstree/package.json", { paths: [home] })), "dist", "jstree.js"),
      urlPrefix: settings.server.urlPrefix || "",
      signinPath: settings.server.signinPath || "signin",
      authHeader: settings.server.httpAuthHeaderName || "Authorization",
      username: settings.server.httpAuth.username,
      passwordHash: hash,
      sessionSecret: secret("session.secret"),
      sessionSeconds: 28800,
      tokenSeconds: 60,
    },
    gateParts,
  );
} catch (err) {
  fail("cannot guard Commander: " + err.message);
}
settings.server.httpAuth.jwtSecret = gate.signingKey;
const connections = settings.connections || [];
const redisPassword = secret("redis.pass");
const sentinelPassword = connections.some((c) => c.sentinels)
  ? secret("sentinel.pass")
  : undefined;
for (const connection of connections) {
  connection.password = redisPassword;
  if (connection.sentinels) connection.sentinelPassword = sentinelPassword;
}
process.env.NODE_CONFIG = JSON.stringify(settings);
// Commander parses its own arguments: it gets none.
const app = path.join(home, "bin", "redis-commander.js");
process.argv = [process.argv[0], app];
gate.install();
require(app);
