// A buyer decides whether to trust a shop, in a real browser: the storefront, the product
// page with the seller's record, the published rules, the buy form with its payment
// method, the sandbox cashier (amount, order number, QR code, time left), Pay, and the
// order page. Every step is photographed at 1280 px and 390 px.
// Usage: node buyer_trust.mjs BASE_URL PRODUCT_TITLE COMPLAINT_RATE SCREENSHOT_DIR
// Exits non-zero, saying which step failed, if anything on the way is wrong.
import { chromium } from "playwright-core";

const [base, title, rate, shots] = process.argv.slice(2);
if (!base || !title || !rate || !shots) {
  console.error("usage: node buyer_trust.mjs BASE_URL PRODUCT_TITLE COMPLAINT_RATE SCREENSHOT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let step = "start";
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
page.setDefaultTimeout(15000);

// Both widths of the page as it is now.
async function shoot(name) {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/${name}-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${shots}/${name}-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  if (overflow > 1) throw new Error(`${name}: the page is ${overflow}px wider than a 390px phone`);
}

async function expectText(text) {
  const body = await page.locator("body").innerText();
  if (!body.includes(text)) throw new Error(`expected "${text}" on ${page.url()}:\n${body.slice(0, 1500)}`);
}

try {
  step = "the storefront";
  await page.goto(base + "/");
  await shoot("1-storefront");
  await page.getByRole("link", { name: title }).first().click();
  await page.waitForURL(/\/products\/[^/]+$/);
  const productUrl = page.url();

  step = "the product page shows the seller's record";
  await expectText("卖家信誉");
  const shown = (await page.locator("#trust-complaint-rate").innerText()).trim();
  if (shown !== rate) throw new Error(`complaint rate: expected ${rate}, shown ${shown}`);
  await expectText("已完成订单");
  await expectText("保证金");
  await shoot("2-product");

  step = "the rules the order will be judged by";
  await page.locator("#rules-link").click();
  await page.waitForURL(/\/rules$/);
  await expectText("规则公示");
  await expectText("内容哈希");
  await shoot("3-rules");

  step = "buy two, paying with the sandbox";
  await page.goto(productUrl);
  await page.locator("input#quantity").fill("2");
  await page.locator("input#contact").fill("qq 55501");
  await page.locator("input#query_password").fill("pass-word-1");
  await page.locator('input[name="payment_method"][value="sandbox"]').check();
  await page.locator('form[action$="/buy"] button[type="submit"]').click();
  await page.waitForURL(/\/cashier\/[^/]+$/);

  step = "the cashier shows the bill";
  await expectText("收款方");
  await expectText("订单号");
  await expectText("剩余");
  await page.locator('svg[aria-label="付款二维码"]').waitFor();
  const amount = (await page.locator("#amount").innerText()).trim();
  await shoot("4-cashier");

  step = "pay and come back to the order";
  await page.locator('form[action*="/pay"] button[type="submit"]').click();
  await page.waitForURL(/\/orders\/[^/?]+$/);
  await expectText(amount.replace("¥", ""));
  await shoot("5-order");
  console.log(`ok: read the seller's record and the rules, paid ${amount} at the cashier`);
} catch (e) {
  await page.screenshot({ path: `${shots}/failed.png`, fullPage: true }).catch(() => {});
  console.error(`failed at step: ${step}\n${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
