#!/usr/bin/env node
'use strict';
// Removes compiled files whose TypeScript source is gone. tsc never deletes
// outputs, so a renamed or removed module would keep shadowing its successor
// in dist/ (e.g. dist/src/catalog.js is found before dist/src/catalog/index.js).
// Run before every build (`npm run build`).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

function walk(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      walk(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      continue;
    }
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(e.name);
    if (!m) continue;
    const rel = path.relative(dist, path.join(dir, m[1]));
    if (!fs.existsSync(path.join(root, `${rel}.ts`))) fs.rmSync(full);
  }
}

walk(dist);
