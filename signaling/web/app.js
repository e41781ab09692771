// livepipe's room page: joins a room over the WebSocket protocol v1
// (docs/signaling.md) and makes a peer-to-peer call with every other member.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = {
    ws: null,
    self: null,
    iceServers: [],
    room: null,
    stream: null,
    peers: new Map(),  // id -> {name, pc, pendingCandidates, videoTile, stateBadge}
  };
  // Exposed for tests and for curious people at the console.
  window.livepipe = state;

  function setBadge(el, value) {
    el.textContent = value;
    el.dataset.state = value;
  }

  function say(text) {
    $('message').textContent = text || '';
  }

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(message));
    }
  }

  function connect() {
    const url = new URL('ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (params.get('token')) url.searchParams.set('token', params.get('token'));
    const ws = new WebSocket(url);
    state.ws = ws;
    setBadge($('server-state'), 'connecting');
    ws.onopen = () => send({type: 'hello', protocol: 1, name: $('name').value || undefined});
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handle(message);
    };
    ws.onclose = (event) => {
      setBadge($('server-state'), 'offline');
      state.ws = null;
      state.self = null;
      if (event.code !== 1000) say(`Disconnected from the server: ${event.reason || event.code}`);
      teardown();
    };
  }

  function handle(message) {
    switch (message.type) {
      case 'welcome':
        state.self = message.peer;
        state.iceServers = message.iceServers || [];
        setBadge($('server-state'), 'online');
        if (state.pendingJoin) {
          send({type: 'join', room: state.pendingJoin});
        }
        break;
      case 'joined':
        state.room = message.room;
        state.pendingJoin = null;
        $('room-name').textContent = message.room;
        $('room-view').hidden = false;
        $('join').hidden = true;
        $('leave').hidden = false;
        say('');
        // The newcomer calls everyone already there; they answer.
        for (const peer of message.peers) {
          addPeer(peer.id, peer.name);
          call(peer.id);
        }
        break;
      case 'peer-joined':
        addPeer(message.peer.id, message.peer.name);
        break;
      case 'peer-left':
        removePeer(message.peer);
        break;
      case 'left':
        teardown();
        break;
      case 'offer':
        answer(message.from, message.sdp);
        break;
      case 'answer': {
        const peer = state.peers.get(message.from);
        if (peer) {
          peer.pc.setRemoteDescription({type: 'answer', sdp: message.sdp})
              .then(() => flushCandidates(peer));
        }
        break;
      }
      case 'candidate': {
        const peer = state.peers.get(message.from);
        if (!peer) break;
        const candidate = {candidate: message.candidate, sdpMid: message.sdpMid,
                           sdpMLineIndex: message.sdpMLineIndex};
        if (peer.pc.remoteDescription) {
          peer.pc.addIceCandidate(candidate).catch(() => {});
        } else {
          peer.pendingCandidates.push(candidate);
        }
        break;
      }
      case 'end-of-candidates':
        break;
      case 'error':
        say(`${message.code}: ${message.message}`);
        if (message.request === 'join') {
          state.pendingJoin = null;
          $('join').disabled = false;
        }
        break;
      case 'bye':
        say(`The server closed the session: ${message.reason}`);
        break;
    }
  }

  function flushCandidates(peer) {
    for (const candidate of peer.pendingCandidates.splice(0)) {
      peer.pc.addIceCandidate(candidate).catch(() => {});
    }
  }

  function addPeer(id, name) {
    if (state.peers.has(id)) return state.peers.get(id);
    const pc = new RTCPeerConnection({iceServers: state.iceServers});
    const li = document.createElement('li');
    li.dataset.peer = id;
    const label = document.createElement('span');
    label.textContent = name || id;
    const badge = document.createElement('span');
    badge.className = 'state';
    setBadge(badge, 'new');
    li.append(label, badge);
    $('peers').append(li);

    const figure = document.createElement('figure');
    figure.className = 'tile';
    figure.dataset.peer = id;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement('figcaption');
    caption.textContent = name || id;
    figure.append(video, caption);
    $('videos').append(figure);

    const peer = {id, name, pc, pendingCandidates: [], li, figure, badge};
    state.peers.set(id, peer);
    for (const track of state.stream.getTracks()) pc.addTrack(track, state.stream);
    pc.onicecandidate = (event) => {
      if (event.candidate) {
        send({type: 'candidate', to: id, candidate: event.candidate.candidate,
              sdpMid: event.candidate.sdpMid, sdpMLineIndex: event.candidate.sdpMLineIndex});
      } else {
        send({type: 'end-of-candidates', to: id});
      }
    };
    pc.ontrack = (event) => {
      if (video.srcObject !== event.streams[0]) video.srcObject = event.streams[0];
    };
    pc.onconnectionstatechange = () => setBadge(badge, pc.connectionState);
    return peer;
  }

  function removePeer(id) {
    const peer = state.peers.get(id);
    if (!peer) return;
    peer.pc.close();
    peer.li.remove();
    peer.figure.remove();
    state.peers.delete(id);
  }

  async function call(id) {
    const peer = state.peers.get(id);
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    send({type: 'offer', to: id, sdp: offer.sdp});
  }

  async function answer(from, sdp) {
    const peer = state.peers.get(from) || addPeer(from, from);
    await peer.pc.setRemoteDescription({type: 'offer', sdp});
    flushCandidates(peer);
    const reply = await peer.pc.createAnswer();
    await peer.pc.setLocalDescription(reply);
    send({type: 'answer', to: from, sdp: reply.sdp});
  }

  function teardown() {
    for (const id of [...state.peers.keys()]) removePeer(id);
    state.room = null;
    $('room-view').hidden = true;
    $('join').hidden = false;
    $('join').disabled = false;
    $('leave').hidden = true;
    if (state.stream) {
      for (const track of state.stream.getTracks()) track.stop();
      state.stream = null;
      $('local-video').srcObject = null;
    }
  }

  $('join-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const room = $('room').value.trim();
    $('join').disabled = true;
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
    } catch (e) {
      say(`Camera or microphone unavailable: ${e.message}`);
      $('join').disabled = false;
      return;
    }
    $('local-video').srcObject = state.stream;
    state.pendingJoin = room;
    // The first join opens the connection; hello carries the name typed by then.
    if (state.ws && state.ws.readyState === WebSocket.OPEN && state.self) {
      send({type: 'join', room});
    } else if (!state.ws || state.ws.readyState > WebSocket.OPEN) {
      connect();
    }
  });

  $('leave').addEventListener('click', () => send({type: 'leave'}));

  if (params.get('room')) $('room').value = params.get('room');
  if (params.get('name')) $('name').value = params.get('name');
  setBadge($('server-state'), 'offline');
})();
