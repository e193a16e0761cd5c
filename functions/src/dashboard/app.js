// The users dashboard. Plain DOM and fetch against the API it is served
// with, so it needs no build step and the CSP can forbid everything else.
// User data only ever reaches the page through textContent and value.
//
// Operators sign in through the organisation's OpenID provider
// (Authorization Code with PKCE, `state` and `nonce` checked); the ID token
// it issues is the bearer of every API call. API keys are for servers: the
// page never takes one.

// The signed-in operator: { token, expiresAt, id, email, name, role }, in
// sessionStorage so that closing the tab forgets it.
const SESSION_KEY = "users-dashboard.session";
// A sign-in under way: { state, nonce, verifier }, until the provider sends
// the operator back.
const FLOW_KEY = "users-dashboard.sign-in";
// What to say on return from the provider's sign-out page.
const NOTICE_KEY = "users-dashboard.notice";
// Set when the API refused the account the provider signed in (no role
// here): the next sign-in asks the provider for credentials again.
const REFUSED_KEY = "users-dashboard.refused";
const SCOPES = "openid email profile";
// Roles, lowest first; each can do what those below it can.
const ROLES = ["viewer", "editor", "admin"];
const SEARCH_DEBOUNCE_MS = 250;
const FIELDS = ["email", "mobile", "firstName", "middleName", "lastName", "businessName", "businessIdNoType", "businessIdNo"];
const ADDRESS_FIELDS = ["addressLine1", "addressLine2", "suburb", "state", "postcode", "countryCode"];

const $ = (id) => document.getElementById(id);

// The identity provider, from /assets/config.json: { issuer, clientId }, or
// { issuer: null, problem } when sign-in is not configured.
let provider = null;
// The provider's discovery document, fetched once.
let discovery = null;
let expiryTimer = null;
const list = { query: "", next: null, seq: 0, timer: null, stale: false };
// The Activity view's filters (as applied, not as typed) and paging.
const activity = { user: "", type: "", next: null, seq: 0, typesLoaded: false };
// The catalogue of event types (GET /events/types), once it has loaded.
let eventTypeCatalogue = null;
// The Webhooks view: the list's replies in order, the deliveries panel's
// webhook and paging, the test event it waits for, and the pending confirmation.
const webhooks = { seq: 0 };
const deliveries = { webhook: null, next: null, seq: 0, awaiting: null, timer: null };
let webhookConfirm = null; // { kind: "rotate" | "delete", webhook }
// The API keys view's replies in order and paging; the Audit view's
// filters (as applied) and paging; a user's history and its paging.
const keys = { shown: [], next: null, seq: 0 };
const audit = { user: "", actor: "", from: "", to: "", next: null, seq: 0 };
const userHistory = { userId: null, next: null, seq: 0, kind: null };
// The generic confirmation's pending action: { run, busy, done }.
let pendingConfirm = null;
const deleted = new Set();
let current = null; // { user, etag } of the user on screen
let shownUserId = null; // the id of the detail view's user, loaded or not
let form = null; // { mode: "create" | "edit", idempotencyKey }

class ApiFailure extends Error {
  constructor(status, body) {
    const first = body && Array.isArray(body.data) ? body.data[0] : null;
    super((first && (first.detail || first.title)) || `The API answered ${status}.`);
    this.status = status;
    this.problems = body && Array.isArray(body.data) ? body.data : [];
  }
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function send(path, init) {
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiFailure(0, { data: [{ detail: "Could not reach the API. Check the connection and try again." }] });
  }
}

// --- Session -----------------------------------------------------------------

function storedSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    return session && session.token && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

/** The signed-in operator's role, or null. */
function role() {
  const session = storedSession();
  return session && ROLES.includes(session.role) ? session.role : null;
}

/** Whether the operator's role allows `need`: "change" (editor, admin) or "admin". */
function can(need) {
  const rank = ROLES.indexOf(role());
  if (need === "admin") return rank >= ROLES.indexOf("admin");
  if (need === "change") return rank >= ROLES.indexOf("editor");
  return rank >= 0;
}

/** Hides what the role may not do; the API refuses it anyway. */
function applyRole() {
  for (const element of document.querySelectorAll("[data-needs]")) {
    element.hidden = !can(element.dataset.needs);
  }
}

/** Ends the session here (the provider's own session is left alone) and shows the sign-in view. */
function endSession(message, failed = false) {
  clearTimeout(expiryTimer);
  clearTimeout(list.timer);
  sessionStorage.removeItem(SESSION_KEY);
  current = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("users-body").replaceChildren();
  $("search").value = "";
  list.query = "";
  $("activity-body").replaceChildren();
  $("activity-user").value = "";
  $("activity-type").value = "";
  // A reply still in flight belongs to the session that is ending.
  activity.seq++;
  Object.assign(activity, { user: "", type: "", next: null });
  webhooks.seq++;
  webhookConfirm = null;
  $("webhooks-body").replaceChildren();
  keys.seq++;
  Object.assign(keys, { shown: [], next: null });
  hideKey();
  $("keys-body").replaceChildren();
  $("keys-more").hidden = true;
  audit.seq++;
  Object.assign(audit, { user: "", actor: "", from: "", to: "", next: null });
  $("audit-body").replaceChildren();
  for (const id of ["audit-user", "audit-actor", "audit-from", "audit-to"]) $(id).value = "";
  pendingConfirm = null;
  resetFinance(null);
  resetHistory(null);
  $("nav").hidden = true;
  $("session").hidden = true;
  $("session-user").textContent = "";
  applyRole();
  showSignIn(message, failed);
}

function showSignIn(message, failed) {
  $("signin-error").textContent = failed ? message || "" : "";
  setStatus("signin-notice", failed ? "" : message || "");
  const configured = Boolean(provider && provider.issuer);
  $("signin-submit").hidden = !configured;
  if (provider && !configured) {
    $("signin-error").textContent = provider.problem || "Sign-in is not configured: set OIDC_ISSUER.";
  }
  show("signin-view");
  if (configured) $("signin-submit").focus();
  else $("signin-title").focus();
}

/** Signs out here and, if the provider offers it, there too (its page then sends the operator back). */
async function signOut() {
  const session = storedSession();
  endSession("You have signed out.");
  if (!session || !provider || !provider.issuer) return;
  try {
    const found = await discover();
    if (!found.end_session_endpoint) return;
    const url = new URL(found.end_session_endpoint);
    // No id_token_hint: the ID token is still a working bearer until it
    // expires, and would be left in the history and the provider's logs.
    // client_id names the client instead; logout_uri is Cognito's name for
    // where to come back to.
    url.searchParams.set("client_id", provider.clientId);
    url.searchParams.set("post_logout_redirect_uri", redirectUri());
    url.searchParams.set("logout_uri", redirectUri());
    sessionStorage.setItem(NOTICE_KEY, "You have signed out.");
    location.assign(url.toString());
  } catch {
    // Signed out here; the provider's session ends on its own.
  }
}

// The OpenID Connect sign-in (Authorization Code + PKCE S256).

class SignInFailure extends Error {}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** 32 random bytes, base64url: a state, a nonce or a PKCE verifier. */
function randomValue() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/**
 * The claims of a JWT, unverified: the page takes the ID token straight from
 * the provider's token endpoint, and the API checks its signature on every call.
 */
function claimsOf(jwt) {
  const part = String(jwt).split(".")[1];
  if (!part) throw new SignInFailure("The identity provider's ID token could not be read.");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function redirectUri() {
  return `${location.origin}/`;
}

/** The provider's discovery document, checked to be the configured issuer's. */
async function discover() {
  if (discovery) return discovery;
  const url = `${provider.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let response;
  try {
    response = await fetch(url);
  } catch {
    throw new SignInFailure("Could not reach the identity provider. Check the connection and try again.");
  }
  const found = await readJson(response);
  if (!response.ok || !found || !found.authorization_endpoint || !found.token_endpoint) {
    throw new SignInFailure(`The identity provider's discovery document could not be read (${response.status}).`);
  }
  if (found.issuer !== provider.issuer) {
    throw new SignInFailure("The identity provider names another issuer than the one configured.");
  }
  discovery = found;
  return found;
}

/** "Sign in": off to the provider's sign-in page, with a new state, nonce and PKCE verifier. */
async function beginSignIn() {
  const submit = $("signin-submit");
  submit.disabled = true;
  submit.textContent = "Signing in…";
  $("signin-error").textContent = "";
  setStatus("signin-notice", "");
  try {
    const found = await discover();
    const flow = { state: randomValue(), nonce: randomValue(), verifier: randomValue() };
    sessionStorage.setItem(FLOW_KEY, JSON.stringify(flow));
    const url = new URL(found.authorization_endpoint);
    const params = {
      response_type: "code",
      client_id: provider.clientId,
      redirect_uri: redirectUri(),
      scope: SCOPES,
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await challengeOf(flow.verifier),
      code_challenge_method: "S256",
    };
    // After an account was refused (no role here), ask the provider for
    // the credentials again rather than its remembered session, so that
    // another account can be used.
    if (sessionStorage.getItem(REFUSED_KEY)) params.prompt = "login";
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    location.assign(url.toString());
  } catch (failure) {
    $("signin-error").textContent = failure.message;
    submit.disabled = false;
    submit.textContent = "Sign in";
    submit.focus();
  }
}

/** The sign-in under way in this tab, taken: a code is exchanged once. */
function takeFlow() {
  const text = sessionStorage.getItem(FLOW_KEY);
  sessionStorage.removeItem(FLOW_KEY);
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The provider sent the operator back with `?code&state` (or `?error`): checks, exchanges, signs in. */
async function finishSignIn(params) {
  const flow = takeFlow();
  // The code is used once, here: neither a reload nor the history replays it.
  history.replaceState(null, "", location.pathname);
  if (!flow || !flow.state || params.get("state") !== flow.state) {
    throw new SignInFailure("This sign-in could not be verified: it was not started from this tab. Sign in again.");
  }
  // Only now, for a sign-in this tab started, is the provider's text shown.
  if (params.has("error")) {
    const why = params.get("error_description") || params.get("error");
    throw new SignInFailure(`The identity provider did not sign you in: ${why}.`);
  }
  const found = await discover();
  let response;
  try {
    response = await fetch(found.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code") || "",
        redirect_uri: redirectUri(),
        client_id: provider.clientId,
        code_verifier: flow.verifier,
      }),
    });
  } catch {
    throw new SignInFailure("Could not reach the identity provider. Check the connection and try again.");
  }
  const tokens = await readJson(response);
  if (!response.ok || !tokens || !tokens.id_token) {
    const why = (tokens && (tokens.error_description || tokens.error)) || `it answered ${response.status}`;
    throw new SignInFailure(`The identity provider issued no token: ${why}. Sign in again.`);
  }
  const claims = claimsOf(tokens.id_token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.nonce !== flow.nonce || claims.iss !== provider.issuer || !audiences.includes(provider.clientId)) {
    throw new SignInFailure("The identity provider's ID token is not for this sign-in. Sign in again.");
  }
  if (!(claims.exp * 1000 > Date.now())) {
    throw new SignInFailure("The identity provider's ID token has already expired. Check this computer's clock, then sign in again.");
  }
  // Who the API says this is, and with which role: the token's only judge.
  const answer = await send("/sign-ins", { method: "POST", headers: { authorization: `Bearer ${tokens.id_token}` } });
  const who = await readJson(answer);
  if (!answer.ok) {
    const failure = new ApiFailure(answer.status, who);
    if (answer.status === 403) sessionStorage.setItem(REFUSED_KEY, "1");
    throw new SignInFailure(answer.status === 403
      ? `You are signed in at the identity provider, but may not use the dashboard: ${failure.message} Sign in again to use another account.`
      : `The API did not accept the sign-in: ${failure.message}`);
  }
  sessionStorage.removeItem(REFUSED_KEY);
  const session = {
    token: tokens.id_token,
    expiresAt: claims.exp * 1000,
    id: who.id,
    email: who.email || null,
    name: who.name || null,
    role: who.role,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function scheduleExpiry(session) {
  clearTimeout(expiryTimer);
  const expiry = new Date(session.expiresAt);
  $("session-expiry").textContent = `until ${expiry.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  $("session-expiry").title = `Your sign-in lasts until ${expiry.toLocaleString()}; then sign in again.`;
  expiryTimer = setTimeout(() => endSession("Your session has expired. Sign in again."), Math.max(session.expiresAt - Date.now(), 0));
}

/** A call with the session's token. An expired or refused token ends the session. */
async function api(path, { method = "GET", body, headers = {} } = {}) {
  const session = storedSession();
  if (!session) {
    endSession("Your session has expired. Sign in again.");
    throw new ApiFailure(401, { data: [{ detail: "Your session has expired." }] });
  }
  const init = { method, headers: { ...headers, authorization: `Bearer ${session.token}` } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await send(path, init);
  const json = await readJson(response);
  // 401: the token is not (or no longer) accepted; 403 access-denied: it
  // has expired. Any other 403 is the role's, and its detail is shown.
  if (response.status === 401 || (response.status === 403 && json && json.data && json.data[0] && json.data[0].code === "access-denied")) {
    endSession("Your session has expired or was refused. Sign in again.");
  }
  if (!response.ok) throw new ApiFailure(response.status, json);
  return { status: response.status, body: json, etag: response.headers.get("etag") };
}

// --- Views -------------------------------------------------------------------

const VIEWS = {
  "signin-view": null,
  "users-view": "nav-users",
  "detail-view": "nav-users",
  "activity-view": "nav-activity",
  "webhooks-view": "nav-webhooks",
  "keys-view": "nav-keys",
  "audit-view": "nav-audit",
};

function show(viewId) {
  for (const id of Object.keys(VIEWS)) $(id).hidden = id !== viewId;
  const section = VIEWS[viewId];
  for (const id of ["nav-users", "nav-activity", "nav-webhooks", "nav-keys", "nav-audit"]) {
    if (id === section) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  // A secret is shown once: leaving the view (or the session) forgets it.
  if (viewId !== "webhooks-view") {
    hideSecret();
    closeDeliveries();
  }
  if (viewId !== "keys-view") hideKey();
}

function setStatus(id, text, failed = false) {
  const status = $(id);
  status.textContent = text;
  status.classList.toggle("failed", failed);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Who made an API key: the operator's email (the id in the tooltip), else the id. */
function createdByCell(key) {
  const td = cell(key.createdByName || key.createdBy || "—", "created-by");
  if (key.createdByName && key.createdBy) td.title = key.createdBy;
  return td;
}

function fullName(user) {
  return [user.firstName, user.middleName, user.lastName].filter(Boolean).join(" ");
}

function when(rfc3339) {
  if (!rfc3339) return "";
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? rfc3339 : date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** Turns an absolute `links.next` into a same-origin path, whatever host the API saw. */
function pathOf(link) {
  const url = new URL(link, location.origin);
  return url.pathname + url.search;
}

// --- Users list and search ---------------------------------------------------

function userRow(user) {
  const tr = document.createElement("tr");
  tr.dataset.userId = user.id;
  const name = document.createElement("td");
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = fullName(user) || "(no name)";
  open.setAttribute("aria-label", `Open ${fullName(user) || user.email || user.id}`);
  open.addEventListener("click", () => openUser(user.id));
  name.append(open);
  tr.append(name, cell(user.email || ""), cell(user.mobile || ""), cell(when(user.createdTime)));
  return tr;
}

function describeList(shown) {
  if (shown === 0) {
    return list.query ? `No users match “${list.query}”.` : "No users yet. Create one to begin.";
  }
  const noun = shown === 1 ? "user" : "users";
  const matching = list.query ? ` matching “${list.query}”` : "";
  return `${shown} ${noun}${matching}${list.next ? ", more below" : ""}.`;
}

async function loadUsers(reset) {
  const seq = ++list.seq;
  const path = reset ? (list.query ? `/users?q=${encodeURIComponent(list.query)}` : "/users") : list.next;
  if (!path) return;
  setStatus("list-status", list.query ? `Searching for “${list.query}”…` : "Loading users…");
  $("load-more").disabled = true;
  $("users-table").setAttribute("aria-busy", "true");
  try {
    const { body } = await api(path);
    if (seq !== list.seq) return; // a newer search has replaced this one
    const body_ = $("users-body");
    if (reset) body_.replaceChildren();
    for (const user of body.data) {
      if (!deleted.has(user.id)) body_.append(userRow(user));
    }
    list.next = body.links && body.links.next ? pathOf(body.links.next) : null;
    list.stale = false;
    $("load-more").hidden = !list.next;
    setStatus("list-status", describeList(body_.children.length));
  } catch (failure) {
    if (seq !== list.seq) return;
    setStatus("list-status", `Could not load users: ${failure.message}`, true);
  } finally {
    if (seq === list.seq) {
      $("load-more").disabled = false;
      $("users-table").removeAttribute("aria-busy");
    }
  }
}

function onSearchInput() {
  clearTimeout(list.timer);
  list.timer = setTimeout(() => {
    const query = $("search").value.trim();
    if (query === list.query && !list.stale) return;
    list.query = query;
    loadUsers(true);
  }, SEARCH_DEBOUNCE_MS);
}

function showList() {
  current = null;
  show("users-view");
  if (list.stale) loadUsers(true);
  $("search").focus();
}

// --- User detail -------------------------------------------------------------

function detailRows(user) {
  const address = user.businessAddress
    ? ADDRESS_FIELDS.map((f) => user.businessAddress[f]).filter(Boolean).join(", ")
    : "";
  const business = user.businessIdNo ? `${user.businessIdNoType || ""} ${user.businessIdNo}`.trim() : "";
  return [
    ["Id", user.id],
    ["Email", user.email],
    ["Mobile", user.mobile],
    ["First name", user.firstName],
    ["Middle name", user.middleName],
    ["Last name", user.lastName],
    ["Business name", user.businessName],
    ["Business number", business],
    ["Business address", address],
    ["Verified", user.verificationStatus === undefined ? "" : user.verificationStatus ? `Yes${user.verificationDate ? `, ${user.verificationDate}` : ""}` : "No"],
    ["Created", when(user.createdTime)],
    ["Updated", when(user.updatedTime)],
  ];
}

function renderDetail() {
  const { user } = current;
  $("detail-title").textContent = fullName(user) || user.email || user.id;
  const fields = $("detail-fields");
  fields.replaceChildren();
  for (const [label, value] of detailRows(user)) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value || "—";
    fields.append(dt, dd);
  }
  const connections = user.connections ? user.connections.count : 0;
  const accounts = user.accounts ? user.accounts.count : 0;
  $("detail-counts").textContent = `${connections} ${connections === 1 ? "connection" : "connections"} · ${accounts} ${accounts === 1 ? "account" : "accounts"}`;
}

async function fetchUser(userId) {
  const { body, etag } = await api(`/users/${encodeURIComponent(userId)}`);
  return { user: body, etag };
}

async function openUser(userId) {
  shownUserId = userId;
  show("detail-view");
  $("detail-title").textContent = "Loading…";
  $("detail-fields").replaceChildren();
  $("detail-counts").textContent = "";
  resetFinance(userId);
  resetHistory(userId);
  $("edit-user").disabled = true;
  setStatus("detail-status", "Loading user…");
  const seq = finance.seq;
  try {
    const loaded = await fetchUser(userId);
    if (seq !== finance.seq) return; // another user was opened meanwhile
    current = loaded;
    renderDetail();
    setStatus("detail-status", "");
    $("edit-user").disabled = false;
    $("detail-title").focus();
    loadFinance(userId);
    loadHistory(true);
  } catch (failure) {
    if (seq !== finance.seq) return;
    $("detail-title").textContent = "User";
    setStatus("detail-status", failure.status === 404 ? "This user no longer exists." : `Could not load the user: ${failure.message}`, true);
    // Who deleted a user, and when, stays answerable.
    if (failure.status === 404) loadHistory(true);
  }
}

/** Reloads the user on screen (its counts) and its money, after a change to what it owns. */
async function reloadUser() {
  if (!current) return;
  const userId = current.user.id;
  const seq = finance.seq;
  try {
    const loaded = await fetchUser(userId);
    if (seq !== finance.seq) return;
    current = loaded;
    renderDetail();
  } catch (failure) {
    if (seq === finance.seq && failure.status !== 401) setStatus("detail-status", `Could not reload the user: ${failure.message}`, true);
  }
  resetFinance(userId);
  loadFinance(userId);
  loadHistory(true);
}

// --- A user's money ------------------------------------------------------------

// A page of transactions; *Load more* follows links.next for the next one.
const TRANSACTIONS_PAGE = 25;
// Typing a date changes it digit by digit: wait for the last digit.
const DATE_DEBOUNCE_MS = 300;
const TRANSACTION_FIELDS = { account: "txn-account", from: "txn-from", to: "txn-to" };
const FIELD_NAMES = { account: "account", from: "From date", to: "To date" };

/** The view's current user and what is known of their records; `seq` drops replies about an earlier user. */
const finance = { userId: null, seq: 0, accounts: new Map(), connections: new Map(), accountsReady: Promise.resolve() };
// The transactions' filters (as applied, not as typed) and paging.
const txns = { account: "", from: "", to: "", next: null, seq: 0, timer: null };

/** An amount exactly as the API wrote it (a decimal string, never a float), with its currency. */
function moneyCell(amount, currency) {
  const td = document.createElement("td");
  td.className = "num";
  if (amount === null || amount === undefined || amount === "") {
    td.textContent = "—";
    return td;
  }
  const text = String(amount);
  const value = document.createElement("span");
  value.className = text.startsWith("-") ? "amount negative" : "amount";
  value.textContent = text;
  td.append(value);
  if (currency) {
    const code = document.createElement("span");
    code.className = "currency";
    code.textContent = ` ${currency}`;
    td.append(code);
  }
  return td;
}

function line(text, className) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

function accountLabel(account) {
  return account.accountNo ? `${account.name || account.id} · ${account.accountNo}` : account.name || account.id;
}

function accountRow(account) {
  const tr = document.createElement("tr");
  tr.dataset.accountId = account.id;
  const name = document.createElement("td");
  name.className = "name";
  name.append(line(account.name || account.id, "title"));
  const about = [account.accountNo, account.class && account.class.product, account.status].filter(Boolean).join(" · ");
  if (about) name.append(line(about, "muted small"));
  const via = document.createElement("td");
  via.className = "connection";
  const connection = finance.connections.get(account.connection);
  const institution = connection && connection.institution ? connection.institution.name : account.institution;
  via.append(line(institution || "", "title"), line(account.connection || "", "id"));
  const balance = moneyCell(account.balance, account.currency);
  balance.classList.add("balance");
  balance.dataset.label = "Balance";
  const available = moneyCell(account.availableFunds, account.currency);
  available.classList.add("available");
  available.dataset.label = "Available";
  tr.append(name, via, balance, available);
  return tr;
}

function transactionRow(transaction) {
  const tr = document.createElement("tr");
  tr.dataset.transactionId = transaction.id;
  tr.dataset.accountId = transaction.account;
  const posted = document.createElement("td");
  posted.className = "posted";
  const time = document.createElement("time");
  time.dateTime = transaction.postDate || "";
  time.textContent = transaction.postDate || "";
  posted.append(time);
  const what = document.createElement("td");
  what.className = "what";
  what.append(line(transaction.description || "", "description"));
  if (transaction.status === "pending") what.append(" ", line("pending", "kind"));
  const account = finance.accounts.get(transaction.account);
  const amount = moneyCell(transaction.amount, transaction.currency);
  amount.classList.add("amount-cell");
  tr.append(posted, what, cell(account ? account.name || account.id : transaction.account || "", "account"), amount);
  return tr;
}

async function loadConnections(userId) {
  const seq = finance.seq;
  const table = $("connections-table");
  const rows = $("connections-body");
  setStatus("connections-status", "Loading connections…");
  try {
    const { body } = await api(`/users/${encodeURIComponent(userId)}/connections`);
    if (seq !== finance.seq) return;
    const data = body && Array.isArray(body.data) ? body.data : [];
    for (const connection of data) finance.connections.set(connection.id, connection);
    rows.replaceChildren(...data.map((connection) => {
      const tr = document.createElement("tr");
      tr.dataset.connectionId = connection.id;
      const institution = connection.institution ? connection.institution.name : "";
      tr.append(
        cell(institution),
        cell(connection.status || ""),
        cell(when(connection.createdDate)),
        cell(connection.id, "id"),
      );
      if (can("change")) {
        const actions = document.createElement("td");
        actions.append(rowButton("Delete", `Delete connection ${institution || connection.id}`, "secondary danger-text", () => confirmConnectionDelete(userId, connection)));
        tr.append(actions);
      }
      return tr;
    }));
    table.hidden = data.length === 0;
    setStatus("connections-status", data.length ? "" : "No connections.");
  } catch (failure) {
    if (seq !== finance.seq) return;
    setStatus("connections-status", `Could not load connections: ${failure.message}`, true);
  }
}

/** The accounts, once the connections they name are known; never rejects. */
async function loadAccounts(userId, connectionsLoaded) {
  const seq = finance.seq;
  setStatus("accounts-status", "Loading accounts…");
  try {
    const [{ body }] = await Promise.all([api(`/users/${encodeURIComponent(userId)}/accounts`), connectionsLoaded]);
    if (seq !== finance.seq) return;
    const data = body && Array.isArray(body.data) ? body.data : [];
    for (const account of data) finance.accounts.set(account.id, account);
    $("accounts-body").replaceChildren(...data.map(accountRow));
    $("accounts-table").hidden = data.length === 0;
    setStatus("accounts-status", data.length ? "" : "No accounts.");
    const select = $("txn-account");
    const options = [select.options[0]];
    for (const account of data) {
      const option = document.createElement("option");
      option.value = account.id;
      option.textContent = accountLabel(account);
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = txns.account;
  } catch (failure) {
    if (seq !== finance.seq) return;
    setStatus("accounts-status", `Could not load accounts: ${failure.message}`, true);
  }
}

/** A value inside a filter's quotes: the API's syntax escapes quote and backslash. */
function quoted(value) {
  return `'${value.replace(/[\\']/g, "\\$&")}'`;
}

function transactionsPath(userId) {
  const terms = [];
  if (txns.account) terms.push(`account.id.eq(${quoted(txns.account)})`);
  // Both ends inclusive, whole days; an open end is the first or last day there is.
  if (txns.from || txns.to) terms.push(`transaction.postDate.bt(${quoted(txns.from || "0000-01-01")},${quoted(txns.to || "9999-12-31")})`);
  const params = new URLSearchParams({ limit: String(TRANSACTIONS_PAGE) });
  if (terms.length) params.set("filter", terms.join(","));
  return `/users/${encodeURIComponent(userId)}/transactions?${params}`;
}

function filtered() {
  return Boolean(txns.account || txns.from || txns.to);
}

function describeTransactions(shown) {
  if (shown === 0) {
    if (txns.next) return "No transactions on this page; there may be older ones below.";
    if (txns.from && txns.to && txns.from > txns.to) return "No transactions: the From date is after the To date.";
    return filtered() ? "No transactions match these filters." : "No transactions yet.";
  }
  return `${plural(shown, "transaction", "transactions")}${filtered() ? " matching the filters" : ""}${txns.next ? ", more below" : ""}.`;
}

function clearTransactionErrors() {
  for (const id of Object.values(TRANSACTION_FIELDS)) {
    $(`${id}-error`).textContent = "";
    $(id).removeAttribute("aria-invalid");
    $(id).removeAttribute("aria-describedby");
  }
}

function transactionFieldError(name, message) {
  const id = TRANSACTION_FIELDS[name];
  $(`${id}-error`).textContent = message;
  $(id).setAttribute("aria-invalid", "true");
  $(id).setAttribute("aria-describedby", `${id}-error`);
}

/** Which filter a refusal is about: a date the API could not read, else the account. */
function refusedField(message) {
  const dates = ["from", "to"].filter((name) => txns[name]);
  if (/date/i.test(message) && dates.length) {
    return dates.find((name) => !/^\d{4}-\d{2}-\d{2}$/.test(txns[name])) || dates[0];
  }
  return txns.account ? "account" : dates[0];
}

async function loadTransactions(reset) {
  const userId = finance.userId;
  if (!userId) return;
  const seq = ++txns.seq;
  const path = reset ? transactionsPath(userId) : txns.next;
  if (!path) return;
  const more = $("transactions-more");
  const table = $("transactions-table");
  if (reset) {
    // A failed reload must not leave the old filters' next page behind.
    txns.next = null;
    more.hidden = true;
  }
  setStatus("transactions-status", "Loading transactions…");
  more.disabled = true;
  table.setAttribute("aria-busy", "true");
  try {
    // Rows name their account, so they wait for the accounts (which never fail this).
    const [{ body }] = await Promise.all([api(path), finance.accountsReady]);
    if (seq !== txns.seq) return; // newer filters, or another user, have replaced these
    const rows = $("transactions-body");
    const data = body && Array.isArray(body.data) ? body.data : [];
    if (reset) rows.replaceChildren();
    rows.append(...data.map(transactionRow));
    txns.next = body && body.links && body.links.next ? pathOf(body.links.next) : null;
    more.hidden = !txns.next;
    table.hidden = rows.children.length === 0;
    setStatus("transactions-status", describeTransactions(rows.children.length));
  } catch (failure) {
    if (seq !== txns.seq) return;
    const refusedFilter = (failure.problems || []).some((p) => p.source && p.source.parameter === "filter");
    const field = failure.status === 400 && refusedFilter && filtered() ? refusedField(failure.message) : null;
    if (field) {
      transactionFieldError(field, failure.message);
      $("transactions-body").replaceChildren();
      table.hidden = true;
      more.hidden = true;
      setStatus("transactions-status", `Check the ${FIELD_NAMES[field]}.`, true);
    } else {
      setStatus("transactions-status", `Could not load transactions: ${failure.message}`, true);
    }
  } finally {
    if (seq === txns.seq) {
      more.disabled = false;
      table.removeAttribute("aria-busy");
    }
  }
}

/** Applies the filters as they stand, unless a date is half typed (which has no value yet). */
function applyTransactionFilters() {
  clearTimeout(txns.timer);
  clearTransactionErrors();
  let incomplete = false;
  for (const name of ["from", "to"]) {
    if ($(TRANSACTION_FIELDS[name]).validity.badInput) {
      transactionFieldError(name, "Enter a whole date, or clear the field.");
      incomplete = true;
    }
  }
  if (incomplete) {
    setStatus("transactions-status", "Finish the date to filter by it.", true);
    return;
  }
  txns.account = $("txn-account").value;
  txns.from = $("txn-from").value;
  txns.to = $("txn-to").value;
  loadTransactions(true);
}

function onTransactionDate() {
  clearTimeout(txns.timer);
  txns.timer = setTimeout(applyTransactionFilters, DATE_DEBOUNCE_MS);
}

function clearTransactionFilters() {
  $("txn-account").value = "";
  $("txn-from").value = "";
  $("txn-to").value = "";
  applyTransactionFilters();
  $("txn-account").focus();
}

/** Forgets the previous user's money; `userId`: whose the view now shows, or null. */
function resetFinance(userId) {
  finance.userId = userId;
  finance.seq++;
  finance.accounts = new Map();
  finance.connections = new Map();
  finance.accountsReady = Promise.resolve();
  clearTimeout(txns.timer);
  txns.seq++;
  Object.assign(txns, { account: "", from: "", to: "", next: null });
  const select = $("txn-account");
  select.replaceChildren(select.options[0]);
  select.value = "";
  $("txn-from").value = "";
  $("txn-to").value = "";
  clearTransactionErrors();
  for (const id of ["connections", "accounts", "transactions"]) {
    $(`${id}-body`).replaceChildren();
    $(`${id}-table`).hidden = true;
    $(`${id}-table`).removeAttribute("aria-busy");
    setStatus(`${id}-status`, "");
  }
  $("transactions-more").hidden = true;
  $("finance").hidden = true;
}

/** The connections, the accounts (with their connection) and the first page of transactions. */
function loadFinance(userId) {
  $("finance").hidden = false;
  const connections = loadConnections(userId);
  finance.accountsReady = loadAccounts(userId, connections);
  loadTransactions(true);
}

// --- Activity ----------------------------------------------------------------

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/** What an event's `data` says beyond its type: never a value, only names and counts. */
function eventDetails(event) {
  const data = event.data || {};
  if (Array.isArray(data.changed)) {
    return data.changed.length ? `Changed: ${data.changed.join(", ")}` : "Changed";
  }
  if (data.removed) {
    const r = data.removed;
    return `Removed ${plural(r.connections || 0, "connection", "connections")}, ${plural(r.accounts || 0, "account", "accounts")}, ${plural(r.transactions || 0, "transaction", "transactions")}, ${plural(r.other || 0, "other item", "other items")}`;
  }
  if (data.type === "connection" && data.id) return `Connection ${data.id}`;
  return "";
}

function timeCell(rfc3339) {
  const td = document.createElement("td");
  const date = new Date(rfc3339);
  const time = document.createElement("time");
  if (Number.isNaN(date.getTime())) {
    time.textContent = rfc3339 || "";
  } else {
    time.dateTime = rfc3339;
    time.title = `${date.toISOString().replace(".000Z", "Z")} (UTC)`;
    time.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }
  td.append(time);
  return td;
}

const ACTIONS = new Set(["created", "updated", "deleted"]);

function eventRow(event) {
  const tr = document.createElement("tr");
  const kind = `${event.entity}.${event.eventType}`;
  tr.dataset.eventId = event.id;
  tr.dataset.eventType = kind;
  tr.dataset.userId = event.userId;
  const type = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = ACTIONS.has(event.eventType) ? `kind ${event.eventType}` : "kind";
  badge.textContent = kind;
  type.append(badge);
  const user = document.createElement("td");
  user.className = "id";
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = event.userId;
  open.setAttribute("aria-label", `Open user ${event.userId}`);
  open.addEventListener("click", () => openUser(event.userId));
  user.append(open);
  tr.append(timeCell(event.createdDate), type, user, cell(eventDetails(event)));
  return tr;
}

function eventsPath() {
  const terms = [];
  // An id never carries quotes or commas: what was typed stays one term, and
  // the API's refusal of a bad id is about that id alone.
  if (activity.user) terms.push(`user.id.eq('${activity.user.replace(/[',()\\]/g, "")}')`);
  if (activity.type) terms.push(`event.type.eq('${activity.type}')`);
  return terms.length ? `/events?filter=${encodeURIComponent(terms.join(","))}` : "/events";
}

function describeActivity(shown) {
  const filtered = activity.user || activity.type;
  if (shown === 0) {
    if (activity.next) return "No events on this page; there may be older ones below.";
    return filtered ? "No events match these filters in the last 7 days." : "No events in the last 7 days.";
  }
  const matching = filtered ? " matching the filters" : "";
  return `${plural(shown, "event", "events")}${matching}${activity.next ? ", more below" : ""}.`;
}

function clearActivityErrors() {
  $("activity-user-error").textContent = "";
  $("activity-user").removeAttribute("aria-invalid");
  $("activity-user").removeAttribute("aria-describedby");
}

async function loadEvents(reset) {
  const seq = ++activity.seq;
  const path = reset ? eventsPath() : activity.next;
  if (!path) return;
  if (reset) {
    // A failed reload must not leave the old query's next page behind.
    activity.next = null;
    $("activity-more").hidden = true;
  }
  setStatus("activity-status", "Loading events…");
  $("activity-more").disabled = true;
  $("activity-refresh").disabled = true;
  $("activity-table").setAttribute("aria-busy", "true");
  try {
    const { body } = await api(path);
    if (seq !== activity.seq) return; // newer filters have replaced these
    const rows = $("activity-body");
    if (reset) rows.replaceChildren();
    for (const event of body.data) rows.append(eventRow(event));
    activity.next = body.links && body.links.next ? pathOf(body.links.next) : null;
    $("activity-more").hidden = !activity.next;
    setStatus("activity-status", describeActivity(rows.children.length));
  } catch (failure) {
    if (seq !== activity.seq) return;
    // A refused filter names the parameter; the only one typed is the user id.
    const refusedFilter = (failure.problems || []).some((p) => p.source && p.source.parameter === "filter");
    if (failure.status === 400 && refusedFilter && activity.user) {
      $("activity-user-error").textContent = failure.message;
      $("activity-user").setAttribute("aria-invalid", "true");
      $("activity-user").setAttribute("aria-describedby", "activity-user-error");
      $("activity-body").replaceChildren();
      $("activity-more").hidden = true;
      setStatus("activity-status", "Check the user id.", true);
      $("activity-user").focus();
    } else {
      setStatus("activity-status", `Could not load events: ${failure.message}`, true);
    }
  } finally {
    if (seq === activity.seq) {
      $("activity-more").disabled = false;
      $("activity-refresh").disabled = false;
      $("activity-table").removeAttribute("aria-busy");
    }
  }
}

/** The catalogue of event types, fetched once; a failure is not kept. */
async function eventTypes() {
  if (!eventTypeCatalogue) {
    const { body } = await api("/events/types");
    eventTypeCatalogue = body && Array.isArray(body.data) ? body.data : [];
  }
  return eventTypeCatalogue;
}

async function loadEventTypes() {
  if (activity.typesLoaded) return;
  $("activity-type-error").textContent = "";
  try {
    const types = await eventTypes();
    const select = $("activity-type");
    const options = [select.options[0]];
    for (const kind of types) {
      const option = document.createElement("option");
      option.value = kind.id;
      option.textContent = kind.id;
      if (kind.description) option.title = kind.description;
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = activity.type;
    activity.typesLoaded = true;
  } catch (failure) {
    if (failure.status !== 401) $("activity-type-error").textContent = `Could not load the event types: ${failure.message}`;
  }
}

/** Opens the Activity view; `userId` filters it to one user, `""` to none. */
function openActivity(userId) {
  if (userId !== undefined) {
    activity.user = userId;
    $("activity-user").value = userId;
  }
  clearActivityErrors();
  show("activity-view");
  $("activity-title").focus();
  loadEventTypes();
  loadEvents(true);
}

function applyActivityFilters(event) {
  if (event) event.preventDefault();
  clearActivityErrors();
  activity.user = $("activity-user").value.trim();
  activity.type = $("activity-type").value;
  loadEvents(true);
}

function clearActivityFilters() {
  $("activity-user").value = "";
  $("activity-type").value = "";
  applyActivityFilters();
  $("activity-user").focus();
}

// --- Webhooks ----------------------------------------------------------------

// How often, and for how long, the deliveries panel looks for a test event's
// delivery: the queue hands it over within seconds.
const DELIVERY_POLL_MS = 2000;
const DELIVERY_WAIT_MS = 60 * 1000;
const OUTCOMES = new Set(["delivered", "failed", "disabled", "refused", "timeout", "unreachable"]);

function webhookPath(webhook, rest = "") {
  return `/webhooks/${encodeURIComponent(webhook.id)}${rest}`;
}

function webhookState(webhook) {
  if (webhook.status === "disabled") {
    if (webhook.disabledReason === "gone") return "Disabled: the receiver answered 410 Gone";
    return webhook.disabledReason ? `Disabled: ${webhook.disabledReason}` : "Disabled";
  }
  return webhook.status === "active" ? "Active" : String(webhook.status || "");
}

function rowButton(text, label, className, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = text;
  button.setAttribute("aria-label", label);
  button.addEventListener("click", () => onClick(button));
  return button;
}

function webhookRow(webhook) {
  const tr = document.createElement("tr");
  tr.dataset.webhookId = webhook.id;
  const endpoint = document.createElement("td");
  const url = document.createElement("span");
  url.className = "url";
  url.textContent = webhook.url;
  endpoint.append(url);
  if (webhook.description) {
    const description = document.createElement("span");
    description.className = "muted description";
    description.textContent = webhook.description;
    endpoint.append(description);
  }
  const events = document.createElement("td");
  for (const kind of Array.isArray(webhook.subscribedEvents) ? webhook.subscribedEvents : []) {
    const badge = document.createElement("span");
    badge.className = "kind";
    badge.textContent = kind;
    events.append(badge, " ");
  }
  const state = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = webhook.status === "disabled" ? "state disabled" : "state active";
  badge.textContent = webhookState(webhook);
  state.append(badge);
  const actions = document.createElement("td");
  const group = document.createElement("div");
  group.className = "row-actions";
  group.append(
    rowButton("Send test event", `Send test event to ${webhook.url}`, "secondary", (button) => sendTestEvent(webhook, button)),
    rowButton("Deliveries", `Deliveries to ${webhook.url}`, "secondary", () => openDeliveries(webhook, null, true)),
    rowButton("Rotate secret", `Rotate secret of ${webhook.url}`, "secondary", () => confirmWebhook("rotate", webhook)),
    rowButton("Delete", `Delete webhook ${webhook.url}`, "secondary danger-text", () => confirmWebhook("delete", webhook)),
  );
  actions.append(group);
  tr.append(endpoint, events, state, timeCell(webhook.createdDate), actions);
  return tr;
}

function describeWebhooks(count) {
  if (count === 0) return "No webhooks yet. Add one to have events sent to your endpoint.";
  return `${plural(count, "webhook", "webhooks")}.${count >= 20 ? " That is the most there may be: delete one to add another." : ""}`;
}

/** Loads the list; `message` says what was just done, before the count. */
async function loadWebhooks(message = "") {
  const seq = ++webhooks.seq;
  setStatus("webhooks-status", message ? `${message} Loading webhooks…` : "Loading webhooks…");
  $("webhooks-refresh").disabled = true;
  $("webhooks-table").setAttribute("aria-busy", "true");
  try {
    const { body } = await api("/webhooks");
    if (seq !== webhooks.seq) return;
    const data = body && Array.isArray(body.data) ? body.data : [];
    $("webhooks-body").replaceChildren(...data.map(webhookRow));
    const ids = new Set(data.map((w) => w.id));
    if (deliveries.webhook && !ids.has(deliveries.webhook.id)) closeDeliveries();
    setStatus("webhooks-status", `${message ? `${message} ` : ""}${describeWebhooks(data.length)}`);
  } catch (failure) {
    if (seq !== webhooks.seq) return;
    setStatus("webhooks-status", `${message ? `${message} ` : ""}Could not load webhooks: ${failure.message}`, true);
  } finally {
    if (seq === webhooks.seq) {
      $("webhooks-refresh").disabled = false;
      $("webhooks-table").removeAttribute("aria-busy");
    }
  }
}

function openWebhooks() {
  show("webhooks-view");
  $("webhooks-title").focus();
  loadWebhooks();
}

// The secret, shown once.

function showSecret(webhook, how) {
  const box = $("secret-box");
  if (!webhook || !webhook.secret) {
    setStatus("webhooks-status", "The API did not return the secret. Rotate it to get a new one.", true);
    return;
  }
  $("secret-title").textContent = how === "created" ? "Signing secret of the new webhook" : "New signing secret";
  $("secret-for").textContent = webhook.url;
  $("secret-value").textContent = webhook.secret;
  $("secret-note").textContent = how === "created"
    ? "Copy it now and give it to the receiver, which checks every delivery's webhook-signature with it. It will not be shown again."
    : "Copy it now: it will not be shown again. The old secret keeps signing deliveries, beside this one, for 24 hours, so the receiver can switch over without refusing any.";
  setStatus("secret-copied", "");
  box.dataset.webhookId = webhook.id;
  box.hidden = false;
  $("secret-title").focus();
}

function hideSecret() {
  const box = $("secret-box");
  $("secret-value").textContent = "";
  $("secret-for").textContent = "";
  delete box.dataset.webhookId;
  box.hidden = true;
}

async function copySecret() {
  const secret = $("secret-value");
  try {
    await navigator.clipboard.writeText(secret.textContent);
    setStatus("secret-copied", "Copied to the clipboard.");
  } catch {
    // No clipboard access (an insecure origin, or refused): select it instead.
    const range = document.createRange();
    range.selectNodeContents(secret);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setStatus("secret-copied", "Could not copy it automatically. It is selected: press Ctrl+C (⌘C on a Mac).", true);
  }
}

function secretSaved() {
  hideSecret();
  $("webhooks-title").focus();
}

// Add.

function webhookFieldError(name, message) {
  const error = $(`w-${name}-error`);
  error.textContent = error.textContent ? `${error.textContent} ${message}` : message;
  if (name === "events") {
    $("w-events").classList.add("invalid");
  } else {
    $(`w-${name}`).setAttribute("aria-invalid", "true");
    $(`w-${name}`).setAttribute("aria-describedby", error.id);
  }
}

function clearWebhookErrors() {
  $("webhook-error").textContent = "";
  for (const name of ["url", "description", "events"]) $(`w-${name}-error`).textContent = "";
  for (const name of ["url", "description"]) {
    $(`w-${name}`).removeAttribute("aria-invalid");
    $(`w-${name}`).removeAttribute("aria-describedby");
  }
  $("w-events").classList.remove("invalid");
}

function focusFirstWebhookError() {
  const field = document.querySelector("#webhook-form [aria-invalid=true]")
    || ($("w-events").classList.contains("invalid") ? $("w-events").querySelector("input") : null);
  if (field) field.focus();
  return Boolean(field);
}

/** Each of the API's problems beside the field its `source.pointer` names. */
function showWebhookProblems(failure) {
  const fields = { url: "url", description: "description", subscribedEvents: "events" };
  const general = [];
  for (const problem of failure.problems) {
    const pointer = problem.source && problem.source.pointer;
    const name = pointer ? fields[pointer.split("/")[1]] : null;
    const message = problem.detail || problem.title || "Invalid.";
    if (name) webhookFieldError(name, message);
    else general.push(message);
  }
  if (general.length || failure.problems.length === 0) {
    $("webhook-error").textContent = general.join(" ") || failure.message;
  }
  if (!focusFirstWebhookError()) $("w-url").focus();
}

async function loadEventChoices() {
  const box = $("w-events-options");
  if (box.querySelector("input")) return;
  const loading = document.createElement("p");
  loading.className = "muted";
  loading.textContent = "Loading the event types…";
  box.replaceChildren(loading);
  try {
    const types = await eventTypes();
    const choices = types.map((kind, i) => {
      const choice = document.createElement("div");
      choice.className = "check";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.id = `w-event-${i}`;
      input.value = kind.id;
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.textContent = kind.id;
      choice.append(input, label);
      if (kind.description) {
        const about = document.createElement("span");
        about.className = "muted";
        about.id = `w-event-${i}-about`;
        about.textContent = kind.description;
        input.setAttribute("aria-describedby", about.id);
        choice.append(about);
      }
      return choice;
    });
    box.replaceChildren(...choices);
  } catch (failure) {
    box.replaceChildren();
    if (failure.status !== 401) webhookFieldError("events", `Could not load the event types: ${failure.message} Close this form and open it again to retry.`);
  }
}

function openWebhookForm() {
  clearWebhookErrors();
  $("webhook-form").reset();
  $("webhook-dialog").showModal();
  $("w-url").focus();
  loadEventChoices();
}

async function saveWebhook(event) {
  event.preventDefault();
  clearWebhookErrors();
  const url = $("w-url").value.trim();
  const description = $("w-description").value.trim();
  const subscribedEvents = [...document.querySelectorAll("#w-events-options input:checked")].map((input) => input.value);
  if (!url) webhookFieldError("url", "URL is required.");
  if (subscribedEvents.length === 0 && $("w-events-options").querySelector("input")) {
    webhookFieldError("events", "Choose at least one event type.");
  }
  if (focusFirstWebhookError()) return;
  const save = $("webhook-save");
  save.disabled = true;
  save.textContent = "Adding…";
  try {
    const body = { url, subscribedEvents };
    if (description) body.description = description;
    const { body: created } = await api("/webhooks", { method: "POST", body });
    $("webhook-dialog").close();
    showSecret(created, "created");
    loadWebhooks(`Added ${created.url}.`);
  } catch (failure) {
    if (failure.status !== 401) showWebhookProblems(failure);
  } finally {
    save.disabled = false;
    save.textContent = "Add webhook";
  }
}

// Test event and deliveries.

async function sendTestEvent(webhook, button) {
  button.disabled = true;
  setStatus("webhooks-status", `Sending a test event to ${webhook.url}…`);
  try {
    const { body } = await api(webhookPath(webhook, "/test"), { method: "POST" });
    const eventId = body && body.id ? String(body.id) : null;
    setStatus("webhooks-status", `Test event queued for ${webhook.url}. Its delivery shows under Deliveries below.`);
    openDeliveries(webhook, eventId, false);
  } catch (failure) {
    if (failure.status === 404) loadWebhooks("That webhook no longer exists.");
    else if (failure.status !== 401) setStatus("webhooks-status", `Could not send a test event: ${failure.message}`, true);
  } finally {
    button.disabled = false;
  }
}

function deliveryRow(delivery) {
  const tr = document.createElement("tr");
  tr.dataset.deliveryId = delivery.id;
  tr.dataset.eventId = delivery.eventId;
  tr.dataset.outcome = delivery.outcome;
  const event = document.createElement("td");
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = delivery.eventType;
  const id = document.createElement("span");
  id.className = "id muted";
  id.textContent = delivery.eventId;
  event.append(kind, id);
  const outcome = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = OUTCOMES.has(delivery.outcome) ? `outcome ${delivery.outcome}` : "outcome";
  badge.textContent = delivery.outcome;
  outcome.append(badge);
  const response = document.createElement("td");
  if (delivery.response) {
    const snippet = document.createElement("code");
    snippet.className = "snippet";
    snippet.textContent = delivery.response;
    response.append(snippet);
  } else {
    response.textContent = "—";
  }
  const next = delivery.nextAttemptAt ? timeCell(delivery.nextAttemptAt) : cell("—");
  tr.append(
    timeCell(delivery.attemptedAt),
    event,
    outcome,
    cell(String(delivery.attempt ?? "")),
    cell(delivery.status === undefined || delivery.status === null ? "—" : String(delivery.status)),
    cell(delivery.latencyMs === undefined ? "—" : `${delivery.latencyMs} ms`),
    next,
    response,
  );
  return tr;
}

function describeDeliveries(shown) {
  if (shown === 0) {
    if (deliveries.awaiting) return "Waiting for the test event's delivery…";
    return "No deliveries in the last 7 days.";
  }
  return `${plural(shown, "attempt", "attempts")}${deliveries.next ? ", more below" : ""}.`;
}

/** What became of the awaited test event, once its attempt shows. */
function awaitedOutcome() {
  const { awaiting } = deliveries;
  if (!awaiting) return null;
  const row = [...$("deliveries-body").children].find((tr) => tr.dataset.eventId === awaiting.eventId);
  if (!row) return null;
  return row.dataset.outcome === "delivered"
    ? "The test event was delivered."
    : `The test event was not delivered: ${row.dataset.outcome}. See its attempt below.`;
}

/** Loads the first page (`reset`) or the next; `quiet` keeps the status as it is while loading. */
async function loadDeliveries(reset, quiet = false) {
  const { webhook } = deliveries;
  if (!webhook) return;
  const seq = ++deliveries.seq;
  const path = reset ? webhookPath(webhook, "/deliveries") : deliveries.next;
  if (!path) return;
  if (reset) {
    deliveries.next = null;
    $("deliveries-more").hidden = true;
  }
  if (!quiet) setStatus("deliveries-status", "Loading deliveries…");
  $("deliveries-more").disabled = true;
  $("deliveries-table").setAttribute("aria-busy", "true");
  try {
    const { body } = await api(path);
    if (seq !== deliveries.seq) return;
    const rows = $("deliveries-body");
    const data = body && Array.isArray(body.data) ? body.data : [];
    if (reset) rows.replaceChildren();
    for (const delivery of data) rows.append(deliveryRow(delivery));
    deliveries.next = body && body.links && body.links.next ? pathOf(body.links.next) : null;
    $("deliveries-more").hidden = !deliveries.next;
    const outcome = awaitedOutcome();
    if (outcome) stopWatching();
    setStatus("deliveries-status", outcome ? `${outcome} ${describeDeliveries(rows.children.length)}` : describeDeliveries(rows.children.length));
  } catch (failure) {
    if (seq !== deliveries.seq) return;
    stopWatching();
    if (failure.status === 404) {
      setStatus("deliveries-status", "This webhook no longer exists.", true);
      loadWebhooks();
    } else {
      setStatus("deliveries-status", `Could not load deliveries: ${failure.message}`, true);
    }
  } finally {
    if (seq === deliveries.seq) {
      $("deliveries-more").disabled = false;
      $("deliveries-table").removeAttribute("aria-busy");
    }
  }
}

function stopWatching() {
  clearTimeout(deliveries.timer);
  deliveries.timer = null;
  deliveries.awaiting = null;
}

/** Reloads the first page every few seconds until `eventId`'s attempt shows, for a minute at most. */
function watchFor(eventId) {
  stopWatching();
  deliveries.awaiting = { eventId, until: Date.now() + DELIVERY_WAIT_MS };
  const tick = async () => {
    const { awaiting } = deliveries;
    if (!awaiting || awaiting.eventId !== eventId) return;
    if (Date.now() > awaiting.until) {
      stopWatching();
      setStatus("deliveries-status", "The test event has not been attempted yet. Refresh the deliveries to look again.");
      return;
    }
    await loadDeliveries(true, true);
    if (deliveries.awaiting && deliveries.awaiting.eventId === eventId) deliveries.timer = setTimeout(tick, DELIVERY_POLL_MS);
  };
  deliveries.timer = setTimeout(tick, DELIVERY_POLL_MS);
}

/** Shows `webhook`'s deliveries; `eventId`: a test event to wait for. */
function openDeliveries(webhook, eventId, focus) {
  stopWatching();
  deliveries.webhook = webhook;
  deliveries.next = null;
  $("deliveries-body").replaceChildren();
  $("deliveries-for").textContent = webhook.url;
  $("deliveries").hidden = false;
  if (focus) $("deliveries-title").focus();
  if (eventId) deliveries.awaiting = { eventId, until: Date.now() + DELIVERY_WAIT_MS };
  loadDeliveries(true).then(() => {
    if (eventId && deliveries.webhook === webhook && deliveries.awaiting && deliveries.awaiting.eventId === eventId) watchFor(eventId);
  });
}

function refreshDeliveries() {
  loadDeliveries(true);
}

function closeDeliveries() {
  stopWatching();
  deliveries.seq++;
  deliveries.webhook = null;
  deliveries.next = null;
  $("deliveries-body").replaceChildren();
  $("deliveries").hidden = true;
}

// Rotate and delete, each confirmed first.

function confirmWebhook(kind, webhook) {
  webhookConfirm = { kind, webhook };
  const rotate = kind === "rotate";
  $("webhook-confirm-title").textContent = rotate ? "Rotate the signing secret?" : "Delete this webhook?";
  $("webhook-confirm-text").textContent = rotate
    ? "A new secret is made and shown once. The old one keeps signing deliveries, beside the new one, for 24 hours: give the receiver the new secret within that time."
    : "No more events are sent to this URL, retries of failed deliveries included, and its deliveries are no longer shown. This cannot be undone.";
  $("webhook-confirm-url").textContent = webhook.url;
  $("webhook-confirm-error").textContent = "";
  const submit = $("webhook-confirm-submit");
  submit.textContent = rotate ? "Rotate secret" : "Delete webhook";
  submit.className = rotate ? "" : "danger";
  submit.disabled = false;
  $("webhook-confirm").showModal();
  $("webhook-confirm-cancel").focus();
}

async function submitWebhookConfirm(event) {
  event.preventDefault();
  if (!webhookConfirm) return;
  const { kind, webhook } = webhookConfirm;
  const rotate = kind === "rotate";
  const submit = $("webhook-confirm-submit");
  submit.disabled = true;
  submit.textContent = rotate ? "Rotating…" : "Deleting…";
  try {
    if (rotate) {
      const { body } = await api(webhookPath(webhook, "/secret"), { method: "POST" });
      $("webhook-confirm").close();
      setStatus("webhooks-status", `Rotated the secret of ${webhook.url}.`);
      showSecret(body, "rotated");
    } else {
      await api(webhookPath(webhook), { method: "DELETE" });
      $("webhook-confirm").close();
      if (deliveries.webhook && deliveries.webhook.id === webhook.id) closeDeliveries();
      if ($("secret-box").dataset.webhookId === webhook.id) hideSecret();
      $("webhooks-title").focus();
      loadWebhooks(`Deleted ${webhook.url}.`);
    }
  } catch (failure) {
    if (failure.status === 404) {
      $("webhook-confirm").close();
      loadWebhooks("That webhook no longer exists.");
    } else if (failure.status !== 401) {
      $("webhook-confirm-error").textContent = `Could not ${rotate ? "rotate the secret" : "delete"}: ${failure.message}`;
    }
  } finally {
    submit.disabled = false;
    submit.textContent = rotate ? "Rotate secret" : "Delete webhook";
  }
}

// --- Confirmations -----------------------------------------------------------

/**
 * Asks before an action that cannot be undone. `run` makes the call (its
 * failure is shown in the dialog); `done` follows, once the dialog is closed.
 */
function confirmAction({ title, text, subject, action, busyText, run, done }) {
  pendingConfirm = { action, busyText, run, done, busy: false };
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-subject").textContent = subject || "";
  $("confirm-error").textContent = "";
  const submit = $("confirm-submit");
  submit.textContent = action;
  submit.disabled = false;
  $("confirm-dialog").showModal();
  $("confirm-cancel").focus();
}

async function submitConfirm(event) {
  event.preventDefault();
  const pending = pendingConfirm;
  if (!pending || pending.busy) return;
  const submit = $("confirm-submit");
  pending.busy = true;
  submit.disabled = true;
  submit.textContent = pending.busyText;
  try {
    const result = await pending.run();
    pending.busy = false;
    $("confirm-dialog").close();
    if (pending.done) pending.done(result);
  } catch (failure) {
    if (failure.status !== 401) $("confirm-error").textContent = failure.message;
  } finally {
    pending.busy = false;
    submit.disabled = false;
    submit.textContent = pending.action;
  }
}

function confirmConnectionDelete(userId, connection) {
  const institution = connection.institution ? connection.institution.name : "";
  confirmAction({
    title: "Delete this connection?",
    text: "This permanently deletes the connection and its accounts and transactions. This cannot be undone.",
    subject: institution ? `${institution} · ${connection.id}` : connection.id,
    action: "Delete connection",
    busyText: "Deleting…",
    run: async () => {
      try {
        await api(`/users/${encodeURIComponent(userId)}/connections/${encodeURIComponent(connection.id)}`, { method: "DELETE" });
        return "deleted";
      } catch (failure) {
        if (failure.status === 404) return "gone";
        throw failure;
      }
    },
    done: (outcome) => {
      if (!current || current.user.id !== userId) return;
      setStatus("detail-status", outcome === "gone"
        ? "That connection no longer exists."
        : `Deleted the connection${institution ? ` to ${institution}` : ""} and its accounts and transactions.`);
      $("detail-title").focus();
      reloadUser();
    },
  });
}

// --- The audit trail: shared by the Audit view and a user's history --------------

// How the page asks GET /audit for one user, one actor, or a time range.
const AUDIT_FILTER = {
  user: (id) => `userId.eq(${quoted(id)})`,
  actor: (actor) => `actor.eq(${quoted(actor)})`,
  // Whole days, both included, in UTC; an open end is the first or last instant there is.
  range: (from, to) => `createdDate.bt(${quoted(from ? `${from}T00:00:00Z` : "1970-01-01T00:00:00Z")},${quoted(to ? `${to}T23:59:59.999Z` : "9999-12-31T23:59:59.999Z")})`,
};

function actorCell(actor) {
  const td = document.createElement("td");
  td.className = "actor";
  const who = actor || {};
  if (who.name) td.append(line(who.name, "title"));
  if (who.id) {
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link id";
    open.textContent = who.id;
    open.setAttribute("aria-label", `Show what ${who.name || who.id} did`);
    open.addEventListener("click", () => openAudit({ actor: who.id }));
    td.append(open);
  }
  if (!who.name && !who.id) td.textContent = "—";
  return td;
}

function userLink(userId) {
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link id";
  open.textContent = userId;
  open.setAttribute("aria-label", `Open user ${userId}`);
  open.addEventListener("click", () => openUser(userId));
  return open;
}

function targetCell(entry) {
  const td = document.createElement("td");
  td.className = "target";
  const target = entry.target || {};
  if (target.type || target.id) {
    td.append(line(target.type || "", "muted small"));
    if (target.type === "user" && target.id) td.append(userLink(target.id));
    else if (target.id) td.append(line(target.id, "id"));
  }
  if (entry.userId && !(target.type === "user" && target.id === entry.userId)) {
    td.append(line("of user", "muted small"), userLink(entry.userId));
  }
  if (!td.childNodes.length) td.textContent = "—";
  return td;
}

function fieldsText(entry) {
  const names = Array.isArray(entry.fields) ? entry.fields : [];
  const parts = [];
  if (names.length) parts.push(names.join(", "));
  if (entry.reason) parts.push(`Reason: ${entry.reason}`);
  return parts.join(" · ") || "—";
}

function actionBadge(action) {
  const badge = document.createElement("span");
  const verb = String(action || "").split(".").pop();
  badge.className = ACTIONS.has(verb) ? `kind ${verb}` : /refused/.test(verb) ? "kind deleted" : "kind";
  badge.textContent = action || "";
  return badge;
}

/** A row of the audit trail; `compact` (a user's history) leaves out the target and IP. */
function auditRow(entry, compact) {
  const tr = document.createElement("tr");
  tr.dataset.auditId = entry.id || "";
  tr.dataset.action = entry.action || "";
  if (entry.userId) tr.dataset.userId = entry.userId;
  if (entry.correlationId) {
    tr.dataset.correlationId = entry.correlationId;
    tr.title = `Correlation id: ${entry.correlationId}`;
  }
  const what = document.createElement("td");
  what.className = "action";
  what.append(actionBadge(entry.action));
  if (entry.correlationId) what.append(line(entry.correlationId, "id muted small correlation"));
  const cells = [timeCell(entry.createdAt), what, actorCell(entry.actor)];
  if (!compact) cells.push(targetCell(entry));
  cells.push(cell(fieldsText(entry), "changed"));
  if (!compact) {
    const ip = cell(entry.sourceIp || "—", "ip");
    if (entry.userAgent) ip.title = entry.userAgent;
    cells.push(ip);
  }
  tr.append(...cells);
  return tr;
}

// --- A user's history -------------------------------------------------------------

const HISTORY_PAGE = 20;

function resetHistory(userId) {
  userHistory.userId = userId;
  userHistory.seq++;
  userHistory.next = null;
  userHistory.kind = null;
  $("history-body").replaceChildren();
  $("history-table").hidden = true;
  $("history-table").removeAttribute("aria-busy");
  $("history-more").hidden = true;
  setStatus("history-status", "");
  $("history").hidden = true;
}

function historyPath(userId) {
  if (userHistory.kind === "audit") {
    const params = new URLSearchParams({ filter: AUDIT_FILTER.user(userId), limit: String(HISTORY_PAGE) });
    return `/audit?${params}`;
  }
  // As the Activity view asks: an id never carries quotes.
  const params = new URLSearchParams({ filter: `user.id.eq('${userId.replace(/[',()\\]/g, "")}')` });
  return `/events?${params}`;
}

function historyHead() {
  const names = userHistory.kind === "audit" ? ["Time", "Action", "Who", "Fields"] : ["Time", "Event", "Details"];
  $("history-head").replaceChildren(...names.map((name) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    return th;
  }));
}

function historyEventRow(event) {
  const tr = document.createElement("tr");
  tr.dataset.eventId = event.id;
  tr.dataset.eventType = `${event.entity}.${event.eventType}`;
  const type = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = ACTIONS.has(event.eventType) ? `kind ${event.eventType}` : "kind";
  badge.textContent = `${event.entity}.${event.eventType}`;
  type.append(badge);
  tr.append(timeCell(event.createdDate), type, cell(eventDetails(event) || "—"));
  return tr;
}

/**
 * The user's history, newest first: for admins the audit trail (who did
 * what, and from where), for others the events of the last 7 days.
 */
async function loadHistory(reset) {
  const userId = userHistory.userId;
  if (!userId) return;
  if (reset) {
    userHistory.kind = can("admin") ? "audit" : "events";
    userHistory.next = null;
    historyHead();
    $("history-about").textContent = userHistory.kind === "audit"
      ? "Every change to this user and what it owns, from the audit trail: who made it, and the names of the fields it changed."
      : "What changed in the last 7 days: this user's events.";
    $("history").hidden = false;
    $("history-more").hidden = true;
  }
  const seq = ++userHistory.seq;
  const path = reset ? historyPath(userId) : userHistory.next;
  if (!path) return;
  const table = $("history-table");
  setStatus("history-status", "Loading the history…");
  $("history-more").disabled = true;
  table.setAttribute("aria-busy", "true");
  try {
    const { body } = await api(path);
    if (seq !== userHistory.seq) return;
    const rows = $("history-body");
    const data = body && Array.isArray(body.data) ? body.data : [];
    if (reset) rows.replaceChildren();
    rows.append(...data.map((item) => (userHistory.kind === "audit" ? auditRow(item, true) : historyEventRow(item))));
    userHistory.next = body && body.links && body.links.next ? pathOf(body.links.next) : null;
    $("history-more").hidden = !userHistory.next;
    table.hidden = rows.children.length === 0;
    const shown = rows.children.length;
    setStatus("history-status", shown === 0
      ? (userHistory.next ? "Nothing on this page; there may be older entries below." : "No history yet.")
      : `${plural(shown, "entry", "entries")}${userHistory.next ? ", more below" : ""}.`);
  } catch (failure) {
    if (seq !== userHistory.seq) return;
    setStatus("history-status", `Could not load the history: ${failure.message}`, true);
  } finally {
    if (seq === userHistory.seq) {
      $("history-more").disabled = false;
      table.removeAttribute("aria-busy");
    }
  }
}

// --- API keys ------------------------------------------------------------------------

function keyState(key) {
  if (key.revokedAt) return { text: "Revoked", className: "state disabled" };
  if (key.expiresAt && new Date(key.expiresAt).getTime() <= Date.now()) return { text: "Expired", className: "state disabled" };
  return { text: "Active", className: "state active" };
}

function keyRow(key) {
  const tr = document.createElement("tr");
  tr.dataset.keyId = key.id;
  const name = document.createElement("td");
  name.className = "name";
  name.append(line(key.name || "", "title"), line(key.id || "", "id muted small"));
  const prefix = cell(key.prefix ? `${key.prefix}…` : "—", "id prefix");
  const state = keyState(key);
  const status = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = state.className;
  badge.textContent = state.text;
  status.append(badge);
  if (key.revokedAt) status.title = `Revoked ${when(key.revokedAt)}`;
  const actions = document.createElement("td");
  if (!key.revokedAt) {
    actions.append(rowButton("Revoke", `Revoke API key ${key.name || key.id}`, "secondary danger-text", () => confirmRevoke(key)));
  }
  const labelled = (td, label) => {
    td.dataset.label = label;
    return td;
  };
  tr.append(
    name,
    prefix,
    labelled(createdByCell(key), "Created by"),
    labelled(key.createdAt ? timeCell(key.createdAt) : cell("—"), "Created"),
    labelled(key.lastUsedAt ? timeCell(key.lastUsedAt) : cell("Never"), "Last used"),
    labelled(key.expiresAt ? timeCell(key.expiresAt) : cell("Never"), "Expires"),
    status,
    actions,
  );
  return tr;
}

/** What the rows shown say: how many keys, how many active, and whether older ones follow. */
function describeKeys(shown) {
  if (shown.length === 0) {
    return keys.next ? "No keys on this page; there may be older ones below." : "No API keys yet. Create one for each server that calls the API.";
  }
  const active = shown.filter((key) => keyState(key).text === "Active").length;
  return `${plural(shown.length, "key", "keys")}, ${active} active${keys.next ? ", older keys below" : ""}.`;
}

/**
 * Loads the newest page of keys (`reset`, the default) or, with *Load more*,
 * the page after those shown (`links.next`); `message` says what was just
 * done, before the count.
 */
async function loadKeys(message = "", reset = true) {
  const seq = ++keys.seq;
  const path = reset ? "/api-keys" : keys.next;
  if (!path) return;
  if (reset) {
    keys.next = null;
    $("keys-more").hidden = true;
  }
  setStatus("keys-status", message ? `${message} Loading API keys…` : "Loading API keys…");
  $("keys-more").disabled = true;
  $("keys-refresh").disabled = true;
  $("keys-table").setAttribute("aria-busy", "true");
  try {
    const { body } = await api(path);
    if (seq !== keys.seq) return;
    const data = body && Array.isArray(body.data) ? body.data : [];
    const rows = $("keys-body");
    if (reset) {
      keys.shown = [];
      rows.replaceChildren();
    }
    keys.shown.push(...data);
    rows.append(...data.map(keyRow));
    keys.next = body && body.links && body.links.next ? pathOf(body.links.next) : null;
    $("keys-more").hidden = !keys.next;
    setStatus("keys-status", `${message ? `${message} ` : ""}${describeKeys(keys.shown)}`);
  } catch (failure) {
    if (seq !== keys.seq) return;
    setStatus("keys-status", `${message ? `${message} ` : ""}Could not load API keys: ${failure.message}`, true);
  } finally {
    if (seq === keys.seq) {
      $("keys-more").disabled = false;
      $("keys-refresh").disabled = false;
      $("keys-table").removeAttribute("aria-busy");
    }
  }
}

function openKeys() {
  show("keys-view");
  $("keys-title").focus();
  loadKeys();
}

function showKey(created) {
  if (!created || !created.key) {
    setStatus("keys-status", "The API did not return the key. Revoke it and create another.", true);
    return;
  }
  $("key-box-title").textContent = `New API key: ${created.name}`;
  $("key-box-for").textContent = created.id || "";
  $("key-value").textContent = created.key;
  setStatus("key-copied", "");
  $("key-box").hidden = false;
  $("key-box-title").focus();
}

function hideKey() {
  $("key-value").textContent = "";
  $("key-box-for").textContent = "";
  $("key-box").hidden = true;
}

async function copyKey() {
  const value = $("key-value");
  try {
    await navigator.clipboard.writeText(value.textContent);
    setStatus("key-copied", "Copied to the clipboard.");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(value);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setStatus("key-copied", "Could not copy it automatically. It is selected: press Ctrl+C (⌘C on a Mac).", true);
  }
}

const KEY_FIELDS = { name: "k-name", expiresAt: "k-expires" };

function keyFieldError(name, message) {
  const id = KEY_FIELDS[name];
  const error = $(`${id}-error`);
  error.textContent = error.textContent ? `${error.textContent} ${message}` : message;
  $(id).setAttribute("aria-invalid", "true");
  $(id).setAttribute("aria-describedby", name === "expiresAt" ? `k-expires-about ${error.id}` : error.id);
}

function clearKeyErrors() {
  $("key-error").textContent = "";
  for (const [name, id] of Object.entries(KEY_FIELDS)) {
    $(`${id}-error`).textContent = "";
    $(id).removeAttribute("aria-invalid");
    if (name === "expiresAt") $(id).setAttribute("aria-describedby", "k-expires-about");
    else $(id).removeAttribute("aria-describedby");
  }
}

function focusFirstKeyError() {
  const field = document.querySelector("#key-form [aria-invalid=true]");
  if (field) field.focus();
  return Boolean(field);
}

function openKeyForm() {
  clearKeyErrors();
  $("key-form").reset();
  $("key-dialog").showModal();
  $("k-name").focus();
}

async function saveKey(event) {
  event.preventDefault();
  clearKeyErrors();
  const name = $("k-name").value.trim();
  const expires = $("k-expires").value;
  if (!name) keyFieldError("name", "Name the key after the server that will use it.");
  if ($("k-expires").validity.badInput) keyFieldError("expiresAt", "Enter a whole date, or clear the field.");
  else if (expires && expires <= new Date().toISOString().slice(0, 10)) keyFieldError("expiresAt", "Choose a day after today.");
  if (focusFirstKeyError()) return;
  const save = $("key-save");
  save.disabled = true;
  save.textContent = "Creating…";
  try {
    const body = { name };
    if (expires) body.expiresAt = `${expires}T00:00:00Z`;
    const { body: created } = await api("/api-keys", { method: "POST", body });
    $("key-dialog").close();
    showKey(created);
    loadKeys(`Created ${created.name || name}.`);
  } catch (failure) {
    if (failure.status === 401) return;
    const general = [];
    for (const problem of failure.problems) {
      const pointer = problem.source && problem.source.pointer;
      const field = pointer ? pointer.split("/")[1] : null;
      const message = problem.detail || problem.title || "Invalid.";
      if (field in KEY_FIELDS) keyFieldError(field, message);
      else general.push(message);
    }
    if (general.length || failure.problems.length === 0) $("key-error").textContent = general.join(" ") || failure.message;
    if (!focusFirstKeyError()) $("k-name").focus();
  } finally {
    save.disabled = false;
    save.textContent = "Create key";
  }
}

function confirmRevoke(key) {
  confirmAction({
    title: "Revoke this API key?",
    text: "Servers using it can no longer buy tokens with it, and the tokens it already bought stop working within the key-check interval (a minute by default). This cannot be undone.",
    subject: `${key.name}${key.prefix ? ` (${key.prefix}…)` : ""}`,
    action: "Revoke key",
    busyText: "Revoking…",
    run: async () => {
      try {
        await api(`/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
        return "revoked";
      } catch (failure) {
        if (failure.status === 404) return "gone";
        throw failure;
      }
    },
    done: (outcome) => {
      $("keys-title").focus();
      loadKeys(outcome === "gone" ? "That key no longer exists." : `Revoked ${key.name}.`);
    },
  });
}

// --- Audit ---------------------------------------------------------------------------

const AUDIT_FIELDS = { user: "audit-user", actor: "audit-actor", from: "audit-from", to: "audit-to" };

function auditPath() {
  const terms = [];
  if (audit.user) terms.push(AUDIT_FILTER.user(audit.user));
  if (audit.actor) terms.push(AUDIT_FILTER.actor(audit.actor));
  if (audit.from || audit.to) terms.push(AUDIT_FILTER.range(audit.from, audit.to));
  return terms.length ? `/audit?${new URLSearchParams({ filter: terms.join(",") })}` : "/audit";
}

function auditFiltered() {
  return Boolean(audit.user || audit.actor || audit.from || audit.to);
}

function describeAudit(shown) {
  if (shown === 0) {
    if (audit.next) return "No entries on this page; there may be older ones below.";
    return auditFiltered() ? "No entries match these filters." : "No entries yet.";
  }
  return `${plural(shown, "entry", "entries")}${auditFiltered() ? " matching the filters" : ""}${audit.next ? ", more below" : ""}.`;
}

function clearAuditErrors() {
  for (const id of Object.values(AUDIT_FIELDS)) {
    $(`${id}-error`).textContent = "";
    $(id).removeAttribute("aria-invalid");
    $(id).removeAttribute("aria-describedby");
  }
}

function auditFieldError(name, message) {
  const id = AUDIT_FIELDS[name];
  $(`${id}-error`).textContent = message;
  $(id).setAttribute("aria-invalid", "true");
  $(id).setAttribute("aria-describedby", `${id}-error`);
}

/** Which filter a refusal is about, from its words: a date, the actor, else the user id. */
function refusedAuditField(message) {
  if (/date|time|range/i.test(message) && (audit.from || audit.to)) return audit.from ? "from" : "to";
  if (/actor/i.test(message) && audit.actor) return "actor";
  if (audit.user) return "user";
  if (audit.actor) return "actor";
  return audit.from ? "from" : audit.to ? "to" : null;
}

async function loadAudit(reset) {
  const seq = ++audit.seq;
  const path = reset ? auditPath() : audit.next;
  if (!path) return;
  if (reset) {
    audit.next = null;
    $("audit-more").hidden = true;
  }
  setStatus("audit-status", "Loading the audit trail…");
  $("audit-more").disabled = true;
  $("audit-refresh").disabled = true;
  $("audit-table").setAttribute("aria-busy", "true");
  try {
    const { body } = await api(path);
    if (seq !== audit.seq) return;
    const rows = $("audit-body");
    const data = body && Array.isArray(body.data) ? body.data : [];
    if (reset) rows.replaceChildren();
    rows.append(...data.map((entry) => auditRow(entry, false)));
    audit.next = body && body.links && body.links.next ? pathOf(body.links.next) : null;
    $("audit-more").hidden = !audit.next;
    setStatus("audit-status", describeAudit(rows.children.length));
  } catch (failure) {
    if (seq !== audit.seq) return;
    const refusedFilter = (failure.problems || []).some((p) => p.source && p.source.parameter === "filter");
    const field = failure.status === 400 && refusedFilter && auditFiltered() ? refusedAuditField(failure.message) : null;
    if (field) {
      auditFieldError(field, failure.message);
      $("audit-body").replaceChildren();
      $("audit-more").hidden = true;
      setStatus("audit-status", "Check the filters.", true);
    } else {
      setStatus("audit-status", `Could not load the audit trail: ${failure.message}`, true);
    }
  } finally {
    if (seq === audit.seq) {
      $("audit-more").disabled = false;
      $("audit-refresh").disabled = false;
      $("audit-table").removeAttribute("aria-busy");
    }
  }
}

/** Opens the Audit view; `filters` ({ user, actor }) replace those applied. */
function openAudit(filters) {
  if (filters) {
    Object.assign(audit, { user: "", actor: "", from: "", to: "" }, filters);
    $("audit-user").value = audit.user;
    $("audit-actor").value = audit.actor;
    $("audit-from").value = "";
    $("audit-to").value = "";
  }
  clearAuditErrors();
  show("audit-view");
  $("audit-title").focus();
  loadAudit(true);
}

function applyAuditFilters(event) {
  if (event) event.preventDefault();
  clearAuditErrors();
  let incomplete = false;
  for (const name of ["from", "to"]) {
    if ($(AUDIT_FIELDS[name]).validity.badInput) {
      auditFieldError(name, "Enter a whole date, or clear the field.");
      incomplete = true;
    }
  }
  if (incomplete) {
    setStatus("audit-status", "Finish the date to filter by it.", true);
    return;
  }
  audit.user = $("audit-user").value.trim();
  audit.actor = $("audit-actor").value.trim();
  audit.from = $("audit-from").value;
  audit.to = $("audit-to").value;
  loadAudit(true);
}

function clearAuditFilters() {
  for (const id of Object.values(AUDIT_FIELDS)) $(id).value = "";
  applyAuditFilters();
  $("audit-user").focus();
}

// --- Create and edit ---------------------------------------------------------

function input(name) {
  return $(`f-${name}`);
}

function clearErrors() {
  $("form-error").textContent = "";
  $("conflict").hidden = true;
  for (const error of document.querySelectorAll("#user-form .field-error")) error.textContent = "";
  for (const field of document.querySelectorAll("#user-form [aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
}

function fieldError(name, message) {
  const field = input(name);
  const error = $(`f-${name}-error`);
  if (!field || !error) return false;
  error.textContent = message;
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", error.id);
  if (field.closest("details")) $("business").open = true;
  return true;
}

/** Puts each of the API's problems next to the field its `source.pointer` names. */
function showProblems(failure) {
  const general = [];
  for (const problem of failure.problems) {
    const pointer = problem.source && problem.source.pointer;
    const name = pointer ? pointer.split("/").pop() : null;
    const message = problem.detail || problem.title || "Invalid.";
    if (!name || !fieldError(name, message)) general.push(message);
  }
  if (general.length || failure.problems.length === 0) {
    $("form-error").textContent = general.join(" ") || failure.message;
  }
  const first = document.querySelector("#user-form [aria-invalid=true]");
  if (first) first.focus();
}

function fillForm(user) {
  for (const name of FIELDS) input(name).value = (user && user[name]) || "";
  const address = (user && user.businessAddress) || {};
  for (const name of ADDRESS_FIELDS) input(name).value = address[name] || "";
  $("business").open = Boolean(user && (user.businessName || user.businessIdNo || user.businessAddress));
}

function readForm() {
  const values = {};
  for (const name of FIELDS) values[name] = input(name).value.trim();
  const address = {};
  for (const name of ADDRESS_FIELDS) {
    const value = input(name).value.trim();
    if (value) address[name] = value;
  }
  values.businessAddress = Object.keys(address).length ? address : null;
  return values;
}

function openForm(mode) {
  form = { mode, idempotencyKey: crypto.randomUUID() };
  clearErrors();
  fillForm(mode === "edit" ? current.user : null);
  $("user-dialog-title").textContent = mode === "edit" ? "Edit User" : "Create User";
  $("save-user").textContent = mode === "edit" ? "Save changes" : "Create user";
  $("delete-user").hidden = mode !== "edit";
  $("user-dialog").showModal();
  input("email").focus();
}

/** Only what changed, with a blank meaning "clear it", as the PATCH takes it. */
function changes(before, after) {
  const patch = {};
  for (const name of FIELDS) {
    if ((before[name] || "") !== after[name]) patch[name] = after[name] || null;
  }
  if (JSON.stringify(before.businessAddress || null) !== JSON.stringify(after.businessAddress)) {
    patch.businessAddress = after.businessAddress;
  }
  // The number is checked against its type, so the API needs both together.
  if ("businessIdNo" in patch || "businessIdNoType" in patch) {
    patch.businessIdNo = after.businessIdNo || null;
    patch.businessIdNoType = after.businessIdNoType || null;
  }
  return patch;
}

function creation(values) {
  const body = {};
  for (const name of FIELDS) if (values[name]) body[name] = values[name];
  if (values.businessAddress) body.businessAddress = values.businessAddress;
  return body;
}

async function saveForm(event) {
  event.preventDefault();
  clearErrors();
  const values = readForm();
  const save = $("save-user");
  if (form.mode === "create") {
    // The dashboard asks for both, as the product brief says; the API needs one.
    if (!values.email) fieldError("email", "Email is required.");
    if (!values.mobile) fieldError("mobile", "Mobile is required.");
    const first = document.querySelector("#user-form [aria-invalid=true]");
    if (first) {
      first.focus();
      return;
    }
  }
  save.disabled = true;
  const label = save.textContent;
  save.textContent = "Saving…";
  try {
    if (form.mode === "create") {
      const { body } = await api("/users", {
        method: "POST",
        body: creation(values),
        headers: { "idempotency-key": form.idempotencyKey },
      });
      $("user-dialog").close();
      showCreated(body);
    } else {
      const patch = changes(current.user, values);
      if (Object.keys(patch).length === 0) {
        $("form-error").textContent = "Nothing has changed.";
        return;
      }
      const headers = current.etag ? { "if-match": current.etag } : {};
      const { body, etag } = await api(`/users/${encodeURIComponent(current.user.id)}`, { method: "PATCH", body: patch, headers });
      current = { user: { ...current.user, ...body, connections: current.user.connections, accounts: current.user.accounts }, etag };
      list.stale = true;
      $("user-dialog").close();
      renderDetail();
      setStatus("detail-status", "Saved.");
    }
  } catch (failure) {
    if (failure.status === 412) {
      $("conflict").hidden = false;
      $("conflict-reload").focus();
    } else if (failure.status !== 401) {
      showProblems(failure);
    }
  } finally {
    save.disabled = false;
    save.textContent = label;
  }
}

function showCreated(user) {
  show("users-view");
  const rows = $("users-body");
  rows.prepend(userRow(user));
  setStatus("list-status", `Created ${fullName(user) || user.email}.`);
  rows.firstElementChild.querySelector("button").focus();
}

async function reloadAfterConflict() {
  try {
    current = await fetchUser(current.user.id);
    renderDetail();
    clearErrors();
    fillForm(current.user);
    $("form-error").textContent = "Loaded the latest version. Make your changes again.";
    input("email").focus();
  } catch (failure) {
    $("form-error").textContent = failure.status === 404 ? "This user has been deleted." : `Could not reload: ${failure.message}`;
  }
}

// --- Delete ------------------------------------------------------------------

function confirmMatches() {
  if (!current) return false;
  const typed = $("delete-confirm").value.trim();
  const { user } = current;
  return typed !== "" && (typed === user.id || (user.email && typed.toLowerCase() === user.email.toLowerCase()));
}

function openDelete() {
  $("delete-who").textContent = current.user.email || current.user.id;
  $("delete-confirm").value = "";
  $("delete-error").textContent = "";
  $("delete-submit").disabled = true;
  $("delete-dialog").showModal();
  $("delete-confirm").focus();
}

async function deleteUser(event) {
  event.preventDefault();
  if (!confirmMatches()) return;
  const { user } = current;
  const submit = $("delete-submit");
  submit.disabled = true;
  submit.textContent = "Deleting…";
  try {
    const { status } = await api(`/users/${encodeURIComponent(user.id)}`, { method: "DELETE" });
    deleted.add(user.id);
    $("delete-dialog").close();
    $("user-dialog").close();
    for (const row of $("users-body").querySelectorAll("tr")) {
      if (row.dataset.userId === user.id) row.remove();
    }
    current = null;
    show("users-view");
    setStatus("list-status", status === 202
      ? `Deleted ${user.email || user.id}. The rest of their data is being removed in the background.`
      : `Deleted ${user.email || user.id} and all of their data.`);
    $("search").focus();
  } catch (failure) {
    if (failure.status !== 401) $("delete-error").textContent = `Could not delete: ${failure.message}`;
  } finally {
    submit.textContent = "Delete permanently";
    submit.disabled = !confirmMatches();
  }
}

// --- Wiring ------------------------------------------------------------------

function enter() {
  const session = storedSession();
  if (!session) {
    endSession();
    return;
  }
  scheduleExpiry(session);
  const who = session.email || session.name || session.id;
  $("session-user").textContent = `${who} · ${session.role}`;
  $("session-user").title = session.id || "";
  applyRole();
  $("session").hidden = false;
  $("nav").hidden = false;
  show("users-view");
  list.query = "";
  loadUsers(true);
  $("search").focus();
}

/** Reads the identity provider's settings; without them, sign-in says what to configure. */
async function loadProvider() {
  try {
    const response = await fetch("/assets/config.json", { headers: { accept: "application/json" } });
    const config = await readJson(response);
    if (!response.ok || !config) throw new Error(`it answered ${response.status}`);
    return { issuer: config.issuer || null, clientId: config.clientId || null, problem: config.problem || null };
  } catch (err) {
    return { issuer: null, clientId: null, problem: `Could not read the sign-in settings (${err.message || err}). Reload the page.` };
  }
}

async function start() {
  $("signin-submit").addEventListener("click", beginSignIn);
  $("sign-out").addEventListener("click", signOut);
  $("search").addEventListener("input", onSearchInput);
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      clearTimeout(list.timer);
      list.query = $("search").value.trim();
      loadUsers(true);
    }
  });
  $("load-more").addEventListener("click", () => loadUsers(false));
  $("create-user").addEventListener("click", () => openForm("create"));
  $("back").addEventListener("click", showList);
  $("nav-users").addEventListener("click", showList);
  $("transaction-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    applyTransactionFilters();
  });
  $("txn-account").addEventListener("change", applyTransactionFilters);
  $("txn-from").addEventListener("change", onTransactionDate);
  $("txn-to").addEventListener("change", onTransactionDate);
  $("txn-clear").addEventListener("click", clearTransactionFilters);
  $("transactions-more").addEventListener("click", () => loadTransactions(false));
  $("nav-activity").addEventListener("click", () => openActivity(""));
  $("user-activity").addEventListener("click", () => openActivity(shownUserId));
  $("activity-filters").addEventListener("submit", applyActivityFilters);
  $("activity-type").addEventListener("change", () => applyActivityFilters());
  $("activity-clear").addEventListener("click", clearActivityFilters);
  $("activity-refresh").addEventListener("click", () => applyActivityFilters());
  $("activity-more").addEventListener("click", () => loadEvents(false));
  $("nav-webhooks").addEventListener("click", openWebhooks);
  $("webhooks-refresh").addEventListener("click", () => loadWebhooks());
  $("add-webhook").addEventListener("click", openWebhookForm);
  $("webhook-form").addEventListener("submit", saveWebhook);
  $("webhook-cancel").addEventListener("click", () => $("webhook-dialog").close());
  $("secret-copy").addEventListener("click", copySecret);
  $("secret-done").addEventListener("click", secretSaved);
  $("deliveries-refresh").addEventListener("click", refreshDeliveries);
  $("deliveries-close").addEventListener("click", () => {
    closeDeliveries();
    $("webhooks-title").focus();
  });
  $("deliveries-more").addEventListener("click", () => loadDeliveries(false));
  $("webhook-confirm-form").addEventListener("submit", submitWebhookConfirm);
  $("webhook-confirm-cancel").addEventListener("click", () => $("webhook-confirm").close());
  $("edit-user").addEventListener("click", () => openForm("edit"));
  $("user-form").addEventListener("submit", saveForm);
  $("cancel-user").addEventListener("click", () => $("user-dialog").close());
  $("conflict-reload").addEventListener("click", reloadAfterConflict);
  $("delete-user").addEventListener("click", openDelete);
  $("delete-confirm").addEventListener("input", () => {
    $("delete-submit").disabled = !confirmMatches();
  });
  $("delete-form").addEventListener("submit", deleteUser);
  $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
  $("detail-title").tabIndex = -1;

  $("history-more").addEventListener("click", () => loadHistory(false));
  $("nav-keys").addEventListener("click", openKeys);
  $("keys-refresh").addEventListener("click", () => loadKeys());
  $("keys-more").addEventListener("click", () => loadKeys("", false));
  $("create-key").addEventListener("click", openKeyForm);
  $("key-form").addEventListener("submit", saveKey);
  $("key-cancel").addEventListener("click", () => $("key-dialog").close());
  $("key-copy").addEventListener("click", copyKey);
  $("key-done").addEventListener("click", () => {
    hideKey();
    $("keys-title").focus();
  });
  $("nav-audit").addEventListener("click", () => openAudit());
  $("audit-filters").addEventListener("submit", applyAuditFilters);
  $("audit-clear").addEventListener("click", clearAuditFilters);
  $("audit-refresh").addEventListener("click", () => loadAudit(true));
  $("audit-more").addEventListener("click", () => loadAudit(false));
  $("confirm-form").addEventListener("submit", submitConfirm);
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("confirm-dialog").addEventListener("close", () => {
    if (pendingConfirm && !pendingConfirm.busy) pendingConfirm = null;
  });
  // Back from the provider's page through the browser's history: the
  // page is as it was left, half way into a sign-in.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    $("signin-submit").disabled = false;
    $("signin-submit").textContent = "Sign in";
  });
  applyRole();

  provider = await loadProvider();
  const params = new URLSearchParams(location.search);
  if (provider.issuer && (params.has("code") || params.has("error"))) {
    show("signin-view");
    $("signin-submit").hidden = true;
    setStatus("signin-notice", "Signing in…");
    try {
      await finishSignIn(params);
      enter();
    } catch (failure) {
      sessionStorage.removeItem(SESSION_KEY);
      endSession(failure instanceof SignInFailure || failure instanceof ApiFailure ? failure.message : `Could not sign in: ${failure.message}`, true);
    }
    return;
  }
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  if (storedSession()) enter();
  else endSession(notice || "");
}

start();
