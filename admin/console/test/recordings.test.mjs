// Recordings in the console: an admin finds an uploaded recording by its session and plays
// it in a <video> from a presigned URL; a member has no recordings page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newUser, signedIn, shoot, ctl, submit, stack, ADMIN, INGEST } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/** A real WebM: a canvas recorded by Chromium's MediaRecorder for `ms`. */
async function webm(ms) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const bytes = await tab.evaluate(async (ms) => {
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 240;
    document.body.appendChild(canvas);
    const g = canvas.getContext('2d');
    const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm;codecs=vp8' });
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    let frame = 0;
    const paint = setInterval(() => { g.fillStyle = `hsl(${(frame++ * 12) % 360},70%,50%)`; g.fillRect(0, 0, 320, 240); }, 40);
    recorder.start(250);
    await new Promise((r) => setTimeout(r, ms));
    const stopped = new Promise((r) => { recorder.onstop = r; });
    recorder.stop();
    await stopped;
    clearInterval(paint);
    return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
  }, ms);
  await context.close();
  return Buffer.from(bytes);
}

test('an admin plays a recording; a member has no recordings page', { timeout: 120000 }, async () => {
  const uploader = newUser('uploader');
  const key = ctl('keys', 'create', '--name', 'recordings', '--owner', uploader.email);
  const session = `s_console_${Date.now()}`;
  const video = await webm(1500);
  const upload = await fetch(`${INGEST}/v1/recordings?session_id=${session}&started_at=${Date.now() - 2000}&duration_ms=1500`, {
    method: 'POST', headers: { 'x-api-key': key, 'content-type': 'video/webm' }, body: video,
  });
  assert.equal(upload.status, 201, await upload.text());

  const admin = { token: stack.FRICTION_ADMIN_TOKEN };
  const { context, tab } = await signedIn(browser, admin);
  await submit(tab, tab.getByRole('navigation').getByRole('link', { name: 'Recordings' }));
  await tab.getByLabel('Session').fill(session);
  await submit(tab, tab.getByRole('button', { name: 'Filter' }));
  const rows = tab.locator('tr[data-recording-id]');
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().textContent(), /1\.5 s/);
  await shoot(tab, 'recordings');
  await submit(tab, rows.first().getByRole('link', { name: 'Play' }));
  const player = tab.locator('video#player');
  assert.ok((await player.getAttribute('src')).startsWith(stack.S3_ENDPOINT));
  await tab.waitForFunction(() => document.querySelector('video#player').readyState >= 2, null, { timeout: 20000 });
  await shoot(tab, 'recording');
  assert.deepEqual(context.foreign, [], 'nothing loaded from outside the console and the object store');
  await context.close();

  const member = newUser('no-recordings');
  const signed = await signedIn(browser, member);
  assert.equal(await signed.tab.getByRole('navigation').getByRole('link', { name: 'Recordings' }).count(), 0);
  const res = await signed.tab.goto(`${ADMIN}/console/recordings`);
  assert.equal(res.status(), 403);
  assert.equal(await signed.tab.locator('[data-code]').getAttribute('data-code'), 'forbidden');
  await shoot(signed.tab, 'recordings-forbidden');
  await signed.context.close();
});
