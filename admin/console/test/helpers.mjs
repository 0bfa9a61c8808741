// Test support for the console: the local stack's settings (./dev/up writes them),
// frictionctl, headless Debian Chromium, sign-in, and per-page checks (screenshots at
// 1280 and 390 px, labels on every control, nothing loaded from elsewhere).
import { readFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = new URL('../../../', import.meta.url).pathname;
export const stack = Object.fromEntries(
  readFileSync(process.env.FRICTION_STACK_ENV || root + '.dev/stack.env', 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
export const ADMIN = stack.FRICTION_ADMIN_URL;
export const INGEST = stack.FRICTION_INGEST_URL;
export const ARTIFACTS = process.env.FRICTION_ARTIFACTS || root + '.dev/artifacts/console';
mkdirSync(ARTIFACTS, { recursive: true });
const targetDir = process.env.CARGO_TARGET_DIR || root + 'target';

/** Runs frictionctl against the stack; its stdout, trimmed. */
export function ctl(...args) {
  return execFileSync(`${targetDir}/debug/frictionctl`, args, {
    env: { ...process.env, FRICTION_CLICKHOUSE_URL: stack.CLICKHOUSE_URL, FRICTION_CLICKHOUSE_DATABASE: stack.CLICKHOUSE_DB },
  }).toString().trim();
}

/** A new user; returns `{ email, token }`. */
export function newUser(label, role = 'member') {
  const email = `console-${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const token = ctl('users', 'create', '--email', email, '--role', role);
  assert.match(token, /^ft_[A-Za-z0-9]{32}$/);
  return { email, token };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

/**
 * A signed-in browser context for `user`: clipboard allowed, in a time zone other than
 * UTC, recording every request that leaves the console's origin (and the object store's,
 * for media).
 */
export async function signedIn(browser, user) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Asia/Tokyo', locale: 'en-US' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ADMIN });
  context.foreign = [];
  context.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(ADMIN) && !url.startsWith(stack.S3_ENDPOINT)) context.foreign.push(url);
  });
  const tab = await context.newPage();
  await tab.goto(`${ADMIN}/console/login`);
  await tab.getByLabel('User token').fill(user.token);
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.waitForURL(`${ADMIN}/console/keys`);
  return { context, tab };
}

/**
 * Checks the page as it stands and saves it at 1280 and 390 px: every visible control
 * has a label, nothing is wider than a 390 px phone (tables scroll in their own box).
 */
export async function shoot(tab, name) {
  const unlabelled = await tab.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
      .filter((el) => el.tagName === 'BUTTON' ? !el.textContent.trim() && !el.getAttribute('aria-label') : el.labels.length === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabelled, [], `${name}: every control has a label`);
  await tab.setViewportSize({ width: 1280, height: 900 });
  await tab.screenshot({ path: `${ARTIFACTS}/${name}-1280.png`, fullPage: true });
  await tab.setViewportSize({ width: 390, height: 844 });
  const width = await tab.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `${name}: ${width} px wide at 390 px`);
  await tab.screenshot({ path: `${ARTIFACTS}/${name}-390.png`, fullPage: true });
  await tab.setViewportSize({ width: 1280, height: 900 });
}

/** Sends a one-event batch to ingest with `key`; the status. */
export async function sendBatch(key) {
  const now = Date.now();
  const res = await fetch(`${INGEST}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({
      sent_at: now,
      events: [{
        event_id: crypto.randomUUID(), kind: 'friction', type: 'dead_click', session_id: 's_console',
        page_view_id: 'pv_console', timestamp: now, url: 'https://shop.example.com/', selector: 'button.pay',
        element_tag: 'button', x: 1, y: 2,
      }],
    }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The id of the key row named `name` on the keys page. */
export async function keyId(tab, name) {
  const row = tab.locator('tr[data-key-id]', { has: tab.getByRole('link', { name, exact: true }) });
  return row.getAttribute('data-key-id');
}

/** Clicks what submits a form or follows a link, and waits for the next page to load. */
export async function submit(tab, locator) {
  const loaded = tab.waitForEvent('load');
  await locator.click();
  await loaded;
}

/** Waits for the page's notice (the toast) to say `pattern`. */
export async function notice(tab, pattern) {
  await until(async () => pattern.test(await tab.locator('#toast').textContent()), 5000, `a notice matching ${pattern}`);
}
