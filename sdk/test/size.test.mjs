// The minified SDK with every detector must stay within 5 KB gzipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parse } from 'acorn';

test('the minified build is at most 5 KB gzipped', () => {
  const min = readFileSync(new URL('../dist/friction-tracker.min.js', import.meta.url));
  const gz = gzipSync(min, { level: 9 }).length;
  assert.ok(gz <= 5 * 1024, `${gz} bytes gzipped`);
  assert.ok(!/\beval\(|new Function\(/.test(min.toString()), 'eval would break strict CSPs');
});

test('source and build are ES2017', () => {
  for (const file of ['../friction-tracker.js', '../dist/friction-tracker.min.js']) {
    const code = readFileSync(new URL(file, import.meta.url), 'utf8');
    assert.doesNotThrow(() => parse(code, { ecmaVersion: 2017, sourceType: 'script' }), file);
  }
});
