// What the console refuses: another member's key or export reached by editing the URL, a
// form posted without its CSRF token (or with another session's), and pages without a
// session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newUser, signedIn, shoot, until, submit, ADMIN } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

test('a member cannot reach another member\'s key or export by editing the URL', { timeout: 180000 }, async () => {
  const alice = await signedIn(browser, newUser('alice'));
  await alice.tab.getByLabel('Name').fill('alice-site');
  await submit(alice.tab, alice.tab.getByRole('button', { name: 'Create key' }));
  const keyId = alice.tab.url().split('/').pop();
  await alice.tab.goto(`${ADMIN}/console/exports`);
  await alice.tab.getByLabel('From (UTC day)').fill(day(-1));
  await alice.tab.getByLabel('To (included)').fill(day(0));
  await submit(alice.tab, alice.tab.getByRole('button', { name: 'Request report' }));
  const exportId = await alice.tab.locator('#export-rows tr[data-export-id]').first().getAttribute('data-export-id');
  await until(async () => {
    await alice.tab.reload();
    return (await alice.tab.locator(`tr[data-export-id="${exportId}"]`).getAttribute('data-status')) === 'completed';
  }, 120000, 'alice\'s export');

  const bob = await signedIn(browser, newUser('bob'));
  assert.equal(await bob.tab.locator('tr[data-key-id]').count(), 0);
  for (const path of [`/console/keys/${keyId}`, `/console/keys/${keyId}/delete`, `/console/exports/${exportId}/download`]) {
    const res = await bob.tab.goto(`${ADMIN}${path}`);
    assert.equal(res.status(), 404, path);
    assert.equal(await bob.tab.locator('[data-code]').getAttribute('data-code'), 'not_found', path);
    assert.ok(!(await bob.tab.content()).includes('alice-site'), path);
  }
  await shoot(bob.tab, 'not-found');
  const reveal = await bob.context.request.get(`${ADMIN}/console/keys/${keyId}/reveal`, {
    headers: { 'x-csrf-token': await bob.tab.locator('main').getAttribute('data-csrf') },
  });
  assert.equal(reveal.status(), 404);
  await bob.tab.goto(`${ADMIN}/console/exports`);
  assert.equal(await bob.tab.locator('#export-rows').count(), 1);
  assert.equal(await bob.tab.locator('#export-rows tr[data-export-id]').count(), 0);
  assert.ok(!(await bob.tab.content()).includes(exportId));

  // Bob's own, valid, form aimed at Alice's key changes nothing.
  const csrf = await bob.tab.locator('main').getAttribute('data-csrf');
  for (const [path, form] of [[`/console/keys/${keyId}/active`, { csrf, active: 'false' }], [`/console/keys/${keyId}/delete`, { csrf }], [`/console/keys/${keyId}`, { csrf, name: 'bob-was-here' }]]) {
    const res = await bob.context.request.post(`${ADMIN}${path}`, { form, maxRedirects: 0 });
    assert.equal(res.status(), 404, path);
  }
  await alice.tab.goto(`${ADMIN}/console/keys/${keyId}`);
  assert.equal(await alice.tab.getByLabel('Name').inputValue(), 'alice-site');
  assert.equal(await alice.tab.locator('.on').first().textContent(), 'Active');
  await alice.context.close();
  await bob.context.close();
});

test('a form posted without its CSRF token is refused', async () => {
  const { context, tab } = await signedIn(browser, newUser('csrf'));
  const csrf = await tab.locator('main').getAttribute('data-csrf');
  const other = await signedIn(browser, newUser('csrf-other'));
  const otherCsrf = await other.tab.locator('main').getAttribute('data-csrf');
  await other.context.close();
  for (const form of [{ name: 'no-token' }, { name: 'wrong-token', csrf: 'x'.repeat(40) }, { name: 'other-session', csrf: otherCsrf }]) {
    const res = await context.request.post(`${ADMIN}/console/keys`, { form, maxRedirects: 0 });
    assert.equal(res.status(), 403, form.name);
    assert.match(await res.text(), /data-code="invalid_csrf"/, form.name);
  }
  // A real browser form with its token field removed is refused the same way.
  await tab.evaluate(() => document.querySelector('form[action="/console/keys"] input[name="csrf"]').remove());
  await tab.getByLabel('Name').fill('stripped');
  await submit(tab, tab.getByRole('button', { name: 'Create key' }));
  assert.equal(await tab.locator('[data-code="invalid_csrf"]').count(), 1);
  await shoot(tab, 'csrf-refused');
  const ok = await context.request.post(`${ADMIN}/console/keys`, { form: { name: 'with-token', csrf }, maxRedirects: 0 });
  assert.equal(ok.status(), 303);
  // A form posted from another site is refused even with a valid token.
  const foreign = await context.request.post(`${ADMIN}/console/keys`, {
    form: { name: 'cross-site', csrf }, headers: { origin: 'http://evil.example' }, maxRedirects: 0,
  });
  assert.equal(foreign.status(), 403);
  await tab.goto(`${ADMIN}/console/keys`);
  const names = await tab.locator('tr[data-key-id] td:first-child').allTextContents();
  assert.deepEqual(names.map((n) => n.trim()), ['with-token']);
  // The script's reveal needs the token as a header too.
  const id = await tab.locator('tr[data-key-id]').first().getAttribute('data-key-id');
  assert.equal((await context.request.get(`${ADMIN}/console/keys/${id}/reveal`)).status(), 403);
  // Signing in needs the sign-in form's own token; a forged sign-in is refused.
  const forged = await fetch(`${ADMIN}/console/login`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=ft_x', redirect: 'manual',
  });
  assert.equal(forged.status, 403);
  await context.close();
});

test('pages without a session lead to the sign-in page', async () => {
  for (const path of ['/console/keys', '/console/exports', '/console/recordings', '/console/integrations', '/console/keys/x/delete']) {
    const res = await fetch(`${ADMIN}${path}`, { redirect: 'manual' });
    assert.equal(res.status, 303, path);
    assert.equal(res.headers.get('location'), '/console/login', path);
  }
  const home = await fetch(`${ADMIN}/console`, { redirect: 'manual' });
  assert.equal(home.headers.get('location'), '/console/keys');
  const live = await fetch(`${ADMIN}/console/exports/live`);
  assert.equal(live.status, 401);
  assert.equal((await live.json()).error, 'sign_in_required');
});
