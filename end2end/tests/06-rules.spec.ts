import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";

import { admin, alice, fillLogin, hydrated, logIn, logOut, pushImageAs, registry } from "./helpers";

// Needs 01-accounts first (alice exists). skopeo pushes through the gate `make test` starts.

/// Pushes as alice; the error skopeo printed when the push was refused, or null.
function tryPush(repoTag: string, label: string): string | null {
  try {
    pushImageAs(alice, `${registry}/${repoTag}`, label);
    return null;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

test("an owner makes release tags immutable; moving one is refused with the rule's name, until the rule goes", async ({ page }) => {
  expect(tryPush("alice/release:v1", "org.example.build=1")).toBeNull();
  await logIn(page, alice);
  await page.goto("/namespaces/alice?tab=rules");
  await hydrated(page);
  const card = page.locator("#rules");
  await expect(card.getByText("No tag rules")).toBeVisible();
  await card.getByLabel("Tags").fill("v*");
  await card.getByRole("button", { name: "Add rule" }).click();
  await expect(card.locator("tr", { hasText: "v*" })).toContainText("every repository");

  const refused = tryPush("alice/release:v1", "org.example.build=2");
  expect(refused).toContain("immutable");
  expect(refused).toContain("v*");
  // A tag the rule does not cover still moves.
  expect(tryPush("alice/release:dev", "org.example.build=2")).toBeNull();

  await card.getByText("Remove…").click();
  await card.getByRole("button", { name: "Yes, remove it" }).click();
  await expect(card.getByText("No tag rules")).toBeVisible();
  expect(tryPush("alice/release:v1", "org.example.build=3")).toBeNull();
  await logOut(page);
});

/// Reads an image's manifest as alice (a pull's first step); skopeo's error when refused, or null.
function tryInspect(repoTag: string): string | null {
  try {
    execFileSync("skopeo", [
      "inspect", "--raw", "--tls-verify=false", "--creds", `${alice.username}:${alice.password}`,
      `docker://${registry}/${repoTag}`,
    ], { stdio: "pipe" });
    return null;
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

test("an owner trusts a cosign key and requires signatures; an unsigned image is then refused, saying why", async ({ page }) => {
  expect(tryPush("alice/signed:1", "org.example.build=sign")).toBeNull();
  const pem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
  await logIn(page, alice);
  await page.goto("/namespaces/alice?tab=rules");
  await hydrated(page);
  const policy = page.locator("section", { hasText: "Signature policy" });
  await expect(policy.getByText("No trusted keys")).toBeVisible();
  await expect(policy.getByTestId("signing-state")).toContainText("Not required");
  const trust = page.locator("section", { hasText: "Trust a key" });
  await trust.getByLabel("Name").fill("ci");
  await trust.getByLabel("Public key").fill(pem);
  await trust.getByRole("button", { name: "Trust key" }).click();
  await expect(policy.locator("tr", { hasText: "ci" })).toBeVisible();
  await policy.getByLabel("Require signed images on every pull").check();
  await policy.getByRole("button", { name: "Save" }).click();
  await expect(policy.getByTestId("signing-state")).toContainText("Required");

  const refused = tryInspect("alice/signed:1");
  expect(refused).toContain("is not signed");
  expect(refused).toContain("ci");
  // The tag page says so too.
  await page.goto("/repositories/alice/signed");
  await page.locator("tr[data-tag='1'] a").first().click();
  await expect(page.getByTestId("tag-life")).toContainText("Unsigned");

  await page.goto("/namespaces/alice?tab=rules");
  await hydrated(page);
  await policy.getByLabel("Require signed images on every pull").uncheck();
  await policy.getByRole("button", { name: "Save" }).click();
  await expect(policy.getByTestId("signing-state")).toContainText("Not required");
  expect(tryInspect("alice/signed:1")).toBeNull();
  await logOut(page);
});

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("a rule is added as a plain form, and a bad pattern is explained next to its field", async ({ page }) => {
    await logIn(page, alice);
    await page.goto("/namespaces/alice?tab=rules");
    const card = page.locator("#rules");
    await card.getByLabel("Tags").fill("v 1");
    await card.getByRole("button", { name: "Add rule" }).click();
    await expect(page.locator("#rules")).toContainText("cannot be in a tag");
    await page.locator("#rules").getByLabel("Tags").fill("release-*");
    await page.locator("#rules").getByRole("button", { name: "Add rule" }).click();
    await expect(page.locator("#rules tr", { hasText: "release-*" })).toContainText("Immutable");
    // A protected tag: owners push it, administrators alone delete it.
    await page.locator("#rules").getByLabel("Tags").fill("prod");
    await page.locator("#rules").getByLabel("Protected").check();
    await page.locator("#rules").getByLabel("Delete", { exact: true }).selectOption("admin");
    await page.locator("#rules").getByRole("button", { name: "Add rule" }).click();
    await expect(page.locator("#rules tr", { hasText: "prod" })).toContainText("Protected: owners push, administrators delete");
  });

  test("a key that is not a public key is refused next to its field", async ({ page }) => {
    await logIn(page, alice);
    await page.goto("/namespaces/alice?tab=rules");
    const trust = page.locator("section", { hasText: "Trust a key" });
    await trust.getByLabel("Name").fill("leaked");
    await trust.getByLabel("Public key").fill("-----BEGIN EC PRIVATE KEY-----\nMHc=\n-----END EC PRIVATE KEY-----");
    await trust.getByRole("button", { name: "Trust key" }).click();
    await expect(page.locator("section", { hasText: "Trust a key" })).toContainText("this is a private key");
  });
});

test("an administrator makes the registry read-only: every page says why, pushes are refused with the message, until it is off", async ({ page }) => {
  await logIn(page, admin);
  await page.goto("/admin/settings");
  await hydrated(page);
  const card = page.locator("section", { hasText: "Read-only mode" }).last();
  await card.getByLabel("The registry is read-only").check();
  await card.getByLabel("Message").fill("Garbage collection until 14:00 UTC");
  await card.getByRole("button", { name: "Save read-only mode" }).click();
  await expect(card.getByText("Read-only mode saved.")).toBeVisible();
  // The banner follows at once, and is on every page.
  await expect(page.getByRole("status").filter({ hasText: "Garbage collection until 14:00 UTC" })).toBeVisible();
  await page.goto("/explore");
  await expect(page.getByRole("status").filter({ hasText: "pulls go on" })).toBeVisible();

  const refused = tryPush("alice/release:during-gc", "org.example.build=gc");
  expect(refused).toContain("Garbage collection until 14:00 UTC");

  await page.goto("/admin/settings");
  await hydrated(page);
  await card.getByLabel("The registry is read-only").uncheck();
  await card.getByRole("button", { name: "Save read-only mode" }).click();
  await expect(card.getByText("Read-only mode saved.")).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Garbage collection" })).toHaveCount(0);
  expect(tryPush("alice/release:after-gc", "org.example.build=gc")).toBeNull();
  await logOut(page);
});

test("an administrator caps a namespace's storage; the page shows what it uses of it", async ({ page }) => {
  await logIn(page, admin);
  await page.goto("/namespaces/alice?tab=settings");
  await hydrated(page);
  const card = page.locator("section", { hasText: "Storage quota" });
  await card.getByLabel("Quota").fill("12 parsecs");
  await card.getByRole("button", { name: "Save quota" }).click();
  await expect(card).toContainText("a size such as 50 GB");
  await card.getByLabel("Quota").fill("1 GB");
  await card.getByRole("button", { name: "Save quota" }).click();
  await expect(page.getByTestId("quota")).toContainText("of 1.0 GB");
  await page.goto("/namespaces/alice?tab=settings");
  await expect(page.locator("section", { hasText: "Storage quota" }).getByLabel("Quota")).toHaveValue("1.0 GB");
  // alice sees her usage, but no form to change it.
  await logOut(page);
  await logIn(page, alice);
  await page.goto("/namespaces/alice");
  await expect(page.getByTestId("quota")).toContainText("of 1.0 GB");
  // The summary counts the namespace's tags too (alice pushed several by now).
  await expect(page.getByTestId("tag-count")).toContainText(/ · \d+ tags/);
  await page.goto("/namespaces/alice?tab=settings");
  await expect(page.getByText("Storage quota")).toHaveCount(0);
  await logOut(page);
});

test("an administrator sets the site's default quota, and clears it back to the configuration's", async ({ page }) => {
  await logIn(page, admin);
  await page.goto("/admin/settings");
  await hydrated(page);
  const card = page.locator("section", { hasText: "Default storage quota" });
  await expect(card.getByTestId("default-quota")).toContainText("the configuration sets none");
  await card.getByLabel("Default quota").fill("a lot");
  await card.getByRole("button", { name: "Save default quota" }).click();
  await expect(card).toContainText("a size such as 50 GB");
  await card.getByLabel("Default quota").fill("20 GB");
  await card.getByRole("button", { name: "Save default quota" }).click();
  await expect(card.getByText("Default quota saved.")).toBeVisible();
  await expect(card.getByTestId("default-quota")).toContainText("20.0 GB");
  await card.getByLabel("Default quota").fill("");
  await card.getByRole("button", { name: "Save default quota" }).click();
  await expect(card.getByTestId("default-quota")).toContainText("the configuration sets none");
  await logOut(page);
});

test("a signed-out visitor who opens a private repository is offered to sign in, and comes back to it", async ({ page }) => {
  await page.goto("/repositories/alice/release?tab=tags");
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await expect(page.getByText("If it is private, sign in to see it.")).toBeVisible();
  await page.getByRole("main").getByRole("link", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/login\?next=/);
  await fillLogin(page, alice.username, alice.password);
  await expect(page).toHaveURL(/\/repositories\/alice\/release\?tab=tags$/);
  await expect(page.getByRole("heading", { name: "alice/release" })).toBeVisible();
  // Signed in, a page that is not there offers no sign-in.
  await page.goto("/repositories/alice/nothing-here");
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await expect(page.getByText("If it is private, sign in to see it.")).toHaveCount(0);
  await logOut(page);
});
