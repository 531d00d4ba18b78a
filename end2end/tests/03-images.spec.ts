import { test, expect } from "@playwright/test";

import { alice, hydrated, logIn, logOut, nav, pushImageAs, registry } from "./helpers";

// Needs 01-accounts first (alice exists) and the registry `make test` starts beside the server.

/// Builds an image with umoci (a label included) and pushes it with skopeo as alice.
function pushImage(repoTag: string, label: string) {
  pushImageAs(alice, `${registry}/${repoTag}`, label);
}


test("a new user pushes with the lines the dashboard gives, and the getting-started box goes away", async ({ page }) => {
  const newbie = { username: "newbie", password: "newbie password 1" };
  await page.goto("/signup");
  await page.getByLabel("Username").fill(newbie.username);
  await page.getByLabel("Password", { exact: true }).fill(newbie.password);
  await page.getByLabel("Confirm password").fill(newbie.password);
  await page.getByRole("button", { name: "Create account" }).click();
  const first = page.getByTestId("first-push");
  // The registry here is plain HTTP on 127.0.0.1: the box says what clients need for that.
  await expect(first.getByTestId("plain-http")).toContainText("--tls-verify=false");
  const login = await first.locator("code", { hasText: /^docker login / }).innerText();
  const push = await first.locator("code", { hasText: /^docker push / }).innerText();
  // What docker would do with those lines, done by skopeo: sign in as the login line says,
  // push to exactly the reference the push line names.
  const [, host, user] = login.match(/^docker login (\S+) -u (\S+)$/) ?? [];
  expect(host).toBe(registry);
  expect(user).toBe(newbie.username);
  const reference = push.replace(/^docker push /, "");
  pushImageAs({ username: user, password: newbie.password }, reference, "org.example.first=yes");
  await expect(async () => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Your recent pushes" })).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("first-push")).toHaveCount(0);
  await expect(page.getByRole("link", { name: `${newbie.username}/hello-world:latest` })).toBeVisible();
  await logOut(page);
});

test("a pushed image is found by search, its tag opened and its pull line copied", async ({ page, context }) => {
  pushImage("alice/webapp:2.1", "org.opencontainers.image.description=kingfisher web app");
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await logIn(page, alice);

  // The registry's notification reaches Portcullis within moments.
  await expect(async () => {
    await page.goto("/");
    await expect(page.getByRole("link", { name: "alice/webapp:2.1" })).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });

  await page.goto("/search?q=kingfisher");
  await expect(page.getByRole("heading", { name: "Tags" })).toBeVisible();
  await page.getByRole("link", { name: "alice/webapp:2.1" }).click();
  await expect(page.getByRole("heading", { name: "alice/webapp:2.1" })).toBeVisible();
  await expect(page.getByText("linux/amd64").first()).toBeVisible();
  await expect(page.getByText("kingfisher web app")).toBeVisible();

  const pull = `docker pull ${registry}/alice/webapp:2.1`;
  const line = page.locator("div", { has: page.locator("code", { hasText: pull }) }).last();
  // Copying is the page's own code: wait until it runs.
  await hydrated(page);
  await line.getByRole("button", { name: "Copy to clipboard" }).click();
  await expect(line.getByRole("button")).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(pull);

  await page.getByRole("link", { name: /all tags of/ }).click();
  await expect(page.locator("tr[data-tag='2.1']")).toContainText("linux/amd64");
  // alice may push here: the page gives her the push line too.
  await expect(page.locator("code", { hasText: `docker push ${registry}/alice/webapp:2.1` })).toBeVisible();

  // At phone width the tags table keeps the tag, its pull line and a one-line summary, and
  // the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  const row = page.locator("tr[data-tag='2.1']");
  await expect(row.getByText(/linux\/amd64 · pushed/)).toBeVisible();
  await expect(page.getByRole("columnheader", { name: "Digest" })).toBeHidden();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 800 });
  await logOut(page);
});

test("a private image is not explored by visitors; the explore page says so", async ({ page }) => {
  await page.goto("/explore");
  await expect(page.getByRole("heading", { name: "Explore" })).toBeVisible();
  await expect(page.getByText("alice/webapp")).toHaveCount(0);
  await expect(page.getByText("No public images yet")).toBeVisible();
  const response = await page.goto("/repositories/alice/webapp");
  expect(response?.status()).toBe(404);
});

test("an earlier image is put back under its tag from the tag's history", async ({ page }) => {
  pushImage("alice/history:latest", "org.opencontainers.image.version=1");
  await logIn(page, alice);
  // The version label of the image `latest` points at, as its tag page shows it.
  const version = () => page.locator("section", { has: page.getByRole("heading", { name: "Labels" }) }).locator("dd");
  const latestPushed = async (v: string) => {
    await expect(async () => {
      await page.goto("/repositories/alice/history");
      await page.locator("tr[data-tag='latest'] a").first().click();
      await expect(version()).toHaveText(v, { timeout: 1000 });
    }).toPass({ timeout: 20_000 });
  };
  await latestPushed("1");
  pushImage("alice/history:latest", "org.opencontainers.image.version=2");
  await latestPushed("2");

  // The tag's history lists both pushes; the first can be put back.
  const history = page.locator("section", { has: page.getByRole("heading", { name: "History of this tag" }) });
  await expect(history.locator("li[data-move]")).toHaveCount(2);
  await expect(history.locator("li[data-move]").first()).toContainText("moved by alice");
  const first = history.locator("li[data-move]").last();
  await first.getByText("Put back…").click();
  await first.getByRole("button", { name: "Yes, put it back" }).click();
  // Back on the repository's history page, which names the tag of each move.
  await expect(page).toHaveURL(/\/repositories\/alice\/history\/-\/history$/);
  await expect(page.getByText("put back by alice")).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "History" })).toHaveAttribute("aria-current", "page");
  await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Tags" }).click();
  await page.locator("tr[data-tag='latest'] a").first().click();
  await expect(version()).toHaveText("1");
  await logOut(page);
});

test("a tag is deleted in place from the repository page, and a stale delete is refused", async ({ page }) => {
  for (const tag of ["old", "new"]) pushImage(`alice/doomed:${tag}`, `org.opencontainers.image.version=${tag}`);
  await logIn(page, alice);
  await expect(async () => {
    await page.goto("/repositories/alice/doomed");
    await expect(page.locator("tr[data-tag]")).toHaveCount(2, { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await hydrated(page);
  // Marks this document: a full page load would lose the mark.
  await page.evaluate(() => ((window as any).stayed = true));

  const old = page.locator("tr[data-tag='old']");
  await old.getByText("Delete…").click();
  await old.getByRole("button", { name: "Yes, delete" }).click();
  await expect(page.locator("tr[data-tag]")).toHaveCount(1);
  await expect(page.locator("tr[data-tag='new']")).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);

  // A delete whose image is not the one shown (the tag moved meanwhile) is refused, in place.
  const fresh = page.locator("tr[data-tag='new']");
  await fresh.locator("input[name=digest]").evaluate((i: HTMLInputElement) => (i.value = "sha256:" + "0".repeat(64)));
  await fresh.getByText("Delete…").click();
  await fresh.getByRole("button", { name: "Yes, delete" }).click();
  await expect(page.getByRole("alert")).toContainText("points at another image now");
  await expect(page.locator("tr[data-tag]")).toHaveCount(1);
  expect(await page.evaluate(() => (window as any).stayed)).toBe(true);
  await logOut(page);
});

test("an owner sets a cleanup policy, previews it and runs it", async ({ page }) => {
  for (const tag of ["1", "2", "3"]) pushImage(`alice/tidy:${tag}`, `org.opencontainers.image.version=${tag}`);
  await logIn(page, alice);
  await expect(async () => {
    await page.goto("/repositories/alice/tidy");
    await expect(page.locator("tr[data-tag]")).toHaveCount(3, { timeout: 1000 });
  }).toPass({ timeout: 20_000 });

  await page.goto("/namespaces/alice?tab=cleanup");
  await hydrated(page);
  const card = page.locator("#cleanup");
  await expect(card.getByText("No policy yet")).toBeVisible();
  await card.getByLabel("Keep the newest").fill("1");
  await card.getByRole("button", { name: "Save policy" }).click();

  await card.getByRole("link", { name: "Preview (dry run)" }).click();
  const report = card.getByTestId("cleanup-report");
  await expect(report).toContainText("would delete 2 tags");
  await expect(report.locator("tr[data-decision='delete']")).toHaveCount(2);
  await expect(report.locator("tr[data-decision='delete']").first()).toContainText("alice/tidy:2");

  await card.getByText("Run now…").click();
  await card.getByRole("button", { name: "Yes, run it" }).click();
  await expect(card.getByTestId("cleanup-last-run")).toContainText("on demand: deleted 2,");
  await page.goto("/repositories/alice/tidy");
  await hydrated(page);
  await expect(page.locator("tr[data-tag]")).toHaveCount(1);
  await expect(page.locator("tr[data-tag='3']")).toBeVisible();

  // The repository may have a policy of its own, which wins over the namespace's: on its
  // settings page, a tab away (the page's code loads then).
  await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/repositories\/alice\/tidy\/-\/settings$/);
  const own = page.locator("#cleanup");
  await expect(own.getByText("No policy of its own")).toBeVisible();
  await own.getByLabel("Keep the newest").fill("5");
  await own.getByRole("button", { name: "Save policy" }).click();
  await own.getByRole("link", { name: "Preview (dry run)" }).click();
  await expect(own.getByTestId("cleanup-report")).toContainText("would delete 0 tags, keeps 1");
  await logOut(page);
});

test.describe("with JavaScript disabled", () => {
  test.use({ javaScriptEnabled: false });

  test("a repository's cleanup policy is saved, previewed and run as plain forms and pages", async ({ page }) => {
    for (const tag of ["a", "b"]) pushImage(`alice/plain:${tag}`, `org.opencontainers.image.version=${tag}`);
    await logIn(page, alice);
    await expect(async () => {
      await page.goto("/repositories/alice/plain");
      await expect(page.locator("tr[data-tag]")).toHaveCount(2, { timeout: 1000 });
    }).toPass({ timeout: 20_000 });

    await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Settings" }).click();
    const card = page.locator("#cleanup");
    await card.getByLabel("Keep the newest").fill("1");
    await card.getByLabel("Always keep").fill("");
    await card.getByRole("button", { name: "Save policy" }).click();
    await card.getByRole("link", { name: "Preview (dry run)" }).click();
    await expect(page).toHaveURL(/\?dry-run/);
    const report = card.getByTestId("cleanup-report");
    await expect(report).toContainText("would delete 1 tag, keeps 1");
    await expect(report.locator("tr[data-decision='delete']")).toContainText("alice/plain:a");

    await card.getByText("Run now…").click();
    await card.getByRole("button", { name: "Yes, run it" }).click();
    await expect(card.getByTestId("cleanup-last-run")).toContainText("on demand: deleted 1, kept 1");
    await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Tags" }).click();
    await expect(page.locator("tr[data-tag]")).toHaveCount(1);
    await expect(page.locator("tr[data-tag='b']")).toBeVisible();
    await logOut(page);
  });
});
