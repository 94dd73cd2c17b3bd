// What the growing-package test reads and runs outside the browser: the `spool transcode` process and
// the package as it is on disk at a given moment (how much of it the playlists and the MPD list).
'use strict';

const {spawn} = require('child_process');
const fs = require('fs');
const path = require('path');
const support = require('../portal/portal_support');

// Starts `spool transcode ARGS`; its stderr goes to logFile, each `playable Ns` line it prints is kept
// with the time it came. stop() ends that pid (SIGTERM, then SIGKILL).
function startTranscode(bin, args, logFile) {
  const log = fs.createWriteStream(logFile);
  const child = spawn(bin, ['transcode', ...args], {stdio: ['ignore', 'pipe', 'pipe']});
  const playable = [];
  const supervised = support.supervise(child);
  let pending = '';
  child.stderr.on('data', (chunk) => {
    log.write(chunk);
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const m = /^playable (\d+(?:\.\d+)?)s\s*$/.exec(line);
      if (m) playable.push({t: Date.now(), seconds: Number(m[1])});
    }
  });
  child.stdout.pipe(log, {end: false});
  return {...supervised, playable};
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (_) {
    return null;
  }
}

// The media playlists the master playlist names (variants and EXT-X-MEDIA URIs), relative to the master.
function hlsMediaPlaylists(master) {
  const lists = new Set();
  const lines = master.split(/\r?\n/);
  lines.forEach((line, i) => {
    const uri = /^#EXT-X-MEDIA:.*\bURI="([^"]+)"/.exec(line);
    if (uri) lists.add(uri[1]);
    if (line.startsWith('#EXT-X-STREAM-INF:') && lines[i + 1] && !lines[i + 1].startsWith('#')) {
      lists.add(lines[i + 1].trim());
    }
  });
  return [...lists];
}

// One media playlist as written: the segments' summed EXTINF durations and URIs, and whether it ended.
function hlsMediaPlaylist(text) {
  let duration = 0;
  const segments = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const m = /^#EXTINF:([\d.]+)/.exec(line);
    if (m) {
      duration += Number(m[1]);
      segments.push(lines[i + 1].trim());
    }
  });
  return {duration, segments, ended: lines.some((l) => l.trim() === '#EXT-X-ENDLIST'),
          type: (/^#EXT-X-PLAYLIST-TYPE:(\w+)/m.exec(text) || [])[1] || null,
          start: (/^#EXT-X-START:TIME-OFFSET=([-\d.]+)/m.exec(text) || [])[1] || null};
}

// The HLS package under dir now: per media playlist its duration. Null while there is no master.
function hlsOnDisk(dir) {
  const master = readText(path.join(dir, 'master.m3u8'));
  if (master === null) return null;
  const lists = {};
  for (const uri of hlsMediaPlaylists(master)) {
    const text = readText(path.join(dir, uri));
    lists[uri] = text === null ? null : hlsMediaPlaylist(text);
  }
  return lists;
}

// The MPD under dir now: its type and, per SegmentTimeline, the time it covers (sum of S@d x (1 + S@r)
// over the timescale). Null while there is no MPD.
function dashOnDisk(dir) {
  const mpd = readText(path.join(dir, 'manifest.mpd'));
  if (mpd === null) return null;
  const type = (/<MPD\b[^>]*\btype="(\w+)"/.exec(mpd) || [])[1] || 'static';
  const timelines = [];
  for (const tmpl of mpd.matchAll(/<SegmentTemplate\b([^>]*)>([\s\S]*?)<\/SegmentTemplate>/g)) {
    const timescale = Number((/\btimescale="(\d+)"/.exec(tmpl[1]) || [])[1] || 1);
    let units = 0;
    for (const s of tmpl[2].matchAll(/<S\b([^>]*)\/>/g)) {
      const d = Number((/\bd="(\d+)"/.exec(s[1]) || [])[1] || 0);
      const r = Number((/\br="(-?\d+)"/.exec(s[1]) || [])[1] || 0);
      units += d * (1 + Math.max(r, 0));
    }
    timelines.push(units / timescale);
  }
  return {type, timelines, text: mpd};
}

// How much of the presentation the package on disk lists for `format`, as the longest list of any
// rung or of audio (a player that plays past it has taken in a later playlist or MPD). A list reaching
// `whole` seconds is already complete (a rung copied from the source lists all of it at once) and is
// left out: what counts is how far the lists that still grow reach.
function listedSeconds(dir, format, whole = Infinity) {
  let lists;
  if (format === 'dash') {
    const d = dashOnDisk(dir);
    lists = d ? d.timelines : [];
  } else {
    const h = hlsOnDisk(dir);
    lists = h ? Object.values(h).map((l) => (l ? l.duration : 0)) : [];
  }
  return Math.max(0, ...lists.filter((s) => s < whole));
}

// Copies the package under dir as it is now to dest: the playlists and the MPD first, then the rest, so
// every segment a copied list names is copied too (files appear by rename and lists name only
// segments already there). result.json is left out.
function snapshot(dir, dest) {
  const isList = (name) => /\.(m3u8|mpd)$/.test(name);
  const walk = (from, to, lists) => {
    fs.mkdirSync(to, {recursive: true});
    for (const entry of fs.readdirSync(from, {withFileTypes: true})) {
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory()) {
        walk(src, dst, lists);
      } else if (isList(entry.name) === lists && entry.name !== 'result.json' && !entry.name.startsWith('.')) {
        fs.copyFileSync(src, dst);
      }
    }
  };
  walk(dir, dest, true);
  walk(dir, dest, false);
}

async function waitForFiles(files, timeoutMs, failed) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (files.every((f) => fs.existsSync(f))) return;
    const why = failed();
    if (why) throw new Error(why);
    if (Date.now() > until) throw new Error(`${files.join(', ')} did not all appear within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

module.exports = {startTranscode, hlsOnDisk, hlsMediaPlaylist, dashOnDisk, listedSeconds, snapshot, waitForFiles};
