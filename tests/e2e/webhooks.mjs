// The dashboard's Webhooks view in a real browser: Debian's Chromium driven by
// playwright-core, against the functions served by `cargo lambda watch`, whose
// delivery queue a local poller hands to `deliver-webhooks`. Run by
// tests/tests/dashboard_e2e.rs, which starts the stack, the local identity
// provider and a receiver and passes BASE_URL, OPERATORS, ARTIFACTS and
// RECEIVER_URL; the admin signs in through the provider's login form. Prints,
// as its last line, the webhook's id, the secrets the page showed and the
// test events' ids, for the test to check the receiver's requests against.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { launch, operators, signIn, signOut } from "./browser.mjs";

const { BASE_URL, ARTIFACTS, RECEIVER_URL } = process.env;
assert.ok(BASE_URL && ARTIFACTS && RECEIVER_URL, "BASE_URL, ARTIFACTS and RECEIVER_URL are set");
mkdirSync(ARTIFACTS, { recursive: true });
const { admin } = operators();

// How long a test event may take to show as delivered: the local queue
// poller hands it to deliver-webhooks within a second or two.
const DELIVERY_LAG_MS = 90_000;

const browser = await launch();
const step = (name) => console.error(`step: ${name}`);

const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE_URL });
const page = await context.newPage();
try {
  page.setDefaultTimeout(30_000);
  const field = (label) => page.getByLabel(label, { exact: true });
  const button = (name) => page.getByRole("button", { name, exact: true });
  const nav = page.getByRole("navigation", { name: "Dashboard" });
  const attributes = (rows, name) => rows.evaluateAll((trs, n) => trs.map((tr) => tr.getAttribute(n)), name);
  const focused = (id) => page.waitForFunction((i) => document.activeElement && document.activeElement.id === i, id);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  const dialog = page.locator("#webhook-dialog");
  const confirm = page.locator("#webhook-confirm");
  const secretBox = page.locator("#secret-box");
  const rows = page.locator("#webhooks-body tr");
  const deliveryRows = page.locator("#deliveries-body tr");
  const listSettled = () => page.waitForFunction(() => !document.getElementById("webhooks-table").hasAttribute("aria-busy"));
  /** Does `act`, which sends a test event; returns the id the API gave the event. */
  const testEvent = async (act) => {
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && /\/webhooks\/[^/]+\/test$/.test(new URL(r.url()).pathname)),
      act(),
    ]);
    assert.equal(answer.status(), 202);
    const body = await answer.json();
    assert.equal(body.type, "webhookTest");
    return body.id;
  };
  /**
   * Waits for an attempt of `eventId`: first for the page, which looks again
   * every few seconds for a minute, then refreshing by hand. Returns its row,
   * and whether the page found it by itself.
   */
  const waitForDelivery = async (eventId) => {
    const started = Date.now();
    const row = page.locator(`#deliveries-body tr[data-event-id="${eventId}"]`).first();
    let byItself = true;
    try {
      await row.waitFor({ timeout: 65_000 });
    } catch {
      byItself = false;
      while ((await row.count()) === 0) {
        assert.ok(Date.now() - started < DELIVERY_LAG_MS, `the test event ${eventId} is attempted within ${DELIVERY_LAG_MS / 1000} s`);
        await button("Refresh deliveries").click();
        await page.waitForFunction(() => !document.getElementById("deliveries-table").hasAttribute("aria-busy"));
        await page.waitForTimeout(1000);
      }
    }
    console.error(`webhooks: test event ${eventId} shown as attempted after ${Date.now() - started} ms${byItself ? "" : " (refreshed by hand)"}`);
    assert.equal(await row.getAttribute("data-outcome"), "delivered", `the receiver took ${eventId}`);
    if (byItself) await page.locator("#deliveries-status", { hasText: "The test event was delivered." }).waitFor();
    return row;
  };

  step("sign in as an admin, through the identity provider");
  await page.goto(`${BASE_URL}/`);
  await signIn(page, BASE_URL, admin);

  step("the Webhooks view, empty");
  await nav.getByRole("button", { name: "Webhooks", exact: true }).click();
  await page.locator("#webhooks-view").waitFor();
  assert.equal(await nav.getByRole("button", { name: "Webhooks", exact: true }).getAttribute("aria-current"), "page");
  await focused("webhooks-title");
  await page.locator("#webhooks-status", { hasText: "No webhooks yet" }).waitFor();
  assert.equal(await rows.count(), 0);

  step("add: the URL and an event type are required");
  await button("Add webhook").click();
  await dialog.waitFor();
  await focused("w-url");
  const created = page.getByRole("checkbox", { name: "user.created", exact: true });
  await created.waitFor();
  assert.equal(await page.locator("#w-events-options input[type=checkbox]").count(), 6, "one box per event type");
  await page.locator("#webhook-save").click();
  await page.locator("#w-url-error", { hasText: "URL is required" }).waitFor();
  await page.locator("#w-events-error", { hasText: "at least one event type" }).waitFor();
  assert.equal(await field("URL").getAttribute("aria-invalid"), "true");

  step("add: the API's refusal of a private address shows beside the URL");
  await field("URL").fill("http://10.0.0.1/hook");
  await created.check();
  await page.locator("#webhook-save").click();
  const urlError = page.locator("#w-url-error");
  await urlError.filter({ hasText: /\S/ }).waitFor();
  console.error(`webhooks: the refusal reads “${await urlError.textContent()}”`);
  assert.equal(await field("URL").getAttribute("aria-invalid"), "true");
  assert.equal(await page.locator("#w-events-error").textContent(), "", "only the URL is wrong");
  assert.ok(await dialog.isVisible(), "the form stays open");
  await page.screenshot({ path: join(ARTIFACTS, "webhook-add.png") });

  step("add: the receiver, for user.created, with the keyboard");
  await field("URL").fill(RECEIVER_URL);
  await field("Description (optional)").fill("E2E receiver <b>not markup</b>");
  await field("Description (optional)").press("Enter");
  await dialog.waitFor({ state: "hidden" });

  step("the secret is shown once, with a copy button");
  await secretBox.waitFor();
  await focused("secret-title");
  const secret = (await page.locator("#secret-value").textContent()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/=]{20,}$/);
  assert.match(await page.locator("#secret-note").textContent(), /will not be shown again/);
  assert.equal(await page.locator("#secret-for").textContent(), RECEIVER_URL);
  await button("Copy").click();
  await page.locator("#secret-copied", { hasText: /\S/ }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
  if (copied !== null) assert.equal(copied, secret, "the clipboard holds the secret");

  step("the list shows the webhook");
  await page.locator("#webhooks-status", { hasText: "1 webhook." }).waitFor();
  await listSettled();
  const row = rows.filter({ hasText: RECEIVER_URL });
  await row.waitFor();
  const webhookId = await row.getAttribute("data-webhook-id");
  assert.match(webhookId, /^[0-9a-f-]{36}$/);
  assert.equal(await row.locator(".url").textContent(), RECEIVER_URL);
  assert.equal(await row.locator(".description").textContent(), "E2E receiver <b>not markup</b>", "shown as text");
  assert.equal(await row.locator("b").count(), 0, "no markup from the API");
  assert.deepEqual(await row.locator(".kind").allTextContents(), ["user.created"]);
  assert.equal(await row.locator(".state").textContent(), "Active");
  assert.match(await row.locator("time").getAttribute("datetime"), /^\d{4}-\d\d-\d\dT/);
  await page.screenshot({ path: join(ARTIFACTS, "webhooks.png") });

  step("once saved, the secret is gone from the page");
  await button("I have saved it").click();
  assert.ok(await secretBox.isHidden());
  await focused("webhooks-title");
  assert.ok(!(await page.content()).includes(secret), "the secret is nowhere in the page");

  step("send a test event, with the keyboard, and see it delivered");
  await row.getByRole("button", { name: /^Send test event/ }).focus();
  const firstEvent = await testEvent(() => page.keyboard.press("Enter"));
  await page.locator("#webhooks-status", { hasText: "Test event queued" }).waitFor();
  await page.locator("#deliveries").waitFor();
  assert.equal(await page.locator("#deliveries-for").textContent(), RECEIVER_URL);
  const first = await waitForDelivery(firstEvent);
  assert.equal(await first.locator(".kind").textContent(), "webhook.test");
  const cells = await first.locator("td").allTextContents();
  assert.equal(cells[2], "delivered");
  assert.equal(cells[3], "1", "the first attempt");
  assert.equal(cells[4], "200");
  assert.match(cells[5], /^\d+ ms$/);
  assert.equal(cells[6], "—", "no next attempt");
  assert.match(await first.locator("time").first().getAttribute("datetime"), /^\d{4}-\d\d-\d\dT/);
  await page.screenshot({ path: join(ARTIFACTS, "webhook-deliveries.png"), fullPage: true });

  step("rotate the secret: confirmed first, the new one shown once");
  await row.getByRole("button", { name: /^Rotate secret/ }).click();
  await confirm.waitFor();
  await focused("webhook-confirm-cancel");
  assert.match(await page.locator("#webhook-confirm-text").textContent(), /24 hours/);
  await page.keyboard.press("Escape");
  await confirm.waitFor({ state: "hidden" });
  assert.ok(await secretBox.isHidden(), "nothing rotated on cancel");
  await row.getByRole("button", { name: /^Rotate secret/ }).click();
  await confirm.waitFor();
  await confirm.getByRole("button", { name: "Rotate secret", exact: true }).click();
  await confirm.waitFor({ state: "hidden" });
  await secretBox.waitFor();
  const rotated = (await page.locator("#secret-value").textContent()).trim();
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, secret, "a new secret");
  assert.match(await page.locator("#secret-note").textContent(), /24 hours/);
  await page.screenshot({ path: join(ARTIFACTS, "webhook-rotated.png") });
  await button("I have saved it").click();

  step("a test event after the rotation is delivered too");
  const secondEvent = await testEvent(() => row.getByRole("button", { name: /^Send test event/ }).click());
  assert.notEqual(secondEvent, firstEvent);
  await page.locator("#webhooks-status", { hasText: "Test event queued" }).waitFor();
  await waitForDelivery(secondEvent);
  assert.equal(await deliveryRows.count(), 2, "two attempts");
  const order = await deliveryRows.locator("td:first-child time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
  assert.deepEqual(order, [...order].sort().reverse(), "newest first");
  assert.equal(await deliveryRows.first().getAttribute("data-event-id"), secondEvent);

  step("deliveries page by page: Load more follows links.next");
  // Pages of one attempt each, so that two attempts make two pages.
  const onePerPage = (route) => {
    const url = new URL(route.request().url());
    if (!url.searchParams.has("limit")) url.searchParams.set("limit", "1");
    return route.continue({ url: url.toString() });
  };
  await page.route("**/deliveries*", onePerPage);
  await button("Refresh deliveries").click();
  await page.locator("#deliveries-status", { hasText: "1 attempt, more below." }).waitFor();
  assert.equal(await deliveryRows.first().getAttribute("data-event-id"), secondEvent);
  // A full page may be followed by an empty one: DynamoDB cannot tell
  // whether more follows until it looks.
  for (let pages = 1; await page.locator("#deliveries-more").isVisible(); pages++) {
    assert.ok(pages <= 3, "two attempts take two or three pages");
    await button("Load more").click();
    await page.waitForFunction(() => !document.getElementById("deliveries-table").hasAttribute("aria-busy"));
  }
  await page.locator("#deliveries-status", { hasText: "2 attempts." }).waitFor();
  assert.deepEqual(await attributes(deliveryRows, "data-event-id"), [secondEvent, firstEvent]);
  assert.ok(await page.locator("#deliveries-more").isHidden(), "no more pages");
  await page.unroute("**/deliveries*", onePerPage);

  step("usable on a narrow screen");
  await page.setViewportSize({ width: 375, height: 760 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.screenshot({ path: join(ARTIFACTS, "webhooks-narrow.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  step("delete: confirmed first, then gone from the list");
  await row.getByRole("button", { name: /^Delete/ }).click();
  await confirm.waitFor();
  assert.match(await page.locator("#webhook-confirm-text").textContent(), /cannot be undone/);
  assert.equal(await page.locator("#webhook-confirm-url").textContent(), RECEIVER_URL);
  await confirm.getByRole("button", { name: "Delete webhook", exact: true }).click();
  await confirm.waitFor({ state: "hidden" });
  await page.locator("#webhooks-status", { hasText: `Deleted ${RECEIVER_URL}.` }).waitFor();
  await page.locator("#webhooks-status", { hasText: "No webhooks yet" }).waitFor();
  assert.equal(await rows.count(), 0);
  assert.ok(await page.locator("#deliveries").isHidden(), "its deliveries are closed");

  step("sign out");
  await signOut(page, BASE_URL);
  assert.equal(await page.locator("#webhooks-body tr").count(), 0);

  assert.deepEqual(problems, [], "no script errors and no CSP violations");
  console.log(JSON.stringify({ webhookId, secrets: [secret, rotated], events: [firstEvent, secondEvent] }));

} catch (failure) {
  // What the page showed when it failed, for whoever reads the test output.
  await page.screenshot({ path: join(ARTIFACTS, "webhooks-failure.png"), fullPage: true }).catch(() => {});
  const shown = await page.evaluate(() => document.querySelector("main").innerText).catch(() => "");
  console.error(`the page showed:\n${shown}\n(screenshot: ${join(ARTIFACTS, "webhooks-failure.png")})`);
  throw failure;
} finally {
  await browser.close();
}
