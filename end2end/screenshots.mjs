// Developer tool: screenshots of the main pages at desktop and phone width, to look at.
//   node end2end/screenshots.mjs [base-url] [out-dir]   (server must be running)
import { chromium } from "@playwright/test";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const out = process.argv[3] ?? "/tmp/portcullis-shots";
const user = process.env.SHOT_USER ?? "shot-admin";
const password = process.env.SHOT_PASSWORD ?? "screenshot password";
const pages = (process.env.SHOT_PAGES ?? "/,/account").split(",");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
for (const [name, viewport] of [["desktop", { width: 1280, height: 900 }], ["phone", { width: 390, height: 844 }]]) {
  const page = await browser.newPage({ viewport });
  await page.goto(`${base}/login`);
  await page.screenshot({ path: `${out}/${name}-login.png`, fullPage: true });
  await page.goto(`${base}/signup`);
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Confirm password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForLoadState("networkidle");
  if (!(await page.getByTestId("user-menu").count())) {
    await page.goto(`${base}/login`);
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState("networkidle");
  }
  for (const p of pages) {
    await page.goto(`${base}${p}`);
    await page.waitForLoadState("networkidle");
    const file = `${out}/${name}${p.replace(/[/?=&]/g, "_")}.png`;
    await page.screenshot({ path: file, fullPage: true });
    console.log(file);
  }
  await page.close();
}
await browser.close();
