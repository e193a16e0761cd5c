// The dashboard in a real browser: Debian's Chromium driven by playwright-core,
// against the functions served by `cargo lambda watch` on DynamoDB Local.
// Run by tests/tests/dashboard_e2e.rs, which starts the stack and the local
// identity provider and passes BASE_URL, OPERATORS and ARTIFACTS; the page is
// used by the admin, signed in through the provider's login form. Prints the
// created user's id as its last line.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { launch, operators, signIn, signOut } from "./browser.mjs";

const { BASE_URL, ARTIFACTS } = process.env;
assert.ok(BASE_URL && ARTIFACTS, "BASE_URL and ARTIFACTS are set");
mkdirSync(ARTIFACTS, { recursive: true });
const { admin } = operators();

const EMAIL = "zoe.vandersloot@example.com";
const WAIT = { timeout: 30_000 };

const browser = await launch();
const step = (name) => console.error(`step: ${name}`);
// How long a write may take to show in the Activity view: the local stream
// poller hands records to the events function within a second or two.
const EVENT_LAG_MS = 45_000;

const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
try {
  page.setDefaultTimeout(WAIT.timeout);
  const field = (label) => page.getByLabel(label, { exact: true });
  const nav = page.getByRole("navigation", { name: "Dashboard" });
  const activityRows = page.locator("#activity-body tr");
  const eventRow = (type, id) => page.locator(`#activity-body tr[data-event-type="${type}"][data-user-id="${id}"]`);
  const activitySettled = () => page.waitForFunction(() => !document.getElementById("activity-table").hasAttribute("aria-busy"));
  /** Refreshes the Activity view until `rows` has at least `count` rows; returns the wait in ms. */
  const waitForEvents = async (rows, count, what) => {
    const started = Date.now();
    await activitySettled();
    while ((await rows.count()) < count) {
      assert.ok(Date.now() - started < EVENT_LAG_MS, `${what} shows in Activity within ${EVENT_LAG_MS / 1000} s`);
      await page.waitForTimeout(250);
      await page.getByRole("button", { name: "Refresh", exact: true }).click();
      await activitySettled();
    }
    return Date.now() - started;
  };
  const attributes = (rows, name) => rows.evaluateAll((trs, n) => trs.map((tr) => tr.getAttribute(n)), name);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });

  step("a wrong password is refused by the identity provider; then sign in with the keyboard alone");
  await page.goto(`${BASE_URL}/`);
  assert.equal(await page.locator("#api-key").count(), 0, "no API key is asked for");
  const signedIn = await signIn(page, BASE_URL, admin, { keyboard: true, wrongPasswordFirst: true });
  assert.equal(page.url(), `${BASE_URL}/`, "the code and state are gone from the address");
  assert.match(signedIn.token, /^ey/);
  assert.ok(signedIn.expiresAt > Date.now() + 5 * 60 * 1000, "the session lasts as long as the ID token");
  assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("users-dashboard.sign-in")), null, "the sign-in's state is spent");
  await page.locator("#users-body tr", { hasText: "Gavin" }).waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "search");
  for (const name of ["Users", "Activity", "Webhooks", "API keys", "Audit"]) {
    assert.ok(await nav.getByRole("button", { name, exact: true }).isVisible(), `an admin sees ${name}`);
  }

  step("a reload keeps the session");
  await page.reload();
  await page.locator("#users-body tr", { hasText: "Gavin" }).waitFor();
  await page.locator("#session-user", { hasText: `${admin.email} · admin` }).waitFor();

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
  const createdAt = Date.now();

  step("activity: the new user's user.created event shows");
  await nav.getByRole("button", { name: "Activity", exact: true }).click();
  await page.locator("#activity-view").waitFor();
  assert.equal(await nav.getByRole("button", { name: "Activity", exact: true }).getAttribute("aria-current"), "page");
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === "activity-title");
  const created = eventRow("user.created", userId);
  await waitForEvents(created, 1, "the user.created event");
  console.error(`activity: user.created shown ${Date.now() - createdAt} ms after the page created the user`);
  assert.equal(await created.locator("td:nth-child(2)").textContent(), "user.created");
  const time = created.locator("time");
  assert.match(await time.getAttribute("datetime"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(await time.getAttribute("title"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(UTC\)$/);
  assert.ok((await time.textContent()).trim().length > 0, "a local time is shown");
  const order = await activityRows.locator("time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
  assert.deepEqual(order, [...order].sort().reverse(), "newest first");

  step("activity: filter by type");
  await page.locator('#activity-type option[value="user.created"]').waitFor({ state: "attached" });
  assert.equal(await page.locator("#activity-type option").count(), 7, "every type, and every type at once");
  await field("Type").selectOption("user.created");
  await activitySettled();
  await created.waitFor();
  assert.deepEqual(new Set(await attributes(activityRows, "data-event-type")), new Set(["user.created"]));

  step("activity: filter by user, and a malformed id is refused beside its field");
  await field("User id").fill("not-a-user-id");
  await field("User id").press("Enter");
  await page.locator("#activity-user-error").filter({ hasText: /\S/ }).waitFor();
  assert.equal(await field("User id").getAttribute("aria-invalid"), "true");
  assert.equal(await activityRows.count(), 0);
  await field("User id").fill(userId);
  await page.getByRole("button", { name: "Filter", exact: true }).click();
  await activitySettled();
  assert.equal(await page.locator("#activity-user-error").textContent(), "");
  assert.equal(await activityRows.count(), 1, "one user.created for one user");
  await created.waitFor();
  await field("Type").selectOption("");
  await activitySettled();
  assert.deepEqual(new Set(await attributes(activityRows, "data-user-id")), new Set([userId]));

  step("activity: the row's user opens the user");
  await created.getByRole("button", { name: `Open user ${userId}`, exact: true }).click();
  await page.locator("#detail-title", { hasText: "Zoë Vandersloot" }).waitFor();
  assert.equal(await nav.getByRole("button", { name: "Users", exact: true }).getAttribute("aria-current"), "page");
  await page.getByRole("button", { name: "← All users", exact: true }).click();
  await row.waitFor();

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

  step("detail: the money of a user who has some: accounts, balances, connection");
  await page.locator("#users-body tr", { hasText: "Gavin" }).getByRole("button").click();
  await page.locator("#detail-counts", { hasText: "1 connection · 2 accounts" }).waitFor();
  await page.locator("#connections-body tr").first().waitFor();
  const accountRows = page.locator("#accounts-body tr");
  await accountRows.nth(1).waitFor();
  assert.equal(await accountRows.count(), 2);
  const everyday = page.locator('#accounts-body tr[data-account-id="acc-0-0"]');
  const savings = page.locator('#accounts-body tr[data-account-id="acc-0-1"]');
  assert.match(await everyday.locator("td.name").textContent(), /^Everyday 1/);
  assert.match(await savings.locator("td.name").textContent(), /^Savings 2/);
  // The API's strings, to the cent, with their currency.
  assert.equal(await everyday.locator("td.balance").textContent(), "1250.00 AUD");
  assert.equal(await everyday.locator("td.available").textContent(), "1200.00 AUD");
  assert.equal(await savings.locator("td.balance").textContent(), "2297.29 AUD");
  assert.equal(await savings.locator("td.available").textContent(), "2247.29 AUD");
  for (const account of [everyday, savings]) {
    const via = await account.locator("td.connection").textContent();
    assert.ok(via.includes("Hooli Bank") && via.includes("conn-0"), `the account's connection: ${via}`);
  }
  const alignment = (locator) => locator.evaluate((el) => getComputedStyle(el).textAlign);
  assert.equal(await alignment(everyday.locator("td.balance")), "right");

  step("detail: the recent transactions, newest first, a page at a time");
  const txnRows = page.locator("#transactions-body tr");
  const txnStatus = page.locator("#transactions-status");
  const txnSettled = () => page.waitForFunction(() => !document.getElementById("transactions-table").hasAttribute("aria-busy"));
  const txnShown = async (text) => {
    await txnStatus.filter({ hasText: text }).waitFor();
    await txnSettled();
  };
  const postDates = () => txnRows.locator("time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
  await txnShown(/^25 transactions, more below\.$/);
  let dates = await postDates();
  assert.equal(dates.length, 25);
  assert.deepEqual(dates, [...dates].sort().reverse(), "newest first");
  assert.match(dates[0], /^2026-11-01T09:30/);
  const newest = page.locator('#transactions-body tr[data-transaction-id="txn-0-0"]');
  assert.equal(await newest.locator("time").textContent(), dates[0], "the post date as the API gave it");
  assert.match(await newest.locator("td.what").textContent(), /^Coffee, Palo Alto pending$/);
  assert.equal(await newest.locator("td.account").textContent(), "Everyday 1");
  assert.equal(await newest.locator("td.num").textContent(), "-4.50 AUD");
  const salary = page.locator('#transactions-body tr[data-transaction-id="txn-0-2"]');
  assert.equal(await salary.locator("td.num").textContent(), "6125.50 AUD");
  assert.equal(await alignment(newest.locator("td.num")), "right");
  const color = (locator) => locator.evaluate((el) => getComputedStyle(el).color);
  assert.equal(await newest.locator(".amount").getAttribute("class"), "amount negative");
  assert.equal(await salary.locator(".amount").getAttribute("class"), "amount");
  assert.notEqual(await color(newest.locator(".amount")), await color(salary.locator(".amount")), "a negative amount stands out");
  await page.getByRole("button", { name: "Load more transactions", exact: true }).focus();
  await page.keyboard.press("Enter");
  await txnShown(/^30 transactions\.$/);
  assert.ok(await page.locator("#transactions-more").isHidden(), "no more pages");
  dates = await postDates();
  assert.deepEqual(dates, [...dates].sort().reverse(), "still newest first");
  assert.equal(new Set(await attributes(txnRows, "data-transaction-id")).size, 30, "every transaction once");
  await page.screenshot({ path: join(ARTIFACTS, "user-money.png"), fullPage: true });

  step("transactions: filter by account, with the keyboard");
  await field("Account").focus();
  await page.keyboard.press("ArrowDown");
  assert.equal(await field("Account").inputValue(), "acc-0-0");
  await txnShown(/^15 transactions matching the filters\.$/);
  assert.deepEqual(new Set(await attributes(txnRows, "data-account-id")), new Set(["acc-0-0"]));
  assert.deepEqual(new Set(await txnRows.locator("td.account").allTextContents()), new Set(["Everyday 1"]));

  step("transactions: a date range, both days included");
  await field("From").fill("2026-10-30");
  await field("To").fill("2026-10-31");
  await txnShown(/^4 transactions matching the filters\.$/);
  dates = await postDates();
  assert.ok(dates.every((d) => /^2026-10-3[01]T/.test(d)), `within the range: ${dates.join(", ")}`);
  assert.deepEqual(await attributes(txnRows, "data-transaction-id"), ["txn-0-2", "txn-0-4", "txn-0-6", "txn-0-8"]);

  step("transactions: a slow reply to older filters never replaces a newer one");
  let delayed = 0;
  const slowSavings = (url) => url.pathname.endsWith("/transactions") && url.search.includes("acc-0-1");
  const slow = async (route) => {
    delayed++;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await route.continue().catch(() => {});
  };
  await page.route(slowSavings, slow);
  await field("Account").selectOption("acc-0-1");
  await field("Account").selectOption("");
  await txnShown(/^7 transactions matching the filters\.$/);
  await page.waitForTimeout(2_500);
  assert.equal(delayed, 1, "the savings account was asked for");
  assert.equal(await txnStatus.textContent(), "7 transactions matching the filters.");
  assert.equal(await txnRows.count(), 7);
  assert.equal(new Set(await attributes(txnRows, "data-account-id")).size, 2, "every account's, not the slow reply's");
  await page.unroute(slowSavings, slow);

  step("transactions: a date the API refuses is shown beside its field");
  await field("From").fill("20261-10-30");
  const fromError = page.locator("#txn-from-error");
  await fromError.filter({ hasText: /\S/ }).waitFor();
  assert.equal(await field("From").getAttribute("aria-invalid"), "true");
  assert.equal(await field("From").getAttribute("aria-describedby"), "txn-from-error");
  assert.equal(await page.locator("#txn-to-error").textContent(), "", "only the From date is wrong");
  assert.equal(await txnStatus.textContent(), "Check the From date.");
  assert.equal(await txnRows.count(), 0);

  step("transactions: an empty result says so");
  await field("From").fill("2026-11-02");
  await field("To").fill("");
  await txnShown("No transactions match these filters.");
  assert.equal(await fromError.textContent(), "");
  assert.equal(await field("From").getAttribute("aria-invalid"), null);
  assert.ok(await page.locator("#transactions-table").isHidden());
  await page.getByRole("button", { name: "Clear filters", exact: true }).click();
  await txnShown(/^25 transactions, more below\.$/);
  assert.equal(await field("From").inputValue(), "");

  step("the money on a phone, without sideways scrolling");
  await page.setViewportSize({ width: 375, height: 760 });
  const sideways = await page.evaluate(() => [document.documentElement, ...document.querySelectorAll("#finance .table-wrap")]
    .map((el) => el.scrollWidth - el.clientWidth));
  assert.ok(sideways.every((o) => o <= 0), `no sideways scrolling of the page or its tables (overflow ${sideways.join(", ")} px)`);
  assert.ok(await newest.locator("td.num").isVisible(), "the amount is shown on a phone");
  assert.ok(await everyday.locator("td.available").isVisible(), "and the available funds");
  const financeTop = await page.locator("#finance").evaluate((el) => el.getBoundingClientRect().top + scrollY);
  await page.screenshot({ path: join(ARTIFACTS, "user-money-narrow.png"), fullPage: true, clip: { x: 0, y: financeTop, width: 375, height: 1000 } });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole("button", { name: "← All users", exact: true }).click();

  await row.getByRole("button").click();
  await page.locator("#detail-title", { hasText: "Zoë Vandersloot" }).waitFor();
  const fields = await page.locator("#detail-fields").textContent();
  assert.ok(fields.includes(EMAIL) && fields.includes("+61412345678") && fields.includes(userId), fields);
  await page.locator("#detail-counts", { hasText: "0 connections · 0 accounts" }).waitFor();
  await page.locator("#accounts-status", { hasText: "No accounts." }).waitFor();
  await page.locator("#transactions-status", { hasText: "No transactions yet." }).waitFor();
  assert.equal(await page.locator("#connections-status").textContent(), "No connections.");

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

  step("activity from the user's detail: the updates name the fields they changed");
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Activity of this user", exact: true }).click();
  await page.locator("#activity-view").waitFor();
  assert.equal(await field("User id").inputValue(), userId);
  const updated = eventRow("user.updated", userId);
  await waitForEvents(updated, 2, "both updates");
  assert.deepEqual(new Set(await attributes(activityRows, "data-user-id")), new Set([userId]));
  assert.deepEqual(await attributes(activityRows, "data-event-type"), ["user.updated", "user.updated", "user.created"]);
  const [elsewhereChange, pageChange] = await updated.locator("td:nth-child(4)").allTextContents();
  assert.equal(elsewhereChange, "Changed: middleName");
  assert.match(pageChange, /^Changed: /);
  for (const name of ["middleName", "businessName", "businessIdNo", "businessIdNoType", "businessAddress"]) {
    assert.ok(pageChange.split(/[:,] /).includes(name), `${name} in “${pageChange}”`);
  }
  assert.ok(!pageChange.includes("Vandersloot") && !pageChange.includes("51824753556"), "names, never values");
  await page.screenshot({ path: join(ARTIFACTS, "activity.png") });
  await created.getByRole("button", { name: `Open user ${userId}`, exact: true }).click();
  await page.locator("#detail-title", { hasText: "Zoë Elsewhere Vandersloot" }).waitFor();
  await page.getByRole("button", { name: "Edit User", exact: true }).click();
  await dialog.waitFor();

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

  step("activity: the deletion's receipt");
  await nav.getByRole("button", { name: "Activity", exact: true }).click();
  await page.locator("#activity-view").waitFor();
  assert.equal(await field("User id").inputValue(), "", "the section shows every user");
  await field("User id").fill(userId);
  await field("Type").selectOption("user.deleted");
  const receipt = eventRow("user.deleted", userId);
  await waitForEvents(receipt, 1, "the user.deleted event");
  assert.match(
    await receipt.locator("td:nth-child(4)").textContent(),
    /^Removed 0 connections, 0 accounts, 0 transactions, \d+ other items?$/,
  );
  await receipt.getByRole("button", { name: `Open user ${userId}`, exact: true }).click();
  await page.locator("#detail-status", { hasText: "This user no longer exists." }).waitFor();
  assert.ok(await page.locator("#finance").isHidden(), "no money for a user who is gone");
  await nav.getByRole("button", { name: "Users", exact: true }).click();
  await page.locator("#users-view").waitFor();

  step("usable on a narrow screen");
  await search.fill("");
  await page.locator("#list-status", { hasText: "25 users, more below." }).waitFor();
  await page.setViewportSize({ width: 375, height: 760 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.screenshot({ path: join(ARTIFACTS, "users-list-narrow.png"), fullPage: true });

  step("sign out clears the token, here and at the identity provider");
  await signOut(page, BASE_URL);

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
