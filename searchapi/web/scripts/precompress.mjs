// @ts-check
// Writes X.br (brotli, quality 11) and X.gz (gzip, level 9) beside every text file the build
// emitted, for searchapi to send as the browser accepts. A copy no smaller than the file is
// not written (searchapi then sends the file itself).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = process.argv[2] ?? 'dist/app';
const TEXT = /\.(js|mjs|css|html|svg|json|txt|map|webmanifest)$/;

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

let count = 0;
let before = 0;
let afterBr = 0;
let afterGz = 0;
for (const path of files(root)) {
  if (!TEXT.test(path)) continue;
  const body = readFileSync(path);
  const br = brotliCompressSync(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
  const gz = gzipSync(body, { level: 9 });
  if (br.length < body.length) writeFileSync(`${path}.br`, br);
  if (gz.length < body.length) writeFileSync(`${path}.gz`, gz);
  count += 1;
  before += body.length;
  afterBr += Math.min(br.length, body.length);
  afterGz += Math.min(gz.length, body.length);
  console.log(`  ${relative(root, path)}: ${body.length} B → br ${br.length} B, gz ${gz.length} B`);
}
if (count === 0) {
  console.error(`precompress: no files to compress under ${root} (did vite build run?)`);
  process.exit(1);
}
const kB = (/** @type {number} */ n) => (n / 1000).toFixed(1);
console.log(`precompress: ${count} files, ${kB(before)} kB → br ${kB(afterBr)} kB, gz ${kB(afterGz)} kB`);
