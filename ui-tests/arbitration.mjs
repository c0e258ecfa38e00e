// An arbitrator decides a case in a real browser: login → the queue → a case → take it
// → rule (a split) → the ruling shown. Screenshots at phone (390 px) and desktop
// (1280 px) widths of the queue and the case.
// Usage: node arbitration.mjs BASE_URL USERNAME PASSWORD SCREENSHOT_DIR
// Exits non-zero, saying which step failed, if anything on the way is wrong.
import { chromium } from "playwright-core";

const [base, username, password, shots] = process.argv.slice(2);
if (!base || !username || !password || !shots) {
  console.error("usage: node arbitration.mjs BASE_URL USERNAME PASSWORD SCREENSHOT_DIR");
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

// A page in English at 1280 px and at 390 px, where it must fit the phone; no Chinese
// on it but the language switch's own label and what people typed (`.desc`: the case's
// texts here are the zh-CN scenario's, shown as written).
async function englishShots(what, name) {
  const page = englishShots.page;
  await page.setViewportSize({ width: 1280, height: 900 });
  const text = await page.evaluate(() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("a.lang, .desc").forEach((a) => a.remove());
    return body.innerText;
  });
  const han = text.match(/[\u3000-\u303f\u3400-\u9fff\uff00-\uffef].{0,20}/);
  if (han) throw new Error(`${what} has Chinese in English: ${han[0]}`);
  await page.screenshot({ path: `${shots}/${name}-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}-390.png`, fullPage: true });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > 390) throw new Error(`${what} in English is ${wide}px wide on a 390px phone`);
}
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  page.setDefaultTimeout(15000);
  englishShots.page = page;
  // No page of the desk may need a script (the CSP forbids them) or fail to load a part.
  const scriptErrors = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("Failed to load resource")) scriptErrors.push(m.text());
  });
  // Every resource a desk page loads (the evidence thumbnails) must load; the browser's
  // own favicon request is not the page's.
  page.on("response", (r) => {
    if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) scriptErrors.push(`${r.status()} ${r.url()}`);
  });

  step = "logging in lands on the desk";
  await page.goto(base + "/login");
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form[action="/login"] button[type="submit"]').click();
  await page.waitForURL(/\/arbitration$/);
  if (!(await page.content()).includes("待裁决队列")) throw new Error("no queue after login");

  step = "the queue at both widths";
  await page.screenshot({ path: `${shots}/1-queue-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/2-queue-390.png`, fullPage: true });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > 390) throw new Error(`the queue is ${wide}px wide on a 390px phone`);

  step = "opening the case that waits for review";
  await page.setViewportSize({ width: 1280, height: 900 });
  const row = page.locator("tr", { hasText: "平台审核中" }).first();
  await row.getByRole("link").first().click();
  await page.waitForURL(/\/arbitration\/cases\/[^/]+$/);
  const thumbOk = await page
    .locator("img.thumb")
    .first()
    .evaluate((img) => img.complete && img.naturalWidth > 0)
    .catch(() => false);
  await page.screenshot({ path: `${shots}/3-case-1280.png`, fullPage: true });

  step = "taking the case";
  await page.getByRole("button", { name: "领取此案" }).click();
  await page.waitForURL(/\/arbitration\/cases\/[^/]+$/);
  await page.waitForLoadState();
  if ((await page.content()).includes("领取此案")) throw new Error("still offered to take after taking");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/4-case-390.png`, fullPage: true });
  const caseWide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (caseWide > 390) throw new Error(`the case is ${caseWide}px wide on a 390px phone`);

  step = "ruling a split";
  await page.locator('input[name="kind"][value="split"]').check();
  await page.locator('input[name="buyer_percent"]').fill("30");
  await page.getByRole("button", { name: "预览结算" }).click();
  await page.waitForLoadState();
  if (!(await page.content()).includes("结算预览")) throw new Error("no settlement preview");
  if (!(await page.locator('input[name="buyer_percent"]').inputValue()).includes("30")) {
    throw new Error("the preview lost the percentage");
  }
  await page.screenshot({ path: `${shots}/5-preview-390.png`, fullPage: true });
  await page.locator('input[name="kind"][value="split"]').check();
  await page.locator('#reason').fill("卡密部分可用，按比例分配");
  await page.locator('input[name="confirm"]').check();
  await page.getByRole("button", { name: "提交裁决" }).click();
  await page.waitForURL(/\/arbitration\/cases\/[^/]+$/);
  await page.waitForLoadState();
  const ruled = await page.content();
  if (!ruled.includes("按比例分配（买家 30%，卖家 70%）")) throw new Error("the ruling is not shown");
  await page.screenshot({ path: `${shots}/6-ruled-390.png`, fullPage: true });

  step = "switching the desk to English";
  await page.locator("header a.lang").click();
  await page.waitForURL(/\/arbitration\/cases\/[^/]+$/);
  await page.waitForLoadState();
  if ((await page.evaluate(() => document.documentElement.lang)) !== "en") throw new Error("the page is not in English");
  await englishShots("the ruled case", "7-case-en");
  await page.goto(base + "/arbitration");
  await englishShots("the queue", "8-queue-en");
  if (scriptErrors.length) throw new Error(`console errors: ${scriptErrors.join(" | ")}`);
  console.log(`ok: ruled a split in chromium (screenshot thumbnail shown: ${thumbOk})`);
} catch (e) {
  console.error(`failed at: ${step}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
