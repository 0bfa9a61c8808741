// Builds the SDK with terser from src/ (the tracker, and an entry for each kind of build)
// and enforces the script builds' size budgets (gzipped):
// - dist/friction-tracker.min.js, the script with every detector, at most 5 KB;
// - dist/friction-tracker.vitals.min.js, the same with FCP, LCP, CLS and INP computed by
//   their published definitions, at most 6 KB;
// - dist/friction-tracker.mjs and dist/friction-tracker.vitals.mjs, the same two as ES
//   modules exporting init(), for the npm package (index.d.ts types them).
// Each starts with the banner ingest reads the version from.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { minify } from 'terser';

const BUILDS = [
  { file: 'friction-tracker.min.js', entry: 'script.js', vitals: false, budget: 5 * 1024 },
  { file: 'friction-tracker.vitals.min.js', entry: 'script.js', vitals: true, budget: 6 * 1024 },
  { file: 'friction-tracker.mjs', entry: 'module.js', vitals: false },
  { file: 'friction-tracker.vitals.mjs', entry: 'module.js', vitals: true },
];
const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
const { version } = JSON.parse(read('./package.json'));
mkdirSync(new URL('./dist/', import.meta.url), { recursive: true });
let over = false;
for (const { file, entry, vitals, budget } of BUILDS) {
  const module = entry === 'module.js';
  const out = await minify({ 'tracker.js': read('./src/tracker.js'), [entry]: read(`./src/${entry}`) }, {
    ecma: 2017,
    module,
    // The script runs enclosed in a function: nothing of it but window.friction is global.
    enclose: !module,
    // ES2017 has arrow functions: terser may use them where behaviour is the same.
    // Hoisting function declarations (as JS does anyway) packs tighter, and so do 1 and 0
    // for true and false (the tracker compares no value that may be 0 with a boolean, and
    // sends no booleans).
    compress: {
      passes: 3, unsafe_arrows: true, hoist_funs: true, booleans_as_integers: true,
      global_defs: { FRICTION_VITALS: vitals, FRICTION_VERSION: version },
    },
    mangle: true,
    format: { preamble: `/*! friction-tracker.js ${version}, Apache-2.0 */` },
  });
  writeFileSync(new URL(`./dist/${file}`, import.meta.url), out.code);
  const gz = gzipSync(out.code, { level: 9 }).length;
  const integrity = 'sha384-' + createHash('sha384').update(out.code).digest('base64');
  console.log(`${file}: ${out.code.length} bytes, ${gz} bytes gzipped${budget ? ` (budget ${budget})` : ''}, ${integrity}`);
  if (gz > budget) {
    console.error(`${file} is over its ${budget}-byte gzip budget by ${gz - budget} bytes`);
    over = true;
  }
}
if (over) process.exit(1);
