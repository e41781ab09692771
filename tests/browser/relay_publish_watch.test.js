// The Publish and Watch views through a real coturn: `livepipe serve` hands
// out coturn REST credentials in the WHIP/WHEP 201's Link headers, the pages
// (with ?relay=1: relay candidates only) take them and restart ICE over PATCH,
// and still publish and play. Both pages' selected candidate pairs (getStats)
// must be relayed by that coturn, and the viewer must decode frames at the
// published resolution. A third page without ?relay=1 takes the same servers
// and connects directly; pages whose restart the "server" refuses go on
// without it, or fail clearly with ?relay=1.
//   node relay_publish_watch.test.js PATH/TO/livepipe
// Exit status: 0 passed, 1 failed, 77 skipped (playwright-core or Chromium missing).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const support = require('./support');

const chromium = support.chromiumOrSkip();

// The pair must be selected, succeeded, carry traffic and have a local relay
// candidate allocated at the test's coturn.
function checkRelayed(name, pair, turnUrl) {
  console.log(`${name} pair: ${JSON.stringify(pair)}`);
  if (!pair) throw new Error(`${name} has no selected candidate pair`);
  if (pair.state !== 'succeeded') throw new Error(`${name}'s pair is ${pair.state}`);
  if (pair.local.type !== 'relay') {
    throw new Error(`${name}'s local candidate is ${pair.local.type}, not relay`);
  }
  if (pair.local.url !== turnUrl) {
    throw new Error(`${name}'s relay candidate comes from ${pair.local.url}, not ${turnUrl}`);
  }
  if (!(pair.bytesSent > 0 && pair.bytesReceived > 0)) {
    throw new Error(`${name}'s relayed pair carries no traffic`);
  }
}

// The page's PATCHes: first the ICE restart (If-Match "*", answered 200
// with a new ETag), then trickles of the restarted ICE session's candidates
// under that ETag (204), relay candidates only, ending with end-of-candidates.
async function checkPatches(name, patches) {
  await support.candidatesEnded(patches, 15000);
  console.log(`${name} PATCHes: ${patches.map((p) => `${p.ifMatch} -> ${p.status}`).join(', ')}`);
  const [restart, ...trickles] = patches;
  if (!restart || restart.ifMatch !== '*' || restart.status !== 200 || !restart.etag) {
    throw new Error(`${name}'s first PATCH is not an ICE restart answered with 200 and an ETag`);
  }
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(restart.body);
  if (!ufrag || !/^a=ice-pwd:\S+/m.test(restart.body)) {
    throw new Error(`${name}'s ICE restart carries no ice-ufrag/ice-pwd`);
  }
  for (const trickle of trickles) {
    if (trickle.ifMatch !== restart.etag || trickle.status !== 204) {
      throw new Error(`${name} trickled with If-Match ${trickle.ifMatch} (${trickle.status})`);
    }
    if (!trickle.body.includes(`a=ice-ufrag:${ufrag[1]}\r\n`)) {
      throw new Error(`${name} trickled without the restarted credentials`);
    }
  }
  const bodies = patches.map((p) => p.body).join('');
  if (!/typ relay/.test(bodies)) throw new Error(`${name} sent no relay candidate`);
  if (/typ (host|srflx|prflx)/.test(bodies)) throw new Error(`${name} sent a non-relay candidate`);
  if (!patches[patches.length - 1].body.includes('a=end-of-candidates')) {
    throw new Error(`${name}'s last PATCH does not end the candidates`);
  }
}

// Waits for the page's state badge `selector` to read "connected"; the
// failure names the page and what its message line says.
async function connected(page, name, selector, message) {
  try {
    await page.waitForSelector(`${selector}[data-state="connected"]`, {timeout: 30000});
  } catch (e) {
    const state = await page.textContent(selector);
    throw new Error(`${name} is ${state}, not connected after 30 s ` +
                    `(page message: "${await page.textContent(message)}")`);
  }
}

async function main() {
  const livepipe = process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livepipe-browser-relay-'));
  let turn = null;
  let served = null;
  let browser = null;
  let failed = false;
  try {
    turn = await support.startCoturn(path.join(dir, 'coturn'));
    const turnUrl = `turn:127.0.0.1:${turn.port}?transport=udp`;
    served = await support.startServer(livepipe, dir, {
      media: {iceAddresses: ['127.0.0.1']},
      ice: {turnRest: {urls: [turnUrl], secret: turn.secret, ttlSeconds: 600}},
    });
    const {url} = served;
    browser = await support.launch(chromium);

    const publisher =
        await support.open(browser, `${url}?view=publish&stream=relayed&relay=1`, 'publish');
    const publisherPatches = support.recordPatches(publisher);
    await publisher.click('#publish-start');
    await connected(publisher, 'the publisher', '#publish-state', '#publish-message');
    const ice = await publisher.textContent('#publish-ice');
    if (ice !== `ICE servers ${turnUrl}`) throw new Error(`the Publish view shows "${ice}"`);
    const source = await support.publishing(publisher, 15000);
    console.log(`publishing ${source.width}x${source.height} as ${source.codec}`);

    const viewer = await support.open(browser, `${url}?view=watch&stream=relayed&relay=1`, 'watch');
    const viewerPatches = support.recordPatches(viewer);
    await viewer.click('#watch-start');
    await connected(viewer, 'the viewer', '#watch-state', '#watch-message');
    const seen = await support.decodesAt(viewer, source, 20000);
    console.log(`viewer decoded ${seen.frames} frames at ${seen.width}x${seen.height} ` +
                `(${seen.packets} packets, ${seen.keyFrames} key frames, ${seen.plis} PLIs)`);
    if (!(seen.frames > 0)) throw new Error('the viewer decoded no video');
    if (seen.width !== source.width || seen.height !== source.height) {
      throw new Error(`the viewer decodes ${seen.width}x${seen.height}, ` +
                      `not the published ${source.width}x${source.height}`);
    }

    checkRelayed('publisher', await support.selectedPair(publisher, 'publisher'), turnUrl);
    checkRelayed('viewer', await support.selectedPair(viewer, 'viewer'), turnUrl);
    await checkPatches('publisher', publisherPatches);
    await checkPatches('viewer', viewerPatches);
    for (const [page, id] of [[publisher, '#publish-route'], [viewer, '#watch-route']]) {
      await page.waitForFunction((sel) => document.querySelector(sel).textContent === 'via TURN relay',
                                 id, {timeout: 5000});
    }
    for (const [page, id] of [[publisher, '#publish-message'], [viewer, '#watch-message']]) {
      const message = await page.textContent(id);
      if (message) throw new Error(`the page shows "${message}"`);
    }
    // Without ?relay=1 the page still takes the Link servers (an ICE restart)
    // and the direct path wins.
    const direct = await support.open(browser, `${url}?view=watch&stream=relayed`, 'direct');
    const directPatches = support.recordPatches(direct);
    await direct.click('#watch-start');
    await connected(direct, 'the viewer without ?relay=1', '#watch-state', '#watch-message');
    const directSeen = await support.decodesAt(direct, source, 20000);
    if (!(directSeen.frames > 0)) throw new Error('the viewer without ?relay=1 decoded no video');
    await direct.waitForFunction(
        () => document.getElementById('watch-route').textContent === 'direct (host)', null,
        {timeout: 5000});
    const directPair = await support.selectedPair(direct, 'viewer');
    console.log(`viewer without ?relay=1: ${JSON.stringify(directPair)}`);
    if (directPair.local.type !== 'host') throw new Error('the direct viewer does not use host');
    const [directRestart] = directPatches;
    if (!directRestart || directRestart.ifMatch !== '*' || directRestart.status !== 200) {
      throw new Error('the viewer without ?relay=1 did not restart ICE with the Link servers');
    }
    // Chromium stops gathering once a candidate pair works, which on loopback
    // often comes before coturn answers the allocation (its log shows it, the
    // page gets no relay candidate): a relay candidate is logged, not required.
    const relayed = /typ relay/.test(directPatches.map((p) => p.body).join(''));
    console.log(`viewer without ?relay=1 ${relayed ? 'sent' : 'did not send'} a relay candidate`);

    // A server that refuses the ICE restart (RFC 9725: 422 when it supports
    // trickle only), played here by intercepting the page's restart PATCH:
    // the page rolls the restart back, says so and plays over its first ICE
    // session; with ?relay=1 that is an error and its session is deleted.
    const refuseRestart = (page) => page.route('**/whep/relayed/*', async (route, request) => {
      if (request.method() === 'PATCH' && (await request.allHeaders())['if-match'] === '*') {
        await route.fulfill({status: 422, contentType: 'text/plain', body: 'no ICE restarts here'});
      } else {
        await route.continue();
      }
    });
    const refused = await support.open(browser, `${url}?view=watch&stream=relayed`, 'refused');
    await refuseRestart(refused);
    await refused.click('#watch-start');
    await connected(refused, 'the viewer refused a restart', '#watch-state', '#watch-message');
    const refusedSeen = await support.decodesAt(refused, source, 20000);
    if (!(refusedSeen.frames > 0)) throw new Error('the viewer refused a restart decoded no video');
    const refusedMessage = await refused.textContent('#watch-message');
    console.log(`viewer refused a restart: ${refusedMessage}`);
    if (refusedMessage !== "the ICE restart with the server's ICE servers failed: " +
                               '422 Unprocessable Entity: no ICE restarts here; going on without them') {
      throw new Error(`the viewer refused a restart shows "${refusedMessage}"`);
    }
    const refusedRelay =
        await support.open(browser, `${url}?view=watch&stream=relayed&relay=1`, 'refused-relay');
    await refuseRestart(refusedRelay);
    await refusedRelay.click('#watch-start');
    await refusedRelay.waitForSelector('#watch-state[data-state="failed"]', {timeout: 15000});
    const refusedRelayMessage = await refusedRelay.textContent('#watch-message');
    console.log(`relay-only viewer refused a restart: ${refusedRelayMessage}`);
    if (!refusedRelayMessage.startsWith("Watching failed: the ICE restart with the server's ICE " +
                                        'servers failed: 422')) {
      throw new Error(`the relay-only viewer refused a restart shows "${refusedRelayMessage}"`);
    }
    const detail = await (await fetch(`${url}api/v1/streams/relayed`)).json();
    if (detail.viewers.length !== 3) {
      throw new Error(`the stream has ${detail.viewers.length} viewers, not 3`);
    }

    // coturn saw the relay-only pages' allocations, authenticated with the
    // handed-out credentials.
    const allocated = () => (turn.log().match(/ALLOCATE processed, success/g) || []).length;
    const logged = Date.now() + 5000;  // coturn writes its log lines a little later
    while (allocated() < 2 && Date.now() < logged) await support.sleep(100);
    const allocations = allocated();
    console.log(`coturn allocations: ${allocations}`);
    if (allocations < 2) throw new Error(`coturn logged ${allocations} successful allocations`);
  } catch (e) {
    console.error(`FAILED: ${e.message}`);
    failed = true;
  } finally {
    if (browser) await browser.close();
    if (served) {
      served.server.kill('SIGTERM');
      const code = await served.exited;
      if (code !== 0) {
        console.error(`FAILED: livepipe serve exited with ${code} on SIGTERM`);
        failed = true;
      }
    }
    if (turn) await turn.stop();
  }
  fs.rmSync(dir, {recursive: true, force: true});
  console.log(failed ? 'browser relay publish/watch failed' : 'browser relay publish/watch ok');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
