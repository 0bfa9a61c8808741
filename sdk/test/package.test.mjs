// The npm package: ES modules exporting init() (typed by index.d.ts, checked with tsc),
// harmless on a server, and packed with what its exports name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { launch, openPage, until, sleep, KEY } from './helpers.mjs';

const SDK = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', SDK), 'utf8'));
const build = (file) => readFileSync(new URL(`dist/${file}`, SDK), 'utf8');

// A page whose module script is `script` (the module builds are served beside it).
function openModulePage(script, body = '') {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>t</title>
<script type="module">${script}</script></head><body>${body}</body></html>`;
  return openPage(browser, html, {
    pages: { '/friction-tracker.mjs': build('friction-tracker.mjs'), '/friction-tracker.vitals.mjs': build('friction-tracker.vitals.mjs') },
  });
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('in a page, init() starts tracking with camelCase options and returns the one API', async () => {
  const { server, tab, context, pageErrors } = await openModulePage(`
  import { init } from '/friction-tracker.mjs';
  const friction = init({ apiKey: '${KEY}', endpoint: location.origin + '/v1/events', batchInterval: 200, keepQuery: true, respectDnt: false });
  window.tracked = { same: init({ apiKey: 'fk_other' }) === friction, global: window.friction === friction, version: friction.version };
  friction.track('module loaded');`, '<button id="b">b</button>');
  await tab.goto(server.base + '/?plan=pro');
  await tab.click('#b');
  await until(() => ['pageview', 'custom', 'click'].every((t) => server.events().some((e) => e.type === t)), 5000, 'events');
  assert.deepEqual(await tab.evaluate(() => window.tracked), { same: true, global: true, version: pkg.version });
  const view = server.events().find((e) => e.type === 'pageview' && e.url.includes('plan'));
  assert.ok(view, 'keepQuery: true kept the query');
  assert.ok(server.requests.every((r) => r.headers['x-api-key'] === KEY || r.query.get('api_key') === KEY));
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();
});

test('one tracker per page: both module builds and the script tag share the first', async () => {
  const { server, tab, context, pageErrors } = await openModulePage(`
  import { init } from '/friction-tracker.mjs';
  import { init as initVitals } from '/friction-tracker.vitals.mjs';
  const endpoint = location.origin + '/v1/events';
  window.same = init({ apiKey: '${KEY}', endpoint, batchInterval: 200 }) === initVitals({ apiKey: '${KEY}', endpoint });
  const tag = document.createElement('script');
  tag.src = '/friction-tracker.js';
  tag.dataset.apiKey = '${KEY}';
  tag.onload = () => { window.tagLoaded = true; };
  document.head.append(tag);`);
  await tab.waitForFunction(() => window.tagLoaded);
  await tab.evaluate(() => window.friction.track('after all three'));
  await until(() => server.events().some((e) => e.type === 'custom'), 5000, 'the custom event');
  assert.equal(await tab.evaluate(() => window.same), true);
  assert.equal(server.events().filter((e) => e.type === 'pageview').length, 1, 'one page view');
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();
});

test('init() never throws: with an endpoint that is no URL it returns an API that does nothing', async () => {
  const { server, tab, context, pageErrors } = await openModulePage(`
  import { init } from '/friction-tracker.mjs';
  const friction = init({ apiKey: '${KEY}', endpoint: 'http://[bad', batchInterval: 200 });
  friction.track('x');
  window.result = { stats: friction.stats(), global: 'friction' in window };`);
  await tab.waitForFunction(() => window.result);
  assert.deepEqual(await tab.evaluate(() => window.result), { stats: { queued: 0, dropped: 0, sent: 0, failed: 0 }, global: false });
  await sleep(500);
  assert.equal(server.requests.length, 0);
  assert.deepEqual(pageErrors, []);
  await context.close();
  await server.close();
});

test('on a server init() returns an API that does nothing', async () => {
  for (const file of ['friction-tracker.mjs', 'friction-tracker.vitals.mjs']) {
    const { init } = await import(new URL(`dist/${file}`, SDK));
    const friction = init({ apiKey: KEY });
    assert.equal(friction.version, pkg.version);
    friction.track('x');
    friction.setConsent(true);
    friction.flush();
    assert.deepEqual(friction.stats(), { queued: 0, sent: 0, failed: 0, dropped: 0 });
  }
});

test('the types describe the API: a TypeScript user compiles, and misuse does not', () => {
  const tsc = new URL('node_modules/typescript/bin/tsc', SDK).pathname;
  const args = ['--noEmit', '--strict', '--target', 'es2017', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--lib', 'es2017,dom', new URL('test/types/usage.ts', SDK).pathname];
  execFileSync(process.execPath, [tsc, ...args], { cwd: SDK, stdio: 'pipe' });
});

test('the package holds every file its exports name, and no sources or tests', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: SDK, encoding: 'utf8' }));
  const files = packed.files.map((f) => f.path).sort();
  const named = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
  for (const path of [...named, pkg.main, pkg.types]) assert.ok(files.includes(path.replace(/^\.\//, '')), `${path} is not packed`);
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), files.join());
  assert.ok(files.includes('README.md'));
});
