import { test, expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

import { admin, hydrated, logIn, logOut } from "./helpers";

// Runs last: the earlier files leave users, a team, namespaces, pushed images and activity
// behind, so every page below has something on it. Each page, at phone and desktop width:
// - nothing scrolls sideways (the page's width is the window's);
// - axe-core (WCAG 2 A and AA rules) finds no serious or critical violation.

// Each page is loaded and checked twice; axe takes about a second a page.
test.describe.configure({ timeout: 300_000 });

const phone = { width: 390, height: 844 };
const desktop = { width: 1280, height: 900 };

/// What is wrong with the page now, as lines for the failure message (empty when nothing is).
async function problems(page: Page): Promise<string[]> {
  const found: string[] = [];
  const overflow = await page.evaluate(() => {
    const width = window.innerWidth;
    // The culprits: elements past the right edge that no scrolling box holds.
    const held = (e: Element) => {
      for (let up = e.parentElement; up; up = up.parentElement) if (getComputedStyle(up).overflowX !== "visible") return true;
      return false;
    };
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > width + 1 && !held(e))
      .slice(0, 3)
      .map((e) => `<${e.tagName.toLowerCase()} class="${e.getAttribute("class") ?? ""}">`);
    return { by: document.documentElement.scrollWidth - width, wide };
  });
  if (overflow.by > 0) found.push(`scrolls sideways by ${overflow.by}px: ${overflow.wide.join(" ")}`);
  const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  for (const v of axe.violations) {
    if (v.impact !== "serious" && v.impact !== "critical") continue;
    const where = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ");
    found.push(`${v.impact} ${v.id} (${v.help}): ${where}`);
  }
  return found;
}

/// Visits each path at both widths and reports every problem of every page at once.
async function tour(page: Page, paths: string[]) {
  const report: string[] = [];
  for (const size of [phone, desktop]) {
    await page.setViewportSize(size);
    for (const path of paths) {
      await page.goto(path);
      await page.waitForLoadState("networkidle");
      for (const p of await problems(page)) report.push(`${path} at ${size.width}px: ${p}`);
    }
  }
  expect(report, report.join("\n")).toEqual([]);
}

/// Where the first link on `from` whose address starts with `prefix` leads.
async function linkFrom(page: Page, from: string, prefix: string): Promise<string> {
  await page.goto(from);
  const href = await page.locator(`a[href^="${prefix}"]`).first().getAttribute("href");
  expect(href, `a link to ${prefix}… on ${from}`).toBeTruthy();
  return href!;
}

test("a visitor's pages fit a phone and pass the accessibility check", async ({ page }) => {
  await tour(page, ["/", "/login", "/signup", "/forgot-password", "/explore", "/search?q=webapp", "/no/such/page"]);
});

test("an administrator's pages fit a phone and pass the accessibility check", async ({ page }) => {
  await logIn(page, admin);
  const tag = await linkFrom(page, "/repositories/alice/webapp", "/tags/");
  // A site-wide webhook with one failed delivery, for the webhook pages.
  await page.goto("/admin/webhooks");
  await hydrated(page);
  const card = page.locator("#webhooks");
  await card.getByText("Add a webhook").click();
  await card.getByLabel("Name").fill("audit");
  await card.getByLabel("URL").fill("http://audit.portcullis-e2e.invalid/events");
  await card.getByLabel("Secret").fill("an audit secret of ours");
  await card.getByRole("button", { name: "Add webhook" }).click();
  await card.locator("tr[data-webhook='audit']").getByRole("link", { name: "audit" }).click();
  await page.getByRole("button", { name: "Send a test event" }).click();
  await expect(page.locator("tr[data-delivery]")).toHaveCount(1);
  const webhook = new URL(page.url()).pathname;
  await tour(page, [
    "/",
    "/account",
    "/namespaces",
    "/namespaces/alice",
    "/namespaces/alice?tab=access",
    "/namespaces/alice?tab=cleanup",
    "/namespaces/alice?tab=rules",
    "/namespaces/alice?tab=webhooks",
    "/namespaces/alice?tab=activity",
    "/namespaces/alice?tab=settings",
    "/teams",
    "/teams/platform",
    "/explore",
    "/search?q=webapp",
    "/repositories/alice/webapp",
    "/repositories/alice/webapp/-/history",
    "/repositories/alice/webapp/-/settings",
    tag,
    "/admin/users",
    "/admin/activity",
    "/admin/settings",
    "/admin/authentication",
    "/admin/webhooks",
    "/admin/registry",
    webhook,
  ]);
  await logOut(page);
});
