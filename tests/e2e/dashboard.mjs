// The dashboard in a real browser: Debian's Chromium driven by playwright-core,
// against the functions served by `cargo lambda watch` on DynamoDB Local.
// Run by tests/tests/dashboard_e2e.rs, which starts the stack and passes
// BASE_URL, API_KEY and ARTIFACTS. Prints the created user's id as its last line.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(new URL("../../.tools/node_modules/", import.meta.url));
const { chromium } = require("playwright-core");

const { BASE_URL, API_KEY, ARTIFACTS } = process.env;
assert.ok(BASE_URL && API_KEY && ARTIFACTS, "BASE_URL, API_KEY and ARTIFACTS are set");
mkdirSync(ARTIFACTS, { recursive: true });

const EMAIL = "zoe.vandersloot@example.com";
const WAIT = { timeout: 30_000 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const step = (name) => console.error(`step: ${name}`);

const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
try {
  page.setDefaultTimeout(WAIT.timeout);
  const field = (label) => page.getByLabel(label, { exact: true });
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });

  // The first token is made to last five minutes and a second, so the page
  // must renew it at once: renewal is seen without waiting an hour.
  const tokenCalls = [];
  await page.route("**/token", async (route) => {
    tokenCalls.push(Date.now());
    const response = await route.fetch();
    if (tokenCalls.length !== 2 || response.status() !== 200) return route.fulfill({ response });
    const body = await response.json();
    return route.fulfill({ response, json: { ...body, expires_in: 301 } });
  });

  step("a wrong key is refused with a clear message");
  await page.goto(`${BASE_URL}/`);
  await field("API key").fill("not-a-real-key");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#signin-error", { hasText: "was not accepted" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  step("sign in with the keyboard alone");
  await field("API key").fill("");
  await field("API key").focus();
  await page.keyboard.type(API_KEY);
  await page.keyboard.press("Enter");
  await page.locator("#users-view").waitFor();
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("users-dashboard.session")));
  assert.match(stored.token, /^ey/);
  assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
  await page.locator("#users-body tr", { hasText: "Gavin" }).waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "search");

  step("the token is renewed before it expires");
  const renewedBy = Date.now() + 15_000;
  while (tokenCalls.length < 3) {
    assert.ok(Date.now() < renewedBy, `the token was renewed (token calls: ${tokenCalls.length})`);
    await page.waitForTimeout(100);
  }
  await page.waitForFunction(
    (old) => JSON.parse(sessionStorage.getItem("users-dashboard.session")).token !== old,
    stored.token,
  );

  step("create: the dashboard requires email and mobile");
  await page.getByRole("button", { name: "Create User", exact: true }).click();
  const dialog = page.locator("#user-dialog");
  await dialog.waitFor();
  await page.getByRole("button", { name: "Create user", exact: true }).click();
  await page.locator("#f-email-error", { hasText: "Email is required" }).waitFor();
  await page.locator("#f-mobile-error", { hasText: "Mobile is required" }).waitFor();

  step("create: the API's validation error appears next to its field");
  await field("Email").fill(EMAIL);
  await field("Mobile").fill("12");
  await field("First name").fill("Zoë");
  await field("Last name").fill("Vandersloot");
  await page.getByRole("button", { name: "Create user", exact: true }).click();
  const mobileError = page.locator("#f-mobile-error");
  await mobileError.filter({ hasText: /\S/ }).waitFor();
  assert.equal(await field("Mobile").getAttribute("aria-invalid"), "true");
  assert.equal(await page.locator("#f-email-error").textContent(), "", "only the mobile is wrong");
  assert.ok(await dialog.isVisible(), "the form stays open");

  step("create: success puts the user in the list");
  await field("Mobile").fill("+61412345678");
  await page.getByRole("button", { name: "Create user", exact: true }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.locator("#list-status", { hasText: "Created Zoë Vandersloot" }).waitFor();
  const row = page.locator("#users-body tr", { hasText: EMAIL });
  await row.waitFor();
  const userId = await row.getAttribute("data-user-id");
  assert.match(userId, /^[0-9a-f-]{36}$/);

  step("search by a partial last name");
  const search = page.getByLabel(/Search by id/);
  await search.fill("vanders");
  await page.locator("#list-status", { hasText: "matching “vanders”" }).waitFor();
  await row.waitFor();
  assert.equal(await page.locator("#users-body tr", { hasText: "Gavin" }).count(), 0);

  step("search by an accented first name");
  await search.fill("Zoë");
  await page.locator("#list-status", { hasText: "matching “Zoë”" }).waitFor();
  await row.waitFor();
  assert.equal(await page.locator("#users-body tr").count(), 1);

  step("an empty result says so");
  await search.fill("Nobodyhere");
  await page.locator("#list-status", { hasText: "No users match “Nobodyhere”." }).waitFor();
  assert.equal(await page.locator("#users-body tr").count(), 0);

  step("the list, newest first, a page at a time");
  await search.fill("");
  await page.locator("#list-status", { hasText: "25 users, more below." }).waitFor();
  const emails = await page.locator("#users-body tr td:nth-child(2)").allTextContents();
  assert.equal(emails.length, 25);
  assert.equal(emails[0], EMAIL, `the newest user is first: ${emails.join(", ")}`);
  assert.equal(emails[1], "gavin@hooli.com");
  await page.getByRole("button", { name: "Load more", exact: true }).click();
  await page.locator("#list-status", { hasText: "28 users." }).waitFor();
  assert.ok(await page.locator("#load-more").isHidden(), "no more pages");
  const all = await page.locator("#users-body tr td:nth-child(2)").allTextContents();
  assert.equal(new Set(all).size, 28, "every user once");
  assert.equal(all[27], "filler0@example.com", "the oldest last");
  await page.screenshot({ path: join(ARTIFACTS, "users-list.png"), clip: { x: 0, y: 0, width: 1280, height: 400 } });

  step("detail: every field, and the financial data of a user who has some");
  await page.locator("#users-body tr", { hasText: "Gavin" }).getByRole("button").click();
  await page.locator("#detail-counts", { hasText: "1 connection · 2 accounts" }).waitFor();
  await page.locator("#connections-body tr").first().waitFor();
  await page.getByRole("button", { name: "← All users", exact: true }).click();

  await row.getByRole("button").click();
  await page.locator("#detail-title", { hasText: "Zoë Vandersloot" }).waitFor();
  const fields = await page.locator("#detail-fields").textContent();
  assert.ok(fields.includes(EMAIL) && fields.includes("+61412345678") && fields.includes(userId), fields);
  await page.locator("#detail-counts", { hasText: "0 connections · 0 accounts" }).waitFor();

  step("edit, business details included");
  await page.getByRole("button", { name: "Edit User", exact: true }).click();
  await dialog.waitFor();
  assert.equal(await field("Email").inputValue(), EMAIL);
  await field("Middle name").fill("Q");
  await page.locator("#business summary").click();
  await field("Business name").fill("Vandersloot Holdings");
  await field("ABN or ACN").selectOption("ABN");
  await field("Business number").fill("51824753556");
  await field("Suburb").fill("Sydney");
  await field("State").fill("NSW");
  await field("Postcode").fill("2000");
  await page.screenshot({ path: join(ARTIFACTS, "edit-user.png") });
  await page.getByRole("button", { name: "Save changes", exact: true }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.locator("#detail-title", { hasText: "Zoë Q Vandersloot" }).waitFor();
  const edited = await page.locator("#detail-fields").textContent();
  assert.ok(edited.includes("Vandersloot Holdings") && edited.includes("ABN 51824753556") && edited.includes("Sydney, NSW, 2000"), edited);

  step("edit: a change made elsewhere meanwhile gives a 412 and a reload");
  await page.getByRole("button", { name: "Edit User", exact: true }).click();
  await dialog.waitFor();
  const elsewhere = await page.evaluate(async (id) => {
    const { token } = JSON.parse(sessionStorage.getItem("users-dashboard.session"));
    const response = await fetch(`/users/${id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ middleName: "Elsewhere" }),
    });
    return response.status;
  }, userId);
  assert.equal(elsewhere, 200);
  await field("Middle name").fill("Mine");
  await page.getByRole("button", { name: "Save changes", exact: true }).click();
  await page.locator("#conflict", { hasText: "Someone else changed this user" }).waitFor();
  await page.getByRole("button", { name: "Reload the latest version", exact: true }).click();
  await page.waitForFunction(() => document.getElementById("f-middleName").value === "Elsewhere");
  assert.ok(await page.locator("#conflict").isHidden());

  step("delete needs the user's email or id typed");
  await page.getByRole("button", { name: "Delete user…", exact: true }).click();
  const confirm = page.locator("#delete-dialog");
  await confirm.waitFor();
  const warning = await page.locator("#delete-warning").textContent();
  assert.match(warning, /permanently/);
  assert.match(warning, /connections, accounts and transactions/);
  assert.match(warning, /cannot be undone/);
  const destroy = page.getByRole("button", { name: "Delete permanently", exact: true });
  assert.ok(await destroy.isDisabled(), "disabled before confirmation");
  await page.keyboard.type("someone@else.com");
  assert.ok(await destroy.isDisabled(), "disabled for the wrong text");
  await field("Type the user's email or id to confirm").fill("");
  await page.keyboard.type(EMAIL.toUpperCase());
  assert.ok(await destroy.isEnabled(), "enabled once the email is typed");
  await page.keyboard.press("Enter");
  await confirm.waitFor({ state: "hidden" });
  await page.locator("#list-status", { hasText: `Deleted ${EMAIL}` }).waitFor();
  assert.equal(await page.locator("#users-body tr", { hasText: EMAIL }).count(), 0);

  step("gone from search too");
  await search.fill("vanders");
  await page.locator("#list-status", { hasText: "No users match “vanders”." }).waitFor();

  step("usable on a narrow screen");
  await search.fill("");
  await page.locator("#list-status", { hasText: "25 users, more below." }).waitFor();
  await page.setViewportSize({ width: 375, height: 760 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.screenshot({ path: join(ARTIFACTS, "users-list-narrow.png"), fullPage: true });

  step("sign out clears the token");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.locator("#signin-view").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("users-dashboard.session")), null);

  assert.deepEqual(problems, [], "no script errors and no CSP violations");
  console.log(JSON.stringify({ userId }));
} catch (failure) {
  // What the page showed when it failed, for whoever reads the test output.
  await page.screenshot({ path: join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
  const shown = await page.evaluate(() => document.querySelector("main").innerText).catch(() => "");
  console.error(`the page showed:\n${shown}\n(screenshot: ${join(ARTIFACTS, "failure.png")})`);
  throw failure;
} finally {
  await browser.close();
}
