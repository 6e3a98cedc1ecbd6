/**
 * Node flags the API process runs with, wherever it is started: `stack/stack` (the local stack), the Dockerfile's
 * default command and temporal-dev.yml's api service (kept equal by api/node-flags.test.ts), and the API bench
 * (bench/api-cache-read.ts), so the bench measures the API as it is deployed. Processes forked by `API_PROCESSES`
 * inherit them (Node's cluster passes the primary's execArgv).
 *
 * - `--enable-source-maps`: stack traces in logs point at the TypeScript sources.
 * - `--no-memory-reducer` (issue 14): V8's memory reducer shrinks the heap a few seconds after allocation slows down
 *   (an idle spell). The API then meets the next burst of reads with a small heap and pays for it in garbage
 *   collection until the heap has grown back. Measured on CACHE_ONLY hits, 4-round A/B runs with both orders: 5 %
 *   and 14 % more req/s, and less CPU per answer in 7 of 8 rounds (docs/performance.md). The price is that an idle
 *   API keeps the heap it last needed instead of handing it back (not measured; expected tens of MB).
 */
export const API_NODE_FLAGS: readonly string[] = ['--enable-source-maps', '--no-memory-reducer'];
