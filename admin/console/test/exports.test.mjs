// Exports in the console: the form's errors beside their field, each report type requested,
// its status followed without reloading the page, and the finished PDF downloaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newUser, signedIn, shoot, until, submit, notice, ADMIN } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

test('a member requests each report type and downloads every PDF', { timeout: 300000 }, async () => {
  const member = newUser('exports');
  const { context, tab } = await signedIn(browser, member);
  await submit(tab, tab.getByRole('link', { name: 'Exports' }));
  await shoot(tab, 'exports-empty');

  // The cohorts are part of the form only for a comparison.
  assert.equal(await tab.locator('#cohorts').isVisible(), false);

  // The API's rule comes back beside the field it names.
  await tab.getByLabel('From (UTC day)').fill(day(0));
  await tab.getByLabel('To (included)').fill(day(-3));
  await submit(tab, tab.getByRole('button', { name: 'Request report' }));
  const toError = tab.locator('#date_to-error');
  assert.match(await toError.textContent(), /before/);
  assert.equal(await tab.getByLabel('From (UTC day)').inputValue(), day(0));
  await shoot(tab, 'exports-field-error');

  for (const type of ['friction_summary', 'journey_analysis', 'cohort_comparison']) {
    await tab.getByLabel('Report', { exact: true }).selectOption(type);
    await tab.getByLabel('From (UTC day)').fill(day(-7));
    await tab.getByLabel('To (included)').fill(day(0));
    if (type === 'cohort_comparison') {
      assert.equal(await tab.locator('#cohorts').isVisible(), true);
      await tab.getByLabel('Cohort 1 name').fill('Chrome');
      await tab.locator('#cohort1_browser').selectOption('chrome');
      await tab.getByLabel('Cohort 2 name').fill('Phones');
      await tab.locator('#cohort2_device_class').selectOption('mobile');
    }
    await submit(tab, tab.getByRole('button', { name: 'Request report' }));
    assert.equal(tab.url(), `${ADMIN}/console/exports`);
    await notice(tab, /Export queued/);
  }
  const rows = tab.locator('#export-rows tr[data-export-id]');
  assert.equal(await rows.count(), 3);

  // Status changes arrive without a reload: the same page sees every job complete.
  await tab.evaluate(() => { window.__samePage = true; });
  await until(async () => (await tab.locator('#export-rows tr[data-status="completed"]').count()) === 3, 240000, 'three completed exports');
  assert.equal(await tab.evaluate(() => window.__samePage), true, 'no reload');
  await shoot(tab, 'exports-completed');

  for (const row of await rows.all()) {
    const type = (await row.locator('td').first().textContent()).trim();
    const link = row.getByRole('link', { name: 'Download PDF' });
    const href = await link.getAttribute('href');
    const res = await context.request.get(`${ADMIN}${href}`);
    assert.equal(res.status(), 200, type);
    const pdf = await res.body();
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-', type);
    assert.ok(pdf.length > 1000, `${type}: ${pdf.length} bytes`);
  }
  assert.deepEqual(context.foreign, [], 'nothing loaded from outside the console');
  await context.close();
});
