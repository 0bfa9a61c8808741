// The minified SDK with every detector must stay within 5 KB gzipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

test('the minified build is at most 5 KB gzipped', () => {
  const min = readFileSync(new URL('../dist/friction-tracker.min.js', import.meta.url));
  const gz = gzipSync(min, { level: 9 }).length;
  assert.ok(gz <= 5 * 1024, `${gz} bytes gzipped`);
  assert.ok(!/\beval\(|new Function\(/.test(min.toString()), 'eval would break strict CSPs');
});
