// End to end on the local stack (./dev/up): Chromium opens a page embedding the SDK
// served by the running ingest, with a key made by frictionctl; clicks and errors travel
// ingest -> Kafka -> consumers -> ClickHouse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { launch, until, sleep } from './helpers.mjs';

const root = new URL('../../', import.meta.url).pathname;
const stack = Object.fromEntries(
  readFileSync(process.env.FRICTION_STACK_ENV || root + '.dev/stack.env', 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const targetDir = process.env.CARGO_TARGET_DIR || root + 'target';

async function clickhouse(sql) {
  const res = await fetch(`${stack.CLICKHOUSE_URL}/?database=${stack.CLICKHOUSE_DB}`, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text.trim();
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('clicks and errors in a real page become rows in ClickHouse', { timeout: 120000 }, async () => {
  const ctl = (...args) => execFileSync(`${targetDir}/debug/frictionctl`, args, {
    env: { ...process.env, FRICTION_CLICKHOUSE_URL: stack.CLICKHOUSE_URL, FRICTION_CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DB },
  }).toString().trim();
  // A key belongs to a user: the events are stored under that user's id.
  const email = `e2e-${Date.now()}@example.com`;
  ctl('users', 'create', '--email', email);
  const owner = ctl('users', 'list').split('\n').find((line) => line.includes(email)).split('\t')[0];
  const key = ctl('keys', 'create', '--name', 'e2e', '--owner', email, '--domains', '127.0.0.1');
  assert.match(key, /^fk_[A-Za-z0-9]{32}$/);

  const html = `<!doctype html><html><head><title>shop</title>
    <script src="${stack.FRICTION_INGEST_URL}/friction-tracker.js" data-api-key="${key}" data-batch-size="5" data-batch-interval="500"></script>
    </head><body><h1>Checkout</h1><button id="pay">Pay</button>
    <button id="broken" onclick="setTimeout(function(){ undefinedFunction() })">Broken</button></body></html>`;
  const site = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(html); });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  site.unref();
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`http://127.0.0.1:${site.address().port}/checkout`);
  for (let i = 0; i < 3; i++) await tab.click('#pay');
  await tab.click('#broken');
  await sleep(1500);
  await tab.goto('about:blank'); // page hide: the rest goes out by beacon
  await context.close();
  site.close();

  const counts = async () => {
    const [f, h, p] = await Promise.all(
      ['friction_events', 'heatmap_data', 'page_performance_metrics'].map((t) =>
        clickhouse(`SELECT count() FROM ${t} FINAL WHERE owner_id = '${owner}'`).then(Number)),
    );
    return { f, h, p };
  };
  const c = await until(async () => { const c = await counts(); return c.f >= 2 && c.h >= 5 && c.p >= 2 && c; }, 90000, 'rows in ClickHouse');
  assert.ok(c.f >= 2 && c.h >= 5 && c.p >= 2);
  const types = (await clickhouse(`SELECT groupUniqArray(event_type) FROM friction_events WHERE owner_id = '${owner}'`));
  assert.match(types, /rage_click/);
  assert.match(types, /javascript_error/);
  const paths = await clickhouse(`SELECT DISTINCT path FROM heatmap_data WHERE owner_id = '${owner}'`);
  assert.equal(paths, '/checkout');
});
