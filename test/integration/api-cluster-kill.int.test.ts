/**
 * API_PROCESSES > 1 (api/cluster.ts): when an API process dies, no client connection may be left hanging. With Node's
 * default round-robin the primary lost the connection it was handing to the dying copy: it held the socket open and
 * never passed it on, so that client waited forever (about one per kill; CI's scale-out test once hung on one for
 * minutes). Every connection must get an answer or a reset the client can retry.
 */
import http from 'node:http';
import { startApiProcesses, type ApiProcesses } from '../helpers/api-processes';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

describe('an API process killed under the cluster leaves no client connection hanging (integration)', () => {
  let p: TestPlatform | undefined;
  let api: ApiProcesses | undefined;
  afterAll(async () => {
    await api?.stop();
    await p?.close();
  });

  it('clients opening new connections while API processes are SIGKILLed get answers or resets, never silence', async () => {
    p = await startTestPlatform({ population: 10, workers: 0 });
    api = await startApiProcesses(p, 2);
    const cluster = api;
    // Each request on a new connection (agent: false): the connections the primary is handing out at each kill.
    const silentAfterMs = 8_000;
    const tally = { answered: 0, reset: 0, silent: 0 };
    const once = () =>
      new Promise<void>((resolve) => {
        const req = http.get(`${cluster.url}/healthz`, { agent: false, timeout: silentAfterMs }, (res) => {
          res.resume();
          res.on('end', () => (tally.answered++, resolve()));
          res.on('error', () => (tally.reset++, resolve()));
        });
        req.on('timeout', () => (tally.silent++, req.destroy(), resolve()));
        req.on('error', () => (tally.reset++, resolve()));
      });
    let going = true;
    const clients = Array.from({ length: 6 }, async () => {
      while (going) await once();
    });
    const kills = 4;
    for (let k = 0; k < kills; k++) {
      await new Promise((r) => setTimeout(r, 600));
      const victim = cluster.pids()[0]!;
      const replacement = cluster.nextListening();
      process.kill(victim, 'SIGKILL');
      // The supervisor replaces the copy (after 1 s); the next kill waits for it, so one copy always serves.
      expect(await replacement).not.toBe(victim);
    }
    await new Promise((r) => setTimeout(r, 600));
    going = false;
    await Promise.all(clients);
    console.log(`api cluster kills: ${kills} kills, ${tally.answered} answered, ${tally.reset} reset, ${tally.silent} left without an answer`);
    expect(tally.answered).toBeGreaterThan(100);
    expect(tally.silent).toBe(0);
  });
});
