// Two headless Chromium pages join a room on livepipe's web page and each
// decodes the other's video (getStats framesDecoded > 0).
//   node room_call.test.js PATH/TO/livepipe
// Exit status: 0 passed, 1 failed, 77 skipped (playwright-core or Chromium missing).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const support = require('./support');

const chromium = support.chromiumOrSkip();

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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livepipe-room-'));
  const {server, url, exited} = await support.startServer(livepipe, dir, {});
  const browser = await support.launch(chromium);
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
  fs.rmSync(dir, {recursive: true, force: true});
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
