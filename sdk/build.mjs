// Builds dist/friction-tracker.min.js with terser and enforces the size budget:
// at most 5 KB gzipped with every detector.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const BUDGET_GZIP_BYTES = 5 * 1024;
const source = readFileSync(new URL('./friction-tracker.js', import.meta.url), 'utf8');
const out = await minify(source, {
  ecma: 2017,
  // ES2017 has arrow functions: terser may use them where behaviour is the same.
  compress: { passes: 2, unsafe_arrows: true },
  mangle: true,
  format: { comments: /^!/ },
});
mkdirSync(new URL('./dist/', import.meta.url), { recursive: true });
writeFileSync(new URL('./dist/friction-tracker.min.js', import.meta.url), out.code);
const gz = gzipSync(out.code, { level: 9 }).length;
console.log(`friction-tracker.min.js: ${out.code.length} bytes, ${gz} bytes gzipped (budget ${BUDGET_GZIP_BYTES})`);
if (gz > BUDGET_GZIP_BYTES) {
  console.error(`over the ${BUDGET_GZIP_BYTES}-byte gzip budget by ${gz - BUDGET_GZIP_BYTES} bytes`);
  process.exit(1);
}
