// Each detector fires when it should, and only then, in real headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, captureServer, page, until, sleep } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const open = (html, opts = {}) => openPage(browser, html, opts);

const ofType = (events, type) => events.filter((e) => e.type === type);

test('three fast clicks on one element are a rage click; two are not', async () => {
  const { server, tab, context } = await open(page({}, '<button id="buy" onclick="this.dataset.n=1">Buy</button><button id="two">Two</button>'));
  await tab.click('#two', { clickCount: 1 });
  await tab.click('#two', { clickCount: 1 });
  await tab.click('#buy');
  await tab.click('#buy');
  await tab.click('#buy');
  const rage = await until(() => ofType(server.events(), 'rage_click')[0], 5000, 'rage click');
  assert.equal(rage.click_count, 3);
  assert.equal(rage.selector, 'button#buy');
  await sleep(500);
  assert.equal(ofType(server.events(), 'rage_click').length, 1);
  assert.equal(ofType(server.events(), 'click').length, 5);
  await context.close();
  await server.close();
});

test('rage clicks are not reported on opted-out elements', async () => {
  const { server, tab, context } = await open(page({}, '<button id="inc" data-friction-no-rage onclick="this.dataset.n++">+</button>'));
  for (let i = 0; i < 4; i++) await tab.click('#inc');
  await until(() => ofType(server.events(), 'click').length === 4, 5000, 'clicks');
  await sleep(300);
  assert.equal(ofType(server.events(), 'rage_click').length, 0);
  await context.close();
  await server.close();
});

test('a click that changes nothing is a dead click; one whose handler changes the DOM is not', async () => {
  const body = `<button id="dead">Nothing</button>
    <button id="alive" onclick="document.getElementById('out').textContent='done'">Works</button><p id="out"></p>`;
  const { server, tab, context } = await open(page({ 'dead-click-timeout': '800' }, body));
  await tab.click('#alive');
  await sleep(1200);
  await tab.click('#dead');
  const dead = await until(() => ofType(server.events(), 'dead_click')[0], 5000, 'dead click');
  assert.equal(dead.selector, 'button#dead');
  await sleep(1200);
  assert.deepEqual(ofType(server.events(), 'dead_click').map((e) => e.selector), ['button#dead']);
  await context.close();
  await server.close();
});

test('thrown errors and rejected promises are reported, identical errors collapsed', async () => {
  const body = `<button id="boom" onclick="setTimeout(function(){ throw new Error('boom happened') })">x</button>
    <button id="reject" onclick="Promise.reject(new TypeError('nope'))">y</button>`;
  const { server, tab, context } = await open(page({ 'batch-interval': '1500' }, body));
  await tab.click('#boom');
  await tab.click('#boom');
  await tab.click('#reject');
  const err = await until(() => ofType(server.events(), 'javascript_error')[0], 5000, 'js error');
  assert.match(err.message, /boom happened/);
  assert.equal(err.count, 2);
  assert.ok(err.line > 0);
  assert.match(err.stack, /Error/);
  const rej = await until(() => ofType(server.events(), 'unhandled_rejection')[0], 5000, 'rejection');
  assert.equal(rej.message, 'TypeError: nope');
  await context.close();
  await server.close();
});

test('form validation errors name the field and the failed checks, never the value', async () => {
  // A control named "id" stands for form.id: the form is still named by its attribute.
  const body = `<form id="signup"><input type="hidden" name="id" value="7"><input name="email" type="email" required>
    <input name="age" type="number" min="18"><button id="go">Go</button></form>`;
  const { server, tab, context } = await open(page({}, body));
  await tab.fill('input[name=email]', 'not-an-email-SECRET');
  await tab.fill('input[name=age]', '7');
  await tab.click('#go');
  const errors = await until(() => { const e = ofType(server.events(), 'form_validation_error'); return e.length >= 2 && e; }, 5000, 'form errors');
  const email = errors.find((e) => e.field_name === 'email');
  assert.equal(email.form, '#signup');
  assert.equal(email.field_type, 'email');
  assert.deepEqual(email.validity, ['typeMismatch']);
  assert.deepEqual(errors.find((e) => e.field_name === 'age').validity, ['rangeUnderflow']);
  await sleep(400);
  for (const r of server.requests) assert.ok(!r.body.includes('SECRET') && !r.body.includes('"7"'), 'a value leaked');
  await context.close();
  await server.close();
});

test('data-friction-ignore keeps heatmap points and form errors out', async () => {
  const body = `<div data-friction-ignore><button id="a">A</button>
    <form><input name="x" required><button id="go">Go</button></form></div>
    <form><input name="y" required><button id="go2">Go</button></form><button id="b">B</button>`;
  const { server, tab, context } = await open(page({}, body));
  await tab.click('#a');
  await tab.click('#go');
  await tab.click('#go2');
  await tab.click('#b');
  await until(() => ofType(server.events(), 'form_validation_error').length, 5000, 'the form error outside');
  await sleep(400);
  assert.deepEqual(ofType(server.events(), 'click').map((c) => c.selector), ['button#go2', 'button#b']);
  assert.deepEqual(ofType(server.events(), 'form_validation_error').map((e) => e.field_name), ['y']);
  await context.close();
  await server.close();
});

test('forms that validate in script (novalidate) report the fields the visitor is told about', async () => {
  const body = `<form id="f" novalidate onsubmit="event.preventDefault(); if (!this.elements.nick.value) this.elements.nick.setAttribute('aria-invalid', 'true')">
    <input name="email" type="email" required><input name="nick"><input name="zip"><button id="go">Go</button></form>`;
  const { server, tab, context } = await open(page({}, body));
  await tab.click('#go');
  const errors = await until(() => { const e = ofType(server.events(), 'form_validation_error'); return e.length >= 2 && e; }, 5000, 'form errors');
  await sleep(400);
  assert.deepEqual(ofType(server.events(), 'form_validation_error').map((e) => [e.field_name, e.validity]),
    [['email', ['valueMissing']], ['nick', []]]);
  assert.equal(errors[0].form, '#f');
  await context.close();
  await server.close();
});

test('a page shown again from the back/forward cache is a new page view', async () => {
  const { server, tab, context } = await open(page({}, '<p>a</p>'));
  await tab.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
  const views = await until(() => { const v = ofType(server.events(), 'pageview'); return v.length >= 2 && v; }, 5000, 'pageviews');
  assert.deepEqual(views.map((v) => v.navigation_type), ['load', 'back_forward']);
  assert.notEqual(views[0].page_view_id, views[1].page_view_id);
  await context.close();
  await server.close();
});

test('pageviews on load and on SPA navigations, with query strings stripped', async () => {
  const { server, tab, context } = await open(page({}, '<a id="x">x</a>'));
  await tab.evaluate(() => { history.pushState({}, '', '/cart?coupon=SECRET'); });
  await tab.evaluate(() => { history.replaceState({}, '', '/checkout'); });
  await tab.evaluate(() => { history.back(); });
  const views = await until(() => { const v = ofType(server.events(), 'pageview'); return v.length >= 4 && v; }, 5000, 'pageviews');
  assert.deepEqual(views.map((v) => v.navigation_type), ['load', 'push', 'replace', 'pop']);
  assert.equal(views[1].url, server.base + '/cart');
  assert.equal(new Set(views.map((v) => v.page_view_id)).size, 4);
  assert.equal(new Set(views.map((v) => v.session_id)).size, 1);
  assert.ok(!server.requests.some((r) => r.body.includes('SECRET')));
  await context.close();
  await server.close();
});

test('navigation timings are reported; FCP, LCP, CLS and INP by the vitals build only', async () => {
  const html = page({}, '<h1>Hello</h1><p>content</p>');
  for (const vitals of [false, true]) {
    const { server, tab, context } = await open(vitals ? html.replace('/friction-tracker.js', '/friction-tracker.vitals.js') : html);
    const names = ['loadTime', 'timeToFirstByte', ...(vitals ? ['firstContentfulPaint'] : [])];
    await until(() => names.every((n) => ofType(server.events(), n).length), 12000, 'performance metrics');
    for (const n of names) {
      const m = ofType(server.events(), n)[0];
      assert.ok(m.value >= 0, `${n} = ${m.value}`);
    }
    // Queued last, so the page-hide send is known to have arrived once it is seen.
    await tab.evaluate(() => window.friction.track('last'));
    await context.close();
    await until(() => ofType(server.events(), 'custom').length, 5000, 'the page-hide send');
    const vital = ofType(server.events(), 'cumulativeLayoutShift');
    assert.equal(vital.length, vitals ? 1 : 0, 'CLS only from the vitals build');
    if (!vitals) assert.deepEqual(ofType(server.events(), 'firstContentfulPaint'), []);
    await server.close();
  }
});

test('a prerendered page is no page view until it is opened, and its timings count from then', async () => {
  // Headless Chromium does not prerender: the page is told it is prerendered, and then
  // activated, as the browser would (document.prerendering, prerenderingchange,
  // activationStart).
  for (const vitals of [false, true]) {
    const html = page({}, '<h1>Hello</h1>');
    const server = await captureServer({ pages: { '/': vitals ? html.replace('/friction-tracker.js', '/friction-tracker.vitals.js') : html } });
    const context = await browser.newContext();
    await context.addInitScript(() => {
      let activatedAt = 0;
      Object.defineProperty(Document.prototype, 'prerendering', { get: () => !activatedAt });
      Object.defineProperty(PerformanceNavigationTiming.prototype, 'activationStart', { get: () => activatedAt });
      window.activate = () => {
        activatedAt = performance.now();
        document.dispatchEvent(new Event('prerenderingchange'));
      };
    });
    const tab = await context.newPage();
    await tab.goto(server.base + '/');
    await tab.waitForFunction(() => document.readyState === 'complete');
    await sleep(600); // three batch intervals
    assert.deepEqual(server.events().map((e) => e.type), [], 'nothing before the page is opened');
    await tab.evaluate(() => window.activate());
    const names = ['pageview', 'loadTime', 'timeToFirstByte', ...(vitals ? ['firstContentfulPaint'] : [])];
    await until(() => names.every((n) => ofType(server.events(), n).length), 5000, 'the page view and timings');
    await tab.evaluate(() => window.friction.track('last'));
    await context.close();
    await until(() => ofType(server.events(), 'custom').length, 5000, 'the page-hide send');
    // Loaded and painted before it was opened: to the visitor, at once.
    for (const n of [...names.slice(1), ...(vitals ? ['largestContentfulPaint'] : [])]) {
      assert.deepEqual(ofType(server.events(), n).map((e) => e.value), [0], n);
    }
    await server.close();
  }
});

test('a click followed by an error is an error click, once; a later error is not', async () => {
  const { server, tab, context } = await open(page({}, `
    <button id="pay" onclick="missingFunction()">Pay</button>
    <button id="twice" onclick="setTimeout(function () { null.a; }, 0); Promise.reject(new Error('declined'))">Twice</button>
    <button id="late" onclick="setTimeout(function () { lateFailure(); }, 1500)">Late</button>
    <button id="key" onclick="keyFailure()">Key</button>
    <button id="quiet" data-friction-no-error onclick="quietFailure()">Quiet</button>`));
  await tab.evaluate(() => setTimeout(() => { noClickFailure(); }, 0));
  await sleep(300);
  for (const id of ['#pay', '#twice', '#late']) { await tab.click(id); await sleep(200); }
  await tab.focus('#key');
  await tab.keyboard.press('Enter');
  await tab.click('#quiet');
  await sleep(2000);
  await tab.evaluate(() => window.friction.flush());
  const clicks = await until(() => { const c = ofType(server.events(), 'error_click'); return c.length >= 3 && c; }, 5000, 'error clicks');
  await sleep(300);
  assert.equal(ofType(server.events(), 'error_click').length, 3, 'one per click; none for the late error, the opted-out button or no click');
  const pay = clicks.find((c) => c.selector === 'button#pay');
  assert.match(pay.message, /missingFunction/);
  assert.equal(pay.element_tag, 'button');
  assert.ok(pay.x > 0 && pay.y > 0);
  assert.equal(pay.url, server.base + '/');
  // Whichever of its two errors came first.
  assert.match(clicks.find((c) => c.selector === 'button#twice').message, /declined|null/);
  // A keyboard activation has no position, as for the heatmap.
  const key = clicks.find((c) => c.selector === 'button#key');
  assert.match(key.message, /keyFailure/);
  assert.equal(key.x, undefined);
  // The errors keep their own rows.
  const errors = ofType(server.events(), 'javascript_error').map((e) => e.message).join(' ');
  assert.match(errors, /missingFunction/);
  assert.match(errors, /lateFailure/);
  assert.match(errors, /quietFailure/);
  assert.match(errors, /noClickFailure/);
  assert.equal(ofType(server.events(), 'unhandled_rejection').length, 1);
  await context.close();
  await server.close();
});

test('going back within seconds is a quick back of the page fled, across page loads and in an SPA', async () => {
  const { server, tab, context } = await open(page({ 'batch-size': '1' }, '<a id="go" href="/fled">Go</a>'), {
    pages: {
      '/fled': page({ 'batch-size': '1' }, '<p>not what I wanted</p>'),
      '/read': page({ 'batch-size': '1' }, '<p>a page worth reading</p>'),
    },
  });
  // Going to the page before again through a link, or reloading, is no going back.
  await tab.click('#go');
  await tab.waitForURL('**/fled');
  await tab.evaluate(() => { location.href = '/'; });
  await tab.waitForURL(server.base + '/');
  await tab.reload();
  await sleep(300);
  assert.equal(ofType(server.events(), 'quick_back').length, 0);
  await tab.click('#go');
  await tab.waitForURL('**/fled');
  await tab.reload();
  await sleep(800);
  await tab.goBack();
  const back = await until(() => ofType(server.events(), 'quick_back')[0], 5000, 'quick back across loads');
  assert.equal(back.url, server.base + '/fled');
  // A page read for longer than the window is no quick back.
  await tab.goto(server.base + '/read');
  await sleep(5300);
  await tab.goBack();
  await sleep(800);
  assert.equal(ofType(server.events(), 'quick_back').length, 1);
  // In an SPA: a pushed route left again by the back button.
  await tab.evaluate(() => history.pushState(null, '', '/spa-fled'));
  await sleep(1200);
  await tab.goBack();
  const spa = await until(() => ofType(server.events(), 'quick_back')[1], 5000, 'quick back in an SPA');
  assert.equal(spa.url, server.base + '/spa-fled');
  await context.close();
  await server.close();
});

test('every event has a UUID, the session and the page view', async () => {
  const { server, tab, context } = await open(page({}, '<button id="b">b</button>'));
  await tab.click('#b');
  await until(() => ofType(server.events(), 'click').length, 5000, 'click');
  for (const e of server.events()) {
    assert.match(e.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(e.session_id && e.page_view_id && e.timestamp > 0 && e.url.startsWith(server.base));
  }
  const click = ofType(server.events(), 'click')[0];
  assert.equal(click.selector, 'button#b');
  assert.equal(click.element_tag, 'button');
  assert.ok(click.viewport_width > 0 && click.x > 0 && click.client_y > 0);
  await context.close();
  await server.close();
});
