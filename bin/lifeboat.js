#!/usr/bin/env node
'use strict';
// Entry point of the `lifeboat` command: routes `lifeboat lab ...` to the
// lab's CLI and everything else to the main CLI, then exits with the code
// they return. The only place that exits the process.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const isLab = args[0] === 'lab';
const entry = path.join(root, 'dist', isLab ? 'lab/main.js' : 'src/cli/main.js');

if (!fs.existsSync(entry)) {
  console.error(`error: Lifeboat is not built (${path.relative(process.cwd(), entry) || entry} is missing)`);
  console.error('fix: run `npm run setup` first');
  process.exit(2);
}

// A reader that goes away (`lifeboat watch ... | head`) ends the command
// quietly, with SIGPIPE's status (128 + 13), as git does; whatever the command
// started keeps running (a recovery lives in Temporal, not in this process).
const EXIT_PIPE_CLOSED = 141;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(EXIT_PIPE_CLOSED);
    throw err;
  });
}

// `lifeboat lab up` -> lab main(['up']).
require(entry)
  .main(isLab ? args.slice(1) : args)
  .then(
    (code) => {
      process.exitCode = typeof code === 'number' ? code : 0;
      // Let stdout and stderr drain, then leave even if a library left a handle open. Into a pipe, a
      // write is asynchronous: exiting at once cut `lifeboat approvals --json` of 500 gates at 219 kB.
      const drained = (s) => new Promise((resolve) => (s.writableLength === 0 ? resolve() : s.write('', () => resolve())));
      Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => process.exit(process.exitCode));
    },
    (err) => {
      console.error(`internal error: ${err && err.stack ? err.stack : err}`);
      console.error('This is a bug in Lifeboat; please report it with the output above.');
      process.exit(70);
    },
  );
