/**
 * `rtectl` (bin/rtectl, or `npx tsx cli/rtectl.ts`, or `node dist/cli/rtectl.js` after `npm run build`): the
 * platform's CLI. Commands, flags, JSON output and exit codes: docs/rtectl.md.
 */
import { processIo } from './rtectl/io';
import { runRtectl } from './rtectl/program';

runRtectl(process.argv.slice(2), { io: processIo() }).then(
  (code) => {
    process.exitCode = code;
    // Open sockets (HTTP/2 sessions, Temporal connections) are closed by the commands; do not wait on stragglers.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
