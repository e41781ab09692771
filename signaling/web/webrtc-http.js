// A WHIP (RFC 9725) and WHEP client for the page: one HTTP POST of a complete
// offer (candidates gathered first, so no trickle is needed), the answer back,
// DELETE of the session's Location to end it. (Not named whip.js: libsoup hands
// every path that starts with /whip to the WHIP endpoint.)
'use strict';

window.LivepipeWhip = (() => {
  const GATHER_TIMEOUT_MS = 3000;

  // Resolves once ICE gathering completes, or after the timeout with whatever
  // candidates were found (a slow STUN server must not hold up publishing).
  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
      function check() {
        if (pc.iceGatheringState === 'complete') done();
      }
      pc.addEventListener('icegatheringstatechange', check);
    });
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

  // Sends the offer to `url`; returns the session's absolute Location.
  async function negotiate(pc, url, token) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const headers = {'Content-Type': 'application/sdp'};
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(url, {method: 'POST', headers, body: pc.localDescription.sdp});
    const body = await response.text();
    if (response.status !== 201) {
      throw new Error(`${response.status} ${response.statusText}: ${body.trim()}`);
    }
    const location = response.headers.get('Location');
    await pc.setRemoteDescription({type: 'answer', sdp: body});
    return location ? new URL(location, url).href : null;
  }

  async function end(location, token) {
    if (!location) return;
    const headers = token ? {Authorization: `Bearer ${token}`} : {};
    try {
      await fetch(location, {method: 'DELETE', headers});
    } catch (e) {
      // The server is gone already: nothing left to end.
    }
  }

  // Publishes `stream` (a MediaStream) to the WHIP endpoint `url`.
  async function publish(url, token, stream, onState) {
    const pc = new RTCPeerConnection();
    pc.onconnectionstatechange = () => onState(pc.connectionState);
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, {direction: 'sendonly', streams: [stream]});
      if (track.kind === 'video') preferH264(transceiver);
    }
    try {
      const location = await negotiate(pc, url, token);
      await keepResolution(pc);
      return {pc, location, stop: () => { pc.close(); return end(location, token); }};
    } catch (e) {
      pc.close();
      throw e;
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

  // Plays the WHEP endpoint `url`; `onTrack` gets the remote MediaStream.
  async function play(url, token, onTrack, onState) {
    const pc = new RTCPeerConnection();
    pc.onconnectionstatechange = () => onState(pc.connectionState);
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    const remote = new MediaStream();
    pc.ontrack = (event) => {
      remote.addTrack(event.track);
      onTrack(remote);
    };
    try {
      const location = await negotiate(pc, url, token);
      return {pc, location, stop: () => { pc.close(); return end(location, token); }};
    } catch (e) {
      pc.close();
      throw e;
    }
  }

  return {publish, play};
})();
