// Keys in the console: sign in, create (shown once, with its snippet), copy, show/hide,
// local times, errors beside their field, turn off and on as ingest sees it, delete
// behind a confirmation, sign out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newUser, signedIn, shoot, sendBatch, keyId, until, submit, notice, ADMIN, INGEST } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

test('a member creates a key, copies it, turns it off and on as ingest sees it, deletes one', { timeout: 180000 }, async () => {
  const member = newUser('keys');
  const { context, tab } = await signedIn(browser, member);
  await shoot(tab, 'keys-empty');

  // An error comes back beside its field, with what was typed kept.
  await tab.getByLabel('Name').fill('shop');
  await tab.getByLabel('Requests per minute').fill('lots');
  await submit(tab, tab.getByRole('button', { name: 'Create key' }));
  const limitError = tab.locator('#rate_limit_per_minute-error');
  assert.match(await limitError.textContent(), /rate/i);
  assert.equal(await tab.getByLabel('Requests per minute').getAttribute('aria-invalid'), 'true');
  assert.equal(await tab.evaluate(() => document.activeElement.id), 'rate_limit_per_minute');
  assert.equal(await tab.getByLabel('Name').inputValue(), 'shop');
  await shoot(tab, 'keys-field-error');

  // Created with the keyboard alone: type, then Enter submits. The key's page shows it
  // whole, with its snippet.
  await tab.getByLabel('Requests per minute').fill('600');
  const loaded = tab.waitForEvent('load');
  await tab.getByLabel('Requests per minute').press('Enter');
  await loaded;
  assert.match(tab.url(), /\/console\/keys\/[0-9a-f-]{36}$/);
  const id = tab.url().split('/').pop();
  const key = (await tab.locator('#key-value').textContent()).trim();
  assert.match(key, /^fk_[A-Za-z0-9]{32}$/);
  await notice(tab, /created/);
  const snippet = await tab.locator('#snippet').inputValue();
  assert.ok(snippet.includes(`src="${INGEST}/friction-tracker.js"`), snippet);
  assert.ok(snippet.includes(`data-api-key="${key}"`), snippet);
  await shoot(tab, 'key-created');

  await tab.getByRole('button', { name: 'Copy key' }).click();
  await until(async () => (await tab.evaluate(() => navigator.clipboard.readText())) === key, 5000, 'the key copied');
  await tab.getByRole('button', { name: 'Copy snippet' }).click();
  await until(async () => (await tab.evaluate(() => navigator.clipboard.readText())) === snippet, 5000, 'the snippet copied');

  // Reloading the page does not make a second key.
  await tab.reload();
  await tab.goto(`${ADMIN}/console/keys`);
  assert.equal(await tab.locator('tr[data-key-id]').count(), 1);
  assert.equal(await keyId(tab, 'shop'), id);

  // The list shows it masked; Show reveals it (also from the keyboard), Hide masks it
  // again, Copy copies it whole.
  const cell = tab.locator(`#key-${id}`);
  const masked = (await cell.textContent()).trim();
  assert.ok(masked !== key && masked.startsWith(key.slice(0, 6)), masked);
  const show = tab.locator(`button[data-reveal="${id}"]`);
  await show.focus();
  await tab.keyboard.press('Enter');
  await until(async () => (await cell.textContent()).trim() === key, 5000, 'the key shown');
  assert.match(await show.textContent(), /^Hide/);
  await show.click();
  assert.equal((await cell.textContent()).trim(), masked);
  assert.match(await show.textContent(), /^Show/);
  await tab.evaluate(() => navigator.clipboard.writeText(''));
  await tab.locator(`button[data-copy-key="${id}"]`).click();
  await until(async () => (await tab.evaluate(() => navigator.clipboard.readText())) === key, 5000, 'the key copied');

  // Times are shown in the viewer's zone (Tokyo here), not as raw UTC.
  const created_at = tab.locator(`tr[data-key-id="${id}"] time`).first();
  const utc = await created_at.getAttribute('datetime');
  const shown = await created_at.textContent();
  assert.notEqual(shown, utc);
  const tokyo = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Tokyo' });
  assert.equal(shown, tokyo.format(new Date(utc)));

  assert.equal(await sendBatch(key), 200);
  const row = tab.locator(`tr[data-key-id="${id}"]`);
  await submit(tab, row.getByRole('button', { name: 'Turn off' }));
  assert.equal(tab.url(), `${ADMIN}/console/keys`);
  await notice(tab, /turned off/);
  assert.equal(await row.locator('.off').textContent(), 'Off');
  await until(async () => (await sendBatch(key)) !== 200, 60000, 'ingest refusing the key');
  assert.equal(await sendBatch(key), 403);

  // Turned on from the key's own page, which it comes back to.
  await submit(tab, tab.getByRole('link', { name: 'shop', exact: true }));
  await shoot(tab, 'key-detail');
  await submit(tab, tab.getByRole('button', { name: 'Turn on' }));
  assert.equal(tab.url(), `${ADMIN}/console/keys/${id}`);
  await notice(tab, /turned on/);
  await until(async () => (await sendBatch(key)) === 200, 60000, 'ingest accepting the key again');

  // Settings change on the key's page; a refused one shows beside its field.
  await tab.getByLabel('Allowed domains').fill('*shop.example.com');
  await submit(tab, tab.getByRole('button', { name: 'Save' }));
  assert.match(await tab.locator('#allowed_domains-error').textContent(), /domain/i);
  await tab.getByLabel('Allowed domains').fill('shop.example.com\n*.shop.example.com');
  await submit(tab, tab.getByRole('button', { name: 'Save' }));
  await notice(tab, /saved/);
  assert.equal(await tab.getByLabel('Allowed domains').inputValue(), 'shop.example.com\n*.shop.example.com');
  await tab.goto(`${ADMIN}/console/keys`);

  // Deleting asks first; Cancel keeps the key, Delete removes it.
  await tab.getByLabel('Name').fill('temporary');
  await submit(tab, tab.getByRole('button', { name: 'Create key' }));
  await tab.goto(`${ADMIN}/console/keys`);
  const temp = await keyId(tab, 'temporary');
  await submit(tab, tab.locator(`tr[data-key-id="${temp}"]`).getByRole('link', { name: 'Delete' }));
  await tab.getByRole('heading', { name: /Delete key “temporary”/ }).waitFor();
  await shoot(tab, 'key-delete-confirm');
  await submit(tab, tab.getByRole('link', { name: 'Cancel' }));
  assert.equal(await tab.locator(`tr[data-key-id="${temp}"]`).count(), 1);
  await submit(tab, tab.locator(`tr[data-key-id="${temp}"]`).getByRole('link', { name: 'Delete' }));
  await submit(tab, tab.getByRole('button', { name: 'Delete key' }));
  assert.equal(tab.url(), `${ADMIN}/console/keys`);
  await notice(tab, /deleted/);
  assert.equal(await tab.locator(`tr[data-key-id="${temp}"]`).count(), 0);

  // Keyboard: the first Tab reaches the skip link, the next ones the navigation.
  await tab.keyboard.press('Tab');
  assert.equal(await tab.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await tab.keyboard.press('Tab');
  assert.equal(await tab.evaluate(() => document.activeElement.textContent), 'Keys');

  // The integrations hub shows the ingest URL and every option.
  await submit(tab, tab.getByRole('link', { name: 'Integrations' }));
  assert.equal(await tab.locator('#ingest-url').textContent(), INGEST);
  assert.ok((await tab.locator('#options').textContent()).includes('data-batch-interval'));
  await shoot(tab, 'integrations');

  // Cookies: HttpOnly, SameSite=Strict. Signing out ends the session on the server.
  const session = (await context.cookies()).find((c) => c.name === 'friction_session');
  assert.ok(session.httpOnly);
  assert.equal(session.sameSite, 'Strict');
  const stolen = `friction_session=${session.value}`;
  await submit(tab, tab.getByRole('button', { name: 'Sign out' }));
  assert.equal(tab.url(), `${ADMIN}/console/login`);
  await shoot(tab, 'login');
  const replay = await fetch(`${ADMIN}/console/keys`, { headers: { cookie: stolen }, redirect: 'manual' });
  assert.equal(replay.status, 303);
  assert.equal(replay.headers.get('location'), '/console/login');
  assert.deepEqual(context.foreign, [], 'nothing loaded from outside the console');
  await context.close();
});

test('a wrong token is refused on the sign-in page', async () => {
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(`${ADMIN}/console/login`);
  await tab.getByLabel('User token').fill('ft_' + 'x'.repeat(32));
  await submit(tab, tab.getByRole('button', { name: 'Sign in' }));
  const error = tab.locator('#token-error');
  assert.equal(await error.getAttribute('data-code'), 'invalid_token');
  assert.equal(await tab.getByLabel('User token').getAttribute('aria-invalid'), 'true');
  await context.close();
});
