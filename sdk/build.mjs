// Builds the two scripts with terser and enforces their size budgets (gzipped):
// - dist/friction-tracker.min.js, every detector, at most 5 KB;
// - dist/friction-tracker.vitals.min.js, the same with FCP, LCP, CLS and INP computed by
//   their published definitions, at most 6 KB.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { minify } from 'terser';

const BUILDS = [
  { file: 'friction-tracker.min.js', vitals: false, budget: 5 * 1024 },
  { file: 'friction-tracker.vitals.min.js', vitals: true, budget: 6 * 1024 },
];
const source = readFileSync(new URL('./friction-tracker.js', import.meta.url), 'utf8');
mkdirSync(new URL('./dist/', import.meta.url), { recursive: true });
let over = false;
for (const { file, vitals, budget } of BUILDS) {
  const out = await minify(source, {
    ecma: 2017,
    // ES2017 has arrow functions: terser may use them where behaviour is the same.
    // Hoisting function declarations (as JS does anyway) packs tighter.
    compress: { passes: 2, unsafe_arrows: true, hoist_funs: true, global_defs: { FRICTION_VITALS: vitals } },
    mangle: true,
    format: { comments: /^!/ },
  });
  writeFileSync(new URL(`./dist/${file}`, import.meta.url), out.code);
  const gz = gzipSync(out.code, { level: 9 }).length;
  const integrity = 'sha384-' + createHash('sha384').update(out.code).digest('base64');
  console.log(`${file}: ${out.code.length} bytes, ${gz} bytes gzipped (budget ${budget}), ${integrity}`);
  if (gz > budget) {
    console.error(`${file} is over its ${budget}-byte gzip budget by ${gz - budget} bytes`);
    over = true;
  }
}
if (over) process.exit(1);
