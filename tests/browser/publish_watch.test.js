// Headless Chromium publishes from the web page's Publish view over WHIP; a
// second page plays the stream from the Watch view over WHEP and decodes it
// at the published resolution (getStats framesDecoded, frameWidth/Height).
//   node publish_watch.test.js PATH/TO/livepipe
// Exit status: 0 passed, 1 failed, 77 skipped (playwright-core or Chromium missing).
'use strict';

const {spawn} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

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

function startServer(livepipe, dir) {
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(config, JSON.stringify({media: {iceAddresses: ['127.0.0.1']}}));
  return new Promise((resolve, reject) => {
    const server = spawn(livepipe, ['serve', '--config', config, '--listen', '127.0.0.1:0'],
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

async function open(browser, url, name) {
  const page = await (await browser.newContext()).newPage();
  page.on('console', (message) => console.log(`[${name}] ${message.text()}`));
  await page.goto(url);
  return page;
}

// The publisher's camera size and the codec it sends.
function published(page) {
  return page.evaluate(async () => {
    const {pc} = window.livepipe.publisher;
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    const settings = sender.track.getSettings();
    let codec = '';
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type === 'outbound-rtp' && report.kind === 'video' && report.codecId) {
        codec = stats.get(report.codecId).mimeType;
      }
    });
    return {width: settings.width, height: settings.height, codec};
  });
}

// What the viewer decoded so far.
function decoded(page) {
  return page.evaluate(async () => {
    const viewer = window.livepipe.viewer;
    const out = {frames: 0, width: 0, height: 0};
    if (!viewer) return out;
    (await viewer.pc.getStats()).forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') {
        out.frames += report.framesDecoded || 0;
        out.width = report.frameWidth || 0;
        out.height = report.frameHeight || 0;
      }
    });
    return out;
  });
}

async function main() {
  const livepipe = process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livepipe-browser-'));
  const {server, url} = await startServer(livepipe, dir);
  const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
  const browser = await chromium.launch({executablePath: CHROMIUM, args: FLAGS});
  let failed = false;
  try {
    const publisher = await open(browser, `${url}?view=publish&stream=e2e`, 'publish');
    const shown = await publisher.textContent('#whip-url');
    if (shown !== `${url}whip/e2e`) throw new Error(`the page shows WHIP URL ${shown}`);
    await publisher.click('#publish-start');
    await publisher.waitForSelector('#publish-state[data-state="connected"]', {timeout: 20000});
    const source = await published(publisher);
    console.log(`publishing ${source.width}x${source.height} as ${source.codec}`);

    const viewer = await open(browser, `${url}?view=watch&stream=e2e`, 'watch');
    await viewer.click('#watch-start');
    await viewer.waitForSelector('#watch-state[data-state="connected"]', {timeout: 20000});
    const deadline = Date.now() + 20000;
    let seen = {frames: 0, width: 0, height: 0};
    while (Date.now() < deadline) {
      seen = await decoded(viewer);
      if (seen.frames > 0 && seen.width === source.width && seen.height === source.height) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`viewer decoded ${seen.frames} frames at ${seen.width}x${seen.height}`);
    if (!(seen.frames > 0)) throw new Error('the viewer decoded no video');
    if (seen.width !== source.width || seen.height !== source.height) {
      throw new Error(`the viewer decodes ${seen.width}x${seen.height}, ` +
                      `not the published ${source.width}x${source.height}`);
    }
    await viewer.waitForFunction(
        (size) => document.getElementById('watch-resolution').textContent === size,
        `${source.width}×${source.height}`, {timeout: 10000});

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
