// A WHIP (RFC 9725) and WHEP client for the page. The offer is POSTed at once
// and local candidates follow by PATCH (trickle ICE). When the 201 names ICE
// servers in `Link: <...>; rel="ice-server"` headers (the STUN and TURN
// servers, with the server's time-limited TURN credentials), the client takes
// them into its configuration and restarts ICE over PATCH, so its candidates
// include TURN relays from then on. DELETE of the session's Location ends it.
// (Not named whip.js: libsoup hands every path that starts with /whip to the
// WHIP endpoint.)
'use strict';

(typeof window !== 'undefined' ? window : globalThis).LivepipeWhip = (() => {
  const FRAGMENT_TYPE = 'application/trickle-ice-sdpfrag';
  // How long a "failed" connection state is held back while an ICE restart
  // onto the server's ICE servers may still connect.
  const RESTART_HOLD_MS = 15000;

  // ---- Link headers (RFC 8288) naming ICE servers (RFC 9725 section 4.6) ----

  // Splits `text` at `separator` where it is outside <...> and quoted strings.
  function splitOutside(text, separator) {
    const parts = [];
    let start = 0;
    let angle = false;
    let quoted = false;
    for (let i = 0; i < text.length; ++i) {
      const c = text[i];
      if (quoted) {
        if (c === '\\') {
          ++i;
        } else if (c === '"') {
          quoted = false;
        }
      } else if (angle) {
        if (c === '>') angle = false;
      } else if (c === '<') {
        angle = true;
      } else if (c === '"') {
        quoted = true;
      } else if (c === separator) {
        parts.push(text.slice(start, i));
        start = i + 1;
      }
    }
    parts.push(text.slice(start));
    return parts;
  }

  // `name=token` or `name="quoted string"` parameters of one link-value;
  // names in lower case, the first occurrence of a name wins (RFC 8288).
  function linkParams(text) {
    const params = {};
    for (const part of splitOutside(text, ';')) {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      if (!name || name in params) continue;
      let value = eq < 0 ? '' : part.slice(eq + 1).trim();
      if (value.startsWith('"')) {
        let unquoted = '';
        for (let i = 1; i < value.length && value[i] !== '"'; ++i) {
          if (value[i] === '\\' && i + 1 < value.length) ++i;
          unquoted += value[i];
        }
        value = unquoted;
      }
      params[name] = value;
    }
    return params;
  }

  // The RTCIceServer list in a Link header value (several headers arrive
  // joined by commas). Links of other relations, URLs that are not STUN or
  // TURN, and credential types browsers cannot use are left out.
  function parseIceServers(header) {
    const servers = [];
    if (typeof header !== 'string') return servers;
    for (const link of splitOutside(header, ',')) {
      const match = /^\s*<([^>]*)>(.*)$/s.exec(link);
      if (!match) continue;
      const params = linkParams(match[2]);
      if (!(params.rel || '').toLowerCase().split(/\s+/).includes('ice-server')) continue;
      const url = match[1].trim();
      if (!/^(stuns?|turns?):[^\s]+$/i.test(url)) continue;
      const type = (params['credential-type'] || 'password').toLowerCase();
      if (type !== 'password') continue;
      const server = {urls: url};
      if ('username' in params) server.username = params.username;
      if ('credential' in params) server.credential = params.credential;
      if (/^turns?:/i.test(url) && !('username' in params && 'credential' in params)) continue;
      servers.push(server);
    }
    return servers;
  }

  // ---- SDP and trickle-ice-sdpfrag (RFC 8840) ----

  function lines(text) {
    return text.split(/\r?\n/).filter((line) => line.length > 0);
  }

  // The m-sections of `sdp`: kind, mid and ICE credentials (session-level
  // credentials apply where a section has none).
  function sections(sdp) {
    const out = [];
    const session = {ufrag: '', pwd: ''};
    let current = session;
    for (const line of lines(sdp)) {
      if (line.startsWith('m=')) {
        current = {kind: line.slice(2).split(' ')[0], mid: '', ufrag: '', pwd: ''};
        out.push(current);
      } else if (line.startsWith('a=mid:')) {
        current.mid = line.slice(6);
      } else if (line.startsWith('a=ice-ufrag:')) {
        current.ufrag = line.slice(12);
      } else if (line.startsWith('a=ice-pwd:')) {
        current.pwd = line.slice(10);
      }
    }
    for (const section of out) {
      section.ufrag = section.ufrag || session.ufrag;
      section.pwd = section.pwd || session.pwd;
    }
    return out;
  }

  // A fragment of the local description's ICE credentials and `candidates`
  // ({mid, candidate}), one m-section per mid.
  function fragment(sdp, candidates, end) {
    const all = sections(sdp);
    if (all.length === 0) throw new Error('the local description has no m= lines');
    const first = all[0];
    let text = `a=ice-ufrag:${first.ufrag}\r\na=ice-pwd:${first.pwd}\r\n`;
    const mids = [...new Set(candidates.map((c) => c.mid))];
    if (mids.length === 0) mids.push(first.mid);
    for (const mid of mids) {
      const section = all.find((s) => s.mid === mid) || first;
      text += `m=${section.kind} 9 UDP/TLS/RTP/SAVPF 0\r\n`;
      if (section.mid) text += `a=mid:${section.mid}\r\n`;
      for (const c of candidates) {
        if (c.mid === mid) text += `a=${c.candidate}\r\n`;
      }
      if (end) text += 'a=end-of-candidates\r\n';
    }
    return text;
  }

  // The server's answer to an ICE restart: its new credentials and candidates.
  function parseFragment(text) {
    const out = {ufrag: '', pwd: '', candidates: []};
    let mid = null;
    for (const line of lines(text)) {
      if (line.startsWith('m=')) {
        mid = null;
      } else if (line.startsWith('a=mid:')) {
        mid = line.slice(6);
      } else if (line.startsWith('a=ice-ufrag:')) {
        out.ufrag = line.slice(12);
      } else if (line.startsWith('a=ice-pwd:')) {
        out.pwd = line.slice(10);
      } else if (line.startsWith('a=candidate:')) {
        out.candidates.push({mid, candidate: line.slice(2)});
      }
    }
    return out;
  }

  // `sdp` with the server's new ICE credentials and without the candidates of
  // the previous ICE session.
  function withRemoteIce(sdp, ufrag, pwd) {
    return lines(sdp)
               .filter((line) => !/^a=(candidate:|end-of-candidates)/.test(line))
               .map((line) => {
                 if (line.startsWith('a=ice-ufrag:')) return `a=ice-ufrag:${ufrag}`;
                 if (line.startsWith('a=ice-pwd:')) return `a=ice-pwd:${pwd}`;
                 return line;
               })
               .join('\r\n') +
        '\r\n';
  }

  function candidateUfrag(candidate) {
    if (candidate.usernameFragment) return candidate.usernameFragment;
    const match = / ufrag (\S+)/.exec(candidate.candidate);
    return match ? match[1] : null;
  }

  function localUfrag(pc) {
    const all = pc.localDescription ? sections(pc.localDescription.sdp) : [];
    return all.length ? all[0].ufrag : null;
  }

  async function failure(response) {
    const body = (await response.text()).trim();
    return new Error(`${response.status} ${response.statusText}${body ? `: ${body}` : ''}`);
  }

  // ---- One WHIP or WHEP session ----

  // Collects local candidates from the moment the offer is made; once the
  // session exists they go to it by PATCH, one request at a time, each with
  // what gathered meanwhile. Candidates of an ICE generation that was
  // restarted away are dropped.
  class Session {
    constructor(pc, token, onError) {
      this.pc = pc;
      this.token = token;
      this.onError = onError;
      this.location = null;
      this.etag = null;
      this.iceServers = [];
      this.queue = [];  // {ufrag, mid, candidate} or {ufrag, end: true}
      this.lastUfrag = null;   // of the last candidate gathered
      this.firstUfrag = null;  // of the first offer
      this.trickling = false;
      this.sending = false;
      this.closed = false;
      pc.addEventListener('icecandidate', (event) => this.gathered(event.candidate));
    }

    // The end of gathering belongs to the generation of the candidates
    // before it (or to the first generation when none came yet): Chromium can
    // report the first generation complete after an ICE restart has begun
    // the next one, and that end must not close the new generation before its
    // candidates. It then surfaces the new generation's candidates with the
    // gathering state still "complete" and no end of its own: such a
    // candidate is the last of its generation.
    gathered(candidate) {
      if (candidate && candidate.candidate) {
        const ufrag = candidateUfrag(candidate) || localUfrag(this.pc);
        this.lastUfrag = ufrag;
        this.queue.push({ufrag, mid: candidate.sdpMid, candidate: candidate.candidate});
        if (this.pc.iceGatheringState === 'complete') this.queue.push({ufrag, end: true});
      } else if (candidate && candidate.usernameFragment) {
        this.queue.push({ufrag: candidate.usernameFragment, end: true});
      } else if (this.pc.iceGatheringState === 'complete') {
        this.queue.push({ufrag: this.lastUfrag || this.firstUfrag || localUfrag(this.pc), end: true});
      }
      this.flush();
    }

    headers(extra) {
      const headers = Object.assign({}, extra);
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
      return headers;
    }

    // POSTs the offer to `url`; the answer, Location, ETag and ICE servers come back.
    async start(url) {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      this.firstUfrag = localUfrag(this.pc);
      const response = await fetch(url, {
        method: 'POST',
        headers: this.headers({'Content-Type': 'application/sdp'}),
        body: this.pc.localDescription.sdp,
      });
      if (response.status !== 201) throw await failure(response);
      const answer = await response.text();
      const location = response.headers.get('Location');
      if (!location) throw new Error('the server created the session without a Location');
      this.location = new URL(location, url).href;
      this.etag = response.headers.get('ETag');
      this.iceServers = parseIceServers(response.headers.get('Link'));
      await this.pc.setRemoteDescription({type: 'answer', sdp: answer});
    }

    // Takes the server's ICE servers into the configuration and restarts ICE
    // so that they are used: new local credentials go to the server with
    // If-Match "*" (RFC 9725 section 4.4), its new credentials come back in
    // the 200. On failure the restart is rolled back and the first ICE
    // session goes on.
    async restartWith(policy) {
      const configuration = this.pc.getConfiguration();
      configuration.iceServers = this.iceServers;
      configuration.iceTransportPolicy = policy;
      this.pc.setConfiguration(configuration);
      this.pc.restartIce();
      await this.pc.setLocalDescription(await this.pc.createOffer());
      const ufrag = localUfrag(this.pc);
      const ready = this.take(ufrag);
      let response;
      try {
        response = await fetch(this.location, {
          method: 'PATCH',
          headers: this.headers({'Content-Type': FRAGMENT_TYPE, 'If-Match': '*'}),
          body: fragment(this.pc.localDescription.sdp, ready.candidates, ready.end),
        });
        if (response.status !== 200) throw await failure(response);
      } catch (e) {
        await this.pc.setLocalDescription({type: 'rollback'});
        throw new Error(`the ICE restart with the server's ICE servers failed: ${e.message}`);
      }
      // The server restarted: from here on there is no way back to the
      // first ICE session, and a failure ends the session.
      try {
        this.etag = response.headers.get('ETag') || this.etag;
        const remote = parseFragment(await response.text());
        if (!remote.ufrag || !remote.pwd) {
          throw new Error('the server answered without ice-ufrag/ice-pwd');
        }
        const answer = withRemoteIce(this.pc.remoteDescription.sdp, remote.ufrag, remote.pwd);
        await this.pc.setRemoteDescription({type: 'answer', sdp: answer});
        const firstMid = sections(answer)[0].mid;
        for (const c of remote.candidates) {
          await this.pc.addIceCandidate(
              {candidate: c.candidate, sdpMid: c.mid || firstMid, usernameFragment: remote.ufrag});
        }
      } catch (e) {
        const error = new Error(`the server's answer to the ICE restart is unusable: ${e.message}`);
        error.fatal = true;
        throw error;
      }
    }

    // Removes and returns the queued candidates of the generation `ufrag`.
    take(ufrag) {
      const out = {candidates: [], end: false};
      const rest = [];
      for (const item of this.queue) {
        if (item.ufrag !== ufrag) {
          rest.push(item);
        } else if (item.end) {
          out.end = true;
        } else {
          out.candidates.push({mid: item.mid, candidate: item.candidate});
        }
      }
      this.queue = rest;
      return out;
    }

    trickle() {
      this.trickling = true;
      this.flush();
    }

    async flush() {
      if (!this.trickling || this.sending || this.closed) return;
      this.sending = true;
      try {
        for (let round = 0; round < 1000 && !this.closed; ++round) {
          const ufrag = localUfrag(this.pc);
          this.queue = this.queue.filter((item) => item.ufrag === ufrag);
          const ready = this.take(ufrag);
          if (ready.candidates.length === 0 && !ready.end) break;
          const headers = this.headers({'Content-Type': FRAGMENT_TYPE});
          if (this.etag) headers['If-Match'] = this.etag;
          const response = await fetch(this.location, {
            method: 'PATCH',
            headers,
            body: fragment(this.pc.localDescription.sdp, ready.candidates, ready.end),
          });
          if (response.status === 204 || response.status === 200) continue;
          if (response.status === 405 || response.status === 422 || response.status === 501) {
            // A server without trickle ICE: it learns the candidates from
            // the connectivity checks (peer-reflexive) instead.
            this.trickling = false;
            break;
          }
          if (response.status === 412) continue;  // an ICE generation restarted away
          throw await failure(response);
        }
      } catch (e) {
        if (!this.closed) this.onError(`sending ICE candidates failed: ${e.message}`);
      } finally {
        this.sending = false;
      }
    }

    async stop() {
      this.closed = true;
      this.pc.close();
      if (!this.location) return;
      try {
        await fetch(this.location, {method: 'DELETE', headers: this.headers({})});
      } catch (e) {
        // The server is gone already: nothing left to end.
      }
    }
  }

  // Negotiates `pc` with the endpoint `url`. options.relay: relay candidates
  // only (iceTransportPolicy "relay"), which needs a TURN server from the
  // server's Link headers.
  async function negotiate(pc, url, token, options) {
    const session = new Session(pc, token, options.onError || (() => {}));
    try {
      await session.start(url);
      const turn = session.iceServers.some((s) => /^turns?:/i.test(s.urls));
      if (options.relay && !turn) {
        throw new Error('relay-only was asked for, but the server named no TURN server ' +
                        '(no Link rel="ice-server" header with a turn: URL)');
      }
      if (session.iceServers.length > 0) {
        pc.holdFailureUntil = performance.now() + RESTART_HOLD_MS;
        try {
          await session.restartWith(options.relay ? 'relay' : 'all');
        } catch (e) {
          if (options.relay || e.fatal) throw e;
          (options.onError || (() => {}))(`${e.message}; going on without them`);
        }
      }
      session.trickle();
      return session;
    } catch (e) {
      await session.stop();
      throw e;
    }
  }

  // H.264 first, so today's server (H.264 and Opus) accepts the offer; the
  // other codecs stay in the offer for servers that take them. Constrained
  // baseline with packetization-mode 1 leads: every browser decodes it.
  function preferH264(transceiver) {
    if (!transceiver.setCodecPreferences || !RTCRtpSender.getCapabilities) return;
    const capabilities = RTCRtpSender.getCapabilities('video');
    if (!capabilities) return;
    const rank = (codec) => {
      if (!/^video\/h264$/i.test(codec.mimeType)) return 10;
      const fmtp = codec.sdpFmtpLine || '';
      return (fmtp.includes('packetization-mode=1') ? 0 : 2) +
             (/profile-level-id=42e0/i.test(fmtp) ? 0 : 1);
    };
    const codecs = capabilities.codecs.slice().sort((a, b) => rank(a) - rank(b));
    try {
      transceiver.setCodecPreferences(codecs);
    } catch (e) {
      // A browser that refuses the list offers its own order instead.
    }
  }

  // A broadcast keeps its picture size when bandwidth or CPU run short (the
  // frame rate gives way instead): viewers see what was published.
  async function keepResolution(pc) {
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== 'video') continue;
      const parameters = sender.getParameters();
      parameters.degradationPreference = 'maintain-resolution';
      try {
        await sender.setParameters(parameters);
      } catch (e) {
        // Not every browser lets the preference change; its default applies.
      }
    }
  }

  function newPeerConnection(options) {
    // Relay-only from the start: no direct path is tried before the TURN
    // server is known.
    const pc = new RTCPeerConnection(
        {bundlePolicy: 'max-bundle', iceTransportPolicy: options.relay ? 'relay' : 'all'});
    const report = options.onState || (() => {});
    pc.onconnectionstatechange = () => {
      const value = pc.connectionState;
      // While the ICE restart onto the server's ICE servers runs, "failed"
      // belongs to the first ICE generation (relay-only has no candidate in
      // it at all) and the restart may still connect: it is reported only if
      // the connection is still failed when the hold ends.
      if (value === 'failed' && pc.holdFailureUntil && performance.now() < pc.holdFailureUntil) {
        setTimeout(() => {
          if (pc.connectionState === 'failed') report('failed');
        }, pc.holdFailureUntil - performance.now());
        return;
      }
      if (value === 'connected') pc.holdFailureUntil = 0;
      report(value);
    };
    return pc;
  }

  function handle(session) {
    return {
      pc: session.pc,
      location: session.location,
      iceServers: session.iceServers,
      stop: () => session.stop(),
    };
  }

  // Publishes `stream` (a MediaStream) to the WHIP endpoint `url`.
  // options: {relay, onState(connectionState), onError(text)}.
  async function publish(url, token, stream, options = {}) {
    const pc = newPeerConnection(options);
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, {direction: 'sendonly', streams: [stream]});
      if (track.kind === 'video') preferH264(transceiver);
    }
    const session = await negotiate(pc, url, token, options);
    await keepResolution(pc);
    return handle(session);
  }

  // Plays the WHEP endpoint `url`; `onTrack` gets the remote MediaStream.
  // options as for publish().
  async function play(url, token, onTrack, options = {}) {
    const pc = newPeerConnection(options);
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    const remote = new MediaStream();
    pc.ontrack = (event) => {
      remote.addTrack(event.track);
      onTrack(remote);
    };
    return handle(await negotiate(pc, url, token, options));
  }

  // How the connection runs: the selected candidate pair's local and remote
  // candidate types ("host", "srflx", "prflx", "relay"), or null before one
  // is selected.
  async function route(pc) {
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((report) => {
      if (report.type === 'transport' && report.selectedCandidatePairId) {
        pair = stats.get(report.selectedCandidatePairId);
      }
    });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    return {
      local: local ? local.candidateType : '',
      remote: remote ? remote.candidateType : '',
      relayUrl: local && local.url ? local.url : '',
    };
  }

  return {publish, play, route, parseIceServers};
})();
