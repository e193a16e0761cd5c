// What the browser tests share: Debian's Chromium through playwright-core,
// the operators of the local identity provider (infra/idp/idp.mjs, started
// by tests/src/idp.rs) and signing in through its real login form, as a
// person does.
//
// The Rust side passes OPERATORS: JSON [{"email","password","name","role"}].

import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../.tools/node_modules/", import.meta.url));
const { chromium } = require("playwright-core");

export function launch() {
  return chromium.launch({
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
}

/** The seeded operators by role: { admin, editor, viewer }. */
export function operators() {
  assert.ok(process.env.OPERATORS, "OPERATORS is set");
  const list = JSON.parse(process.env.OPERATORS);
  return Object.fromEntries(list.map((operator) => [operator.role, operator]));
}

/** Collects script errors and CSP violations (a 4xx answer the page expects is not one). */
export function watchProblems(page, problems = []) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return problems;
}

/**
 * Signs `operator` in from the dashboard at `base`: its Sign in button, the
 * provider's login form (email, password, Sign in), and back. `keyboard`:
 * with the keyboard alone. `wrongPasswordFirst`: the provider refuses a
 * wrong password before the right one is typed. Returns the session the page
 * keeps once the users view shows.
 */
export async function signIn(page, base, operator, { keyboard = false, wrongPasswordFirst = false } = {}) {
  const origin = new URL(base).origin;
  if (!page.url().startsWith(origin)) await page.goto(`${base}/`);
  const start = page.getByRole("button", { name: "Sign in", exact: true });
  await start.waitFor();
  if (keyboard) {
    await start.focus();
    await page.keyboard.press("Enter");
  } else {
    await start.click();
  }
  // The provider's own page, on its own origin.
  await page.waitForURL((url) => url.origin !== origin);
  const email = page.getByLabel("Email", { exact: true });
  const password = page.getByLabel("Password", { exact: true });
  await email.waitFor();
  if (wrongPasswordFirst) {
    await email.fill(operator.email);
    await password.fill(`${operator.password}-wrong`);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "Invalid email or password" }).waitFor();
    assert.notEqual(new URL(page.url()).origin, origin, "still at the provider");
  }
  if (keyboard) {
    await email.fill("");
    await email.focus();
    await page.keyboard.type(operator.email);
    await page.keyboard.press("Tab");
    await page.keyboard.type(operator.password);
    await page.keyboard.press("Enter");
  } else {
    await email.fill(operator.email);
    await password.fill(operator.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }
  await page.waitForURL((url) => url.origin === origin);
  await page.locator("#users-view").waitFor();
  await page.locator("#session-user", { hasText: `${operator.email} · ${operator.role}` }).waitFor();
  const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem("users-dashboard.session")));
  assert.equal(session.role, operator.role);
  assert.equal(session.email, operator.email);
  return session;
}

/**
 * Signs out: the dashboard's Sign out, the provider's confirmation (its own
 * Sign out button), and back to the dashboard's sign-in view.
 */
export async function signOut(page, base) {
  const origin = new URL(base).origin;
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL((url) => url.origin !== origin);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL((url) => url.origin === origin);
  await page.locator("#signin-view").waitFor();
  await page.locator("#signin-notice", { hasText: "You have signed out." }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("users-dashboard.session")), null, "the token is gone");
}
