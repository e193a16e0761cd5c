// Operators and their roles in a real browser: Debian's Chromium driven by
// playwright-core, each operator signing in through the local identity
// provider's login form (infra/idp/idp.mjs, a real OpenID provider) in a
// browser context of their own. Run by tests/tests/dashboard_e2e.rs, which
// starts the stack and the provider and passes BASE_URL, ARTIFACTS,
// OPERATORS, and the users it made: VICTIM_ID and VICTIM_EMAIL (the editor
// deletes them), SUBJECT_ID (the editor edits them). Prints, as its last
// line, the API key the admin made and revoked, for the test to try again.
//
// - a forged return from the provider (a state this tab never sent) is
//   refused before any code is exchanged, and an ID token whose nonce is
//   another sign-in's before it reaches the API;
// - the viewer sees no action and the API refuses them (403);
// - the editor edits one user and deletes another through the page;
// - the admin sees the deletion, with the editor's email, on the Audit page
//   and the edit in the user's history; creates an API key, uses it, revokes
//   it, and it is refused; pages through the keys with Load more.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { launch, operators, signIn, signOut, watchProblems } from "./browser.mjs";

const { BASE_URL, ARTIFACTS, VICTIM_ID, VICTIM_EMAIL, SUBJECT_ID } = process.env;
assert.ok(BASE_URL && ARTIFACTS && VICTIM_ID && VICTIM_EMAIL && SUBJECT_ID, "BASE_URL, ARTIFACTS, VICTIM_ID, VICTIM_EMAIL and SUBJECT_ID are set");
mkdirSync(ARTIFACTS, { recursive: true });
const { admin, editor, viewer } = operators();
// How long a change may take to reach the audit trail: the local stream
// poller hands its records to the events function within a second or two.
const AUDIT_LAG_MS = 60_000;

const step = (name) => console.error(`step: ${name}`);
const browser = await launch();
const problems = [];
let page = null;

/** A fresh browser context (no cookies: no single sign-on) and its page. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE_URL });
  const opened = await context.newPage();
  opened.setDefaultTimeout(30_000);
  watchProblems(opened, problems);
  return opened;
}

const button = (name) => page.getByRole("button", { name, exact: true });
const nav = () => page.getByRole("navigation", { name: "Dashboard" });

/** The API's answer to a call made from the page with the signed-in operator's token. */
function callApi(method, path, { body, headers = {} } = {}) {
  return page.evaluate(async ({ method, path, body, headers }) => {
    const { token } = JSON.parse(sessionStorage.getItem("users-dashboard.session"));
    const init = { method, headers: { ...headers, authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }, { method, path, body, headers });
}

/** POST /token with an API key, as a server does: the status. */
function buyToken(key) {
  return page.evaluate(async (key) => {
    const response = await fetch("/token", {
      method: "POST",
      headers: { authorization: `Basic ${key}`, "basiq-version": "3.0", "content-type": "application/x-www-form-urlencoded" },
      body: "scope=SERVER_ACCESS",
    });
    const body = await response.json().catch(() => null);
    return { status: response.status, token: body && body.access_token };
  }, key);
}

async function openUser(search, name) {
  await page.getByLabel(/Search by id/).fill(search);
  const row = page.locator("#users-body tr", { hasText: name });
  await row.waitFor();
  await row.getByRole("button").click();
  await page.locator("#detail-title", { hasText: name }).waitFor();
}

async function visibleNav() {
  const names = [];
  for (const name of ["Users", "Activity", "Webhooks", "API keys", "Audit"]) {
    if (await nav().getByRole("button", { name, exact: true }).isVisible()) names.push(name);
  }
  return names;
}

try {
  step("a return from the provider with a state this tab never sent is refused, and no code is exchanged");
  page = await newPage();
  const exchanges = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).origin !== new URL(BASE_URL).origin) exchanges.push(request.url());
  });
  await page.goto(`${BASE_URL}/?code=stolen-code&state=forged-state`);
  await page.locator("#signin-error", { hasText: "could not be verified" }).waitFor();
  assert.equal(page.url(), `${BASE_URL}/`, "the code is gone from the address");
  assert.deepEqual(exchanges, [], "no token request");
  assert.ok(await page.getByRole("button", { name: "Sign in", exact: true }).isVisible(), "sign in again from here");
  await page.screenshot({ path: join(ARTIFACTS, "signin-refused.png") });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("users-dashboard.session")), null);
  // A crafted link with an error and any text: the text is not shown, since
  // this tab never started that sign-in.
  await page.goto(`${BASE_URL}/?error=access_denied&error_description=Call%20+1%20555%200100%20for%20support&state=forged-state`);
  await page.locator("#signin-error", { hasText: "could not be verified" }).waitFor();
  assert.ok(!(await page.locator("#signin-error").textContent()).includes("555"), "the link's text is not shown");
  await page.context().close();

  step("an ID token minted for another sign-in (its nonce is not this one's) is refused, and the API is not called");
  page = await newPage();
  const signIns = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/sign-ins") signIns.push(request.url());
  });
  const provider = (url) => url.origin !== new URL(BASE_URL).origin && url.pathname === "/token";
  await page.route(provider, async (route) => {
    const response = await route.fetch();
    const tokens = await response.json();
    const [header, payload, signature] = tokens.id_token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    const replayed = Buffer.from(JSON.stringify({ ...claims, nonce: "another-sign-in" })).toString("base64url");
    await route.fulfill({ response, json: { ...tokens, id_token: `${header}.${replayed}.${signature}` } });
  });
  await page.goto(`${BASE_URL}/`);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((url) => url.origin !== new URL(BASE_URL).origin);
  await page.getByLabel("Email", { exact: true }).fill(viewer.email);
  await page.getByLabel("Password", { exact: true }).fill(viewer.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#signin-error", { hasText: "not for this sign-in" }).waitFor();
  assert.equal(page.url(), `${BASE_URL}/`, "the code is gone from the address");
  assert.deepEqual(signIns, [], "the token never reached the API");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("users-dashboard.session")), null);
  await page.context().close();

  step("viewer: signs in; the header says who and with which role");
  page = await newPage();
  await signIn(page, BASE_URL, viewer);
  assert.equal(await page.locator("#session-user").textContent(), `${viewer.email} · viewer`);
  assert.deepEqual(await visibleNav(), ["Users", "Activity"], "no Webhooks, API keys or Audit");
  assert.ok(await button("Create User").isHidden(), "no Create User");

  step("viewer: a user's detail has no edit and no delete, and a history of events");
  await openUser(VICTIM_EMAIL, "Rita Remove");
  await page.locator("#connections-body tr").first().waitFor();
  assert.ok(await button("Edit User").isHidden(), "no Edit User");
  assert.equal(await page.getByRole("button", { name: /^Delete/ }).count(), 0, "no delete button anywhere");
  assert.equal(await page.locator("#connections-body button").count(), 0, "no connection actions");
  await page.locator("#history").waitFor();
  assert.deepEqual(await page.locator("#history-head th").allTextContents(), ["Time", "Event", "Details"], "a viewer sees the user's events");
  await page.locator("#history-status").filter({ hasText: /\S/ }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "viewer-detail.png"), fullPage: true });

  step("viewer: the API refuses a deletion anyway (403)");
  const refused = await callApi("DELETE", `/users/${VICTIM_ID}`);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.data[0].code, "forbidden-access");
  console.error(`operators: the viewer's DELETE was refused: “${refused.body.data[0].detail}”`);
  assert.equal((await callApi("GET", "/audit")).status, 403, "and the audit trail");
  assert.equal((await callApi("GET", `/users/${VICTIM_ID}`)).status, 200, "while reading is allowed");
  await page.context().close();

  step("editor: signs in; users can be changed, webhooks, keys and the audit are not shown");
  page = await newPage();
  await signIn(page, BASE_URL, editor);
  assert.deepEqual(await visibleNav(), ["Users", "Activity"]);
  assert.ok(await button("Create User").isVisible());

  step("editor: edits a user");
  await page.locator(`#users-body tr[data-user-id="${SUBJECT_ID}"]`).getByRole("button").click();
  await page.locator("#detail-title", { hasText: "Hugo History" }).waitFor();
  await button("Edit User").click();
  await page.locator("#user-dialog").waitFor();
  await page.getByLabel("Middle name", { exact: true }).fill("Edited");
  await button("Save changes").click();
  await page.locator("#detail-title", { hasText: "Hugo Edited History" }).waitFor();
  await button("← All users").click();

  step("editor: a connection can be deleted, a user too");
  await openUser(VICTIM_EMAIL, "Rita Remove");
  const connection = page.locator("#connections-body tr").first();
  await connection.waitFor();
  assert.ok(await connection.getByRole("button", { name: /^Delete connection/ }).isVisible(), "the editor may delete a connection");
  await button("Edit User").click();
  await page.locator("#user-dialog").waitFor();
  await button("Delete user…").click();
  await page.locator("#delete-dialog").waitFor();
  await page.getByLabel("Type the user's email or id to confirm", { exact: true }).fill(VICTIM_EMAIL);
  await button("Delete permanently").click();
  await page.locator("#delete-dialog").waitFor({ state: "hidden" });
  await page.locator("#list-status", { hasText: `Deleted ${VICTIM_EMAIL}` }).waitFor();
  const deletedAt = Date.now();
  await page.context().close();

  step("admin: signs in and sees every page");
  page = await newPage();
  await signIn(page, BASE_URL, admin);
  assert.deepEqual(await visibleNav(), ["Users", "Activity", "Webhooks", "API keys", "Audit"]);

  step("admin: the deletion on the Audit page, with the editor's email");
  await nav().getByRole("button", { name: "Audit", exact: true }).click();
  await page.locator("#audit-view").waitFor();
  assert.equal(await nav().getByRole("button", { name: "Audit", exact: true }).getAttribute("aria-current"), "page");
  await page.getByLabel("User", { exact: true }).fill(VICTIM_ID);
  await button("Filter").click();
  const deletion = page.locator(`#audit-body tr[data-action="user.deleted"][data-user-id="${VICTIM_ID}"]`);
  const auditSettled = () => page.waitForFunction(() => !document.getElementById("audit-table").hasAttribute("aria-busy"));
  await auditSettled();
  while ((await deletion.count()) === 0) {
    const status = await page.locator("#audit-status").textContent();
    assert.ok(Date.now() - deletedAt < AUDIT_LAG_MS, `the deletion reaches the audit trail within ${AUDIT_LAG_MS / 1000} s (the page says “${status}”)`);
    await page.waitForTimeout(500);
    await button("Refresh").click();
    await auditSettled();
  }
  console.error(`operators: the deletion shown in the audit ${Date.now() - deletedAt} ms after it was made`);
  assert.equal(await deletion.count(), 1, "one entry for one deletion");
  const actor = await deletion.locator("td.actor").textContent();
  assert.ok(actor.includes(editor.email), `the editor's email: ${actor}`);
  assert.ok(actor.includes("operator:"), `and the editor's id: ${actor}`);
  const correlation = await deletion.getAttribute("data-correlation-id");
  assert.ok(correlation, "a correlation id");
  assert.equal(await deletion.getAttribute("title"), `Correlation id: ${correlation}`, "shown on hover");
  assert.match(await deletion.locator("time").getAttribute("datetime"), /^\d{4}-\d\d-\d\dT/);
  const order = await page.locator("#audit-body tr time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
  assert.deepEqual(order, [...order].sort().reverse(), "newest first");
  await page.screenshot({ path: join(ARTIFACTS, "audit.png") });

  step("admin: the edited user's history names the editor and the field, not its value");
  await nav().getByRole("button", { name: "Users", exact: true }).click();
  const edit = page.locator('#history-body tr[data-action="user.updated"]');
  const editSeen = Date.now();
  for (;;) {
    await page.locator(`#users-body tr[data-user-id="${SUBJECT_ID}"]`).getByRole("button").click();
    await page.locator("#detail-title", { hasText: "Hugo Edited History" }).waitFor();
    await page.waitForFunction(() => {
      const status = document.getElementById("history-status").textContent;
      return /\S/.test(status) && status !== "Loading the history…";
    });
    if ((await edit.count()) > 0) break;
    assert.ok(Date.now() - editSeen < AUDIT_LAG_MS, "the edit reaches the user's history");
    await page.waitForTimeout(500);
    await button("← All users").click();
  }
  assert.deepEqual(await page.locator("#history-head th").allTextContents(), ["Time", "Action", "Who", "Fields"], "an admin sees the audit trail");
  const editRow = edit.first();
  assert.ok((await editRow.locator("td.actor").textContent()).includes(editor.email));
  assert.match(await editRow.locator("td.changed").textContent(), /middleName/);
  assert.ok(!(await editRow.textContent()).includes("Edited"), "names, never values");
  await button("← All users").click();

  step("admin: creates an API key, shown once");
  await nav().getByRole("button", { name: "API keys", exact: true }).click();
  await page.locator("#keys-view").waitFor();
  await page.locator("#keys-status").filter({ hasText: /\S/ }).waitFor();
  await button("Create key").click();
  await page.locator("#key-dialog").waitFor();
  await page.locator("#key-save").click();
  await page.locator("#k-name-error").filter({ hasText: /\S/ }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill("e2e billing server");
  await page.locator("#key-save").click();
  await page.locator("#key-dialog").waitFor({ state: "hidden" });
  await page.locator("#key-box").waitFor();
  const key = (await page.locator("#key-value").textContent()).trim();
  assert.ok(key.length >= 20, `a key: ${key.length} characters`);
  assert.match(await page.locator("#key-note").textContent(), /will not be shown again/);
  await button("Copy").click();
  await page.locator("#key-copied").filter({ hasText: /\S/ }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
  if (copied !== null) assert.equal(copied, key, "the clipboard holds the key");
  const keyRow = page.locator("#keys-body tr", { hasText: "e2e billing server" });
  await keyRow.waitFor();
  const keyId = await keyRow.getAttribute("data-key-id");
  assert.equal(await keyRow.locator("td.prefix").textContent(), `${key.slice(0, 6)}…`, "its prefix, never the key");
  assert.equal(await keyRow.locator(".state").textContent(), "Active");
  const createdBy = await keyRow.locator("td.created-by").textContent();
  assert.equal(createdBy, admin.email, "created by the admin, by email");
  assert.ok((await keyRow.locator("td.created-by").getAttribute("title")).startsWith("operator:"), "the admin's id in the tooltip");
  await page.screenshot({ path: join(ARTIFACTS, "api-keys.png") });
  await button("I have saved it").click();
  assert.ok(await page.locator("#key-box").isHidden());
  assert.ok(!(await page.content()).includes(key), "the key is nowhere in the page");

  step("admin: the key buys a token, as a server would use it");
  const bought = await buyToken(key);
  assert.equal(bought.status, 200, "POST /token with the new key");
  assert.match(bought.token, /^ey/);
  const used = await page.evaluate(async (token) => (await fetch("/users", { headers: { authorization: `Bearer ${token}` } })).status, bought.token);
  assert.equal(used, 200, "and the token works");
  await button("Refresh").click();
  await page.waitForFunction(() => !document.getElementById("keys-table").hasAttribute("aria-busy"));
  await keyRow.locator("td:nth-child(5) time").waitFor();

  step("admin: revokes it, behind a confirmation; it is refused from then on");
  await keyRow.getByRole("button", { name: /^Revoke/ }).click();
  const confirm = page.locator("#confirm-dialog");
  await confirm.waitFor();
  assert.match(await page.locator("#confirm-text").textContent(), /cannot be undone/);
  await page.keyboard.press("Escape");
  await confirm.waitFor({ state: "hidden" });
  assert.equal(await keyRow.locator(".state").textContent(), "Active", "nothing revoked on cancel");
  await keyRow.getByRole("button", { name: /^Revoke/ }).click();
  await confirm.waitFor();
  await confirm.getByRole("button", { name: "Revoke key", exact: true }).click();
  await confirm.waitFor({ state: "hidden" });
  await page.locator("#keys-status", { hasText: "Revoked e2e billing server." }).waitFor();
  await page.waitForFunction(() => !document.getElementById("keys-table").hasAttribute("aria-busy"));
  assert.equal(await keyRow.locator(".state").textContent(), "Revoked");
  assert.equal(await keyRow.getByRole("button", { name: /^Revoke/ }).count(), 0, "a revoked key has no Revoke");
  const again = await buyToken(key);
  assert.equal(again.status, 401, "POST /token with the revoked key");

  step("admin: the keys come a page at a time, newest first, with Load more");
  const listed = await callApi("GET", "/api-keys");
  assert.equal(listed.status, 200);
  const everyKey = listed.body.data.map((k) => k.id);
  assert.ok(everyKey.length >= 2, `more keys than a page of one: ${everyKey.length}`);
  assert.equal(everyKey[0], keyId, "the newest key first");
  // The page asks for its first page without a limit (100 keys); pages of
  // one key make the same walk through links.next on the few keys here.
  const firstPage = (url) => url.pathname === "/api-keys" && url.search === "";
  await page.route(firstPage, (route) => route.continue({ url: `${route.request().url()}?limit=1` }));
  await button("Refresh").click();
  await page.waitForFunction(() => !document.getElementById("keys-table").hasAttribute("aria-busy"));
  const shownIds = () => page.locator("#keys-body tr").evaluateAll((rows) => rows.map((row) => row.dataset.keyId));
  assert.deepEqual(await shownIds(), [keyId], "one key on the first page");
  const more = page.locator("#keys-more");
  assert.ok(await more.isVisible(), "Load more, while there are older keys");
  assert.match(await page.locator("#keys-status").textContent(), /older keys below/);
  while (await more.isVisible()) {
    const before = (await shownIds()).length;
    await more.click();
    await page.waitForFunction((n) => document.querySelectorAll("#keys-body tr").length > n || document.getElementById("keys-more").hidden, before);
    await page.waitForFunction(() => !document.getElementById("keys-table").hasAttribute("aria-busy"));
  }
  assert.deepEqual(await shownIds(), everyKey, "every key once, newest first, as one page of the API lists them");
  assert.doesNotMatch(await page.locator("#keys-status").textContent(), /below/);
  await page.unroute(firstPage);

  step("admin: signs out");
  await signOut(page, BASE_URL);

  assert.deepEqual(problems, [], "no script errors and no CSP violations");
  console.log(JSON.stringify({ keyId, key }));
} catch (failure) {
  if (page) {
    await page.screenshot({ path: join(ARTIFACTS, "operators-failure.png"), fullPage: true }).catch(() => {});
    const shown = await page.evaluate(() => document.querySelector("main") && document.querySelector("main").innerText).catch(() => "");
    console.error(`the page (${page.url()}) showed:\n${shown}\n(screenshot: ${join(ARTIFACTS, "operators-failure.png")})`);
  }
  throw failure;
} finally {
  await browser.close();
}
