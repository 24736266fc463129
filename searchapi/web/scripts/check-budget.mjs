// @ts-check
// The JS budget: the scripts that load before the page can work (index.html's module entry,
// its <link rel="modulepreload">s and, to be safe, the chunks they import statically), gzipped
// at level 9 as they are served. Above the budget the build fails.
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = process.argv[2] ?? 'dist/app';
const BUDGET_KB = Number(process.env.SLUICE_JS_BUDGET_KB ?? 150); // kB = 1000 bytes

const indexPath = join(root, 'index.html');
if (!existsSync(indexPath)) {
  console.error(`check-budget: no ${indexPath}: run npm run build first`);
  process.exit(2);
}
const html = readFileSync(indexPath, 'utf8');

/** @param {string} tag @param {string} name */
function attribute(tag, name) {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return match ? (match[1] ?? match[2] ?? match[3] ?? '') : null;
}

const tags = html.match(/<(script|link)\b[^>]*>/gi) ?? [];
const entries = [];
const styles = [];
for (const tag of tags) {
  if (/^<script/i.test(tag)) {
    if (/<script[^>]*\bsrc=/i.test(tag) && attribute(tag, 'type') === 'module') entries.push(attribute(tag, 'src'));
  } else {
    const rel = (attribute(tag, 'rel') ?? '').toLowerCase().split(/\s+/);
    if (rel.includes('modulepreload')) entries.push(attribute(tag, 'href'));
    if (rel.includes('stylesheet')) styles.push(attribute(tag, 'href'));
  }
}
if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html)) {
  console.error('check-budget: index.html has an inline <script>: the CSP (script-src self) blocks it');
  process.exit(1);
}
if (entries.length === 0) {
  console.error('check-budget: no <script type="module" src> in index.html');
  process.exit(2);
}

/** @param {string | null} url */
function local(url) {
  if (!url || /^[a-z]+:/i.test(url) || url.startsWith('//')) {
    console.error(`check-budget: ${url} is not a file of the build (external resources break the CSP)`);
    process.exit(1);
  }
  return posix.normalize(url.replace(/^\//, ''));
}

// Follow static imports (import … from "./x.js", import "./x.js"), not import("…").
const initial = new Set();
const pending = entries.map(local);
while (pending.length) {
  const file = /** @type {string} */ (pending.pop());
  if (initial.has(file)) continue;
  initial.add(file);
  const code = readFileSync(join(root, file), 'utf8');
  for (const match of code.matchAll(/(?:\bfrom\s*|\bimport\s*)["']([^"']+\.js)["']/g)) {
    const spec = /** @type {string} */ (match[1]);
    if (spec.startsWith('.')) pending.push(posix.normalize(posix.join(posix.dirname(file), spec)));
    else if (spec.startsWith('/')) pending.push(local(spec));
  }
}

/** @param {string} file */
function sizes(file) {
  const body = readFileSync(join(root, file));
  return { raw: body.length, gz: gzipSync(body, { level: 9 }).length };
}
const kB = (/** @type {number} */ n) => (n / 1000).toFixed(1);

let js = 0;
let jsRaw = 0;
console.log('Initial JavaScript:');
for (const file of initial) {
  const { raw, gz } = sizes(file);
  js += gz;
  jsRaw += raw;
  console.log(`  ${file}: ${kB(raw)} kB, ${kB(gz)} kB gzipped`);
}
let css = 0;
for (const file of styles.map(local)) {
  const { raw, gz } = sizes(file);
  css += gz;
  console.log(`  ${file}: ${kB(raw)} kB, ${kB(gz)} kB gzipped (CSS)`);
}
console.log(`Initial JS: ${kB(js)} kB gzipped (${kB(jsRaw)} kB raw), budget ${BUDGET_KB} kB`);
console.log(`CSS: ${kB(css)} kB gzipped`);
if (js > BUDGET_KB * 1000) {
  console.error(`check-budget: initial JS ${kB(js)} kB gzipped is over the ${BUDGET_KB} kB budget`);
  process.exit(1);
}
console.log('check-budget: within budget');
