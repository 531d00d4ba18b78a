import { test, expect } from "@playwright/test";

import { admin, alice, hydrated, logIn, logOut } from "./helpers";

// Needs 01-accounts first (alice exists, owner of her personal namespace).

test("an owner adds a webhook, sends a test event and reads in the log why it was not delivered", async ({ page }) => {
  await logIn(page, alice);
  await page.goto("/namespaces/alice?tab=webhooks");
  await hydrated(page);
  const card = page.locator("#webhooks");
  await expect(card.getByText("No webhooks yet")).toBeVisible();
  await card.getByText("Add a webhook").click();
  await card.getByLabel("Name").fill("ci");
  // A name that resolves nowhere: the delivery fails, and the log says why.
  await card.getByLabel("URL").fill("http://hooks.portcullis-e2e.invalid/registry");
  await card.getByLabel("Secret").fill("a shared secret of ours");
  await card.getByRole("button", { name: "Add webhook" }).click();
  const row = card.locator("tr[data-webhook='ci']");
  await expect(row).toContainText("push, delete");
  await expect(row).toContainText("none yet");

  await row.getByRole("link", { name: "ci" }).click();
  await expect(page.getByRole("heading", { name: "ci" })).toBeVisible();
  await page.getByRole("button", { name: "Send a test event" }).click();
  await expect(page.locator("tr[data-delivery]")).toHaveCount(1);
  await expect(async () => {
    await page.reload();
    await expect(page.locator("tr[data-delivery]").first()).toContainText("retrying", { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.locator("tr[data-delivery]").first()).toContainText("does not resolve");
  // The delivery in full: why it failed, when it is tried next, and the event as sent.
  const details = page.locator("tr[data-delivery]").first().locator("[data-delivery-details]");
  await details.getByText("Details").click();
  await expect(details).toContainText("Next try");
  await expect(details.locator("pre")).toContainText('"type": "TEST"');
  await expect(page.getByText("a shared secret of ours")).toHaveCount(0);

  // An administrator sees the failing namespace webhook on Admin → Webhooks, with why.
  const hookPage = page.url();
  await logOut(page);
  await logIn(page, admin);
  await page.goto("/admin/webhooks");
  const all = page.locator("#namespace-webhooks");
  await expect(all).toContainText("1 failing");
  const failing = all.locator("tr[data-webhook='ci'][data-failing]");
  await expect(failing).toContainText("alice");
  await expect(failing).toContainText("does not resolve");
  await logOut(page);
  await logIn(page, alice);
  await page.goto(hookPage);

  // Edited in place: another event and payload; the secret stays unless a new one is typed.
  await page.getByText("Edit…").click();
  await page.getByLabel("Pull").check();
  await page.getByLabel("Payload").selectOption("cloudevents");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Events: push, delete, pull · payload: cloudevents")).toBeVisible();

  await page.getByRole("button", { name: "Turn off" }).click();
  await expect(page.getByRole("button", { name: "Turn on" })).toBeVisible();

  await page.getByRole("link", { name: /webhooks of alice/ }).click();
  const off = page.locator("#webhooks tr[data-webhook='ci']");
  await expect(off).toContainText("off");
  await off.getByText("Delete…").click();
  await off.getByRole("button", { name: "Yes, delete" }).click();
  await expect(page.locator("#webhooks").getByText("No webhooks yet")).toBeVisible();
  await logOut(page);
});
