// The local identity provider of `make dev` and of the tests: a real OpenID
// provider (npm `oidc-provider`, pinned in package-lock.json, installed into
// .tools/idp by infra/scripts/tools.sh), so that the dashboard's sign-in and
// the API's operator tokens are exercised against discovery, a JWKS,
// asymmetric signatures and Authorization Code + PKCE, as they are against
// Cognito or any organisation's IdP: not a mock. Development only: it keeps
// everything in memory and listens on 127.0.0.1 only.
//
// Environment:
//   IDP_PORT            port on 127.0.0.1 (default 9100); the issuer is
//                       exactly http://127.0.0.1:$IDP_PORT (no trailing slash)
//   IDP_OPERATORS_FILE  JSON [{"email","password","name","role"}], role one
//                       of admin, editor, viewer (required; make dev seeds
//                       .local/operators.json, see infra/scripts/common.sh)
//   IDP_REDIRECT_URIS   the dashboard's redirect URIs, comma separated
//                       (default http://127.0.0.1:9000/); also its
//                       post-logout redirect URIs
//   IDP_TTL_ID_TOKEN    ID token lifetime in seconds (default 3600; tests
//                       shorten it to see tokens expire)
//   IDP_ALG             the ID tokens' signing algorithm: RS256 (default),
//                       PS256 or ES256
//   IDP_ADMIN=1         enables POST /__rotate (below); tests set it
//   IDP_EXIT_WITH_STDIN=1  exits when its stdin closes: the tests' helper
//                       (tests/src/idp.rs) holds it, so a test killed
//                       outright leaves no provider behind
//
// One public client, `dashboard`: no secret (token_endpoint_auth_method
// none), authorization_code only, response type code, PKCE S256 required (the
// provider's default for public clients). The ID token itself carries `email`,
// `email_verified`, `name` and `groups` (["admin"|"editor"|"viewer"]), since
// the dashboard sends the ID token as its bearer (conformIdTokenClaims false;
// `groups` belongs to the `openid` scope, so every ID token has the role, as
// Cognito's has cognito:groups). The subject of an operator is the first 32
// hex digits of SHA-256 of the lower-cased email: stable across restarts.
//
// Sign-in is our own minimal form (the interaction routes below, under
// /interaction/); consent is granted without asking for the dashboard's
// scopes openid, email and profile. The session is remembered (single
// sign-on, as a real IdP does) until the dashboard signs out through the
// end_session endpoint; `prompt=login` asks again.
//
// Key rotation, for the tests of the API's JWKS cache: POST /__rotate (only
// with IDP_ADMIN=1), or SIGHUP, makes a new signing key, puts it first (new
// tokens are signed with it) and keeps the old ones in the JWKS, so tokens
// issued before stay verifiable. The provider is rebuilt with the new key set;
// sessions, interactions and codes live in the in-memory adapter's storage,
// which all instances in this process share, so they survive a rotation.
// POST /__rotate answers {"kid": "<the new key's id>", "kids": [every kid]}.
//
// Logs "idp: listening on <issuer>" once it answers; exits 0 on SIGTERM/SIGINT.

import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The modules are installed into .tools/idp (ignored by git), not beside this
// file: everything the repo installs lives in .tools/.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modules = createRequire(join(root, '.tools', 'idp', 'package.json'));
const load = (name) => import(pathToFileURL(modules.resolve(name)).href);
let oidc;
let createMemoryAdapter;
try {
  oidc = await load('oidc-provider');
  // The package's own in-memory adapter, chosen on purpose (the provider
  // warns when it falls back to it): its storage is one per process, which
  // is what lets a rotation keep the sessions.
  ({ createMemoryAdapter } = await load('oidc-provider/lib/adapters/memory_adapter.js'));
} catch (err) {
  console.error(`idp: oidc-provider is not installed (run infra/scripts/tools.sh): ${err.message}`);
  process.exit(1);
}
const { default: Provider, errors } = oidc;

const CLIENT_ID = 'dashboard';
const SCOPES = 'openid email profile';
const ROLES = new Set(['admin', 'editor', 'viewer']);

function fail(message) {
  console.error(`idp: ${message}`);
  process.exit(1);
}

const port = Number(process.env.IDP_PORT || 9100);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`IDP_PORT=${process.env.IDP_PORT} is not a port`);
const issuer = `http://127.0.0.1:${port}`;
const redirectUris = (process.env.IDP_REDIRECT_URIS || 'http://127.0.0.1:9000/')
  .split(',').map((uri) => uri.trim()).filter(Boolean);
const idTokenTtl = Number(process.env.IDP_TTL_ID_TOKEN || 3600);
if (!Number.isInteger(idTokenTtl) || idTokenTtl <= 0) fail('IDP_TTL_ID_TOKEN must be a positive number of seconds');
const alg = process.env.IDP_ALG || 'RS256';
if (!['RS256', 'PS256', 'ES256'].includes(alg)) fail(`IDP_ALG=${alg}: use RS256, PS256 or ES256`);
const admin = process.env.IDP_ADMIN === '1';

/** The stable subject of an operator: it must not change across restarts. */
function subjectOf(email) {
  return createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 32);
}

// The operators, by subject and by lower-cased email.
const bySubject = new Map();
const byEmail = new Map();
{
  const file = process.env.IDP_OPERATORS_FILE;
  if (!file) fail('IDP_OPERATORS_FILE names no file of operators');
  let list;
  try {
    list = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read the operators in ${file}: ${err.message}`);
  }
  if (!Array.isArray(list) || list.length === 0) fail(`${file} holds no operators`);
  for (const op of list) {
    const ok = op && typeof op.email === 'string' && op.email.includes('@')
      && typeof op.password === 'string' && op.password.length > 0
      && typeof op.name === 'string' && ROLES.has(op.role);
    if (!ok) fail(`${file}: every operator needs an email, a password, a name and a role (admin, editor or viewer)`);
    const operator = { ...op, sub: subjectOf(op.email) };
    bySubject.set(operator.sub, operator);
    byEmail.set(op.email.toLowerCase(), operator);
  }
}

const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest();
// Compares digests, so the time taken tells nothing about the password.
function passwordMatches(operator, password) {
  return timingSafeEqual(sha256(operator.password), sha256(password));
}

// A new private signing JWK for IDP_ALG, with a kid of its own.
function newSigningKey() {
  const pair = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...pair.privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: randomBytes(12).toString('base64url'),
  };
}

const escapeHtml = (value) => String(value ?? '')
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&#39;');

// Our pages load nothing from elsewhere (the provider's default pages import
// a web font); inline style only.
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:48px 16px}
main{max-width:340px;margin:0 auto;background:#fff;padding:24px 28px;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.25rem;margin:0 0 4px}p.note{color:#666;font-size:.85rem;margin:0 0 18px}
label{display:block;font-size:.9rem;margin:12px 0 4px}input{width:100%;box-sizing:border-box;padding:8px;font-size:1rem}
button{margin-top:18px;width:100%;padding:10px;font-size:1rem;background:#1f6feb;color:#fff;border:0;border-radius:6px;cursor:pointer}
button.secondary{background:#6b7280}p.error{color:#b42318;background:#fef3f2;padding:8px;border-radius:4px}
</style>
</head>
<body><main>${body}</main></body>
</html>`;
}

const securityHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // No form-action: after the form, the redirects go on to the dashboard's
  // origin, and browsers apply form-action to those redirects too.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function sendHtml(res, status, html) {
  res.writeHead(status, securityHeaders);
  res.end(html);
}

function loginPage(uid, email, error) {
  return page('Sign in', `
<h1>Sign in</h1>
<p class="note">Local identity provider (development only)</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(encodeURIComponent(uid))}/login" autocomplete="off">
<label for="email">Email</label>
<input id="email" name="email" type="email" required autofocus autocomplete="username" value="${escapeHtml(email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required autocomplete="current-password">
<button type="submit">Sign in</button>
</form>`);
}

// A browser may resend an old form, or its interaction may have expired
// (the provider's cookie is gone): say so, and where to start again.
function expiredPage(res) {
  sendHtml(res, 400, page('Sign-in expired', `
<h1>This sign-in has expired</h1>
<p>Start again from the application you came from.</p>`));
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const client = {
  client_id: CLIENT_ID,
  client_name: 'Users API dashboard',
  application_type: 'web',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: redirectUris,
  post_logout_redirect_uris: redirectUris,
  id_token_signed_response_alg: alg,
};

// Signed cookies (sessions, interactions) must stay valid across a rotation,
// which rebuilds the provider: one secret for the life of the process.
const cookieKeys = [randomBytes(32).toString('base64url')];

function configuration(keys) {
  return {
    clients: [client],
    jwks: { keys },
    cookies: { keys: cookieKeys },
    async findAccount(ctx, sub) {
      const operator = bySubject.get(sub);
      if (!operator) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: operator.email,
            email_verified: true,
            name: operator.name,
            groups: [operator.role],
          };
        },
      };
    },
    claims: {
      openid: ['sub', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'email', 'profile'],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    adapter: createMemoryAdapter(),
    // Every lifetime named (the provider notes each default it falls back
    // to): a sign-in has an hour, a session or consent two weeks.
    ttl: {
      IdToken: idTokenTtl,
      AccessToken: idTokenTtl,
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = page('Sign out', `
<h1>Sign out of the local identity provider?</h1>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>
<button class="secondary" type="submit" form="op.logoutForm">Stay signed in</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<h1>You are signed out</h1>');
        },
      },
    },
    interactions: {
      url(ctx, interaction) {
        return `/interaction/${interaction.uid}`;
      },
    },
    // Consent is granted without asking, for the dashboard's scopes only: the
    // dashboard is this organisation's own application. A grant from another
    // session's account is not reused.
    async loadExistingGrant(ctx) {
      const { oidc: { provider, client: rp, session, account } } = ctx;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(rp.clientId);
      if (grantId) {
        const grant = await provider.Grant.find(grantId);
        if (grant && grant.accountId === account.accountId) return grant;
      }
      if (rp.clientId !== CLIENT_ID) return undefined;
      const grant = new provider.Grant({ clientId: rp.clientId, accountId: account.accountId });
      grant.addOIDCScope(SCOPES);
      await grant.save();
      return grant;
    },
    // The dashboard calls the token endpoint from the browser: CORS for the
    // origins of its redirect URIs (discovery and the JWKS are open to all).
    clientBasedCORS(ctx, origin, rp) {
      return rp.redirectUris.some((uri) => {
        try {
          return new URL(uri).origin === origin;
        } catch {
          return false;
        }
      });
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `
<h1>Sign-in failed</h1>
${Object.entries(out).map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</p>`).join('')}`);
    },
  };
}

// The key set, newest first, and the provider built on it.
let keys = [newSigningKey()];
let provider;
let handle;
function build() {
  provider = new Provider(issuer, configuration(keys));
  handle = provider.callback();
}
build();

function rotate() {
  keys = [newSigningKey(), ...keys];
  build();
  console.log(`idp: rotated; signing with ${keys[0].kid}, ${keys.length} keys in the JWKS`);
  return keys[0].kid;
}

// GET /interaction/:uid shows the form (or grants consent); POST
// /interaction/:uid/login checks the credentials.
async function interaction(req, res, path) {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(path);
  if (!match) {
    sendHtml(res, 404, page('Not found', '<h1>Not found</h1>'));
    return;
  }
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      expiredPage(res);
      return;
    }
    throw err;
  }
  if (details.uid !== decodeURIComponent(match[1])) {
    expiredPage(res);
    return;
  }
  const { uid, prompt } = details;

  if (!match[2]) {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (prompt.name === 'login') {
      sendHtml(res, 200, loginPage(uid, details.params.login_hint ?? '', null));
      return;
    }
    // Consent is asked only for scopes beyond the dashboard's (see
    // loadExistingGrant): refused, not granted.
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: `only the scopes ${SCOPES} are granted`,
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  if (prompt.name !== 'login') {
    expiredPage(res);
    return;
  }
  const form = await readForm(req);
  const email = form.get('email') ?? '';
  const password = form.get('password') ?? '';
  const operator = byEmail.get(email.trim().toLowerCase());
  if (!operator || !passwordMatches(operator, password)) {
    sendHtml(res, 200, loginPage(uid, email, 'Invalid email or password'));
    return;
  }
  await provider.interactionFinished(req, res, {
    login: { accountId: operator.sub },
  }, { mergeWithLastSubmission: false });
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', issuer).pathname;
  if (path.startsWith('/interaction/')) {
    interaction(req, res, path).catch((err) => {
      console.error(`idp: interaction failed: ${err.stack ?? err}`);
      if (!res.headersSent) sendHtml(res, 500, page('Error', '<h1>Something went wrong</h1>'));
      else res.end();
    });
    return;
  }
  if (admin && path === '/__rotate') {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const kid = rotate();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid, kids: keys.map((key) => key.kid) }));
    return;
  }
  handle(req, res);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGHUP', rotate);
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// The tests' helper holds our stdin: when it closes, its process is gone
// (even killed outright), and so are we.
if (process.env.IDP_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  console.log(`idp: listening on ${issuer}`);
});
