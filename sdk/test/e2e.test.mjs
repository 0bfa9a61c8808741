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

// A new user and a key of theirs, made by frictionctl: the events are stored under the
// user's id.
function newKey() {
  const ctl = (...args) => execFileSync(`${targetDir}/debug/frictionctl`, args, {
    env: { ...process.env, FRICTION_CLICKHOUSE_URL: stack.CLICKHOUSE_URL, FRICTION_CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DB },
  }).toString().trim();
  const email = `e2e-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  ctl('users', 'create', '--email', email);
  const owner = ctl('users', 'list').split('\n').find((line) => line.includes(email)).split('\t')[0];
  const key = ctl('keys', 'create', '--name', 'e2e', '--owner', email, '--domains', '127.0.0.1');
  assert.match(key, /^fk_[A-Za-z0-9]{32}$/);
  return { owner, key };
}

// Serves `html` at every path; returns the base URL.
async function site(html) {
  const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(html); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return `http://127.0.0.1:${server.address().port}`;
}

test('clicks and errors in a real page become rows in ClickHouse', { timeout: 120000 }, async () => {
  const { owner, key } = newKey();

  const html = `<!doctype html><html><head><title>shop</title>
    <script src="${stack.FRICTION_INGEST_URL}/friction-tracker.js" data-api-key="${key}" data-batch-size="5" data-batch-interval="500"></script>
    </head><body><h1>Checkout</h1><button id="pay">Pay</button>
    <button id="broken" onclick="setTimeout(function(){ undefinedFunction() })">Broken</button></body></html>`;
  const base = await site(html);
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`${base}/checkout`);
  for (let i = 0; i < 3; i++) await tab.click('#pay');
  await tab.click('#broken');
  await sleep(1500);
  await tab.goto('about:blank'); // page hide: the rest goes out by beacon
  await context.close();

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

test('personal data seeded in a page never reaches ClickHouse', { timeout: 120000 }, async () => {
  const { owner, key } = newKey();
  const secrets = ['e2etoken', 'fragsecret', '4111111111111111', 'dave@example.net', 'alice_smith', '4242424242424242',
    'bob@example.com', 'carol@example.org', 'erin@example.net', '123-45-6789'];
  const html = `<!doctype html><html><head><title>account</title>
    <script src="${stack.FRICTION_INGEST_URL}/friction-tracker.js" data-api-key="${key}" data-batch-size="5" data-batch-interval="500"></script>
    </head><body><div class="u-ssn-123-45-6789"><button id="alice_smith-profile" class="acct-4242424242424242">Buy</button></div>
    <form id="f"><input name="email-bob@example.com" required><button id="go">Go</button></form>
    <button id="boom" onclick="setTimeout(function(){ throw new Error('failed for carol@example.org at ' + location.href) })">x</button>
    </body></html>`;
  const base = await site(html);
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`${base}/orders/4111111111111111/u/dave@example.net?token=e2etoken#fragsecret`);
  for (let i = 0; i < 3; i++) await tab.click('#alice_smith-profile');
  await tab.click('#go');
  await tab.click('#boom');
  await tab.evaluate(() => window.friction.track('note for erin@example.net at ' + location.href));
  await sleep(1500);
  await tab.goto('about:blank');
  await context.close();

  const rows = async () => (await Promise.all(['friction_events', 'heatmap_data', 'page_performance_metrics'].map((t) =>
    clickhouse(`SELECT * FROM ${t} WHERE owner_id = '${owner}' FORMAT JSONEachRow`)))).join('\n');
  const stored = await until(async () => {
    const all = await rows();
    return ['rage_click', 'form_validation_error', 'javascript_error', 'custom', 'pageview'].every((t) => all.includes(`"${t}"`)) && all;
  }, 90000, 'every kind of row in ClickHouse');
  assert.equal(await clickhouse(`SELECT DISTINCT path FROM heatmap_data WHERE owner_id = '${owner}' AND event_type = 'pageview'`), '/orders/:id/u/:id');
  for (const secret of secrets) assert.ok(!stored.includes(secret), `${secret} reached ClickHouse`);
});
