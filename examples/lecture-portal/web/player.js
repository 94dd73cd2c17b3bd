// The player page: /player?id=ID plays the video's HLS package with hls.js, /player?id=ID&format=dash
// its DASH manifest with dash.js. Both libraries come from the portal (/vendor/...), never a CDN.
//
// window.portalPlayer is a small hook for scripts and the browser tests:
//   format          'hls' | 'dash'
//   ready           true once the manifest is parsed and the rungs are known
//   levels()        [{index, width, height, bitrate}] in the player's own order
//   setLevel(i)     play rung i from now on (the buffer is replaced); -1 = automatic
//   currentLevel()  the rung being rendered now, as the player reports it (-1 unknown)
//   rendered        every rung index the player reported rendering, in order
//   errors          fatal player errors and media element errors, {source, type, details, message}
//   warnings        non-fatal player errors the library recovered from
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const id = params.get('id') || '';
  const format = params.get('format') === 'dash' ? 'dash' : 'hls';

  const video = document.getElementById('video');
  const select = document.getElementById('rung');
  const nowPlaying = document.getElementById('now-playing');
  const status = document.getElementById('player-status');
  const errorBox = document.getElementById('player-error');

  const hook = {
    format,
    ready: false,
    rendered: [],
    errors: [],
    warnings: [],
    levels: () => [],
    setLevel: () => { throw new Error('the player is not ready'); },
    currentLevel: () => -1,
  };
  window.portalPlayer = hook;

  const other = document.getElementById('other-format');
  other.textContent = format === 'dash' ? 'play as HLS' : 'play as DASH';
  other.href = `/player?id=${encodeURIComponent(id)}${format === 'dash' ? '' : '&format=dash'}`;

  function fail(source, type, details, message) {
    const entry = {source, type: String(type), details: String(details), message: String(message || '')};
    hook.errors.push(entry);
    const line = document.createElement('div');
    line.textContent = `Playback error (${source}): ${entry.type} ${entry.details} ${entry.message}`.trim();
    errorBox.append(line);
    errorBox.hidden = false;
  }

  function warn(source, type, details, message) {
    hook.warnings.push({source, type: String(type), details: String(details), message: String(message || '')});
  }

  video.addEventListener('error', () => {
    const e = video.error;
    fail('video', 'MediaError', e ? e.code : '?', e ? e.message : '');
  });

  function label(l) {
    return `${l.height}p · ${Math.round(l.bitrate / 1000)} kb/s`;
  }

  function showRendered(index) {
    if (index < 0) return;
    const l = hook.levels()[index];
    hook.rendered.push(index);
    nowPlaying.textContent = l ? `playing ${label(l)}` : '';
  }

  function fillRungs() {
    const auto = new Option('automatic', '-1');
    select.replaceChildren(auto, ...hook.levels().map((l) => new Option(label(l), String(l.index))));
    select.disabled = false;
    hook.ready = true;
    status.textContent = '';
  }

  select.addEventListener('change', () => hook.setLevel(Number(select.value)));

  // The menu follows every choice, the page's own and the hook's.
  function choose(setLevel) {
    return (i) => {
      select.value = String(i);
      setLevel(i);
    };
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.append(s);
    });
  }

  function startHls(url) {
    if (!window.Hls || !Hls.isSupported()) {
      fail('hls.js', 'unsupported', 'MSE', 'this browser cannot play HLS through Media Source Extensions');
      return;
    }
    const hls = new Hls({enableWorker: true});
    hook.levels = () => hls.levels.map((l, index) => ({index, width: l.width, height: l.height, bitrate: l.bitrate}));
    // currentLevel = i switches at once, flushing what was buffered at the old level.
    hook.setLevel = choose((i) => { hls.currentLevel = i; });
    let playingLevel = -1;
    hook.currentLevel = () => playingLevel;
    hls.on(Hls.Events.MANIFEST_PARSED, fillRungs);
    // FRAG_CHANGED: the fragment under the playhead changed, so this level is what is on screen.
    hls.on(Hls.Events.FRAG_CHANGED, (_, data) => {
      if (data.frag.level !== playingLevel) {
        playingLevel = data.frag.level;
        showRendered(playingLevel);
      }
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      const message = data.error ? data.error.message : data.reason;
      if (data.fatal) {
        fail('hls.js', data.type, data.details, message);
        hls.destroy();
      } else {
        warn('hls.js', data.type, data.details, message);
      }
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  function startDash(url) {
    if (!window.dashjs) {
      fail('dash.js', 'unsupported', 'load', 'dash.js did not load');
      return;
    }
    const player = dashjs.MediaPlayer().create();
    // Rungs are chosen by hand here or by the ABR rules (automatic); see setLevel.
    player.updateSettings({streaming: {abr: {autoSwitchBitrate: {video: true}}}});
    const events = dashjs.MediaPlayer.events;
    const reps = () => player.getRepresentationsByType('video') || [];
    hook.levels = () => reps().map((r, index) => ({index, width: r.width, height: r.height, bitrate: r.bandwidth}));
    hook.setLevel = choose((i) => {
      const auto = i < 0;
      player.updateSettings({streaming: {abr: {autoSwitchBitrate: {video: auto}}}});
      if (!auto) player.setRepresentationForTypeByIndex('video', i, true);  // true: replace the buffer
    });
    let playingLevel = -1;
    hook.currentLevel = () => playingLevel;
    const indexOf = (rep) => reps().findIndex((r) => r.id === rep.id);
    player.on(events.STREAM_INITIALIZED, fillRungs);
    player.on(events.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType !== 'video' || !e.newRepresentation) return;
      playingLevel = indexOf(e.newRepresentation);
      showRendered(playingLevel);
    });
    player.on(events.ERROR, (e) => {
      const err = e.error || {};
      fail('dash.js', err.code, 'error', err.message);
    });
    player.on(events.PLAYBACK_ERROR, (e) => {
      const err = e.error || {};
      fail('dash.js', 'playback', err.code, err.message);
    });
    // From 0: a package still growing has a dynamic MPD, which dash.js would start at its live edge.
    player.initialize(video, url, false, 0);
  }

  async function playable() {
    // Wait for the transcode when the page is opened early.
    for (;;) {
      const response = await fetch(`/videos/${encodeURIComponent(id)}`, {cache: 'no-store'});
      if (!response.ok) {
        let text = `HTTP ${response.status}`;
        try {
          const body = await response.json();
          if (body && body.error) text = `${body.error.code}: ${body.error.message}`;
        } catch (_) { /* not JSON */ }
        throw new Error(text);
      }
      const v = await response.json();
      document.getElementById('title').textContent = v.filename;
      document.title = `${v.filename} · Lecture player`;
      if (v.playable) return v;
      if (v.state === 'failed' || v.state === 'dead') {
        throw new Error(`the transcode ${v.state}${v.error ? `: ${v.error.message}` : ''}`);
      }
      status.textContent = `Not playable yet: ${v.state} (${Math.round(v.progress * 100)}%)`;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async function main() {
    if (!id) throw new Error('no video id in the address (?id=...)');
    status.textContent = 'Loading…';
    const v = await playable();
    status.textContent = `Loading the ${format.toUpperCase()} player…`;
    // The portal's URLs are relative to it; the players resolve segments against an absolute one.
    const absolute = (u) => new URL(u, location.href).href;
    if (format === 'dash') {
      await loadScript('/vendor/dash.js');
      startDash(absolute(v.dash_url));
    } else {
      await loadScript('/vendor/hls.js');
      startHls(absolute(v.hls_url));
    }
  }

  main().catch((e) => fail('page', 'load', '', e.message));
})();
