import { expect, Locator, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/// Where clients push: the gate `make test` starts beside the server, in front of the registry.
export const registry = process.env.PORTCULLIS_REGISTRY_HOST ?? "127.0.0.1:5055";

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

/// Builds an image with umoci and pushes it with skopeo to `reference` (host/name:tag).
export function pushImageAs(who: { username: string; password: string }, reference: string, label: string) {
  const repoTag = reference.slice(reference.indexOf("/") + 1);
  const dir = mkdtempSync(join(tmpdir(), "portcullis-e2e-"));
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: "pipe" });
  const rootless = process.getuid && process.getuid() !== 0 ? ["--rootless"] : [];
  run("umoci", ["init", "--layout", "oci"]);
  run("umoci", ["new", "--image", "oci:img"]);
  writeFileSync(join(dir, "hello.txt"), `hello from ${repoTag}\n`);
  run("umoci", ["insert", ...rootless, "--image", "oci:img", "hello.txt", "/hello.txt"]);
  run("umoci", ["config", "--image", "oci:img", "--config.label", label, "--architecture", "amd64", "--os", "linux"]);
  run("umoci", ["tag", "--image", "oci:img", "1.0"]);
  writeFileSync(join(dir, "policy.json"), '{"default":[{"type":"insecureAcceptAnything"}]}');
  run("skopeo", [
    "--policy", "policy.json", "copy", "--dest-tls-verify=false",
    "--dest-creds", `${who.username}:${who.password}`,
    "oci:oci:1.0", `docker://${reference}`,
  ]);
}
