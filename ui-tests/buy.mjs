// A person buys a card key in a real browser: storefront → product page → buy form →
// sandbox cashier → Pay → order page, the key shown at once → confirm receipt.
// Usage: node buy.mjs BASE_URL PRODUCT_TITLE SCREENSHOT_DIR
// Exits non-zero, saying which step failed, if anything on the way is wrong.
import { chromium } from "playwright-core";

const [base, title, shots] = process.argv.slice(2);
if (!base || !title || !shots) {
  console.error("usage: node buy.mjs BASE_URL PRODUCT_TITLE SCREENSHOT_DIR");
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
let step = "start";
try {
  const page = await browser.newPage({ locale: "zh-CN" });
  page.setDefaultTimeout(15000);

  step = "storefront lists the product";
  await page.goto(base + "/");
  await page.getByRole("link", { name: title }).first().click();

  step = "product page has the buy form";
  await page.waitForURL(/\/products\//);
  await page.locator('input[name="contact"]').fill("qq 123456");
  await page.locator('input[name="query_password"]').fill("browser-pass-1");
  await page.screenshot({ path: `${shots}/1-product.png`, fullPage: true });
  await page.locator('form[action$="/buy"] button[type="submit"], form[action$="/buy"] input[type="submit"]').first().click();

  step = "the sandbox cashier shows a Pay button";
  await page.waitForURL(/\/sandbox\/cashier\//);
  await page.screenshot({ path: `${shots}/2-cashier.png`, fullPage: true });
  await page.locator('form[action*="/pay"] button, form[action*="/pay"] input[type="submit"]').first().click();

  step = "back on the order page (a clean address: the access is in a cookie), the order is delivered";
  await page.waitForURL(/\/orders\/[^/?]+$/);
  const orderCookie = (await page.context().cookies()).find((c) => c.name.startsWith("danbao_order_"));
  if (!orderCookie || !orderCookie.httpOnly || orderCookie.sameSite !== "Lax") {
    throw new Error("no HttpOnly, SameSite=Lax order cookie after checkout");
  }
  // Delivery follows the payment's notification; a page rendered while it lands may say
  // 已发货 before it can show the key, so wait for the key itself.
  for (let i = 0; i < 50; i++) {
    if (/DEMO-KEY-[0-9]+/.test(await page.content())) break;
    await page.waitForTimeout(200);
    await page.reload();
  }
  if (!(await page.content()).includes("已发货")) throw new Error("the order never showed 已发货");
  await page.screenshot({ path: `${shots}/3-order.png`, fullPage: true });

  step = "the delivered order page shows the key at once";
  const shown = await page.content();
  const key = shown.match(/DEMO-KEY-[0-9]+/);
  if (!key) throw new Error("no card key on the delivered order page");
  await page.screenshot({ path: `${shots}/4-revealed.png`, fullPage: true });

  step = "confirming receipt completes the order";
  await page.getByRole("button", { name: "确认收货" }).click();
  await page.waitForURL(/\/orders\/[^/?]+$/);
  await page.waitForLoadState();
  if (!(await page.content()).includes("已完成")) throw new Error("the order did not show 已完成");
  await page.screenshot({ path: `${shots}/5-completed.png`, fullPage: true });
  console.log(`ok: bought and revealed ${key[0]} in chromium`);
} catch (e) {
  console.error(`failed at: ${step}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
