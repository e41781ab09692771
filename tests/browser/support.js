// What the browser tests share: Chromium and its flags, `livepipe serve` and
// coturn started on 127.0.0.1 with their own config in a temp dir (stopped by
// PID), and getStats readings of a page.
'use strict';

const {spawn} = require('child_process');
const crypto = require('crypto');
const dgram = require('dgram');
const fs = require('fs');
const path = require('path');

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
];

// playwright-core's chromium, or exit 77 (skipped) when it or Chromium is missing.
function chromiumOrSkip() {
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
  return chromium;
}

function launch(chromium) {
  return chromium.launch({executablePath: CHROMIUM, args: FLAGS});
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `livepipe serve` with `config` on a free port; resolves {server, url, exited}.
function startServer(livepipe, dir, config) {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return new Promise((resolve, reject) => {
    const server = spawn(livepipe, ['serve', '--config', file, '--listen', '127.0.0.1:0'],
                         {stdio: ['ignore', 'pipe', 'inherit']});
    const exited = new Promise((done) => server.on('exit', (code) => done(code)));
    let out = '';
    const timer = setTimeout(() => reject(new Error('livepipe serve did not start')), 10000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/serving (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({server, url: match[1], exited});
      }
    });
    server.on('exit', (code) => reject(new Error(`livepipe serve exited with ${code}`)));
  });
}

function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.on('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const {port} = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

// coturn on 127.0.0.1 with use-auth-secret (the credentials `livepipe serve`
// hands out with ice.turnRest), its own config and log in `dir`. Resolves
// {port, secret, log(), stop()} once it listens.
async function startCoturn(dir) {
  fs.mkdirSync(dir, {recursive: true});
  const port = await freeUdpPort();
  const secret = crypto.randomBytes(16).toString('hex');
  const conf = path.join(dir, 'turnserver.conf');
  fs.writeFileSync(conf, [
    'listening-ip=127.0.0.1', 'relay-ip=127.0.0.1', `listening-port=${port}`,
    'min-port=49200', 'max-port=49400', 'use-auth-secret', `static-auth-secret=${secret}`,
    'realm=livepipe.test', 'fingerprint', 'no-cli', 'no-tls', 'no-dtls', 'no-tcp-relay',
    // Every address in the test's namespace is loopback, the server's too.
    'allow-loopback-peers',
    // verbose: each allocation is logged, so tests can see coturn served it.
    'verbose', 'simple-log', `log-file=${path.join(dir, 'turn.log')}`,
    `pidfile=${path.join(dir, 'turn.pid')}`, `userdb=${path.join(dir, 'turndb')}`, '',
  ].join('\n'));
  const proc = spawn('turnserver', ['-c', conf], {stdio: 'ignore'});
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(signal || code)));
  let failed = null;
  proc.on('error', (e) => {
    failed = e;
  });
  const log = () => fs.readdirSync(dir)
                        .filter((name) => name.startsWith('turn') && name.endsWith('.log'))
                        .map((name) => fs.readFileSync(path.join(dir, name), 'utf8'))
                        .join('');
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(proc.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(proc.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (failed) throw new Error(`turnserver did not start: ${failed.message}`);
    if (proc.exitCode !== null) throw new Error(`turnserver exited with ${proc.exitCode}`);
    const text = log();
    if (text.includes('Total General servers') || text.includes('relay 127.0.0.1')) {
      return {port, secret, log, stop};
    }
    await sleep(100);
  }
  await stop();
  throw new Error('turnserver did not start listening within 10 s');
}

async function open(browser, url, name) {
  const page = await (await browser.newContext()).newPage();
  page.on('console', (message) => console.log(`[${name}] ${message.text()}`));
  await page.goto(url);
  return page;
}

// The publisher's camera size, the codec it sends and the frames it encoded.
function published(page) {
  return page.evaluate(async () => {
    const {pc} = window.livepipe.publisher;
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    const settings = sender.track.getSettings();
    let codec = '';
    let frames = 0;
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type === 'outbound-rtp' && report.kind === 'video') {
        if (report.codecId) codec = stats.get(report.codecId).mimeType;
        frames += report.framesEncoded || 0;
      }
    });
    return {width: settings.width, height: settings.height, codec, frames};
  });
}

// The publisher once it encodes frames (bounded by `ms`): a fake camera that
// Chromium starves of CPU shows up as such, not as a viewer without video.
async function publishing(page, ms) {
  const deadline = Date.now() + ms;
  let source = await published(page);
  while (!(source.frames > 0 && source.width > 0) && Date.now() < deadline) {
    await sleep(250);
    source = await published(page);
  }
  if (!(source.frames > 0 && source.width > 0)) {
    throw new Error(`the publisher encoded no video in ${ms / 1000} s ` +
                    `(camera ${source.width}x${source.height}, ${source.frames} frames)`);
  }
  return source;
}

// What the viewer received and decoded so far (the packet, key frame and PLI
// counts tell a stall from a missing key frame when a test fails).
function decoded(page) {
  return page.evaluate(async () => {
    const viewer = window.livepipe.viewer;
    const out = {frames: 0, width: 0, height: 0, packets: 0, keyFrames: 0, plis: 0};
    if (!viewer) return out;
    (await viewer.pc.getStats()).forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') {
        out.frames += report.framesDecoded || 0;
        out.width = report.frameWidth || 0;
        out.height = report.frameHeight || 0;
        out.packets += report.packetsReceived || 0;
        out.keyFrames += report.keyFramesDecoded || 0;
        out.plis += report.pliCount || 0;
      }
    });
    return out;
  });
}

// Polls the viewer until it decoded frames at `size` (bounded by `ms`).
async function decodesAt(page, size, ms) {
  const deadline = Date.now() + ms;
  let seen = {frames: 0, width: 0, height: 0};
  while (Date.now() < deadline) {
    seen = await decoded(page);
    if (seen.frames > 0 && seen.width === size.width && seen.height === size.height) break;
    await sleep(250);
  }
  return seen;
}

// The selected candidate pair of window.livepipe[which] ("publisher" or
// "viewer") read from getStats: both candidates' types and addresses.
function selectedPair(page, which) {
  return page.evaluate(async (key) => {
    const session = window.livepipe[key];
    if (!session) return null;
    const stats = await session.pc.getStats();
    let pair = null;
    stats.forEach((report) => {
      if (report.type === 'transport' && report.selectedCandidatePairId) {
        pair = stats.get(report.selectedCandidatePairId);
      }
    });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId) || {};
    const remote = stats.get(pair.remoteCandidateId) || {};
    return {
      state: pair.state,
      bytesSent: pair.bytesSent,
      bytesReceived: pair.bytesReceived,
      local: {type: local.candidateType, address: `${local.address}:${local.port}`, url: local.url},
      remote: {type: remote.candidateType, address: `${remote.address}:${remote.port}`},
    };
  }, which);
}

// Every PATCH `page` sends, in order, with its answer:
// [{ifMatch, body, status, etag}] (filled in as the answers arrive).
function recordPatches(page) {
  const patches = [];
  page.on('requestfinished', async (request) => {
    if (request.method() !== 'PATCH') return;
    const entry = {ifMatch: '', body: request.postData() || '', status: 0, etag: ''};
    patches.push(entry);
    entry.ifMatch = (await request.allHeaders())['if-match'] || '';
    const response = await request.response();
    if (response) {
      entry.status = response.status();
      entry.etag = (await response.allHeaders()).etag || '';
    }
  });
  return patches;
}

// Waits (at most `ms`) until the last recorded PATCH ends the candidates:
// the page sends end-of-candidates once its ICE gathering completes, which
// can come well after media flows (a TURN allocation still pending on
// another address). The caller then checks the order of what was sent.
async function candidatesEnded(patches, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const last = patches[patches.length - 1];
    if (last && last.status && last.body.includes('a=end-of-candidates')) return true;
    await sleep(100);
  }
  return false;
}

module.exports = {
  chromiumOrSkip, launch, sleep, startServer, startCoturn, open, published, publishing, decoded,
  decodesAt, selectedPair, recordPatches, candidatesEnded,
};
