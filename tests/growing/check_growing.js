// The growing package in the browser, one format at a time: checkGrowing (the page opens while the
// package is being encoded, starts at 0, plays past everything the package listed when playback began,
// and once the package is finished seeks near the end and reaches `ended`; no player error, no script
// error, no failed request), checkLateStart (a page opened later starts at 0 too) and the negative
// control (breakSnapshot, checkBrokenSnapshot).
'use strict';

const fs = require('fs');
const path = require('path');
const growing = require('./growing_support');

// hls.js reports stalls it gets out of by itself as non-fatal errors; an encode slower than real time
// makes the player wait at the end of what is listed, which is not an error.
const TOLERATED_WARNINGS = new Set(['bufferStalledError', 'bufferNudgeOnStall', 'bufferSeekOverHole']);
const NEAR_ZERO_S = 1.0;  // where playback may start: the first frame of the first segment, not the live edge

function playerState(page) {
  return page.evaluate(() => {
    const p = window.growingPlayer;
    return p ? {...p.state(), live: p.live(), firstTime: p.firstTime, manifestLoads: p.manifestLoads,
                errors: p.errors, warnings: p.warnings, events: p.events.slice(-12)}
             : {};
  }).catch((e) => ({unreadable: e.message}));
}

async function waitFor(page, what, fn, arg, timeoutMs) {
  try {
    await page.waitForFunction(fn, arg, {timeout: timeoutMs, polling: 100});
  } catch (e) {
    throw new Error(`${what}: not within ${timeoutMs / 1000} s (player: ${JSON.stringify(await playerState(page))})`);
  }
}

// What fails a check: fatal player errors, player warnings other than recovered stalls, and the page's
// problems (script errors, errors on the console, failed requests, answers of 400 or more).
function faults(state, problems) {
  const found = [];
  if (state.errors.length) found.push(`player errors: ${JSON.stringify(state.errors)}`);
  const unexpected = state.warnings.filter((w) => !TOLERATED_WARNINGS.has(w.details));
  if (unexpected.length) found.push(`player warnings: ${JSON.stringify(unexpected)}`);
  if (problems.length) found.push(`the page had problems: ${problems.join('; ')}`);
  return found;
}

// Fails at once on a fatal player error while a wait goes on.
const noErrors = 'window.growingPlayer.errors.length > 0';
// The player has parsed the manifest (or failed).
const ready = `window.growingPlayer && (window.growingPlayer.ready || ${noErrors})`;

// Opens the test page on the package the server has at ctx.prefix; `playerDefault` leaves dash.js to
// pick its own start (no start time given), as a player that knows nothing of spool would.
async function openPlayer(ctx, page, format, playerDefault = false) {
  const manifest = format === 'dash' ? 'manifest.mpd' : 'master.m3u8';
  const url = `${ctx.base}/player.html?format=${format}&src=${encodeURIComponent(`${ctx.prefix}${manifest}`)}` +
              (playerDefault ? '&start=edge' : '');
  await page.goto(url, {waitUntil: 'load'});
}

// ctx: {base, out, context, support, dir (the package directory), prefix (its URL path on the server),
//       log (the server's request log), transcode, sampleSeconds, waitS}
async function checkGrowing(ctx, format) {
  const {support, dir} = ctx;
  const resultJson = path.join(dir, 'result.json');
  return support.withPage(ctx, `growing-${format}`, async (page, problems) => {
    await openPlayer(ctx, page, format);
    if (fs.existsSync(resultJson)) throw new Error('result.json exists when the page opens: the encode had finished');
    await waitFor(page, 'the player loads the manifest', ready, null, 30000);

    await page.evaluate(() => window.growingPlayer.play());
    const started = `window.growingPlayer.firstTime !== null || ${noErrors}`;
    await waitFor(page, 'playback starts', started, null, 60000);
    // Read after the player's first load of every list: the package cannot have listed less then.
    const listedAtStart = growing.listedSeconds(dir, format, ctx.wholeS);
    const finishedAtStart = fs.existsSync(resultJson);
    const start = await playerState(page);
    if (start.errors.length) throw new Error(`player errors: ${JSON.stringify(start.errors)}`);
    if (finishedAtStart) {
      throw new Error('result.json exists when playback starts: the encode finished first, so nothing grew under ' +
                      'the player (a longer sample, or a slower encode, is needed on this machine)');
    }
    if (!(start.firstTime < NEAR_ZERO_S)) {
      throw new Error(`playback started at ${start.firstTime} s, not at 0 (the package listed ${listedAtStart} s)`);
    }
    if (start.live !== true) throw new Error(`the player does not treat the growing package as live: ${start.live}`);
    await page.screenshot({path: path.join(ctx.out, `growing-${format}-start.png`)});

    // Past everything listed at the start: the player took in segments published after it began.
    const past = listedAtStart + 1;
    await waitFor(page, `playback passes ${past.toFixed(1)} s (listed at the start: ${listedAtStart.toFixed(1)} s)`,
                  `window.growingPlayer.state().time > ${past} || ${noErrors}`, null, ctx.waitS * 1000);

    await growing.waitForFiles([resultJson], ctx.waitS * 1000, () => {
      const e = ctx.transcode.exited();
      return e && e.code !== 0 ? `spool transcode failed (code ${e.code}, signal ${e.signal})` : null;
    });
    const atFinish = await playerState(page);
    if (atFinish.errors.length) throw new Error(`player errors: ${JSON.stringify(atFinish.errors)}`);
    // The player sees the finished package: an ENDLIST in every playlist, or the static MPD.
    const finished = `(window.growingPlayer.live() === false &&
                       Number.isFinite(window.growingPlayer.state().duration)) || ${noErrors}`;
    await waitFor(page, 'the player takes in the finished package', finished, null, 60000);
    const duration = await page.evaluate(() => window.growingPlayer.state().duration);
    if (!(Math.abs(duration - ctx.sampleSeconds) < 0.5)) {
      throw new Error(`the player reports a duration of ${duration} s for a ${ctx.sampleSeconds} s sample`);
    }
    await page.evaluate((d) => {
      window.growingPlayer.seek(d - 2);
      window.growingPlayer.play();
    }, duration);
    // dash.js ends playback by itself once the playhead passes the MPD's duration, pausing the element
    // short of its end, so the element's `ended` may never come: dash.js's playbackEnded counts, and the
    // note says which one it was.
    const ended = `window.growingPlayer.state().ended || window.growingPlayer.libraryEnded || ${noErrors}`;
    await waitFor(page, 'playback reaches the end', ended, null, 60000);
    await page.screenshot({path: path.join(ctx.out, `growing-${format}-ended.png`)});
    const how = await page.evaluate(() => ({element: window.growingPlayer.state().ended,
                                            time: window.growingPlayer.state().time}));
    if (!how.element && !(how.time > duration - 1)) {
      throw new Error(`dash.js ended playback at ${how.time} s of ${duration} s`);
    }

    const end = await playerState(page);
    const found = faults(end, problems);
    if (found.length) throw new Error(found.join('; '));
    const waits = await page.evaluate(() => window.growingPlayer.events.filter((e) => e.name === 'waiting').length);
    const lists = ctx.log.filter((r) => r.path.startsWith(ctx.prefix) && /\.(m3u8|mpd)$/.test(r.path)).length;
    return `started at ${start.firstTime.toFixed(2)} s with ${listedAtStart.toFixed(1)} s listed, played to ` +
           `${atFinish.time.toFixed(1)} s while encoding, ` +
           (how.element ? `ended at ${duration.toFixed(2)} s; `
                        : `ended by dash.js's playbackEnded at ${how.time.toFixed(2)} s of ${duration.toFixed(2)} s, ` +
                          'without the element\'s `ended`; ') +
           `${lists} playlist/MPD requests, ${waits} waits, ${end.warnings.length} recovered stalls`;
  });
}

// A viewer who comes in later: the page opens once the package lists LATE_LISTED_S or more (a live
// start would be well past 0 then: hls.js starts three target durations before the end of an EVENT
// playlist, dash.js at the clock's live edge), while it is still being encoded, and starts at 0 too.
const LATE_LISTED_S = 24;

async function checkLateStart(ctx, format) {
  const {support, dir} = ctx;
  const resultJson = path.join(dir, 'result.json');
  const until = Date.now() + ctx.waitS * 1000;
  while (growing.listedSeconds(dir, format, ctx.wholeS) < LATE_LISTED_S) {
    if (fs.existsSync(resultJson)) throw new Error(`the package finished before it listed ${LATE_LISTED_S} s`);
    if (Date.now() > until) throw new Error(`the package did not list ${LATE_LISTED_S} s within ${ctx.waitS} s`);
    await support.sleep(200);
  }
  return support.withPage(ctx, `late-${format}`, async (page, problems) => {
    // The late viewer's dash.js is left to its defaults: the MPD alone must start it at 0.
    await openPlayer(ctx, page, format, true);
    await waitFor(page, 'the player loads the manifest', ready, null, 30000);
    await page.evaluate(() => window.growingPlayer.play());
    await waitFor(page, 'playback starts', `window.growingPlayer.firstTime !== null || ${noErrors}`, null, 60000);
    const listed = growing.listedSeconds(dir, format, ctx.wholeS);
    const finished = fs.existsSync(resultJson);
    const start = await playerState(page);
    if (start.errors.length) throw new Error(`player errors: ${JSON.stringify(start.errors)}`);
    if (finished) throw new Error('result.json exists when playback starts: the encode finished first');
    if (!(start.firstTime < NEAR_ZERO_S)) {
      throw new Error(`playback started at ${start.firstTime} s, not at 0 (the package listed ${listed} s)`);
    }
    const found = faults(start, problems);
    if (found.length) throw new Error(found.join('; '));
    return `started at ${start.firstTime.toFixed(2)} s with ${listed.toFixed(1)} s listed`;
  });
}

// The negative control: a copy of the package taken while it grows (lists first, so every segment they
// name is copied too), frozen there, with the second segment of every rendition removed: a growing
// package that names a segment it does not hold. Checked by the same faults() as above, it must fail,
// and by the player's own report, not only by the page's: dash.js reports an error, hls.js a load
// error it does not recover from by itself (it skips the hole: not fatal, but not a tolerated stall).
function breakSnapshot(dir, brokenDir) {
  growing.snapshot(dir, brokenDir);
  const lists = growing.hlsOnDisk(brokenDir) || {};
  const mpd = growing.dashOnDisk(brokenDir);
  const stillGrowing = Object.values(lists).every((l) => l && !l.ended && l.segments.length >= 3) && mpd &&
                       mpd.type === 'dynamic';
  if (!stillGrowing) throw new Error('the snapshot is not of a growing package with three segments or more');
  const removed = [];
  for (const [uri, list] of Object.entries(lists)) {
    const file = path.join(brokenDir, path.dirname(uri), list.segments[1]);
    fs.rmSync(file);
    removed.push(path.relative(brokenDir, file));
  }
  return removed;
}

async function checkBrokenSnapshot(ctx, format) {
  return ctx.support.withPage(ctx, `broken-${format}`, async (page, problems) => {
    await openPlayer(ctx, page, format);
    await page.evaluate(() => window.growingPlayer.play());
    const reported = ({tolerated}) => window.growingPlayer.errors.length > 0 ||
                                      window.growingPlayer.warnings.some((w) => !tolerated.includes(w.details));
    await waitFor(page, 'the player reports the missing segment', reported, {tolerated: [...TOLERATED_WARNINGS]},
                  60000);
    const found = faults(await playerState(page), problems);
    if (!problems.some((p) => p.startsWith('HTTP 404'))) {
      throw new Error(`no 404 among the page's problems: ${problems.join('; ')}`);
    }
    return `flagged: ${found.join('; ')}`.slice(0, 240);
  });
}

module.exports = {checkGrowing, checkLateStart, breakSnapshot, checkBrokenSnapshot};
