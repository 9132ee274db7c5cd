// A local OpenID Connect provider for the demo and the tests: the npm package `oidc-provider`
// (a certified implementation), not a stub of our client. One process serves every issuer in the
// configuration file, each on its own port, with its own users and registered clients.
//
//   node demo/single_sign_on/provider.mjs demo/single_sign_on/provider.json
//
// The configuration (JSON): {"issuers": [{"name", "port", "clients": [...], "users": [...]}],
// "controls": false}. A user is {"id", "username", "password", "email", "name", "acr", "amr"};
// `acr`/`amr` are what the ID token asserts about how they signed in. A client with a
// `backchannel_logout_uri` is told (OpenID Connect Back-Channel Logout) when someone signs out
// here or is deactivated. With "controls": true the tests may change the ID token lifetime,
// deactivate a user, have a logout token made and ask how often a path was requested, over
// HTTP (never in the demo).
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function loginForm(uid, issuerName, error) {
  return page(
    `Sign in to ${issuerName}`,
    `<p>Demo identity provider: no real accounts.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<p><label for="username">Username</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function start(issuerConfig) {
  const issuer = `http://127.0.0.1:${issuerConfig.port}`;
  const users = new Map(issuerConfig.users.map((u) => [u.id, { active: true, ...u }]));
  let idTokenTtl = 600;
  // A fresh signing key at every start: restarting the provider is how the tests rotate keys.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256" };

  const provider = new Provider(issuer, {
    clients: issuerConfig.clients.map((c) => ({
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      ...c,
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: { openid: ["sub", "acr", "amr", "auth_time"], email: ["email", "email_verified"], profile: ["name"] },
    acrValues: ["AAL1_USERPASS", "AAL2_OR_AAL3_ANY", "AAL3_ANY"],
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    pkce: { required: () => true },
    ttl: {
      IdToken: () => idTokenTtl,
      AccessToken: 600,
      AuthorizationCode: 60,
      RefreshToken: 8 * 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    // Refresh tokens let the relying party ask again later whether the account still works.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed("refresh_token"),
    async findAccount(ctx, id) {
      const user = users.get(id);
      if (!user || !user.active) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: user.email, email_verified: true, name: user.name };
        },
      };
    },
    // Every client here is the service itself: no consent screen.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope("openid email profile");
      await grant.save();
      return grant;
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // The demo's client publishes its keys on this machine (127.0.0.1:8000), which the
    // provider's protection against requests to internal addresses would refuse to fetch.
    fetch(url, options) {
      if (new URL(url).hostname === "127.0.0.1") delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
  });

  // Why a token request failed (the error's detail, never a token), for whoever runs the demo.
  for (const event of ["grant.error", "server_error"]) {
    provider.on(event, (ctx, error) => console.error(`${issuerConfig.name}: ${event}: ${error.message} ${error.error_detail ?? ""}`));
  }

  provider.on("backchannel.error", (ctx, error, client) =>
    console.error(`${issuerConfig.name}: back-channel logout to ${client.clientId} failed: ${error.message}`),
  );

  // A disabled account's sessions end at every client that asked to be told, as a provider's
  // administrator disabling someone would have it. (No sid: this names all of their sessions.)
  async function backChannelLogoutAll(accountId) {
    for (const c of issuerConfig.clients.filter((c) => c.backchannel_logout_uri)) {
      const client = await provider.Client.find(c.client_id);
      await client.backchannelLogout(accountId).catch((error) => {
        console.error(`${issuerConfig.name}: back-channel logout to ${c.client_id} failed: ${error.message}`);
      });
    }
  }

  // The tests' own logout tokens, signed with the provider's key, to try the relying party's
  // checks one by one: `omit` (a claim to leave out) and `nonce` (one that must not be there).
  async function logoutToken(form) {
    const client = await provider.Client.find(form.get("client"));
    const token = new provider.IdToken({ sub: form.get("sub") ?? undefined }, { client, ctx: undefined });
    token.mask = { sub: null };
    if (form.get("omit") !== "events") token.set("events", { "http://schemas.openid.net/event/backchannel-logout": {} });
    if (form.get("omit") !== "jti") token.set("jti", randomUUID());
    if (form.get("sid")) token.set("sid", form.get("sid"));
    if (form.get("nonce")) token.set("nonce", form.get("nonce"));
    return token.issue({ use: "logout" });
  }

  // How often each path was asked for, so a test can see how often the relying party came for
  // the keys.
  const requests = new Map();

  const callback = provider.callback();
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
      const interaction = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
      if (interaction) {
        const details = await provider.interactionDetails(req, res);
        if (req.method === "POST" && interaction[2]) {
          const form = await readForm(req);
          const user = [...users.values()].find(
            (u) => u.username === form.get("username") && u.password === form.get("password") && u.active,
          );
          if (!user) {
            res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
            res.end(loginForm(details.uid, issuerConfig.name, "Wrong username or password."));
            return;
          }
          await provider.interactionFinished(
            req,
            res,
            { login: { accountId: user.id, acr: user.acr, amr: user.amr } },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(loginForm(details.uid, issuerConfig.name));
        return;
      }
      if (config.controls && url.pathname.startsWith("/__control/") && req.method === "POST") {
        const form = await readForm(req);
        if (url.pathname === "/__control/id-token-ttl") idTokenTtl = Number(form.get("seconds"));
        if (url.pathname === "/__control/requests") {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(String(requests.get(form.get("path")) ?? 0));
          return;
        }
        if (url.pathname === "/__control/logout-token") {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(await logoutToken(form));
          return;
        }
        if (url.pathname === "/__control/deactivate") {
          users.get(form.get("user")).active = false;
          if (form.get("notify") !== "no") await backChannelLogoutAll(form.get("user"));
        }
        if (url.pathname === "/__control/reactivate") for (const user of users.values()) user.active = true;
        res.writeHead(204).end();
        return;
      }
      callback(req, res);
    } catch (error) {
      res.writeHead(400, { "content-type": "text/html; charset=utf-8" });
      res.end(page("Sign-in could not continue", `<p>${escapeHtml(error.message)}</p>`));
    }
  });
  server.listen(issuerConfig.port, "127.0.0.1", () => {
    console.log(`OpenID Connect provider "${issuerConfig.name}" at ${issuer}`);
  });
}

for (const issuerConfig of config.issuers) start(issuerConfig);
