// Two headless Chromium pages join a room on livepipe's web page and each
// decodes the other's video (getStats framesDecoded > 0).
//   node room_call.test.js PATH/TO/livepipe
// Exit status: 0 passed, 1 failed, 77 skipped (playwright-core or Chromium missing).
'use strict';

const {spawn} = require('child_process');
const fs = require('fs');

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
];

let chromium;
try {
  ({chromium} = require('playwright-core'));
} catch (e) {
  console.log('skipped: playwright-core is not installed (scripts/setup.sh runs npm ci)');
  process.exit(77);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(`skipped: ${CHROMIUM} is not installed`);
  process.exit(77);
}

function startServer(livepipe) {
  return new Promise((resolve, reject) => {
    const server = spawn(livepipe, ['serve', '--listen', '127.0.0.1:0'],
                         {stdio: ['ignore', 'pipe', 'inherit']});
    let out = '';
    const timer = setTimeout(() => reject(new Error('livepipe serve did not start')), 10000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/serving (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({server, url: match[1]});
      }
    });
    server.on('exit', (code) => reject(new Error(`livepipe serve exited with ${code}`)));
  });
}

async function join(browser, url, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (message) => console.log(`[${name}] ${message.text()}`));
  await page.goto(`${url}?room=e2e&name=${name}`);
  await page.click('#join');
  await page.waitForSelector('#room-view:not([hidden])', {timeout: 10000});
  return page;
}

// Frames decoded from the first (only) remote peer, or 0.
function framesDecoded(page) {
  return page.evaluate(async () => {
    const [peer] = window.livepipe.peers.values();
    if (!peer) return 0;
    let frames = 0;
    (await peer.pc.getStats()).forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded || 0;
    });
    return frames;
  });
}

async function main() {
  const livepipe = process.argv[2];
  const {server, url} = await startServer(livepipe);
  const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
  const browser = await chromium.launch({executablePath: CHROMIUM, args: FLAGS});
  let failed = false;
  try {
    const alice = await join(browser, url, 'alice');
    const bob = await join(browser, url, 'bob');
    // Each page lists the other by name and reaches "connected".
    await alice.waitForSelector('#peers li:has-text("bob") .state[data-state="connected"]',
                                {timeout: 20000});
    await bob.waitForSelector('#peers li:has-text("alice") .state[data-state="connected"]',
                              {timeout: 20000});
    const deadline = Date.now() + 20000;
    let frames = [0, 0];
    while (Date.now() < deadline) {
      frames = [await framesDecoded(alice), await framesDecoded(bob)];
      if (frames[0] > 0 && frames[1] > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`frames decoded: alice ${frames[0]}, bob ${frames[1]}`);
    if (!(frames[0] > 0 && frames[1] > 0)) {
      throw new Error('a page decoded no video from the other');
    }
    // Leaving tells the other page.
    await bob.click('#leave');
    await alice.waitForSelector('#peers li', {state: 'detached', timeout: 10000});
  } catch (e) {
    console.error(`FAILED: ${e.message}`);
    failed = true;
  } finally {
    await browser.close();
    server.kill('SIGTERM');
  }
  const code = await exited;
  if (code !== 0) {
    console.error(`FAILED: livepipe serve exited with ${code} on SIGTERM`);
    failed = true;
  }
  console.log(failed ? 'browser room call failed' : 'browser room call ok');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
