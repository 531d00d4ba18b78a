import { expect, Locator, Page } from "@playwright/test";

export const admin = { username: "root-admin", password: "correct horse battery" };
export const alice = { username: "alice", password: "alice password 1" };

export async function fillLogin(page: Page, username: string, password: string) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function logIn(page: Page, who: { username: string; password: string }) {
  await page.goto("/login");
  await fillLogin(page, who.username, who.password);
  await expect(page.getByTestId("user-menu")).toBeVisible();
}

export async function logOut(page: Page) {
  await page.getByTestId("user-menu").click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}

/// A link of the main navigation.
export function nav(page: Page, name: string): Locator {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

/// Waits until the page is hydrated: its forms then run in the page, and what only works so
/// (a dry run's report shown in place) can be used.
export async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor();
}
