import { test, expect, Locator } from "@playwright/test";

import { admin, alice, hydrated, logIn, logOut, nav } from "./helpers";

// Needs 01-accounts.spec.ts first: root-admin (administrator) and alice exist.

test("an admin builds a team with a namespace; a viewer sees it but not the visibility control", async ({ page }) => {
  await logIn(page, admin);

  await nav(page, "Teams").click();
  await expect(page.getByRole("heading", { name: "Teams" })).toBeVisible();
  await page.getByLabel("Name").fill("platform");
  await page.getByLabel("Description").fill("The platform team");
  await page.getByRole("button", { name: "Create team" }).click();
  await expect(page.getByRole("heading", { name: "Team platform" })).toBeVisible();

  await page.getByLabel("Username").fill(alice.username);
  await page.locator("#field-role").selectOption("viewer");
  await page.getByRole("button", { name: "Add member" }).click();
  const row = page.getByRole("row", { name: /alice/ });
  await expect(row).toBeVisible();
  await expect(row.getByRole("combobox")).toHaveValue("viewer");

  // Adding someone who does not exist says so next to the field.
  await page.getByLabel("Username").fill("no-such-user");
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.locator("#field-username-error")).toContainText("no user has this name");

  await nav(page, "Namespaces").click();
  // The page shows once its section's code is there (it is fetched on first use).
  await expect(page.getByRole("heading", { level: 1, name: "Namespaces", exact: true })).toBeVisible();
  await page.getByLabel("Name").fill("platform-apps");
  await page.locator("#field-team").selectOption("platform");
  await page.getByRole("button", { name: "Create namespace" }).click();
  await expect(page.getByRole("heading", { name: "platform-apps" })).toBeVisible();
  await expect(page.getByText("owned by team")).toBeVisible();

  // The namespace's pages are tabs; its settings are the last.
  await page.getByRole("navigation", { name: "Namespace" }).getByRole("link", { name: "Settings" }).click();
  const form = page.getByTestId("visibility-form");
  await form.getByLabel(/protected/).check();
  await form.getByRole("button", { name: "Save visibility" }).click();
  await expect(page.locator("main").getByText("protected", { exact: true }).first()).toBeVisible();
  await page.reload();
  await expect(page.getByTestId("visibility-form").getByLabel(/protected/)).toBeChecked();
  await page.getByRole("navigation", { name: "Namespace" }).getByRole("link", { name: "Activity" }).click();
  await expect(page.getByText("namespace.visibility")).toBeVisible();
  await logOut(page);

  await logIn(page, alice);
  await nav(page, "Namespaces").click();
  await page.getByRole("link", { name: "platform-apps" }).click();
  await expect(page.getByRole("heading", { name: "platform-apps" })).toBeVisible();
  await expect(page.getByText("your role:")).toContainText("viewer");
  // A viewer has no settings tab, and asking for it shows the repositories.
  await expect(page.getByRole("navigation", { name: "Namespace" }).getByRole("link", { name: "Settings" })).toHaveCount(0);
  await page.goto("/namespaces/platform-apps?tab=settings");
  await expect(page.getByText("No repositories yet")).toBeVisible();
  await expect(page.getByTestId("visibility-form")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Save visibility" })).toHaveCount(0);
  // Alice is not offered team management either.
  await page.goto("/teams/platform");
  await expect(page.getByRole("button", { name: "Add member" })).toHaveCount(0);
  await logOut(page);
});

test("an admin manages users and sees the activity log", async ({ page }) => {
  await logIn(page, admin);
  await nav(page, "Admin").click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await page.getByLabel("Username").fill("ci-bot");
  await page.getByLabel("Bot user (no password)").check();
  await page.getByRole("button", { name: "Create user" }).click();
  const bot = page.locator("tr[data-user='ci-bot']");
  await expect(bot).toBeVisible();
  await expect(bot).toContainText("bot");
  // Each row's actions are behind one menu; a bot never signs in to the web interface, alice has.
  await expect(bot).toContainText("tokens only");
  await expect(page.locator(`tr[data-user='${alice.username}']`)).not.toContainText("never");
  // What changes access asks first: disabling the bot, then enabling it again.
  await openActions(bot);
  await bot.getByText("Disable…").click();
  await expect(bot.getByText(/Disable ci-bot\? They are signed out everywhere/)).toBeVisible();
  await expect(bot).toContainText("enabled");
  await bot.getByRole("button", { name: "Yes, disable" }).click();
  await expect(bot).toContainText("disabled");
  await openActions(bot);
  await bot.getByRole("button", { name: "Enable" }).click();
  await expect(bot).not.toContainText("disabled");
  // An administrator mints a token for the bot; the secret is shown once.
  await openActions(bot);
  await bot.getByText("Token…").click();
  await bot.getByPlaceholder("ci").fill("deploy");
  await bot.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByTestId("new-token").locator("code").first()).toHaveText(/^pcat_/);
  await expect(page.getByTestId("new-token").locator("code").nth(1)).toHaveText(/^echo 'pcat_\S+' \| docker login \S+ -u ci-bot --password-stdin$/);
  // An administrator sets a user's password (alice's, to the one she has: later tests sign in
  // with it); without SMTP here, the menu says why no link can be mailed.
  const row = page.locator(`tr[data-user='${alice.username}']`);
  await hydrated(page);
  await openActions(row);
  await row.getByText("Password…").click();
  await expect(row.getByText("Reset links need email (smtp_host).")).toBeVisible();
  await row.getByLabel("New password").fill(alice.password);
  await row.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByText("Password set. That user was signed out everywhere.")).toBeVisible();
  // The user list is searched in the database, and the search is a plain form.
  await page.getByLabel("Find users").fill("ci-b");
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page).toHaveURL(/\/admin\/users\?q=ci-b/);
  await expect(page.locator("tr[data-user='ci-bot']")).toBeVisible();
  await expect(page.locator("tr[data-user='alice']")).toHaveCount(0);

  // Authentication: no directory or mail server here, and a group mapping is added and shown.
  await page.getByRole("link", { name: "Authentication" }).click();
  await expect(page).toHaveURL(/\/admin\/authentication$/);
  await expect(page.getByText("Not configured: everyone has a local account.", { exact: false })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Group (DN, name, or groups claim value)").fill("cn=registry-admins,ou=groups,dc=example,dc=org");
  await page.getByLabel("Members are administrators").check();
  await page.getByRole("button", { name: "Add mapping" }).click();
  await expect(page.locator("tr[data-mapping='cn=registry-admins,ou=groups,dc=example,dc=org']")).toContainText("administrators");

  await page.getByRole("link", { name: "Activity" }).click();
  await expect(page.getByText("team.member.add")).toBeVisible();
  await page.locator("select[name=action]").selectOption("team");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=team/);
  await expect(page.getByText("namespace.create")).toHaveCount(0);
  const csv = await page.request.get("/admin/activity.csv?action=team");
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain("team.create");
  await logOut(page);
});

test("a user creates an access token, sees it once, and revokes it", async ({ page }) => {
  await logIn(page, alice);
  await page.goto("/account");
  await page.getByLabel("Name", { exact: true }).fill("laptop");
  await page.getByLabel("Pull only").check();
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByTestId("new-token");
  await expect(shown).toContainText("laptop");
  await expect(shown.locator("code").first()).toHaveText(/^pcat_[A-Za-z0-9_-]{43}$/);
  // With the line that signs in with it, ready to copy.
  const secret = await shown.locator("code").first().innerText();
  await expect(shown.locator("code").nth(1)).toHaveText(
    new RegExp(`^echo '${secret}' \\| docker login \\S+ -u ${alice.username} --password-stdin$`),
  );
  const row = page.getByRole("row", { name: /laptop/ });
  await expect(row).toContainText("pull only");

  await page.reload();
  await expect(page.getByTestId("new-token")).toHaveCount(0);

  await row.getByText("Revoke…").click();
  await row.getByRole("button", { name: "Yes, revoke" }).click();
  await expect(page.getByRole("row", { name: /laptop/ })).toContainText("revoked");
  await logOut(page);
});

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("creating a token shows its secret once", async ({ page }) => {
    await logIn(page, alice);
    await page.goto("/account");
    await page.getByLabel("Name", { exact: true }).fill("no-js");
    await page.getByRole("button", { name: "Create token" }).click();
    await expect(page.getByTestId("new-token").locator("code").first()).toHaveText(/^pcat_/);
    await expect(page.getByTestId("new-token").locator("code").nth(1)).toContainText("--password-stdin");
    await page.reload();
    await expect(page.getByTestId("new-token")).toHaveCount(0);
  });
});

/// Opens a user row's actions menu (it stays open while the page stays).
async function openActions(row: Locator) {
  const menu = row.locator("details[data-actions]");
  if ((await menu.getAttribute("open")) === null) await menu.locator("summary").first().click();
}
