// Signs in to Portcullis through its OpenID Connect provider with Debian's Chromium, the whole
// redirect flow: Portcullis's sign-in page, the provider's sign-in and consent pages, back to
// Portcullis (and its "choose your username" page when asked to):
//   node end2end/oidc-sign-in.js <base URL> <provider login> [username to choose]
// Prints "signed in as <username>" and "cookie <name>=<value>" (the session, for the test to
// go on with), and exits 0; any failure exits 1 with the page's text.
const { chromium } = require("@playwright/test");

(async () => {
  const [base, login, choose] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const page = await browser.newPage();
  try {
    await page.goto(`${base}/login`);
    await page.getByTestId("provider-sign-in").first().click();
    // The provider's own pages.
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill("the provider's password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    if (choose) {
      await page.getByLabel("Username").fill(choose);
      await page.getByRole("button", { name: "Continue" }).click();
    }
    const menu = page.getByTestId("user-menu");
    await menu.waitFor({ timeout: 15_000 });
    console.log(`signed in as ${(await menu.innerText()).trim()}`);
    const cookie = (await page.context().cookies(base)).find((c) => c.name === "portcullis_session");
    console.log(`cookie ${cookie.name}=${cookie.value}`);
  } catch (e) {
    console.error(`${e}\n--- ${page.url()}\n${await page.locator("body").innerText().catch(() => "")}`);
    throw e;
  } finally {
    await browser.close();
  }
})().then(
  () => process.exit(0),
  () => process.exit(1),
);
