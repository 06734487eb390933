#!/usr/bin/env node
'use strict';
// The CLI is compiled to dist/ by `npm run build` (scripts/setup.sh runs it).
require('../dist/src/cli/main.js').main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(70);
  },
);
