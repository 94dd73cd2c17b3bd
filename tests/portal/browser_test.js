// The lecture portal in a real browser: Debian's Chromium driven by playwright-core.
//   upload  the page's form uploads a generated 1080p lecture; its row reaches `succeeded`
//   remux   the worker copied the lecture as the top rung (result.json), so the players switch between
//           the source's own video and encoded rungs
//   hls     /player?id=ID plays past 3 s, renders every rung, seeks near the end and ends
//   dash    the same with ?format=dash
//   player errors   with the manifests gone from storage, both players' fatal errors show on the page
//   upload refused  a second portal refuses the file (--max-upload-bytes): the page says why
// One upload serves the first three. Each check prints `ok - NAME: ...` or `not ok - NAME: ...`; the exit
// status is non-zero when any check failed. Screenshots (one of each page, and one on each failure),
// the portal's log and the pages' console go to --out.
//
// node browser_test.js --portal BIN --make-sample BIN --web DIR --vendor NODE_MODULES --out DIR
//                      [--chromium /usr/bin/chromium] [--timeout SECONDS]
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const support = require('./portal_support');
const {checkUpload, checkRefusedUpload} = require('./check_upload');
const {checkPlayer, checkPlayerErrors} = require('./check_player');

// Root in CI needs --no-sandbox; containers have a small /dev/shm; the lecture plays without a click.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage',
                       '--autoplay-policy=no-user-gesture-required'];

// What the watchdog saves before it ends a run that hangs.
const running = {context: null, out: null, tmp: null};

async function main() {
  const args = support.parseArgs(process.argv.slice(2), ['portal', 'make-sample', 'web', 'vendor', 'out']);
  const chromiumPath = args.chromium || '/usr/bin/chromium';
  const out = path.resolve(args.out);
  fs.rmSync(out, {recursive: true, force: true});
  fs.mkdirSync(out, {recursive: true});
  running.out = out;

  support.requireFile(chromiumPath, 'Chromium', 'scripts/install-deps.sh installs Debian\'s chromium');
  support.requireFile(path.join(args.vendor, 'playwright-core', 'package.json'), 'playwright-core',
                      'run `make web-tools` (scripts/install-web-tools.sh)');
  support.requireFile(path.join(args.vendor, 'hls.js', 'dist', 'hls.min.js'), 'hls.js', 'run `make web-tools`');
  support.requireFile(path.join(args.vendor, 'dashjs', 'package.json'), 'dashjs', 'run `make web-tools`');
  support.requireFile(args.portal, 'lecture-portal');
  support.requireFile(args['make-sample'], 'spool-make-sample');
  const {chromium} = require(path.resolve(args.vendor, 'playwright-core'));

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-portal-test-'));
  running.tmp = tmp;
  const portals = [];
  let browser = null;
  const results = [];
  const report = (name, ok, detail) => {
    results.push(ok);
    console.log(`${ok ? 'ok' : 'not ok'} - ${name}: ${detail}`);
  };
  // A portal of its own for each scenario, each with its data directory and its log in the artefacts.
  const startPortal = async (name, extra) => {
    const data = path.join(tmp, name);
    fs.mkdirSync(data);
    const portal = support.startPortal(args.portal,
                                       ['--listen', '127.0.0.1:0', '--data', data, '--web', path.resolve(args.web),
                                        '--vendor', path.resolve(args.vendor), ...extra],
                                       path.join(out, `${name}.log`), 30000);
    portals.push({name, portal});
    const base = await portal.ready;
    console.log(`# ${name}: pid ${portal.pid} at ${base}`);
    return base;
  };

  try {
    const sample = path.join(tmp, 'lecture.mp4');
    const sampleSize = support.makeSample(args['make-sample'], sample, 12);
    const base = await startPortal('portal', []);
    // Refuses every upload, and has no worker: nothing to transcode.
    const refusing = await startPortal('portal-refusing', ['--max-upload-bytes', '1024', '--workers', '0']);

    browser = await chromium.launch({executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 60000});
    const context = await browser.newContext({viewport: {width: 1280, height: 800}});
    running.context = context;
    const ctx = {base, out, context, support};

    let video = null;
    try {
      video = await checkUpload(ctx, sample, sampleSize);
      report('upload', true, `${video.filename} (${sampleSize} bytes) reached succeeded; ${video.note}`);
    } catch (e) {
      report('upload', false, e.message);
    }
    if (video) {
      // The worker copies a fit source as the top rung: the players below switch between that copy and
      // the encoded rungs, which only proves something when the copy was made.
      try {
        const url = `${base}${video.hls_url.replace(/master\.m3u8$/, 'result.json')}`;
        const remux = (await support.getJson(url)).remux || {};
        if (!remux.used) throw new Error(`the top rung was not copied from the source: ${remux.note}`);
        report('remux', true, `${remux.rung} is the source's own video (${remux.note})`);
      } catch (e) {
        report('remux', false, e.message);
      }
    }
    for (const format of ['hls', 'dash']) {
      if (!video) {
        report(format, false, 'not run: the upload did not succeed');
        continue;
      }
      try {
        const note = await checkPlayer(ctx, video, format);
        report(format, true, note);
      } catch (e) {
        report(format, false, e.message);
      }
    }
    if (video) {
      try {
        report('player errors', true, await checkPlayerErrors(ctx, video, path.join(tmp, 'portal')));
      } catch (e) {
        report('player errors', false, e.message);
      }
    } else {
      report('player errors', false, 'not run: the upload did not succeed');
    }
    try {
      report('upload refused', true, await checkRefusedUpload({...ctx, base: refusing}, sample, sampleSize));
    } catch (e) {
      report('upload refused', false, e.message);
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const {name, portal} of portals) {
      const {code, signal} = await portal.stop();
      // SIGTERM drains and exits 0; anything else is a finding too.
      if (code !== 0) report(`${name} exit`, false, `it ended with code ${code}, signal ${signal}`);
    }
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  const failed = results.filter((ok) => !ok).length;
  console.log(`# ${results.length - failed} passed, ${failed} failed; artefacts in ${out}`);
  return failed === 0 ? 0 : 1;
}

support.runWithWatchdog(main, running, 420);
