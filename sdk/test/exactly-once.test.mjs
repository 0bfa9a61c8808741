// Delivered exactly once: what the page queued arrives once, within ingest's limits,
// whatever the page, the network or the answers do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, page, until, sleep } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const bytes = (s) => Buffer.byteLength(s, 'utf8');
const customs = (server) => server.events().filter((e) => e.type === 'custom').map((e) => e.message);

function once(messages, expected) {
  const counts = new Map();
  for (const m of messages) counts.set(m, (counts.get(m) || 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([m]) => m);
  assert.deepEqual(twice, [], 'delivered twice');
  assert.equal(counts.size, expected, 'delivered once each');
}

test('leaving a page with more than 64 KB queued delivers every event once, the rest from the next page', async () => {
  const quiet = { 'batch-size': '5000', 'batch-interval': '60000', 'max-queue': '5000' };
  const { server, tab, context } = await openPage(browser, page(quiet, '<p>first</p>'), {
    pages: { '/next': page({ 'batch-interval': '200' }, '<p>next</p>') },
  });
  await tab.evaluate(() => { for (let i = 0; i < 600; i++) window.friction.track('событие-' + i + '-' + 'ж'.repeat(40)); });
  await tab.goto(server.base + '/next');
  await until(() => customs(server).length >= 600, 10000, 'every event');
  await sleep(500);
  once(customs(server), 600);
  for (const r of server.requests) assert.ok(bytes(r.body) <= 64 * 1024, `a ${bytes(r.body)}-byte request`);
  await context.close();
  await server.close();
});

test('a batch over 64 KB is split into requests that keepalive can carry', async () => {
  const { server, tab, context } = await openPage(browser, page({ 'batch-size': '5000', 'batch-interval': '60000' }, ''));
  await tab.evaluate(() => { for (let i = 0; i < 50; i++) window.friction.track('m' + i + 'ы'.repeat(500)); });
  await tab.evaluate(() => window.friction.flush());
  await until(() => customs(server).length >= 50, 8000, 'the batch');
  once(customs(server), 50);
  assert.ok(server.requests.length > 1, 'split');
  for (const r of server.requests) assert.ok(bytes(r.body) <= 60000, `a ${bytes(r.body)}-byte request`);
  await context.close();
  await server.close();
});

test('more than 64 KB in flight or queued when the page goes away is delivered once', async () => {
  const { server, tab, context } = await openPage(browser, page({ 'batch-size': '5000', 'batch-interval': '60000', 'max-queue': '5000' }, ''), {
    respond: (entry, n) => (n === 1 ? sleep(800).then(() => ({ status: 200 })) : { status: 200 }),
    pages: { '/next': page({ 'batch-interval': '200' }, '') },
  });
  await tab.evaluate(() => { for (let i = 0; i < 200; i++) window.friction.track('big' + i + '-' + 'x'.repeat(900)); });
  await tab.evaluate(() => window.friction.flush());
  await until(() => server.requests.length === 1, 5000, 'the first batch in flight');
  await tab.goto(server.base + '/next');
  await until(() => customs(server).length >= 200, 10000, 'every event');
  await sleep(500);
  once(customs(server), 200);
  await context.close();
  await server.close();
});

test('a batch in flight when the page goes away is not sent again', async () => {
  const { server, tab, context } = await openPage(browser, page({ 'batch-size': '5000', 'batch-interval': '60000' }, ''), {
    respond: (entry, n) => (n === 1 ? sleep(800).then(() => ({ status: 200 })) : { status: 200 }),
    pages: { '/next': page({ 'batch-interval': '200' }, '') },
  });
  await tab.evaluate(() => { for (let i = 0; i < 13; i++) window.friction.track('e' + i); });
  await tab.evaluate(() => window.friction.flush());
  await until(() => server.requests.length === 1, 5000, 'the batch in flight');
  await tab.goto(server.base + '/next');
  await sleep(2000);
  once(customs(server), 13);
  await context.close();
  await server.close();
});

test('a retried batch never grows past 500 events', async () => {
  const { server, tab, context } = await openPage(browser, page({ 'batch-size': '100', 'batch-interval': '200', 'max-queue': '5000' }, ''), {
    respond: (entry, n) => (n <= 2 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }),
  });
  await tab.evaluate(() => { for (let i = 0; i < 1200; i++) window.friction.track('r' + i); });
  await until(() => new Set(customs(server)).size >= 1200, 30000, 'every event');
  for (const r of server.requests) assert.ok(r.json.events.length <= 500, `${r.json.events.length} events in one request`);
  assert.equal(new Set(customs(server)).size, 1200);
  await context.close();
  await server.close();
});

test('fields are cut to ingest\'s limits in bytes, never inside a character', async () => {
  const long = '/' + 'p'.repeat(2100);
  const tag = 'x-' + 'a'.repeat(80);
  const { server, tab, context } = await openPage(browser, '', {
    pages: { [long]: page({ 'batch-interval': '200' }, `<${tag} id="t">t</${tag}>`) },
  });
  await tab.goto(server.base + long);
  await tab.click('#t');
  await tab.evaluate(() => window.friction.track('я'.repeat(1000) + '😀'.repeat(10)));
  const custom = await until(() => server.events().find((e) => e.type === 'custom'), 5000, 'the event');
  const click = await until(() => server.events().find((e) => e.type === 'click'), 5000, 'the click');
  assert.ok(bytes(custom.message) <= 1024 && bytes(custom.message) > 1000, `${bytes(custom.message)} bytes`);
  assert.ok(!/[\ud800-\udbff]$/.test(custom.message));
  assert.ok(bytes(custom.url) <= 2048, `${bytes(custom.url)}-byte url`);
  assert.equal(click.element_tag.length, 64);
  await context.close();
  await server.close();
});

test('Retry-After as an HTTP date is honoured, and retries give up, counted', async () => {
  const { server, tab, context } = await openPage(browser, page({ 'batch-size': '1', 'batch-interval': '100' }, ''), {
    respond: (entry, n) => (n === 1
      ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 2500).toUTCString() } }
      : { status: 503, headers: { 'retry-after': '1' } }),
  });
  await tab.evaluate(() => window.friction.track('doomed'));
  await until(() => server.requests.length >= 2, 10000, 'the first retry');
  assert.ok(server.requests[1].at - server.requests[0].at >= 1400, 'sent before the HTTP-date Retry-After');
  const stats = await until(async () => {
    const s = await tab.evaluate(() => window.friction.stats());
    return s.failed > 0 && s;
  }, 20000, 'giving up');
  const attempts = server.requests.length;
  await sleep(2500);
  assert.equal(server.requests.length, attempts, 'still retrying after giving up');
  assert.ok(stats.failed >= 1);
  await context.close();
  await server.close();
});

test('errors respect max-queue, and distinct errors past 50 are counted as dropped', async () => {
  const { tab, context, server } = await openPage(browser, page({ 'max-queue': '20', 'batch-size': '5000', 'batch-interval': '60000' }, ''));
  await tab.evaluate(() => {
    for (let i = 0; i < 60; i++) setTimeout(() => { throw new Error('distinct ' + i); });
  });
  await sleep(500);
  // Collected errors join the queue at the next flush.
  const stats = await tab.evaluate(() => { window.friction.flush(); return window.friction.stats(); });
  assert.ok(stats.queued <= 20, `${stats.queued} queued`);
  assert.ok(stats.dropped >= 40, `${stats.dropped} dropped`);
  await context.close();
  await server.close();
});
