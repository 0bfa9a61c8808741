// Keys in the console: sign in, create (shown once, with its snippet), copy, show/hide,
// local times, errors beside their field, turn off and on as ingest sees it, delete
// behind a confirmation, sign out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newUser, signedIn, shoot, sendBatch, keyId, until, ADMIN, INGEST } from './helpers.mjs';

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
  await tab.getByRole('button', { name: 'Create key' }).click();
  const limitError = tab.locator('#rate_limit_per_minute-error');
  await limitError.waitFor();
  assert.match(await limitError.textContent(), /rate/i);
  assert.equal(await tab.getByLabel('Requests per minute').getAttribute('aria-invalid'), 'true');
  assert.equal(await tab.getByLabel('Name').inputValue(), 'shop');
  await shoot(tab, 'keys-field-error');

  await tab.getByLabel('Requests per minute').fill('600');
  await tab.getByRole('button', { name: 'Create key' }).click();
  const created = tab.locator('#new-key');
  await created.waitFor();
  const key = (await created.textContent()).trim();
  assert.match(key, /^fk_[A-Za-z0-9]{32}$/);
  assert.match(await tab.locator('#toast').textContent(), /created/);
  const snippet = await tab.locator('#new-snippet').inputValue();
  assert.ok(snippet.includes(`src="${INGEST}/friction-tracker.js"`), snippet);
  assert.ok(snippet.includes(`data-api-key="${key}"`), snippet);
  await shoot(tab, 'keys-created');

  await tab.getByRole('button', { name: 'Copy key' }).click();
  assert.equal(await tab.evaluate(() => navigator.clipboard.readText()), key);
  await tab.getByRole('button', { name: 'Copy snippet' }).click();
  assert.equal(await tab.evaluate(() => navigator.clipboard.readText()), snippet);

  // The list shows it masked; Show reveals it, Hide masks it again, Copy copies it whole.
  await tab.goto(`${ADMIN}/console/keys`);
  const id = await keyId(tab, 'shop');
  const cell = tab.locator(`#key-${id}`);
  const masked = (await cell.textContent()).trim();
  assert.ok(masked !== key && masked.startsWith(key.slice(0, 6)), masked);
  const show = tab.locator(`button[data-reveal="${id}"]`);
  await show.click();
  await until(async () => (await cell.textContent()).trim() === key, 5000, 'the key shown');
  assert.equal(await show.getAttribute('aria-pressed'), 'true');
  await show.click();
  assert.equal((await cell.textContent()).trim(), masked);
  await tab.locator(`button[data-copy-key="${id}"]`).click();
  await until(async () => (await tab.evaluate(() => navigator.clipboard.readText())) === key, 5000, 'the key copied');

  // Times are shown in the viewer's zone (Tokyo here), not as raw UTC.
  const created_at = tab.locator(`tr[data-key-id="${id}"] time`).first();
  const utc = await created_at.getAttribute('datetime');
  const shown = await created_at.textContent();
  assert.notEqual(shown, utc);
  const tokyo = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Tokyo' });
  assert.equal(shown, tokyo.format(new Date(utc)));

  // Its page carries the snippet too.
  await tab.getByRole('link', { name: 'shop', exact: true }).click();
  assert.ok((await tab.locator('#snippet').inputValue()).includes(key));
  await shoot(tab, 'key-detail');
  await tab.goto(`${ADMIN}/console/keys`);

  assert.equal(await sendBatch(key), 200);
  const row = tab.locator(`tr[data-key-id="${id}"]`);
  await row.getByRole('button', { name: 'Turn off' }).click();
  await tab.waitForURL(`${ADMIN}/console/keys`);
  assert.match(await tab.locator('#toast').textContent(), /turned off/);
  assert.equal(await row.locator('.off').textContent(), 'Off');
  await until(async () => (await sendBatch(key)) !== 200, 60000, 'ingest refusing the key');
  assert.equal(await sendBatch(key), 403);

  await row.getByRole('button', { name: 'Turn on' }).click();
  assert.match(await tab.locator('#toast').textContent(), /turned on/);
  await until(async () => (await sendBatch(key)) === 200, 60000, 'ingest accepting the key again');

  // Deleting asks first; Cancel keeps the key, Delete removes it.
  await tab.getByLabel('Name').fill('temporary');
  await tab.getByRole('button', { name: 'Create key' }).click();
  await tab.locator('#new-key').waitFor();
  await tab.goto(`${ADMIN}/console/keys`);
  const temp = await keyId(tab, 'temporary');
  await tab.locator(`tr[data-key-id="${temp}"]`).getByRole('link', { name: 'Delete' }).click();
  await tab.getByRole('heading', { name: /Delete key “temporary”/ }).waitFor();
  await shoot(tab, 'key-delete-confirm');
  await tab.getByRole('link', { name: 'Cancel' }).click();
  assert.equal(await tab.locator(`tr[data-key-id="${temp}"]`).count(), 1);
  await tab.locator(`tr[data-key-id="${temp}"]`).getByRole('link', { name: 'Delete' }).click();
  await tab.getByRole('button', { name: 'Delete key' }).click();
  await tab.waitForURL(`${ADMIN}/console/keys`);
  assert.match(await tab.locator('#toast').textContent(), /deleted/);
  assert.equal(await tab.locator(`tr[data-key-id="${temp}"]`).count(), 0);

  // Keyboard only: the first Tab reaches the skip link, Enter on a focused button works.
  await tab.keyboard.press('Tab');
  assert.equal(await tab.evaluate(() => document.activeElement.textContent), 'Skip to content');

  // The integrations hub shows the ingest URL and every option.
  await tab.getByRole('link', { name: 'Integrations' }).click();
  assert.equal(await tab.locator('#ingest-url').textContent(), INGEST);
  assert.ok((await tab.locator('#options').textContent()).includes('data-batch-interval'));
  await shoot(tab, 'integrations');

  // Cookies: HttpOnly, SameSite=Strict. Signing out ends the session on the server.
  const session = (await context.cookies()).find((c) => c.name === 'friction_session');
  assert.ok(session.httpOnly);
  assert.equal(session.sameSite, 'Strict');
  const stolen = `friction_session=${session.value}`;
  await tab.getByRole('button', { name: 'Sign out' }).click();
  await tab.waitForURL(`${ADMIN}/console/login`);
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
  await tab.getByRole('button', { name: 'Sign in' }).click();
  const error = tab.locator('#token-error');
  await error.waitFor();
  assert.equal(await error.getAttribute('data-code'), 'invalid_token');
  assert.equal(await tab.getByLabel('User token').getAttribute('aria-invalid'), 'true');
  await context.close();
});
