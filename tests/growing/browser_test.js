// A growing package in a real browser: Debian's Chromium driven by playwright-core.
//   hls    while `spool transcode --publish progressive` still encodes, hls.js starts at 0, plays past
//          what the playlists listed when it began, and once result.json is there plays to `ended`
//   dash   the same with dash.js on the dynamic MPD (turning static at the end), at the same time
//   late hls, late dash   a page opened once the package lists 24 s starts at 0 too, not at the live edge
//   remux  with --remux on: the top rung was the source's own video, copied while the rest encoded
//   broken (negative control) a copy of the package taken while it grew, without its second segments:
//          the checks above would fail on it, by the players' own reports, so they can fail
// Each check prints `ok - NAME: ...` or `not ok - NAME: ...`; the exit status is non-zero when any
// failed. Screenshots, the pages' console, the encode's log and the server's request log go to --out.
//
// node browser_test.js --spool BIN --make-sample BIN --vendor NODE_MODULES --out DIR
//                      [--chromium /usr/bin/chromium] [--duration SECONDS] [--timeout SECONDS] [--remux on]
'use strict';

const {execFileSync} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const support = require('../portal/portal_support');
const growing = require('./growing_support');
const {startServer} = require('./package_server');
const {checkGrowing, checkLateStart, breakSnapshot, checkBrokenSnapshot} = require('./check_growing');

// Root in CI needs --no-sandbox; containers have a small /dev/shm; the pages play without a click.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage',
                       '--autoplay-policy=no-user-gesture-required'];

// What the watchdog saves before it ends a run that hangs.
const running = {context: null, out: null, tmp: null};

async function main() {
  const args = support.parseArgs(process.argv.slice(2), ['spool', 'make-sample', 'vendor', 'out']);
  const chromiumPath = args.chromium || '/usr/bin/chromium';
  const sampleSeconds = Number(args.duration || 60);
  const remux = args.remux === 'on';
  // With the top rung copied, its list is whole from the start: how far the package "lists" is then
  // read from the rungs that are still encoded.
  const wholeS = remux ? sampleSeconds - 0.5 : Infinity;
  const out = path.resolve(args.out);
  fs.rmSync(out, {recursive: true, force: true});
  fs.mkdirSync(out, {recursive: true});
  running.out = out;

  const vendor = path.resolve(args.vendor);
  const hlsJs = path.join(vendor, 'hls.js', 'dist', 'hls.min.js');
  const dashJs = path.join(vendor, 'dashjs', 'dist', 'modern', 'umd', 'dash.all.min.js');
  support.requireFile(chromiumPath, 'Chromium', 'scripts/install-deps.sh installs Debian\'s chromium');
  support.requireFile(path.join(vendor, 'playwright-core', 'package.json'), 'playwright-core',
                      'run `make web-tools` (scripts/install-web-tools.sh)');
  support.requireFile(hlsJs, 'hls.js', 'run `make web-tools`');
  support.requireFile(dashJs, 'dash.js', 'run `make web-tools`');
  support.requireFile(args.spool, 'spool');
  support.requireFile(args['make-sample'], 'spool-make-sample');
  const {chromium} = require(path.join(vendor, 'playwright-core'));

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-growing-test-'));
  running.tmp = tmp;
  const pkg = path.join(tmp, 'package');
  const broken = path.join(tmp, 'broken');
  const results = [];
  const report = (name, ok, detail) => {
    results.push(ok);
    console.log(`${ok ? 'ok' : 'not ok'} - ${name}: ${detail}`);
  };
  const server = startServer({
    '/player.html': path.join(__dirname, 'player.html'),
    '/player.js': path.join(__dirname, 'player.js'),
    '/vendor/hls.js': hlsJs,
    '/vendor/dash.js': dashJs,
    // One prefix per page, so the request log tells the two players apart.
    '/hls/': pkg,
    '/dash/': pkg,
    '/late-hls/': pkg,
    '/late-dash/': pkg,
    '/broken/': broken,
  });
  let browser = null;
  let transcode = null;
  try {
    const sample = path.join(tmp, 'lecture.mp4');
    const t0 = Date.now();
    // ultrafast: a third of the time of the default preset; the sample is bigger, not harder to decode.
    // With --remux on, a lecture the top rung can copy: within its bit rate cap (ultrafast at the default
    // quality is about three times over it).
    const quality = remux ? ['--crf', '28'] : [];
    execFileSync(args['make-sample'], [sample, '--duration', String(sampleSeconds), '--preset', 'ultrafast', ...quality],
                 {stdio: ['ignore', 'ignore', 'inherit'], timeout: 120000});
    console.log(`# sample: ${sampleSeconds} s of 1080p with audio in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const base = await server.ready;
    browser = await chromium.launch({executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 60000});
    const context = await browser.newContext({viewport: {width: 800, height: 600}});
    running.context = context;

    // The encoders run at the tool's default nice 10, so the browser's decoders come first and the players
    // wait for segments rather than stall for want of a core. Not --idle: under load from outside the
    // test, SCHED_IDLE could starve the encode for minutes.
    const t1 = Date.now();
    transcode = growing.startTranscode(args.spool, [sample, pkg, '--publish', 'progressive', '--remux', remux ? 'on' : 'off'],
                                       path.join(out, 'transcode.log'));
    console.log(`# spool transcode: pid ${transcode.pid}`);
    const exitedBadly = () => {
      const e = transcode.exited();
      return e ? `spool transcode ended before the manifests appeared (code ${e.code}, signal ${e.signal}; ` +
                 `see ${path.join(out, 'transcode.log')})` : null;
    };
    await growing.waitForFiles([path.join(pkg, 'master.m3u8'), path.join(pkg, 'manifest.mpd')], 120000, exitedBadly);
    console.log(`# manifests after ${((Date.now() - t1) / 1000).toFixed(1)} s`);

    const ctx = {base, out, context, support, dir: pkg, log: server.log, transcode, sampleSeconds, wholeS,
                 waitS: 4 * sampleSeconds};
    const run = async (name, check, format) => {
      try {
        report(name, true, await check({...ctx, prefix: `/${name.replace(' ', '-')}/`}, format));
      } catch (e) {
        report(name, false, e.message);
      }
    };
    // The negative control's package: a copy taken while the package grows, once it lists 24 s.
    const snapshot = async () => {
      while (growing.listedSeconds(pkg, 'hls', wholeS) < 24 || growing.listedSeconds(pkg, 'dash', wholeS) < 24) {
        if (fs.existsSync(path.join(pkg, 'result.json')) || transcode.exited()) {
          throw new Error('the package finished before it listed 24 s');
        }
        await support.sleep(200);
      }
      return breakSnapshot(pkg, broken);
    };
    const [removed] = await Promise.all([
      snapshot().catch((e) => e), run('hls', checkGrowing, 'hls'), run('dash', checkGrowing, 'dash'),
      run('late hls', checkLateStart, 'hls'), run('late dash', checkLateStart, 'dash')]);
    const done = await transcode.exit;
    console.log(`# spool transcode: ${((Date.now() - t1) / 1000).toFixed(1)} s, ` +
                `${transcode.playable.length} playable lines, exit ${done.code}`);
    if (done.code !== 0) {
      report('transcode', false, `spool transcode ended with code ${done.code}, signal ${done.signal}`);
    } else if (remux) {
      // The players above only switched between a copied rung and encoded ones if the copy was made.
      const r = JSON.parse(fs.readFileSync(path.join(pkg, 'result.json'), 'utf8')).remux || {};
      report('remux', Boolean(r.used), r.used ? `${r.rung} is the source's own video` : `not copied: ${r.note}`);
    }

    if (removed instanceof Error) {
      report('broken', false, `no snapshot for the negative control: ${removed.message}`);
    } else {
      console.log(`# broken snapshot: removed ${removed.join(', ')}`);
      await Promise.all(['hls', 'dash'].map(async (format) => {
        try {
          report(`broken ${format}`, true, await checkBrokenSnapshot({...ctx, prefix: '/broken/'}, format));
        } catch (e) {
          report(`broken ${format}`, false, e.message);
        }
      }));
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (transcode) await transcode.stop();
    fs.writeFileSync(path.join(out, 'requests.log'),
                     server.log.map((r) => `${r.t} ${r.status} ${r.path}`).join('\n') + '\n');
    await server.stop();
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  const failed = results.filter((ok) => !ok).length;
  console.log(`# ${results.length - failed} passed, ${failed} failed; artefacts in ${out}`);
  return failed === 0 && results.length > 0 ? 0 : 1;
}

support.runWithWatchdog(main, running, 300);
