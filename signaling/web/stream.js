// The page's Publish view (camera and microphone to a stream over WHIP) and
// Watch view (a stream over WHEP), and the tabs between them and the room.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = window.livepipe;  // the room view's state, shared for tests
  state.publisher = null;  // {pc, location, stop}
  state.viewer = null;

  function setBadge(el, value) {
    el.textContent = value;
    el.dataset.state = value;
  }

  function show(view) {
    for (const section of document.querySelectorAll('main > section[data-view]')) {
      section.hidden = section.dataset.view !== view;
    }
    for (const link of document.querySelectorAll('#tabs a')) {
      link.classList.toggle('active', link.dataset.view === view);
    }
  }

  for (const link of document.querySelectorAll('#tabs a')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      const url = new URL(location.href);
      url.searchParams.set('view', link.dataset.view);
      history.replaceState(null, '', url);
      show(link.dataset.view);
    });
  }

  // ?relay=1: relay candidates only, through the TURN server the WHIP/WHEP
  // endpoint names in its Link headers (to check a TURN setup).
  const relay = params.get('relay') === '1';

  // The ICE servers the endpoint handed out (their URLs; never the credentials).
  function showIceServers(session, el) {
    const urls = session ? session.iceServers.map((server) => server.urls) : [];
    el.textContent = urls.length ? `ICE servers ${urls.join(' ')}` : '';
  }

  // The selected candidate pair once connected: "via TURN relay" or "direct".
  async function showRoute(session, el) {
    if (!session) {
      el.textContent = '';
      return;
    }
    let pair = null;
    try {
      pair = await LivepipeWhip.route(session.pc);
    } catch (e) {
      // Closed meanwhile: there is no route to show.
    }
    el.textContent = !pair ? '' :
        pair.local === 'relay' || pair.remote === 'relay' ? 'via TURN relay' :
                                                             `direct (${pair.local})`;
    el.dataset.route = pair ? pair.local : '';
  }

  // ---- Publish ----

  function whipUrl() {
    const url = new URL(`whip/${encodeURIComponent($('publish-stream').value.trim())}`,
                        location.href);
    // The processed (beauty) stream is asked for on the URL; without the
    // toggle the URL is the plain WHIP endpoint.
    if ($('beauty').checked) url.searchParams.set('beauty', 'on');
    return url.href;
  }

  function showWhipUrl() {
    $('whip-url').textContent = $('publish-stream').value.trim() ? whipUrl() : '';
  }

  let localStream = null;

  function stopPublishing(text) {
    const publisher = state.publisher;
    state.publisher = null;
    if (publisher) publisher.stop();
    if (localStream) {
      for (const track of localStream.getTracks()) track.stop();
      localStream = null;
    }
    $('publish-video').srcObject = null;
    showIceServers(null, $('publish-ice'));
    showRoute(null, $('publish-route'));
    $('publish-start').hidden = false;
    $('publish-start').disabled = false;
    $('publish-stop').hidden = true;
    for (const id of ['publish-stream', 'publish-token', 'beauty']) $(id).disabled = false;
    setBadge($('publish-state'), text || 'idle');
  }

  $('publish-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('publish-message').textContent = '';
    $('publish-start').disabled = true;
    for (const id of ['publish-stream', 'publish-token', 'beauty']) $(id).disabled = true;
    const url = whipUrl();
    $('whip-url').textContent = url;
    try {
      localStream = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
    } catch (e) {
      $('publish-message').textContent = `Camera or microphone unavailable: ${e.message}`;
      stopPublishing();
      return;
    }
    $('publish-video').srcObject = localStream;
    setBadge($('publish-state'), 'connecting');
    try {
      state.publisher = await LivepipeWhip.publish(url, $('publish-token').value.trim(), localStream, {
        relay,
        onState: (value) => {
          setBadge($('publish-state'), value);
          if (value === 'connected') showRoute(state.publisher, $('publish-route'));
          if (value === 'failed') stopPublishing('failed');
        },
        onError: (text) => {
          $('publish-message').textContent = text;
        },
      });
      showIceServers(state.publisher, $('publish-ice'));
      showRoute(state.publisher, $('publish-route'));
    } catch (e) {
      $('publish-message').textContent = `Publishing failed: ${e.message}`;
      stopPublishing('failed');
      return;
    }
    $('publish-start').hidden = true;
    $('publish-stop').hidden = false;
  });

  $('publish-stop').addEventListener('click', () => stopPublishing());
  for (const id of ['publish-stream', 'beauty']) $(id).addEventListener('input', showWhipUrl);

  // ---- Watch ----

  function whepUrl() {
    return new URL(`whep/${encodeURIComponent($('watch-stream').value.trim())}`, location.href)
        .href;
  }

  function showWhepUrl() {
    $('whep-url').textContent = $('watch-stream').value.trim() ? whepUrl() : '';
  }

  function showResolution() {
    const video = $('watch-video');
    $('watch-resolution').textContent =
        video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '';
  }

  function stopWatching(text) {
    const viewer = state.viewer;
    state.viewer = null;
    if (viewer) viewer.stop();
    $('watch-video').srcObject = null;
    showIceServers(null, $('watch-ice'));
    showRoute(null, $('watch-route'));
    $('watch-start').hidden = false;
    $('watch-start').disabled = false;
    $('watch-stop').hidden = true;
    for (const id of ['watch-stream', 'watch-token']) $(id).disabled = false;
    setBadge($('watch-state'), text || 'idle');
    showResolution();
  }

  $('watch-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('watch-message').textContent = '';
    $('watch-start').disabled = true;
    for (const id of ['watch-stream', 'watch-token']) $(id).disabled = true;
    setBadge($('watch-state'), 'connecting');
    try {
      state.viewer = await LivepipeWhip.play(
          whepUrl(), $('watch-token').value.trim(),
          (remote) => {
            if ($('watch-video').srcObject !== remote) $('watch-video').srcObject = remote;
          },
          {
            relay,
            onState: (value) => {
              setBadge($('watch-state'), value);
              if (value === 'connected') showRoute(state.viewer, $('watch-route'));
              // "disconnected" may recover; "failed" is final (the stream ended).
              if (value === 'failed') stopWatching(value);
            },
            onError: (text) => {
              $('watch-message').textContent = text;
            },
          });
      showIceServers(state.viewer, $('watch-ice'));
      showRoute(state.viewer, $('watch-route'));
    } catch (e) {
      $('watch-message').textContent = `Watching failed: ${e.message}`;
      stopWatching('failed');
      return;
    }
    $('watch-start').hidden = true;
    $('watch-stop').hidden = false;
  });

  $('watch-stop').addEventListener('click', () => stopWatching());
  $('watch-stream').addEventListener('input', showWhepUrl);
  $('watch-video').addEventListener('resize', showResolution);
  $('watch-video').addEventListener('loadedmetadata', showResolution);

  // ---- Start-up ----

  if (params.get('stream')) {
    $('publish-stream').value = params.get('stream');
    $('watch-stream').value = params.get('stream');
  }
  if (params.get('token')) {
    $('publish-token').value = params.get('token');
    $('watch-token').value = params.get('token');
  }
  $('beauty').checked = params.get('beauty') === 'on';
  showWhipUrl();
  showWhepUrl();
  const view = params.get('view');
  show(['room', 'publish', 'watch'].includes(view) ? view : 'room');
})();
