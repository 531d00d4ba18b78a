// What a first visit to a page downloads before it is interactive, measured in Debian's
// Chromium: every script and wasm module the page fetches from a fresh cache until it has
// hydrated (the body's data-hydrated attribute) and the network is idle.
//   node end2end/first-load.js <base URL> <session cookie or -> <path> [<path> ...]
// Prints one JSON line per page and width:
//   {"path", "width", "files", "raw", "gzip"}
// raw is the files' bytes, gzip what they come to gzip-compressed (level 6; a release site
// also ships brotli files, smaller still). Then, signed in (as an administrator), follows the link to Admin → Users on the
// first path without reloading the page: a page the first visit did not load fetches its own
// code then, and works; it prints {"navigated", "fetched"}.
// Any page error, failed request or missing hydration exits 1.
const zlib = require("zlib");
const { chromium } = require("@playwright/test");

const WIDTHS = [
  { name: "desktop", viewport: { width: 1280, height: 800 } },
  { name: "phone", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
];

async function visit(browser, base, cookie, path, width) {
  const context = await browser.newContext({ viewport: width.viewport, isMobile: width.isMobile, hasTouch: width.hasTouch });
  if (cookie) {
    const [name, value] = cookie.split("=");
    await context.addCookies([{ name, value, url: base }]);
  }
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`page error: ${e}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
  page.on("requestfailed", (r) => errors.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  const code = [];
  page.on("response", (r) => {
    if (/\.(js|wasm)$/.test(new URL(r.url()).pathname)) code.push(r);
  });
  await page.goto(base + path);
  await page
    .locator("body[data-hydrated]")
    .waitFor({ state: "attached", timeout: 30_000 })
    .catch((e) => errors.push(`not hydrated: ${e.message.split("\n")[0]}`));
  if (!errors.length) await page.waitForLoadState("networkidle");
  let raw = 0, gzip = 0;
  for (const r of code) {
    // Fetched again (the browser's copy may be gone from the inspector's cache by now).
    const body = await (await context.request.get(r.url())).body();
    raw += body.length;
    gzip += zlib.gzipSync(body, { level: 6 }).length;
  }
  if (errors.length) throw new Error(`${path} (${width.name}):\n${errors.join("\n")}`);
  return { page, context, result: { path, width: width.name, files: code.length, raw, gzip } };
}

(async () => {
  const [base, cookie, ...paths] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    for (const path of paths) {
      for (const width of WIDTHS) {
        const { context, result } = await visit(browser, base, cookie === "-" ? "" : cookie, path, width);
        console.log(JSON.stringify(result));
        await context.close();
      }
    }
    // A page the first visit did not load: its code comes when the router goes there (an
    // administrator's session: Admin → Users).
    if (cookie === "-") return;
    const { page, context } = await visit(browser, base, cookie === "-" ? "" : cookie, paths[0], WIDTHS[0]);
    await page.evaluate(() => (window.__stayed = true));
    const later = [];
    page.on("response", (r) => /\.wasm$/.test(new URL(r.url()).pathname) && later.push(r.url()));
    await page.getByRole("link", { name: "Admin" }).click();
    await page
      .getByRole("navigation", { name: "Administration" })
      .locator('a[aria-current="page"]', { hasText: "Users" })
      .waitFor({ timeout: 15_000 });
    if (!(await page.evaluate(() => window.__stayed))) throw new Error("following the link reloaded the page");
    if (!later.length) throw new Error("Admin → Users fetched no code of its own");
    console.log(JSON.stringify({ navigated: "/admin/users", fetched: later.length }));
    await context.close();
  } finally {
    await browser.close();
  }
})().then(
  () => process.exit(0),
  (e) => {
    console.error(`${e.stack ?? e}`);
    process.exit(1);
  },
);
