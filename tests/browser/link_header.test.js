// The page's parser of WHIP/WHEP `Link: <...>; rel="ice-server"` headers
// (signaling/web/webrtc-http.js), run in Node without a browser: known
// headers give the RTCIceServer list a browser needs, then random and mutated
// headers must never throw nor yield anything but usable STUN/TURN entries.
//   node link_header.test.js [ITERATIONS]
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const source = path.join(__dirname, '..', '..', 'signaling', 'web', 'webrtc-http.js');
const context = vm.createContext({});
vm.runInContext(fs.readFileSync(source, 'utf8'), context, {filename: source});
const {parseIceServers} = context.LivepipeWhip;
const parse = (header) => JSON.parse(JSON.stringify(parseIceServers(header)));

let failures = 0;
function check(name, fn) {
  try {
    fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    ++failures;
  }
}

check('a TURN server with coturn REST credentials', () => {
  assert.deepStrictEqual(
      parse('<turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; ' +
            'username="1767225600:cam"; credential="q2Xo+W/9Zr1=";' +
            ' credential-type="password"'),
      [{urls: 'turn:127.0.0.1:3478?transport=udp', username: '1767225600:cam',
        credential: 'q2Xo+W/9Zr1='}]);
});

check('several headers joined by commas, separators inside quotes', () => {
  assert.deepStrictEqual(
      parse('<stun:stun.example.net>; rel="ice-server", ' +
            '<turns:turn.example.net:5349?transport=tcp>; rel="ice-server"; ' +
            'username="a,b;c"; credential="x\\"y\\\\z"; credential-type="password"'),
      [{urls: 'stun:stun.example.net'},
       {urls: 'turns:turn.example.net:5349?transport=tcp', username: 'a,b;c',
        credential: 'x"y\\z'}]);
});

check('token values, upper-case names and a rel list', () => {
  assert.deepStrictEqual(
      parse('<turn:h:3478>;REL="preload ice-server";Username=u;Credential=c'),
      [{urls: 'turn:h:3478', username: 'u', credential: 'c'}]);
});

check('links of other relations are left out', () => {
  assert.deepStrictEqual(parse('<https://example.net/next>; rel="next", <stun:h>; rel=ice-server'),
                         [{urls: 'stun:h'}]);
});

check('TURN without credentials and OAuth credentials are left out', () => {
  assert.deepStrictEqual(
      parse('<turn:h:3478>; rel="ice-server", ' +
            '<turn:h:3479>; rel="ice-server"; username="u"; credential="c"; ' +
            'credential-type="oauth"'),
      []);
});

check('URLs that are not STUN or TURN are left out', () => {
  assert.deepStrictEqual(
      parse('<http://h/>; rel="ice-server", <turn:h :1>; rel="ice-server"; username=u; ' +
            'credential=c, <javascript:alert(1)>; rel="ice-server"'),
      []);
});

check('no header, an empty one and garbage', () => {
  for (const header of [null, undefined, '', ',,,', '<', '>;;', '"unterminated', 42]) {
    assert.deepStrictEqual(parse(header), []);
  }
});

check('the first of repeated parameters wins', () => {
  assert.deepStrictEqual(
      parse('<turn:h>; rel="ice-server"; username=first; username=second; credential=c'),
      [{urls: 'turn:h', username: 'first', credential: 'c'}]);
});

// A small deterministic generator (xorshift32) so a failure reproduces.
function generator(seed) {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

function usable(servers) {
  assert.ok(Array.isArray(servers));
  for (const server of servers) {
    assert.strictEqual(typeof server.urls, 'string');
    assert.match(server.urls, /^(stuns?|turns?):\S+$/i);
    if (/^turns?:/i.test(server.urls)) {
      assert.strictEqual(typeof server.username, 'string');
      assert.strictEqual(typeof server.credential, 'string');
    }
  }
}

const iterations = Number(process.argv[2] || 20000);
check(`${iterations} random and mutated headers`, () => {
  const random = generator(0x5eed);
  const alphabet = '<>;,="\\ \t:?=turnsSTUN-_.0123456789abcxyz\u00e9\u{1F600}';
  const seeds = [
    '<turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; username="1:u"; credential="c="',
    '<stun:h>; rel="ice-server", <turns:h:5349>; rel="ice-server"; username=u; credential=c',
  ];
  for (let i = 0; i < iterations; ++i) {
    let header;
    if (i % 2 === 0) {
      header = '';
      const length = random(120);
      for (let j = 0; j < length; ++j) header += [...alphabet][random([...alphabet].length)];
    } else {
      header = seeds[random(seeds.length)];
      for (let edits = 1 + random(6); edits > 0; --edits) {
        const at = random(header.length + 1);
        const op = random(3);
        const c = [...alphabet][random([...alphabet].length)];
        header = op === 0 ? header.slice(0, at) + c + header.slice(at) :
                 op === 1 ? header.slice(0, at) + header.slice(at + 1) :
                            header.slice(0, at) + c + header.slice(at + 1);
      }
    }
    try {
      usable(parse(header));
    } catch (e) {
      throw new Error(`header ${JSON.stringify(header)}: ${e.message}`);
    }
  }
});

console.log(failures ? `${failures} failed` : 'link header parser ok');
process.exit(failures ? 1 : 0);
