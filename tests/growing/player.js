// The growing-package test's player page: ?format=hls&src=URL plays an HLS master playlist with hls.js,
// ?format=dash&src=URL a DASH manifest with dash.js. The page itself does not start playback; the test
// calls window.growingPlayer.play().
//
// window.growingPlayer, read by the test:
//   format      'hls' | 'dash'
//   ready       true once the player has parsed the manifest
//   errors      fatal player errors, media element errors and script errors {source, type, details, message}
//   warnings    non-fatal player errors the library recovered from
//   events      [{name, t, time}]: media element events and player events, t = ms since the page loaded
//   firstTime   the media time of the first `playing` event (where playback started); null before
//   libraryEnded  dash.js fired its playbackEnded event (it may end playback without the element's `ended`)
//   manifestLoads  how many times the player (re)loaded a playlist or the MPD
//   live()      whether the player treats the presentation as live (EVENT without ENDLIST / dynamic MPD)
//   state()     {time, duration, paused, ended, readyState, buffered, seekable} of the video element
//   play(), seek(t)   (neither waits)
//
// DASH starts from 0: a dynamic MPD starts at its live edge unless the application gives a start time.
// dash.js 5's MediaPlayer.initialize(view, url, autoPlay, startTime) takes one, "relative to
// MPD@availabilityStartTime" for a dynamic MPD; the player then starts at min(live edge - live delay,
// startTime), kept inside the time-shift window (all of the presentation when the MPD has no
// timeShiftBufferDepth). ?start=edge leaves it out: dash.js picks its own start, which the MPD must
// make 0 (the late page checks that).
// HLS needs nothing here: the package's media playlists say #EXT-X-START:TIME-OFFSET=0, which hls.js
// follows when its startPosition is left at -1.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const format = params.get('format') === 'dash' ? 'dash' : 'hls';
  const src = new URL(params.get('src') || '', location.href).href;
  const video = document.getElementById('video');
  const errorBox = document.getElementById('player-error');
  const stateLine = document.getElementById('player-state');
  const t0 = performance.now();

  const ranges = (r) => Array.from({length: r.length}, (_, i) => [r.start(i), r.end(i)]);
  const hook = {
    format,
    ready: false,
    errors: [],
    warnings: [],
    events: [],
    firstTime: null,
    libraryEnded: false,
    manifestLoads: 0,
    live: () => null,
    state: () => ({time: video.currentTime, duration: video.duration, paused: video.paused, ended: video.ended,
                   readyState: video.readyState, buffered: ranges(video.buffered), seekable: ranges(video.seekable)}),
    // Not the promise: it stays pending until there is media to play, which may be a while.
    play: () => { video.play().catch((e) => note(`play() ${e.name}`)); },
    seek: (t) => { video.currentTime = t; },
  };
  window.growingPlayer = hook;

  const note = (name) => hook.events.push({name, t: Math.round(performance.now() - t0), time: video.currentTime});
  function fail(source, type, details, message) {
    const entry = {source, type: String(type), details: String(details), message: String(message || '')};
    hook.errors.push(entry);
    note(`error ${source} ${entry.type} ${entry.details}`);
    errorBox.textContent += `Playback error (${source}): ${entry.type} ${entry.details} ${entry.message}\n`;
    errorBox.hidden = false;
  }
  function warn(source, type, details, message) {
    hook.warnings.push({source, type: String(type), details: String(details), message: String(message || '')});
    note(`warning ${source} ${details}`);
  }
  window.addEventListener('error', (e) => fail('page', 'script', '', e.message));

  for (const name of ['loadedmetadata', 'playing', 'waiting', 'seeking', 'seeked', 'pause', 'ended',
                      'durationchange']) {
    video.addEventListener(name, () => {
      note(name);
      if (name === 'playing' && hook.firstTime === null) hook.firstTime = video.currentTime;
    });
  }
  video.addEventListener('error', () => {
    const e = video.error;
    fail('video', 'MediaError', e ? e.code : '?', e ? e.message : '');
  });
  setInterval(() => {
    const s = hook.state();
    stateLine.textContent = `${format} ${s.time.toFixed(1)} / ${s.duration} s, live ${hook.live()}, ` +
                            `${hook.manifestLoads} manifest loads${s.ended ? ', ended' : ''}`;
  }, 250);

  function startHls() {
    if (!window.Hls || !Hls.isSupported()) return fail('hls.js', 'unsupported', 'MSE', 'hls.js cannot play here');
    const hls = new Hls({enableWorker: true, capLevelToPlayerSize: true});
    hook.live = () => {
      const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0];
      return level && level.details ? level.details.live : null;
    };
    hls.on(Hls.Events.MANIFEST_PARSED, () => { hook.ready = true; });
    hls.on(Hls.Events.LEVEL_LOADED, () => { hook.manifestLoads += 1; });
    hls.on(Hls.Events.AUDIO_TRACK_LOADED, () => { hook.manifestLoads += 1; });
    hls.on(Hls.Events.ERROR, (_, data) => {
      const message = data.error ? data.error.message : data.reason;
      if (data.fatal) {
        fail('hls.js', data.type, data.details, message);
        hls.destroy();
      } else {
        warn('hls.js', data.type, data.details, message);
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  }

  function startDash() {
    if (!window.dashjs) return fail('dash.js', 'unsupported', 'load', 'dash.js did not load');
    const player = dashjs.MediaPlayer().create();
    // A dynamic MPD without a UTCTiming element sends dash.js to its default clock, time.akamai.com;
    // this page asks its own server's Date header instead (an MPD's UTCTiming still comes first).
    const clock = {scheme: 'urn:mpeg:dash:utc:http-head:2014', value: new URL('player.html', location.href).href};
    player.updateSettings({streaming: {abr: {limitBitrateByPortal: true},
                                       utcSynchronization: {defaultTimingSource: clock}}});
    const events = dashjs.MediaPlayer.events;
    hook.live = () => player.isDynamic();
    player.on(events.STREAM_INITIALIZED, () => { hook.ready = true; });
    player.on(events.MANIFEST_LOADED, () => { hook.manifestLoads += 1; });
    player.on(events.DYNAMIC_TO_STATIC, () => note('dash.js dynamicToStatic'));
    player.on(events.PLAYBACK_ENDED, () => {
      note('dash.js playbackEnded');
      hook.libraryEnded = true;
    });
    player.on(events.CONFORMANCE_VIOLATION, (e) => note(`dash.js conformance ${e.event && e.event.key}`));
    player.on(events.ERROR, (e) => {
      const err = e.error || {};
      fail('dash.js', err.code, 'error', err.message);
    });
    player.on(events.PLAYBACK_ERROR, (e) => {
      const err = e.error || {};
      fail('dash.js', 'playback', err.code, err.message);
    });
    if (params.get('start') === 'edge') {
      player.initialize(video, src, false);
    } else {
      player.initialize(video, src, false, 0);
    }
  }

  const script = document.createElement('script');
  script.src = format === 'dash' ? 'vendor/dash.js' : 'vendor/hls.js';
  script.onload = format === 'dash' ? startDash : startHls;
  script.onerror = () => fail('page', 'load', '', `could not load ${script.src}`);
  document.head.append(script);
})();
