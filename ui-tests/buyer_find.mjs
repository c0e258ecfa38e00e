// A guest who leaves the cashier finds the way back, in a real browser: storefront →
// product → buy → the cashier, left unpaid → (the browser forgets everything) → 查单 by
// contact and query password alone → the order, its number → pay at the sandbox cashier
// → the key shown at once with a copy button → reload → 我要投诉 with a screenshot, its
// thumbnail shown → the same pages after the switch to English. Every step is
// photographed at 1280 px and 390 px, and a page wider than a 390 px phone fails the run.
// Usage: node buyer_find.mjs BASE_URL PRODUCT_TITLE CONTACT CONTACT_AS_TYPED_AGAIN PASSWORD SCREENSHOT_DIR EVIDENCE_PNG
// Exits non-zero, saying which step failed, if anything on the way is wrong.
import { chromium } from "playwright-core";

const [base, title, contact, contactAgain, password, shots, evidencePng] = process.argv.slice(2);
if (!base || !title || !contact || !contactAgain || !password || !shots || !evidencePng) {
  console.error("usage: node buyer_find.mjs BASE_URL PRODUCT_TITLE CONTACT CONTACT_AGAIN PASSWORD SCREENSHOT_DIR EVIDENCE_PNG");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let step = "start";
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
const page = await context.newPage();
page.setDefaultTimeout(15000);
// A script error or a blocked resource (the CSP) on any page fails the walk.
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  // A failed load is told by the response listener below, with its address.
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
    problems.push(`console error on ${page.url()}: ${m.text()}`);
  }
});
page.on("response", (r) => {
  // The browser's own favicon request is not a page's resource.
  if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`${r.status()} for ${r.url()}`);
});

// Both widths of the page as it is now; `phone` false for pages that are not ours.
async function shoot(name, phone = true) {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/${name}-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${shots}/${name}-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  if (phone && overflow > 1) throw new Error(`${name}: the page is ${overflow}px wider than a 390px phone`);
}

async function expectText(text) {
  const body = await page.locator("body").innerText();
  if (!body.includes(text)) throw new Error(`expected "${text}" on ${page.url()}:\n${body.slice(0, 1500)}`);
}

try {
  step = "buy as a guest";
  await page.goto(base + "/");
  await page.getByRole("link", { name: title }).first().click();
  await page.waitForURL(/\/products\//);
  await page.locator('input[name="contact"]').fill(contact);
  await page.locator('input[name="query_password"]').fill(password);
  await shoot("1-product");
  await page.locator('form[action$="/buy"] button[type="submit"]').first().click();

  step = "leave at the cashier without paying";
  await page.waitForURL(/\/sandbox\/cashier\//);
  await shoot("2-cashier", false);
  await page.goto(base + "/");
  // Another day, another browser: nothing of the order is left in this one.
  await context.clearCookies();
  await page.getByRole("link", { name: "我的订单" }).click();
  await page.waitForURL(/\/my-orders$/);
  await expectText("本浏览器中还没有订单");
  await shoot("3-left");

  step = "find the order again by contact and password (查单, no order number)";
  await page.getByRole("link", { name: "查单", exact: true }).first().click();
  await page.waitForURL(/\/lookup$/);
  await page.locator("input#contact").fill(contactAgain);
  await page.locator("input#query_password").fill(password);
  await page.locator('form[action="/lookup"] button[type="submit"]').click();
  await page.locator("#found").waitFor();
  const numberLink = page.locator("#found a code").first();
  const number = (await numberLink.innerText()).trim();
  if (!/^DB\d{8}-[2-9A-HJKMNP-TV-Z]{5}$/.test(number)) throw new Error(`not an order number: ${number}`);
  await expectText("待支付");
  await shoot("4-found");

  step = "the order page shows the number and the way to pay";
  await numberLink.click();
  await page.waitForURL(/\/orders\/[^/?]+$/);
  await expectText(number);
  await shoot("5-pending");

  step = "pay at the sandbox cashier";
  await page.getByRole("link", { name: "去支付" }).click();
  await page.waitForURL(/\/sandbox\/cashier\//);
  await expectText(number); // the cashier prints the order number the buyer knows
  await shoot("6-cashier", false);
  await page.locator('form[action*="/pay"] button, form[action*="/pay"] input[type="submit"]').first().click();

  step = "back on the order page, the key is shown at once with a copy button";
  await page.waitForURL(/\/orders\/[^/?#]+(#.*)?$/);
  // Delivery follows the payment's notification within moments: reload until it shows.
  for (let i = 0; i < 50; i++) {
    if ((await page.content()).includes('id="key-1"')) break;
    await page.waitForTimeout(200);
    await page.reload();
  }
  await expectText("已发货");
  const key = page.locator("code#key-1");
  await key.waitFor();
  const keyText = (await key.innerText()).trim();
  if (!keyText) throw new Error("the key is empty");
  const copy = page.locator('button[data-copy="key-1"]');
  await copy.waitFor({ state: "visible" });
  await copy.click();
  await page.waitForFunction(() => document.querySelector('button[data-copy="key-1"]').textContent === "已复制");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied.trim() !== keyText) throw new Error(`the clipboard holds "${copied}", not the key`);
  await shoot("7-key");

  step = "reload the page: no error, the key still there";
  const reloaded = await page.reload();
  if (!reloaded || reloaded.status() !== 200) throw new Error(`reload answered ${reloaded && reloaded.status()}`);
  await page.locator("code#key-1").waitFor();
  await expectText(keyText);
  await shoot("8-reloaded");

  step = "complain about the key, with a screenshot";
  const orderUrl = page.url().replace(/#.*$/, "");
  await page.getByText("我要投诉", { exact: true }).click();
  await page.locator("select#complaint_kind").selectOption("not_as_described");
  await page.locator("textarea#complaint_description").fill("兑换时提示卡密已被使用，截图见附件。");
  await page.locator('form[action$="/complaints"] button[type="submit"]').click();
  await page.waitForURL(/\/complaints\/[^/?#]+$/);
  await expectText("等待卖家回应");
  await page.locator("input#evidence_file").setInputFiles(evidencePng);
  await page.locator('form[action$="/files"] button[type="submit"]').click();
  await page.waitForURL(/\/complaints\/[^/?#]+$/);
  const thumb = page.locator("img.thumb").first();
  await thumb.waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector("img.thumb");
    return img && img.complete && img.naturalWidth > 0;
  });
  await shoot("9-complaint");
  const complaintUrl = page.url();

  step = "switch to English: the complaint, the order, the product and 查单 read in English";
  await page.locator("header a.lang").click();
  await page.waitForFunction(() => document.documentElement.lang === "en");
  if (page.url() !== complaintUrl) throw new Error(`the switch went to ${page.url()}, not back to ${complaintUrl}`);
  await expectText("Waiting for the seller");
  await page.locator("img.thumb").first().waitFor();
  await shoot("10-complaint-en");
  await page.goto(orderUrl);
  await expectText("Order number");
  await expectText(number);
  await shoot("11-order-en");
  await page.goto(base + "/");
  await page.getByRole("link", { name: title }).first().click();
  await page.waitForURL(/\/products\//);
  await expectText("Buy now");
  await shoot("12-product-en");
  await page.goto(base + "/lookup");
  await expectText("Find my order");
  await shoot("13-lookup-en");
  // Chinese again, one click, on the page the buyer is on.
  await page.locator("header a.lang").click();
  await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
  await expectText("查单");

  if (problems.length) throw new Error(problems.join("\n"));
  console.log(`ok: found ${number} again by contact and password, paid, copied ${keyText}, complained with a screenshot, and read it in English, in chromium`);
} catch (e) {
  console.error(`failed at: ${step}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
