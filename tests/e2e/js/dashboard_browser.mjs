// Drives Debian's Chromium (headless, through playwright-core) over the batchemu dashboard.
// Protocol with the Python test: prints "ready" once the dashboard is open, then reads one line from
// stdin: the job id to watch. It waits for that job's row to reach SUCCEEDED without reloading (the
// page is live), opens the job page, waits for `expectedLog`, and prints one JSON line of what it saw.
// Env: BATCHEMU_ENDPOINT, BATCHEMU_NODE_MODULES, CHROMIUM, EXPECTED_LOG, USER_DATA_DIR.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(process.env.BATCHEMU_NODE_MODULES + "/");
const { chromium } = require("playwright-core");

const endpoint = process.env.BATCHEMU_ENDPOINT;
const expectedLog = process.env.EXPECTED_LOG;
const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

function nextLine() {
  const lines = createInterface({ input: process.stdin });
  return new Promise((resolve) => lines.once("line", (line) => { lines.close(); resolve(line.trim()); }));
}

const context = await chromium.launchPersistentContext(process.env.USER_DATA_DIR, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args,
});
const result = { statusesSeen: [], errors: [], dialogs: [] };
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (error) => result.errors.push(String(error)));
  page.on("dialog", async (dialog) => { result.dialogs.push(dialog.message()); await dialog.dismiss(); });
  await page.goto(`${endpoint}/_batchemu/ui`);
  await page.locator("h1", { hasText: "AWS Batch, locally" }).waitFor({ timeout: 10000 });
  console.log("ready");

  const jobId = await nextLine();
  const row = page.locator(`#jobs tr[data-job-id="${jobId}"]`);
  const status = row.locator(".status");
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const now = (await status.count()) ? (await status.first().textContent()).trim() : null;
    if (now && result.statusesSeen.at(-1) !== now) result.statusesSeen.push(now);
    if (now === "SUCCEEDED" || now === "FAILED") break;
    await page.waitForTimeout(100);
  }
  result.queueSucceeded = (await page.locator("#job-queues tbody tr").first().locator(".count").nth(5).textContent()).trim();

  await row.locator("a").first().click();
  await page.waitForURL(`**/_batchemu/ui/jobs/${jobId}`);
  await page.locator("#logs", { hasText: expectedLog }).waitFor({ timeout: 20000 });
  result.logs = await page.locator("#logs").textContent();
  result.jobName = await page.locator("#job-name").textContent();
  result.parameters = await page.locator("#parameters tbody").textContent();
  result.attempts = await page.locator("#attempts tbody tr").count();
  result.injected = await page.evaluate(() => window.__batchemuInjected === true);
} catch (error) {
  result.failure = String(error && error.stack ? error.stack : error);
} finally {
  await context.close();
}
console.log(JSON.stringify(result));
