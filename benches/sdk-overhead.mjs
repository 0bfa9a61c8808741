// Main-thread time the SDK adds per click, in Chromium, against the same page without it.
// Run: node benches/sdk-overhead.mjs (after `npm ci` in sdk/ and a build).
import { launch, page, captureServer } from '../sdk/test/helpers.mjs';

const CLICKS = Number(process.env.BENCH_CLICKS || 3000);
const buttons = Array.from({ length: 50 }, (_, i) =>
  `<div class="row"><button id="b${i}" class="btn primary" onclick="window.n=(window.n||0)+1">Button ${i}</button></div>`).join('');

async function measure(browser, html) {
  const server = await captureServer({ pages: { '/': html } });
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(server.base + '/');
  await tab.waitForTimeout(300);
  const perClickMs = await tab.evaluate((clicks) => {
    const els = Array.from(document.querySelectorAll('button'));
    for (let i = 0; i < 200; i++) els[i % els.length].click(); // warm up
    let total = 0;
    for (let i = 0; i < clicks; i++) {
      const el = els[i % els.length];
      const t0 = performance.now();
      el.dispatchEvent(new MouseEvent('click', { bubbles: true, clientX: 10 + (i % 400), clientY: 10 + (i % 300), view: window }));
      total += performance.now() - t0;
    }
    return total / clicks;
  }, CLICKS);
  await context.close();
  await server.close();
  return perClickMs;
}

const browser = await launch();
const withoutSdk = await measure(browser, `<!doctype html><html><body>${buttons}</body></html>`);
const withSdk = await measure(browser, page({ 'batch-size': '100000', 'batch-interval': '600000', 'max-queue': '100000' }, buttons));
await browser.close();
console.log(`# SDK overhead, ${CLICKS} synthetic clicks on 50 buttons, headless Chromium`);
console.log(`without SDK : ${(withoutSdk * 1000).toFixed(1)} us/click`);
console.log(`with SDK    : ${(withSdk * 1000).toFixed(1)} us/click`);
const added = (withSdk - withoutSdk) * 1000;
console.log(`added       : ${added.toFixed(1)} us/click (target < 100 us); ratio ${(withSdk / withoutSdk).toFixed(2)}x`);
console.log(`RESULT | SDK main-thread time added per click | ${added.toFixed(1)} us | ${(withoutSdk * 1000).toFixed(1)} us/click without the SDK | < 100 us | ${added < 100 ? 'met' : 'not met: the detectors\' work per click'} |`);
