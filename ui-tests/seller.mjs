// A seller works in the back office in a real browser: the dashboard, a card-key import
// with its duplicate report, 发货 of a 代充 order, an answer to a complaint with a
// screenshot, the money page; then the switch to English and three pages in it. Every
// step is photographed at 1280 px and 390 px.
// Usage: node seller.mjs BASE_URL USERNAME PASSWORD CARD_PRODUCT_TITLE SCREENSHOT_DIR
// Exits non-zero, saying which step failed, if anything on the way is wrong.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

const [base, username, password, cardTitle, shots] = process.argv.slice(2);
if (!base || !username || !password || !cardTitle || !shots) {
  console.error("usage: node seller.mjs BASE_URL USERNAME PASSWORD CARD_PRODUCT_TITLE SCREENSHOT_DIR");
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
  step = "log in and land on the dashboard";
  await page.goto(base + "/login");
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form[action="/login"] button[type="submit"]').click();
  await page.waitForURL(/\/seller$/);
  await expectText("待发货订单");
  await shoot("1-dashboard");

  step = "import card keys and read the duplicate report";
  await page.getByRole("link", { name: "商品与卡密" }).click();
  await page.waitForURL(/\/seller\/products$/);
  await shoot("2-products");
  await page.getByRole("link", { name: cardTitle }).first().click();
  await page.waitForURL(/\/seller\/products\/[^/]+$/);
  await page.locator("textarea#keys").fill("UI-KEY-0001\nUI-KEY-0002\n\nUI-KEY-0001\n");
  await page.locator('form[action$="/keys"] button[type="submit"]').click();
  await page.locator("#import-report").waitFor();
  await expectText("成功导入 2 个");
  await expectText("本次粘贴内重复而拒绝 1 行（第 4 行）");
  await expectText("跳过空行 1 行");
  if ((await page.content()).includes("UI-KEY-0002")) throw new Error("a key is shown in the clear");
  await shoot("3-keys-imported");

  // A real PNG (1×1), as a phone's screenshot would be: the delivery's receipt and the
  // complaint's evidence.
  const png = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "base64",
  );
  writeFileSync(`${shots}/evidence.png`, png);

  step = "deliver the paid 代充 order with a receipt";
  await page.goto(base + "/seller/orders?status=paid");
  await shoot("4-orders");
  await page.locator('table a[href^="/seller/orders/"]').first().click();
  await page.waitForURL(/\/seller\/orders\/[^/?]+$/);
  await expectText("买家填写的信息");
  await page.locator("textarea#note").fill("已充值到账，充值单号 UI-TX-1");
  await page.locator("input#delivery_file").setInputFiles(`${shots}/evidence.png`);
  await page.locator('form[action$="/deliver"] button[type="submit"]').click();
  await expectText("已发货，等待买家确认收货");
  await shoot("5-delivered");

  step = "answer the complaint with a screenshot";
  await page.getByRole("link", { name: "投诉" }).first().click();
  await page.waitForURL(/\/seller\/complaints$/);
  await shoot("6-complaints");
  await page.getByRole("link", { name: "查看并回应" }).first().click();
  await page.waitForURL(/\/complaints\/[^/]+$/);
  await page.locator("input#evidence_file").setInputFiles(`${shots}/evidence.png`);
  await page.locator('form[action$="/files"] button[type="submit"]').click();
  await page.waitForURL(/\/complaints\/[^/]+$/);
  await page.locator("textarea#response_text").fill("卡密发货时有效，截图为发货记录。");
  await page.locator('form[action$="/response"] button[type="submit"]').click();
  await page.waitForURL(/\/complaints\/[^/]+$/);
  await page.locator("img.thumb").first().waitFor();
  const loaded = await page.locator("img.thumb").first().evaluate((img) => img.complete && img.naturalWidth > 0);
  if (!loaded) throw new Error("the evidence thumbnail did not load");
  await expectText("卡密发货时有效");
  await shoot("7-complaint-answered");

  step = "the money page";
  await page.goto(base + "/seller/money");
  await expectText("对账单");
  await shoot("8-money");

  step = "switch to English and read the back office in it";
  await page.locator("header a.lang").click();
  await page.waitForURL(/\/seller\/money$/);
  const lang = await page.evaluate(() => document.documentElement.lang);
  if (lang !== "en") throw new Error(`the page is in "${lang}" after the switch, not "en"`);
  await expectText("Statement");
  await expectText("Request a withdrawal");
  await shoot("9-en-money");
  await page.goto(base + "/seller");
  await expectText("Orders to deliver");
  await shoot("10-en-dashboard");
  await page.getByRole("link", { name: "Products & keys" }).click();
  await page.waitForURL(/\/seller\/products$/);
  await page.getByRole("link", { name: cardTitle }).first().click();
  await page.waitForURL(/\/seller\/products\/[^/]+$/);
  await expectText("Import card keys");
  await shoot("11-en-product");
  console.log("ok: imported keys with the duplicate report, delivered, answered with a screenshot, read it in English");
} catch (e) {
  await page.screenshot({ path: `${shots}/failed.png`, fullPage: true }).catch(() => {});
  console.error(`failed at step: ${step}\n${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
