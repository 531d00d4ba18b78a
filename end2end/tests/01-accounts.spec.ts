import { test, expect, Page } from "@playwright/test";

import { admin, alice as user, fillLogin } from "./helpers";

// Runs against a fresh database (the Makefile recreates it), so the first sign-up is the admin.

async function signUp(page: Page, who: { username: string; password: string }) {
  await page.goto("/signup");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByLabel("Confirm password").fill(who.password);
  await page.getByRole("button", { name: "Create account" }).click();
}

async function logIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await fillLogin(page, username, password);
}

async function logOut(page: Page) {
  await page.getByTestId("user-menu").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}

test("the first account becomes admin; sign out and back in reaches the dashboard", async ({ page }) => {
  await signUp(page, admin);
  await expect(page.getByRole("heading", { name: `Welcome, ${admin.username}` })).toBeVisible();
  await expect(page.getByTestId("user-menu")).toContainText("admin");
  // Until their first push, the dashboard says how, for this registry and their namespace.
  const first = page.getByTestId("first-push");
  await expect(first).toContainText("Push your first image");
  await expect(first.locator("code", { hasText: /^docker login \S+ -u root-admin$/ })).toBeVisible();
  await expect(first.locator("code", { hasText: /^docker push \S+\/root-admin\/hello-world:latest$/ })).toBeVisible();
  await expect(first.locator("code", { hasText: /--password-stdin$/ })).toBeVisible();

  await logOut(page);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=%2Faccount$/);

  await fillLogin(page, admin.username, admin.password);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await page.goto("/");
  await expect(page.getByRole("heading", { name: `Welcome, ${admin.username}` })).toBeVisible();
});

test("the second account is not an admin", async ({ page }) => {
  await signUp(page, user);
  await expect(page.getByRole("heading", { name: `Welcome, ${user.username}` })).toBeVisible();
  await expect(page.getByTestId("user-menu")).not.toContainText("admin");
});

test("a wrong password shows an error and does not sign in", async ({ page }) => {
  await logIn(page, user.username, "not the password");
  await expect(page.getByRole("alert")).toHaveText("Invalid username or password.");
  await expect(page.getByTestId("user-menu")).toHaveCount(0);
  // The address stays the sign-in page's, the username stays typed, the password is next.
  expect(new URL(page.url()).search).not.toContain("__err");
  await expect(page.getByLabel("Username")).toHaveValue(user.username);
  await expect(page.getByLabel("Password")).toBeFocused();
  // An unknown user gets the very same answer.
  await logIn(page, "nobody-here", "not the password");
  await expect(page.getByRole("alert")).toHaveText("Invalid username or password.");
});

test("sign-up explains an invalid username next to the field", async ({ page }) => {
  await signUp(page, { username: "Bad Name", password: "long enough pw" });
  await expect(page.locator("#field-username-error")).toContainText("lowercase letters");
  // What was typed stays, but for the password.
  await expect(page.getByLabel("Username")).toHaveValue("Bad Name");
  await expect(page.getByLabel("Password", { exact: true })).toHaveValue("");
});

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("login, wrong password and logout work as plain forms", async ({ page }) => {
    await logIn(page, user.username, "wrong password!");
    await expect(page.getByRole("alert")).toHaveText("Invalid username or password.");
    await expect(page.getByLabel("Username")).toHaveValue(user.username);
    await logIn(page, user.username, user.password);
    await expect(page.getByRole("heading", { name: `Welcome, ${user.username}` })).toBeVisible();
    await logOut(page);
  });
});

test("a forgotten password, with no mail set up here, is for an administrator to reset", async ({ page }) => {
  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await expect(page.getByText("Ask an administrator to set a new password for you.")).toBeVisible();
  // A reset link that is not (or no longer) valid says so, with a way to ask again.
  await page.goto("/reset-password?token=pcr_not-a-real-token");
  await expect(page.getByRole("heading", { name: "This link does not work" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Ask for a new link" })).toBeVisible();
});

test("pages look right at phone width", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await logIn(page, user.username, user.password);
  await expect(page.getByRole("heading", { name: `Welcome, ${user.username}` })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test("unknown pages answer 404 with a way back", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
