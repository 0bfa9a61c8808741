// Test support: a capture server standing in for ingest (it records every request and
// answers as the test says), test pages, and headless Debian Chromium via playwright-core.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const KEY = 'fk_' + 'T'.repeat(32);
const SDK = new URL('../dist/friction-tracker.min.js', import.meta.url);
const SDK_VITALS = new URL('../dist/friction-tracker.vitals.min.js', import.meta.url);
// Every batch the SDK sends in any test must match the published batch schema, the
// contract ingest validates (docs/events.schema.json).
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const validBatch = ajv.compile(
  JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8')),
);

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Playwright gives every launch a fresh profile; these flags keep Chromium off the
    // network, which is closed on these machines.
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A page embedding the SDK with these data- attributes, and a body. */
export function page(attrs = {}, body = '', head = '') {
  const all = { 'api-key': KEY, 'batch-interval': '200', ...attrs };
  const data = Object.entries(all)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => ` data-${k}="${v}"`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>t</title>${head}
<script src="/friction-tracker.js"${data}></script></head><body>${body}</body></html>`;
}

/**
 * Starts the capture server. `pages` maps paths to HTML; `respond(req, n)` may return
 * {status, headers, body} for the n-th event request (default 200 success).
 */
export async function captureServer({ pages = {}, respond, headers = {} } = {}) {
  const requests = [];
  const violations = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/friction-tracker.js' || url.pathname === '/friction-tracker.vitals.js') {
        res.writeHead(200, { 'content-type': 'application/javascript', ...headers });
        return res.end(readFileSync(url.pathname.includes('vitals') ? SDK_VITALS : SDK));
      }
      if (url.pathname === '/v1/events') {
        if (req.method === 'OPTIONS') {
          res.writeHead(204, { 'access-control-allow-origin': req.headers.origin || '*', 'access-control-allow-headers': 'content-type, x-api-key, content-encoding' });
          return res.end();
        }
        // Gzipped batches are decoded as ingest decodes them; `raw` is what came.
        const raw = Buffer.concat(chunks);
        const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        const entry = { at: Date.now(), headers: req.headers, query: url.searchParams, raw, body, json: safeJson(body) };
        requests.push(entry);
        if (!validBatch(entry.json)) violations.push({ body, errors: validBatch.errors });
        // An answer may be a promise, to hold a request in flight.
        return Promise.resolve(respond && respond(entry, requests.length)).then((given) => {
          const answer = given || { status: 200 };
          res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers || {}) });
          res.end(JSON.stringify(answer.body || { success: answer.status < 300 }));
        });
      }
      const html = pages[url.pathname];
      if (html === undefined) {
        res.writeHead(404);
        return res.end();
      }
      const type = /\.m?js$/.test(url.pathname) ? 'application/javascript' : 'text/html; charset=utf-8';
      res.writeHead(200, { 'content-type': type, ...headers });
      res.end(html);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  // A test that fails before closing its server must not keep the runner alive.
  server.unref();
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    requests,
    events: () => requests.flatMap((r) => (r.json && r.json.events) || []),
    violations,
    // Closing is where a test learns that the SDK sent a batch breaking the schema.
    close: async () => {
      await new Promise((r) => { server.close(r); server.closeAllConnections(); });
      if (violations.length) {
        throw new Error(`batches break docs/events.schema.json: ${JSON.stringify(violations.slice(0, 3))}`);
      }
    },
  };
}

/** Opens `html` (served at `/`, plus any `pages`) in a fresh browser context. */
export async function openPage(browser, html, opts = {}) {
  const server = await captureServer({ ...opts, pages: { '/': html, ...(opts.pages || {}) } });
  const context = await browser.newContext();
  const tab = await context.newPage();
  const pageErrors = [];
  tab.on('pageerror', (e) => pageErrors.push(e));
  await tab.goto(server.base + '/');
  return { server, tab, context, pageErrors };
}

function safeJson(s) {
  try { return JSON.parse(s); } catch { return null; }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` is truthy, returning its value. */
export async function until(check, timeoutMs = 10000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
