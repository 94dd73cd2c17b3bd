// The player page in one format: plays past 3 s, renders every rung of the manifest, seeks near the
// end and reaches `ended`, with no player error, no script error and no failed request.
'use strict';

const fs = require('fs');
const path = require('path');

const SAMPLE_SECONDS = 12;  // browser_test.js generates the lecture with --duration 12
// hls.js reports stalls it recovers from itself as non-fatal errors; a loaded machine causes them.
const TOLERATED_WARNINGS = new Set(['bufferStalledError', 'bufferNudgeOnStall', 'bufferSeekOverHole']);

async function waitFor(page, what, fn, arg, timeoutMs) {
  try {
    await page.waitForFunction(fn, arg, {timeout: timeoutMs, polling: 100});
  } catch (e) {
    const state = await page.evaluate(() => {
      const v = document.getElementById('video');
      const p = window.portalPlayer || {};
      return {
        time: v.currentTime, duration: v.duration, paused: v.paused, ended: v.ended, height: v.videoHeight,
        level: p.currentLevel ? p.currentLevel() : null, rendered: p.rendered, errors: p.errors, warnings: p.warnings,
      };
    }).catch(() => ({}));
    throw new Error(`${what}: not within ${timeoutMs / 1000} s (player: ${JSON.stringify(state)})`);
  }
}

async function checkPlayer(ctx, video, format) {
  const {support} = ctx;
  // The rungs, counted from the manifest the portal serves, independently of the player.
  const manifestUrl = `${ctx.base}${format === 'dash' ? video.dash_url : video.hls_url}`;
  const manifest = await support.get(manifestUrl);
  if (manifest.status !== 200) throw new Error(`GET ${manifestUrl}: HTTP ${manifest.status}`);
  const text = manifest.body.toString();
  const heights = format === 'dash' ? support.dashHeights(text) : support.hlsHeights(text);
  if (heights.length < 2) {
    throw new Error(`the manifest lists ${heights.length} video rungs; a ladder needs two or more`);
  }

  return support.withPage(ctx, format, async (page, problems) => {
    const url = `${ctx.base}${video.player_url}${format === 'dash' ? '&format=dash' : ''}`;
    await page.goto(url, {waitUntil: 'load'});
    const loaded = () => window.portalPlayer && (window.portalPlayer.ready || window.portalPlayer.errors.length > 0);
    await waitFor(page, 'the player loads the manifest', loaded, null, 30000);
    const hook = await page.evaluate(() => ({format: portalPlayer.format, levels: portalPlayer.levels(),
                                             errors: portalPlayer.errors}));
    if (hook.errors.length) throw new Error(`player errors: ${JSON.stringify(hook.errors)}`);
    if (hook.format !== format) throw new Error(`the page plays ${hook.format}, not ${format}`);
    const playerHeights = hook.levels.map((l) => l.height).sort((a, b) => a - b);
    if (!support.sameList(playerHeights, heights)) {
      throw new Error(`the player offers heights ${playerHeights}, the manifest lists ${heights}`);
    }

    await page.evaluate(() => document.getElementById('video').play());
    await waitFor(page, 'playback passes 3 s', () => document.getElementById('video').currentTime > 3, null, 30000);
    const duration = await page.evaluate(() => document.getElementById('video').duration);
    if (!(Math.abs(duration - SAMPLE_SECONDS) < 0.5)) {
      throw new Error(`the player reports a duration of ${duration} s for a ${SAMPLE_SECONDS} s lecture`);
    }
    await page.screenshot({path: path.join(ctx.out, `${format}-player.png`), fullPage: true});

    // Every rung: the player says it renders it, the decoder outputs its height, and time moves on.
    const played = [];
    for (const level of hook.levels) {
      await page.evaluate((i) => {
        const v = document.getElementById('video');
        if (v.currentTime > v.duration - 4) v.currentTime = 1;  // leave room to play this rung
        portalPlayer.setLevel(i);
        if (v.paused) v.play();  // a slow switch may have let the lecture end
      }, level.index);
      const onRung = ({index, height}) => portalPlayer.currentLevel() === index &&
                                          document.getElementById('video').videoHeight === height;
      await waitFor(page, `rung ${level.index} (${level.height}p) renders`, onRung, level, 30000);
      const t0 = await page.evaluate(() => document.getElementById('video').currentTime);
      await waitFor(page, `rung ${level.index} (${level.height}p) plays on`,
                    ({index, height, t0}) => portalPlayer.currentLevel() === index &&
                                             document.getElementById('video').videoHeight === height &&
                                             document.getElementById('video').currentTime >= t0 + 0.5,
                    {...level, t0}, 15000);
      played.push(level.height);
    }

    await page.evaluate(() => {
      const v = document.getElementById('video');
      v.currentTime = v.duration - 1.5;
    });
    await waitFor(page, 'playback reaches the end', () => document.getElementById('video').ended, null, 30000);

    const end = await page.evaluate(() => ({errors: portalPlayer.errors, warnings: portalPlayer.warnings,
                                            box: !document.getElementById('player-error').hidden}));
    if (end.errors.length || end.box) throw new Error(`player errors: ${JSON.stringify(end.errors)}`);
    const unexpected = end.warnings.filter((w) => !TOLERATED_WARNINGS.has(w.details));
    if (unexpected.length) throw new Error(`player warnings: ${JSON.stringify(unexpected)}`);
    if (problems.length) throw new Error(`the page had problems: ${problems.join('; ')}`);
    return `played past 3 s, rendered ${played.map((h) => `${h}p`).join(', ')}, ended at ${duration.toFixed(2)} s` +
           (end.warnings.length ? ` (${end.warnings.length} recovered stalls)` : '');
  });
}

// The page shows a player's fatal error: with the package's manifests gone from the portal's storage
// (renamed; found under DATA by name and the video's id), each format must end in an error on the page
// and in portalPlayer.errors. This is what gives `no player error` above its meaning.
function hideManifests(dataDir, id) {
  const hidden = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(file);
      } else if (['master.m3u8', 'manifest.mpd'].includes(entry.name) && file.includes(id)) {
        fs.renameSync(file, `${file}.hidden`);
        hidden.push(file);
      }
    }
  };
  walk(dataDir);
  return hidden;
}

async function checkPlayerErrors(ctx, video, dataDir) {
  const {support} = ctx;
  const hidden = hideManifests(dataDir, video.id);
  if (hidden.length !== 2) throw new Error(`found ${hidden.length} manifests of ${video.id} under ${dataDir}`);
  const notes = [];
  for (const format of ['hls', 'dash']) {
    await support.withPage(ctx, `${format}-error`, async (page) => {
      const url = `${ctx.base}${video.player_url}${format === 'dash' ? '&format=dash' : ''}`;
      await page.goto(url, {waitUntil: 'load'});
      await waitFor(page, 'the player reports the missing manifest', () => window.portalPlayer.errors.length > 0,
                    null, 30000);
      const shown = await page.$eval('#player-error', (box) => ({hidden: box.hidden, text: box.textContent}));
      const errors = await page.evaluate(() => portalPlayer.errors);
      const library = format === 'dash' ? 'dash.js' : 'hls.js';
      if (!errors.some((e) => e.source === library)) {
        throw new Error(`the errors are not ${library}'s: ${JSON.stringify(errors)}`);
      }
      if (shown.hidden || !shown.text.includes(library)) {
        throw new Error(`the page does not show the error: ${JSON.stringify(shown)}`);
      }
      notes.push(`${format}: "${shown.text.trim().split('\n')[0].slice(0, 100)}"`);
    });
  }
  for (const file of hidden) fs.renameSync(`${file}.hidden`, file);
  return `the page showed ${notes.join(', ')}`;
}

module.exports = {checkPlayer, checkPlayerErrors};
