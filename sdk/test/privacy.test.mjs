// Private by default: pages seeded with tokens, e-mails, card numbers and SSNs in their
// URL, their scripts' URLs, error messages, stacks, ids, classes and field names; none of
// it leaves the browser. And withdrawn consent stops everything collected before it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, page, until, sleep } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const SECRETS = ['secret123', 'scripttoken', 'bob@example.com', 'alice_smith', '4111111111111111',
  '123-45-6789', 'frag', 'carol@example.org'];

test('personal data in URLs, errors, ids, classes and field names never leaves the page', async () => {
  const app = `document.getElementById('boom').addEventListener('click', function () {
      throw new Error('failed for carol@example.org at ' + location.href);
    });
    document.getElementById('reject').addEventListener('click', function () {
      Promise.reject(new Error('could not load ' + location.href));
    });`;
  const body = `
    <div class="u-ssn-123-45-6789"><button id="alice_smith-profile" class="acct-4111111111111111 buy">Buy</button></div>
    <button id="boom">boom</button><button id="reject">reject</button>
    <form id="f-bob@example.com"><input name="email-bob@example.com" type="email" required><button id="go">Go</button></form>
    <script src="/app.js?token=scripttoken"></script>`;
  const { server, tab, context } = await openPage(browser, page({ 'batch-interval': '300' }, body), {
    pages: { '/app.js': app, '/account': page({ 'batch-interval': '300' }, body) },
  });
  await tab.goto(`${server.base}/account?token=secret123&email=bob%40example.com#frag`);
  for (let i = 0; i < 3; i++) await tab.click('#alice_smith-profile');
  await tab.click('#boom');
  await tab.click('#reject');
  await tab.click('#go');
  const events = await until(() => {
    const all = server.events();
    const types = new Set(all.map((e) => e.type));
    return ['rage_click', 'javascript_error', 'unhandled_rejection', 'form_validation_error']
      .every((t) => types.has(t)) && all;
  }, 8000, 'every kind of event');
  const error = events.find((e) => e.type === 'javascript_error');
  assert.match(error.stack, /app\.js:\d+:\d+/, 'stack frames keep their positions');
  assert.match(error.message, /\[email\]/);
  const field = events.find((e) => e.type === 'form_validation_error');
  assert.ok(field.field_name, 'the field is still named, by its position');
  await sleep(400);
  for (const r of server.requests) {
    for (const secret of SECRETS) assert.ok(!r.body.includes(secret), `${secret} leaked in ${r.body}`);
  }
  await context.close();
  await server.close();
});

test('personal data in URL paths, referrers, relative URLs and track() messages never leaves the page', async () => {
  const path = '/orders/4111111111111111/by/dave@example.net';
  const body = `
    <form><input name="first_name" required><button id="go">Go</button></form>
    <button id="boom" onclick="throw new Error('GET /api/reset?token=relsecret failed')">boom</button>
    <button id="card" onclick="throw new Error('Card 4111 1111 1111 1111 declined, SSN 123-45-6789, user dave%40example.net')">card</button>
    <script>function later() { throw new TypeError('later'); }</script>
    <button id="later" onclick="setTimeout(later)">later</button>`;
  const from = '/u/erin@example.net/4242424242424242';
  const { server, tab, context } = await openPage(browser, '<p>start</p>', {
    pages: { [path]: page({ 'batch-interval': '300' }, body), [from]: `<a id="next" href="${path}?q=1">next</a>` },
  });
  await tab.goto(server.base + from + '?k=v');
  await tab.click('#next');
  await tab.waitForURL('**/orders/**');
  await tab.click('#go');
  await tab.click('#boom');
  await tab.click('#card');
  await tab.evaluate(() => {
    window.friction.track('export for frank@example.com');
    history.pushState(null, '', '/users/9876543210/settings');
  });
  await tab.click('#later');
  const events = await until(() => {
    const all = server.events();
    return all.some((e) => e.type === 'form_validation_error') && all.filter((e) => e.type === 'javascript_error').length >= 3
      && all.some((e) => e.type === 'custom') && all.filter((e) => e.type === 'pageview').length >= 2 && all;
  }, 8000, 'every event');
  const views = events.filter((e) => e.type === 'pageview');
  assert.equal(new URL(views[0].url).pathname, '/orders/:id/by/:id');
  assert.equal(new URL(views[0].referrer).pathname, '/u/:id/:id');
  assert.equal(new URL(views[1].url).pathname, '/users/:id/settings');
  assert.equal(events.find((e) => e.type === 'form_validation_error').field_name, 'first_name', 'snake_case field names are kept');
  const errors = events.filter((e) => e.type === 'javascript_error');
  assert.ok(errors.some((e) => /GET \/api\/reset failed/.test(e.message)));
  assert.ok(errors.some((e) => /Card \[number\] declined, SSN \[number\], user \[email\]/.test(e.message)), JSON.stringify(errors));
  // Defined where the page loaded, thrown after it moved: its frames carry the first path.
  assert.match(errors.find((e) => /later/.test(e.message)).stack, /\/orders\/:id\/by\/:id:\d+:\d+/);
  assert.equal(events.find((e) => e.type === 'custom').message, 'export for [email]');
  await sleep(400);
  for (const secret of ['4111111111111111', '4111 1111', 'dave@example.net', 'dave%40example.net', '123-45-6789', 'erin@example.net', '4242424242424242', 'relsecret', 'frank@example.com', '9876543210']) {
    for (const r of server.requests) assert.ok(!r.body.includes(secret), `${secret} leaked in ${r.body}`);
  }
  await context.close();
  await server.close();
});

test('withdrawing consent drops collected errors and does not retry a batch in flight', async () => {
  let release;
  const held = new Promise((r) => { release = r; });
  const body = `<button id="boom" onclick="setTimeout(function(){ throw new Error('collected before') })">x</button>`;
  const { server, tab, context } = await openPage(browser, page({ 'batch-interval': '200' }, body), {
    respond: (entry, n) => (n === 1 ? held.then(() => ({ status: 503 })) : { status: 200 }),
  });
  // The first batch (the pageview) is in flight and will fail; an error is collected.
  await until(() => server.requests.length === 1, 5000, 'a batch in flight');
  await tab.click('#boom');
  await sleep(50);
  await tab.evaluate(() => window.friction.setConsent(false));
  release();
  await sleep(1500);
  await tab.evaluate(() => window.friction.flush());
  await sleep(300);
  assert.equal(server.requests.length, 1, 'something was sent after consent was withdrawn');
  assert.equal(await tab.evaluate(() => window.friction.stats().queued), 0);
  await context.close();
  await server.close();
});
