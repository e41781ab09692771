// Headless Chromium publishes from the web page's Publish view over WHIP; a
// second page plays the stream from the Watch view over WHEP and decodes it
// at the published resolution (getStats framesDecoded, frameWidth/Height).
//   node publish_watch.test.js PATH/TO/livepipe
// Exit status: 0 passed, 1 failed, 77 skipped (playwright-core or Chromium missing).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const support = require('./support');

const chromium = support.chromiumOrSkip();

async function main() {
  const livepipe = process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livepipe-browser-'));
  const {server, url, exited} =
      await support.startServer(livepipe, dir, {media: {iceAddresses: ['127.0.0.1']}});
  const browser = await support.launch(chromium);
  let failed = false;
  try {
    const publisher = await support.open(browser, `${url}?view=publish&stream=e2e`, 'publish');
    const shown = await publisher.textContent('#whip-url');
    if (shown !== `${url}whip/e2e`) throw new Error(`the page shows WHIP URL ${shown}`);
    await publisher.click('#publish-start');
    await publisher.waitForSelector('#publish-state[data-state="connected"]', {timeout: 20000});
    const source = await support.publishing(publisher, 15000);
    console.log(`publishing ${source.width}x${source.height} as ${source.codec}`);

    const viewer = await support.open(browser, `${url}?view=watch&stream=e2e`, 'watch');
    const patches = support.recordPatches(viewer);
    await viewer.click('#watch-start');
    await viewer.waitForSelector('#watch-state[data-state="connected"]', {timeout: 20000});
    const seen = await support.decodesAt(viewer, source, 20000);
    console.log(`viewer decoded ${seen.frames} frames at ${seen.width}x${seen.height} ` +
                `(${seen.packets} packets, ${seen.keyFrames} key frames, ${seen.plis} PLIs)`);
    if (!(seen.frames > 0)) throw new Error('the viewer decoded no video');
    if (seen.width !== source.width || seen.height !== source.height) {
      throw new Error(`the viewer decodes ${seen.width}x${seen.height}, ` +
                      `not the published ${source.width}x${source.height}`);
    }
    await viewer.waitForFunction(
        (size) => document.getElementById('watch-resolution').textContent === size,
        `${source.width}×${source.height}`, {timeout: 10000});

    // No ICE servers configured: no Link headers, the candidates trickle
    // without an ICE restart and the pair is direct.
    await viewer.waitForFunction(
        () => document.getElementById('watch-route').textContent === 'direct (host)', null,
        {timeout: 5000});
    if (await viewer.textContent('#watch-ice')) throw new Error('the page shows ICE servers');
    await support.candidatesEnded(patches, 15000);
    console.log(`viewer PATCHes: ${patches.map((p) => `${p.ifMatch} -> ${p.status}`).join(', ')}`);
    if (patches.length === 0 || patches.some((p) => p.ifMatch === '*' || p.status !== 204)) {
      throw new Error('the viewer did not just trickle its candidates (204 each)');
    }
    if (!patches.some((p) => / typ host/.test(p.body))) {
      throw new Error('the viewer trickled no host candidate');
    }
    if (!patches[patches.length - 1].body.includes('a=end-of-candidates')) {
      throw new Error("the viewer's last PATCH does not end the candidates");
    }

    // Relay-only without a TURN server from the endpoint: a clear error on
    // the page, and the session it created is deleted again.
    const relayOnly =
        await support.open(browser, `${url}?view=watch&stream=e2e&relay=1`, 'relay-only');
    await relayOnly.click('#watch-start');
    await relayOnly.waitForSelector('#watch-state[data-state="failed"]', {timeout: 10000});
    const message = await relayOnly.textContent('#watch-message');
    console.log(`relay-only without TURN: ${message}`);
    if (!message.startsWith('Watching failed: relay-only was asked for, but the server named ' +
                            'no TURN server')) {
      throw new Error(`the relay-only page shows "${message}"`);
    }
    const viewers = await (await fetch(`${url}api/v1/streams/e2e`)).json();
    if (viewers.viewers.length !== 1) {
      throw new Error(`the stream has ${viewers.viewers.length} viewers, not 1`);
    }

    // Stopping on the Publish view ends the stream: the server forgets it.
    await publisher.click('#publish-stop');
    await publisher.waitForSelector('#publish-state[data-state="idle"]', {timeout: 5000});
    const gone = Date.now() + 10000;
    let status = 0;
    while (Date.now() < gone) {
      status = (await fetch(`${url}whep/e2e`, {
                 method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: 'v=0\r\n'})).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (status !== 404) throw new Error(`the stream is still there after Stop (WHEP ${status})`);
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
  console.log(failed ? 'browser publish/watch failed' : 'browser publish/watch ok');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
