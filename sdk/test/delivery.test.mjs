// Batching, beacons on page hide, retries, back-off, consent, safety, the loader.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, page, captureServer, until, sleep, KEY } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const open = (html, opts = {}) => openPage(browser, html, { pages: { '/other': '<p>other</p>' }, ...opts });

const buttons = '<button id="a">a</button>';

test('a full batch is sent at once, with the key in x-api-key', async () => {
  const { server, tab, context } = await open(page({ 'batch-size': '3', 'batch-interval': '60000' }, buttons));
  await tab.click('#a');
  await tab.click('#a', { delay: 5 });
  const first = await until(() => server.requests[0], 5000, 'a batch');
  assert.equal(first.headers['x-api-key'], KEY);
  assert.match(first.headers['content-type'], /application\/json/);
  assert.equal(first.json.events.length, 3); // pageview + two clicks
  await context.close();
  await server.close();
});

test('a partial batch is sent when the interval passes', async () => {
  const { server, context } = await open(page({ 'batch-size': '50', 'batch-interval': '700' }, buttons));
  const started = Date.now();
  const first = await until(() => server.requests[0], 5000, 'interval flush');
  assert.ok(first.at - started >= 300, 'sent before the interval');
  assert.equal(first.json.events[0].type, 'pageview');
  await context.close();
  await server.close();
});

test('leaving the page sends what is queued with sendBeacon and the key in the query', async () => {
  const { server, tab, context } = await open(page({ 'batch-size': '100', 'batch-interval': '60000' }, buttons));
  await tab.click('#a');
  await tab.goto(server.base + '/other');
  const beacon = await until(() => server.requests.find((r) => r.query.get('api_key') === KEY), 5000, 'beacon');
  assert.match(beacon.headers['content-type'], /text\/plain/);
  assert.equal(beacon.headers['x-api-key'], undefined);
  const types = beacon.json.events.map((e) => e.type);
  assert.ok(types.includes('pageview') && types.includes('click'), types.join());
  await context.close();
  await server.close();
});

// A page opened after each of `inits` ran in it.
async function openWith(inits, html) {
  const server = await captureServer({ pages: { '/': html, '/other': '<p>other</p>' } });
  const context = await browser.newContext();
  for (const init of inits) await context.addInitScript(init);
  const tab = await context.newPage();
  await tab.goto(server.base + '/');
  return { server, tab, context };
}

test('batches go gzipped where the browser offers CompressionStream, plain where not', async () => {
  for (const gzip of [true, false]) {
    const { server, tab, context } = await openWith(gzip ? [] : [() => { delete window.CompressionStream; }],
      page({ 'batch-size': '3', 'batch-interval': '60000' }, buttons));
    await tab.click('#a');
    await tab.click('#a', { delay: 5 });
    const first = await until(() => server.requests[0], 5000, 'a batch');
    assert.equal(first.headers['content-encoding'], gzip ? 'gzip' : undefined);
    assert.equal(first.raw[0] === 0x1f && first.raw[1] === 0x8b, gzip, 'gzip magic bytes');
    if (gzip) assert.ok(first.raw.length < first.body.length, `${first.raw.length} compressed, ${first.body.length} plain`);
    assert.equal(first.json.events.length, 3);
    await context.close();
    await server.close();
  }
});

// A compression that never ends: the batch being compressed stays so.
const stallCompression = () => {
  window.CompressionStream = class extends TransformStream {
    constructor() { super({ transform: () => new Promise(() => {}) }); }
  };
};

test('a batch still being compressed when the page goes away leaves with it', async () => {
  const { server, tab, context } = await openWith([stallCompression], page({ 'batch-size': '2', 'batch-interval': '60000' }, buttons));
  // The page view and a timing make the first batch, which stalls; the click waits behind it.
  await tab.click('#a');
  await until(() => tab.evaluate(() => window.friction.stats().queued > 0), 5000, 'the click queued');
  await tab.goto(server.base + '/other');
  const beacon = await until(() => server.requests.find((r) => r.query.get('api_key') === KEY), 5000, 'beacon');
  const types = beacon.json.events.map((e) => e.type);
  assert.ok(types.includes('pageview') && types.includes('click'), types.join());
  assert.equal(server.requests.length, 1, 'nothing went by fetch');
  await context.close();
  await server.close();
});

test('consent withdrawn while a batch is being compressed: that batch is never sent', async () => {
  // Hides and shows the page as switching tabs does.
  const visibility = () => {
    window.setVisibility = (state) => {
      Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    };
  };
  const { server, tab, context } = await openWith([stallCompression, visibility], page({ 'batch-size': '2', 'batch-interval': '60000' }, buttons));
  await tab.click('#a');
  await until(() => tab.evaluate(() => window.friction.stats().queued > 0), 5000, 'the click queued behind the stalled batch');
  await tab.evaluate(() => {
    window.friction.setConsent(false);
    window.setVisibility('hidden');
    window.setVisibility('visible');
    window.friction.setConsent(true);
    window.friction.track('after consent');
    window.setVisibility('hidden');
  });
  const beacon = await until(() => server.requests.find((r) => r.query.get('api_key') === KEY), 5000, 'beacon');
  assert.deepEqual(beacon.json.events.map((e) => e.type), ['custom']);
  await context.close();
  await server.close();
});

test('network errors and 5xx are retried with the same events', async () => {
  const { server, tab, context } = await open(page({ 'batch-size': '2', 'batch-interval': '300' }, buttons), {
    respond: (req, n) => (n <= 2 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }),
  });
  await tab.click('#a');
  await until(() => server.requests.length >= 3, 10000, 'retries');
  const ids = (r) => r.json.events.map((e) => e.event_id);
  const resent = ids(server.requests[2]);
  assert.ok(ids(server.requests[0]).every((id) => resent.includes(id)), 'events lost on retry');
  assert.ok(server.requests[1].at - server.requests[0].at >= 900, 'Retry-After ignored');
  await context.close();
  await server.close();
});

test('429 is honoured: nothing is sent before Retry-After', async () => {
  const { server, tab, context } = await open(page({ 'batch-size': '1', 'batch-interval': '100' }, buttons), {
    respond: (req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 }),
  });
  await tab.click('#a');
  await until(() => server.requests.length >= 2, 10000, 'the retry');
  assert.ok(server.requests[1].at - server.requests[0].at >= 1900, 'sent again before Retry-After');
  await context.close();
  await server.close();
});

test('other 4xx answers are not retried', async () => {
  const { server, context } = await open(page({ 'batch-size': '1', 'batch-interval': '100' }, buttons), {
    respond: () => ({ status: 401 }),
  });
  await until(() => server.requests.length >= 1, 5000, 'the request');
  await sleep(1500);
  const first = server.requests[0].json.events.map((e) => e.event_id);
  const again = server.requests.slice(1).flatMap((r) => r.json.events.map((e) => e.event_id));
  assert.ok(first.every((id) => !again.includes(id)), 'a refused batch was sent again');
  await context.close();
  await server.close();
});

test('with consent required nothing is collected until consent is given', async () => {
  const { server, tab, context } = await open(page({ 'require-consent': 'true', 'batch-size': '1' }, buttons));
  await tab.click('#a');
  await sleep(600);
  assert.equal(server.requests.length, 0);
  await tab.evaluate(() => window.friction.setConsent(true));
  await tab.click('#a');
  await until(() => server.events().some((e) => e.type === 'click'), 5000, 'events after consent');
  await context.close();
  await server.close();
});

// A browser signalling an opt-out (`navigator[signal]`) gets nothing sent.
async function nothingSentWith(signal, value, attrs = {}) {
  const server = await captureServer({ pages: { '/': page({ 'batch-size': '1', ...attrs }, buttons) } });
  const context = await browser.newContext();
  await context.addInitScript(([name, v]) => Object.defineProperty(Navigator.prototype, name, { get: () => v }), [signal, value]);
  const tab = await context.newPage();
  await tab.goto(server.base + '/');
  await tab.click('#a');
  await sleep(600);
  assert.equal(server.requests.length, 0);
  await context.close();
  await server.close();
}

test('Do-Not-Track is respected', () => nothingSentWith('doNotTrack', '1'));

test('Global Privacy Control is respected, even where Do-Not-Track is not', () =>
  nothingSentWith('globalPrivacyControl', true, { 'respect-dnt': 'false' }));

test('the queue is bounded and drops the oldest', async () => {
  const { server, tab, context } = await open(page({ 'max-queue': '5', 'batch-size': '1000', 'batch-interval': '60000' }, buttons));
  // Let the load-time events (pageview, TTFB, load time) queue first, so what is
  // dropped is deterministic.
  await until(() => tab.evaluate(() => window.friction.stats().queued >= 3), 5000, 'load-time events');
  for (let i = 0; i < 8; i++) await tab.evaluate((n) => window.friction.track('custom-' + n), i);
  const stats = await tab.evaluate(() => window.friction.stats());
  assert.equal(stats.queued, 5);
  assert.ok(stats.dropped >= 4, `dropped ${stats.dropped}`); // the pageview, metrics, three customs
  await tab.evaluate(() => window.friction.flush());
  const sent = await until(() => server.requests[0], 5000, 'flush');
  assert.deepEqual(sent.json.events.map((e) => e.message), ['custom-3', 'custom-4', 'custom-5', 'custom-6', 'custom-7']);
  await context.close();
  await server.close();
});

test('works under a strict CSP and never throws into the page', async () => {
  const csp = { 'content-security-policy': "default-src 'self'; script-src 'self'; connect-src 'self'" };
  const { server, tab, context, pageErrors } = await open(page({ 'batch-size': '2' }, buttons), { headers: csp });
  await tab.click('#a');
  await until(() => server.requests.length, 5000, 'events under CSP');
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();

  const noKey = await open(page({ 'api-key': null, 'batch-size': '1' }, buttons));
  await noKey.tab.click('#a');
  await noKey.tab.evaluate(() => { window.friction.track('x'); window.friction.flush(); });
  await sleep(400);
  assert.equal(noKey.server.requests.length, 0);
  assert.deepEqual(noKey.pageErrors, []);
  await noKey.context.close();
  await noKey.server.close();
});

test('an endpoint that is no URL leaves the tracker off, without an error in the page', async () => {
  const { server, tab, context, pageErrors } = await open(page({ endpoint: 'http://[bad', 'batch-size': '1' }, buttons));
  await tab.click('#a');
  await sleep(400);
  assert.equal(await tab.evaluate(() => window.friction), undefined);
  assert.equal(server.requests.length, 0);
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();
});

test('calls made before the script arrives are queued by the documented loader and replayed', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const loader = readme.split('\n').find((line) => line.startsWith('<script>!function(w){var f=w.friction'));
  assert.ok(loader, 'the loader is in the README');
  // The hash the README gives for a strict CSP is the loader's.
  const inner = loader.slice('<script>'.length, -'</script>'.length);
  assert.ok(readme.includes(`'sha256-${createHash('sha256').update(inner).digest('base64')}'`), 'the loader CSP hash');
  const calls = '<script>friction.setConsent(true); friction.track("before-the-script");</script>';
  const tag = page({ 'batch-size': '1', 'require-consent': 'true' }, buttons);
  const server = await captureServer({ pages: {
    '/': tag.replace('<script src=', loader + calls + '<script src='),
    // Without the script (blocked, or never arriving) the calls are only queued.
    '/blocked': `<!doctype html><html><head>${loader}${calls}</head><body></body></html>`,
    // An element with id="friction" is window.friction until the loader replaces it.
    '/clobbered': `<!doctype html><html><body><div id="friction"></div>${loader}${calls}</body></html>`,
  } });
  const context = await browser.newContext();
  const tab = await context.newPage();
  const pageErrors = [];
  tab.on('pageerror', (e) => pageErrors.push(e));
  await tab.goto(server.base + '/');
  const custom = await until(() => server.events().find((e) => e.type === 'custom'), 5000, 'the early track()');
  assert.equal(custom.message, 'before-the-script');
  assert.equal(await tab.evaluate(() => typeof window.friction.version), 'string');
  await tab.goto(server.base + '/blocked');
  assert.equal(await tab.evaluate(() => window.friction.q.length), 2);
  await tab.evaluate(() => window.friction.track('still queued'));
  await tab.goto(server.base + '/clobbered');
  assert.equal(await tab.evaluate(() => window.friction.q.length), 2);
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();
});
