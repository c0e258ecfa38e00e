// An admin works the operations console in a real browser: logs in, requeues the
// dead-lettered job on 运行状况, finds a seller and freezes them with a reason, and the
// seller's product leaves the storefront.
// Screenshots of each page at 390 px (phone) and 1280 px wide.
// Usage: node admin.mjs BASE_URL ADMIN_USERNAME ADMIN_PASSWORD SELLER_USERNAME PRODUCT_ID SCREENSHOT_DIR
// Exits non-zero, saying which step failed, if anything on the way is wrong.
import { chromium } from "playwright-core";

const [base, username, password, seller, product, shots] = process.argv.slice(2);
if (!base || !username || !password || !seller || !product || !shots) {
  console.error("usage: node admin.mjs BASE_URL ADMIN_USERNAME ADMIN_PASSWORD SELLER_USERNAME PRODUCT_ID SCREENSHOT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

// Both widths of the current page; the page must not scroll sideways at either.
async function shoot(page, name) {
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) throw new Error(`${name} is ${overflow}px wider than a ${width}px screen`);
    await page.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
  }
}

let step = "start";
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  page.setDefaultTimeout(15000);

  const productLinks = async () => {
    await page.goto(base + "/");
    return page.locator(`a[href="/products/${product}"]`).count();
  };
  step = "the seller's product is on the storefront";
  if ((await productLinks()) === 0) throw new Error("the product is not listed before the freeze");

  step = "the login page logs the admin in and lands on /admin";
  await page.goto(base + "/login");
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form[action="/login"] button[type="submit"]').click();
  await page.waitForURL(/\/admin$/);
  await page.getByRole("heading", { name: "运行状况" }).waitFor();
  await shoot(page, "health");

  step = "the dead job is listed with its error and requeued";
  if (!(await page.content()).includes("provider refused")) throw new Error("the dead job's error is not shown");
  await page.getByRole("button", { name: "重新排队" }).first().click();
  await page.waitForURL(/\/admin\?done=requeued$/);
  if (!(await page.content()).includes("任务已重新排队")) throw new Error("no confirmation after 重新排队");
  if ((await page.getByRole("button", { name: "重新排队" }).count()) !== 0) throw new Error("the job is still dead");
  await shoot(page, "health-requeued");

  step = "the seller is found by name";
  await page.getByRole("link", { name: "卖家", exact: true }).click();
  await page.waitForURL(/\/admin\/sellers$/);
  await page.locator('input[name="q"]').fill(seller);
  await page.getByRole("button", { name: "搜索" }).click();
  await page.waitForURL(/\/admin\/sellers\?q=/);
  await shoot(page, "sellers");
  await page.getByRole("link", { name: seller, exact: true }).click();
  await page.waitForURL(/\/admin\/sellers\/[^/?]+$/);
  await shoot(page, "seller");

  step = "freezing with a reason";
  await page.locator("#freeze-reason").fill("浏览器测试：涉嫌欺诈，先冻结核查");
  await page.getByRole("button", { name: "冻结", exact: true }).click();
  await page.waitForURL(/\?done=frozen$/);
  const frozen = await page.content();
  if (!frozen.includes("已冻结该卖家") || !frozen.includes("浏览器测试：涉嫌欺诈")) throw new Error("the seller page does not show the freeze");
  await shoot(page, "seller-frozen");
  const sellerPage = page.url().replace(/\?done=frozen$/, "");

  step = "the frozen seller's product has left the storefront";
  if ((await productLinks()) !== 0) throw new Error("the product is still listed after the freeze");
  await page.goto(sellerPage);

  step = "the ban's first step shows what it would do";
  await page.locator("#ban-reason").fill("浏览器测试：仅查看影响");
  await page.getByRole("button", { name: "查看封禁影响…" }).click();
  await page.waitForURL(/\/ban\/preview$/);
  await page.getByRole("heading", { name: /确认封禁卖家/ }).waitFor();
  await shoot(page, "ban-confirm");

  step = "the other sections fit a phone";
  for (const [path, name] of [
    ["/admin/reconciliation", "reconciliation"],
    ["/admin/accounts", "accounts"],
    ["/admin/rules", "rules"],
  ]) {
    await page.goto(base + path);
    await page.locator("h1").waitFor();
    await shoot(page, name);
  }

  step = "the console in English";
  await page.locator("header a.lang").click();
  await page.waitForURL(/\/admin\/rules$/);
  await page.waitForLoadState();
  if ((await page.evaluate(() => document.documentElement.lang)) !== "en") throw new Error("the page is not in English");
  for (const [path, name, heading] of [
    ["/admin", "en-health", "Health"],
    ["/admin/accounts", "en-accounts", "Accounts"],
  ]) {
    await page.goto(base + path);
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
    // No Chinese but the switch's own label (中文) and records shown as stored
    // (`code.detail`: an event's details hold the freeze reason typed above).
    const text = await page.evaluate(() => {
      const body = document.body.cloneNode(true);
      body.querySelectorAll("a.lang, code.detail").forEach((a) => a.remove());
      return body.innerText;
    });
    const han = text.match(/[\u3000-\u303f\u3400-\u9fff\uff00-\uffef].{0,20}/);
    if (han) throw new Error(`${path} has Chinese in English: ${han[0]}`);
    await shoot(page, name);
  }

  console.log(`ok: requeued a job and froze ${seller} in chromium`);
} catch (e) {
  console.error(`failed at: ${step}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
