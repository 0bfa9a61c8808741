// Both script builds, each with every detector, stay within their gzipped budgets; every
// build is ES2017 and carries the banner ingest reads the version from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parse } from 'acorn';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
const SCRIPTS = ['friction-tracker.min.js', 'friction-tracker.vitals.min.js'];
const MODULES = ['friction-tracker.mjs', 'friction-tracker.vitals.mjs'];

test('the default build is at most 5 KB gzipped, the vitals build 6 KB', () => {
  for (const [file, budget] of [[SCRIPTS[0], 5 * 1024], [SCRIPTS[1], 6 * 1024]]) {
    const min = read(`../dist/${file}`);
    const gz = gzipSync(min, { level: 9 }).length;
    assert.ok(gz <= budget, `${file}: ${gz} bytes gzipped`);
  }
  for (const file of [...SCRIPTS, ...MODULES]) {
    assert.ok(!/\beval\(|new Function\(/.test(read(`../dist/${file}`)), `${file}: eval would break strict CSPs`);
  }
});

test('sources and builds are ES2017', () => {
  const sources = [['../src/tracker.js', 'script'], ['../src/script.js', 'script'], ['../src/module.js', 'module']];
  const builds = [...SCRIPTS.map((f) => [`../dist/${f}`, 'script']), ...MODULES.map((f) => [`../dist/${f}`, 'module'])];
  for (const [file, sourceType] of [...sources, ...builds]) {
    assert.doesNotThrow(() => parse(read(file), { ecmaVersion: 2017, sourceType }), file);
  }
});

test('every build opens with the banner ingest reads the version from, and reports that version', () => {
  const { version } = JSON.parse(read('../package.json'));
  for (const file of [...SCRIPTS, ...MODULES]) {
    const min = read(`../dist/${file}`);
    assert.ok(min.startsWith(`/*! friction-tracker.js ${version}, Apache-2.0 */\n`), file);
    assert.ok(min.includes(`version:"${version}"`), file);
  }
});
