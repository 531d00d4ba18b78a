// Signs in with Debian's Chromium through a given address (the balancer test's haproxy), and
// checks that the session still works after the test has killed a replica:
//   node end2end/sign-in-through.js <base URL> <username> <password>
// It prints "signed in", waits for a line on standard input (the test kills a replica then),
// reloads the dashboard a few times, prints "still signed in" and exits 0; any failure exits 1.
const { chromium } = require("@playwright/test");
const readline = require("node:readline");

(async () => {
  const [base, username, password] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("user-menu").waitFor({ timeout: 15_000 });
    console.log("signed in");
    await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once("line", resolve));
    for (let i = 0; i < 4; i++) {
      await page.goto(`${base}/`);
      await page.getByText(`Welcome, ${username}`).waitFor({ timeout: 15_000 });
    }
    console.log("still signed in");
  } finally {
    await browser.close();
  }
})().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
