#!/usr/bin/env node
// The `aviary` command; the code is in src/cli (built to dist/cli). `aviary ctl` is an HTTP
// client of a running broker and loads only its own module (src/cli/ctl.ts), not the broker.
if (process.argv[2] === 'ctl') {
  const { runCtl } = await import('../dist/cli/ctl.js');
  await runCtl(process.argv);
} else {
  const { main } = await import('../dist/cli/aviary.js');
  await main(process.argv);
}
