// The capture server checks every batch against docs/events.schema.json; this makes sure
// that check can fail (every other test relies on it to vet the SDK's real output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureServer } from './helpers.mjs';

test('a batch that breaks the published schema fails the test that captured it', async () => {
  const server = await captureServer();
  const post = (events) => fetch(`${server.base}/v1/events`, {
    method: 'POST', body: JSON.stringify({ sent_at: Date.now(), events }),
  });
  await post([{ event_id: crypto.randomUUID(), type: 'click', session_id: 's', timestamp: Date.now(), url: 'https://a.example/' }]);
  assert.equal(server.violations.length, 0);
  await post([{ event_id: 'not-a-uuid', type: 'hover', session_id: '', timestamp: -1, url: 'x' }]);
  assert.equal(server.violations.length, 1);
  await assert.rejects(server.close(), /break docs\/events.schema.json/);
});
