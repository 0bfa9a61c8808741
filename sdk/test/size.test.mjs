// Both minified builds, each with every detector, stay within their gzipped budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parse } from 'acorn';

test('the default build is at most 5 KB gzipped, the vitals build 6 KB', () => {
  for (const [file, budget] of [['friction-tracker.min.js', 5 * 1024], ['friction-tracker.vitals.min.js', 6 * 1024]]) {
    const min = readFileSync(new URL(`../dist/${file}`, import.meta.url));
    const gz = gzipSync(min, { level: 9 }).length;
    assert.ok(gz <= budget, `${file}: ${gz} bytes gzipped`);
    assert.ok(!/\beval\(|new Function\(/.test(min.toString()), 'eval would break strict CSPs');
  }
});

test('source and build are ES2017', () => {
  for (const file of ['../friction-tracker.js', '../dist/friction-tracker.min.js', '../dist/friction-tracker.vitals.min.js']) {
    const code = readFileSync(new URL(file, import.meta.url), 'utf8');
    assert.doesNotThrow(() => parse(code, { ecmaVersion: 2017, sourceType: 'script' }), file);
  }
});

test('the banner ingest reads the version from names the version the script reports', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const source = readFileSync(new URL('../friction-tracker.js', import.meta.url), 'utf8');
  assert.match(source, new RegExp(`var VERSION = '${pkg.version.replace(/\./g, '\\.')}'`));
  for (const file of ['friction-tracker.min.js', 'friction-tracker.vitals.min.js']) {
    const min = readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');
    assert.ok(min.startsWith(`/*! friction-tracker.js ${pkg.version}, `), file);
  }
});
