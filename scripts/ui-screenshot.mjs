/* global process, URL, fetch, WebSocket, setTimeout, Buffer */
// Headless Chromium screenshot of a page after it has rendered, over the DevTools protocol (Node 22's WebSocket; no
// npm dependency). Usage: node scripts/ui-screenshot.mjs <url> <out.png> [wait ms]. Used by scripts/codec-screenshots.sh.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [url, out, waitArg] = process.argv.slice(2);
if (!url || !out) throw new Error('usage: ui-screenshot.mjs <url> <out.png> [wait ms]');
const wait = Number(waitArg ?? 8000);
const profile = mkdtempSync(path.join(tmpdir(), 'ui-shot-'));
const chrome = spawn(process.env.CHROMIUM ?? '/usr/bin/chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--hide-scrollbars', '--window-size=1400,1300',
  '--remote-debugging-port=0', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe'] });
try {
  const wsUrl = await new Promise((resolve, reject) => {
    let buf = '';
    chrome.stderr.on('data', (d) => {
      buf += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    chrome.on('exit', () => reject(new Error(`chromium exited: ${buf.slice(-500)}`)));
  });
  const port = new URL(wsUrl).port;
  const target = await (await fetch(`http://127.0.0.1:${port}/json/new?${encodeURI(url)}`, { method: 'PUT' })).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r) => ws.addEventListener('open', r, { once: true }));
  let id = 0;
  const pending = new Map();
  ws.addEventListener('message', (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg);
  });
  const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
  await new Promise((r) => setTimeout(r, wait));
  const shot = await send('Page.captureScreenshot', { format: 'png' });
  if (!shot.result?.data) throw new Error(`no screenshot: ${JSON.stringify(shot).slice(0, 300)}`);
  writeFileSync(out, Buffer.from(shot.result.data, 'base64'));
  ws.close();
} finally {
  const exited = new Promise((r) => chrome.once('exit', r));
  chrome.kill('SIGKILL');
  await exited;
  try {
    rmSync(profile, { recursive: true, force: true });
  } catch {
    // Chromium's helpers may still be writing; a stale temp profile is harmless.
  }
}
