// Never in the host's way: a page's own error monitoring sees exactly what it sees without
// the tracker, even when the tracker is a cross-origin script; frozen globals and
// overridden JSON or Array.prototype.toJSON neither break the page nor the batches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, captureServer, page, until, sleep, KEY } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

// The page records what its own handlers see.
const MONITOR = `<script>
  window.seen = [];
  window.onerror = function (message) { seen.push('error: ' + message); };
  window.addEventListener('unhandledrejection', function (e) { seen.push('rejection: ' + (e.reason && e.reason.name)); });
</script>`;
const ACTIONS = `
  <button id="push" onclick="history.pushState(function () {}, '', '/next')">push</button>
  <button id="fetch" onclick="fetch('http://127.0.0.1:1/nothing')">fetch</button>
  <button id="xhr" onclick="var x = new XMLHttpRequest(); x.open('GET', '/x'); x.send(); throw new Error('after send')">xhr</button>`;

async function run(withTracker) {
  const pages = {};
  const server = await captureServer({ pages });
  const port = new URL(server.base).port;
  // The tracker comes from another origin (localhost vs 127.0.0.1), without crossorigin.
  const tracker = withTracker
    ? `<script src="http://localhost:${port}/friction-tracker.js" data-api-key="${KEY}" data-batch-interval="200"></script>`
    : '';
  pages['/'] = `<!doctype html><html><head>${MONITOR}${tracker}</head><body>${ACTIONS}</body></html>`;
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(server.base + '/');
  for (const id of ['#push', '#fetch', '#xhr']) {
    await tab.click(id);
    await sleep(300);
  }
  await sleep(500);
  const seen = await tab.evaluate(() => window.seen);
  await context.close();
  await server.close();
  return { seen, server };
}

test("the page's onerror and unhandledrejection see the same with a cross-origin tracker", async () => {
  const without = await run(false);
  const withTracker = await run(true);
  assert.ok(without.seen.length >= 3, JSON.stringify(without.seen));
  assert.deepEqual(withTracker.seen, without.seen);
  assert.ok(!withTracker.seen.some((s) => s.includes('Script error')), JSON.stringify(withTracker.seen));
  assert.ok(withTracker.server.events().length > 0, 'the tracker worked');
});

test('frozen globals, overridden JSON, Array.prototype.toJSON or additions to Object.prototype break neither page nor batches', async () => {
  const hostile = `<script>
    Object.defineProperty(window, 'fetch', { value: window.fetch, writable: false, configurable: false });
    Object.freeze(History.prototype);
    Object.freeze(XMLHttpRequest.prototype);
    Array.prototype.toJSON = function () { return 'not an array'; };
    JSON.stringify = function () { throw new Error('JSON.stringify is disabled here'); };
    Object.prototype.lib = 'x';
    Object.prototype.each = function () {};
  </script>`;
  const server = await captureServer({
    pages: { '/': page({ 'batch-interval': '200' }, '<button id="b">b</button><p>text \ud83d</p>', hostile) },
  });
  const context = await browser.newContext();
  const tab = await context.newPage();
  const pageErrors = [];
  tab.on('pageerror', (e) => pageErrors.push(e.message));
  await tab.goto(server.base + '/');
  assert.equal(await tab.evaluate(() => typeof window.friction.flush), 'function');
  await tab.click('#b');
  await tab.evaluate(() => window.friction.track('broken \ud83d text'));
  const custom = await until(() => server.events().find((e) => e.type === 'custom'), 5000, 'a batch');
  assert.equal(custom.message, 'broken \ufffd text', 'a lone surrogate is replaced, not sent');
  assert.ok(server.events().some((e) => e.type === 'click'));
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();
});

test('a huge error message or broken text costs the page nothing and loses nothing', async () => {
  const server = await captureServer({ pages: { '/': page({ 'batch-interval': '200' }, '') } });
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(server.base + '/');
  const took = await tab.evaluate(() => {
    const started = performance.now();
    const huge = 'a'.repeat(300000) + '@' + 'b'.repeat(300000) + ' https://x.example/?' + 'q'.repeat(300000);
    window.dispatchEvent(new ErrorEvent('error', { message: huge, filename: location.href, lineno: 1 }));
    return performance.now() - started;
  });
  assert.ok(took < 200, `the page waited ${took} ms`);
  await tab.evaluate(() => window.friction.track('\udc00\udc01 two lone halves'));
  const custom = await until(() => server.events().find((e) => e.type === 'custom'), 5000, 'the event');
  assert.equal(custom.message, '\ufffd\ufffd two lone halves');
  const error = await until(() => server.events().find((e) => e.type === 'javascript_error'), 5000, 'the error');
  assert.ok(Buffer.byteLength(error.message) <= 1024);
  await context.close();
  await server.close();
});

test('a CSP that blocks the endpoint: nothing throws, the page sees only its own errors', async () => {
  const server = await captureServer({
    headers: { 'content-security-policy': "default-src 'self' 'unsafe-inline'; connect-src 'none'" },
    pages: { '/': page({ 'batch-interval': '200', 'batch-size': '1' }, '<button id="b" onclick="throw new Error(\'own\')">b</button>', MONITOR), '/next': '<p>next</p>' },
  });
  const context = await browser.newContext();
  const tab = await context.newPage();
  const pageErrors = [];
  tab.on('pageerror', (e) => pageErrors.push(e.message));
  await tab.goto(server.base + '/');
  await tab.click('#b');
  await tab.click('#b');
  await sleep(1500);
  await tab.evaluate(() => window.friction.flush());
  const stats = await tab.evaluate(() => window.friction.stats());
  assert.ok(stats.queued > 0, JSON.stringify(stats));
  assert.deepEqual(await tab.evaluate(() => window.seen), ['error: Uncaught Error: own', 'error: Uncaught Error: own']);
  await tab.goto(server.base + '/next');
  assert.deepEqual(pageErrors, ['own', 'own']);
  assert.equal(server.requests.length, 0, 'the policy let a request through');
  await context.close();
  await server.close();
});
