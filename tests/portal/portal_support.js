// What the portal's browser tests share: arguments, the portal process, plain HTTP reads and the
// manifests' rungs counted from the files themselves.
'use strict';

const {spawn, execFileSync} = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');

function parseArgs(argv, required) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of required) {
    if (!args[name]) throw new Error(`missing --${name}`);
  }
  return args;
}

// A missing prerequisite is a failure with a reason, never a skipped test.
function requireFile(file, what, hint) {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (_) {
    throw new Error(`${what} not found at ${file}${hint ? ` (${hint})` : ''}`);
  }
}

function makeSample(makeSampleBin, out, seconds) {
  execFileSync(makeSampleBin, [out, '--duration', String(seconds)], {stdio: ['ignore', 'ignore', 'inherit'],
                                                                     timeout: 120000});
  return fs.statSync(out).size;
}

// A child process the test started: `exit` resolves with {code, signal} (or {error} when it could not
// start), stop() ends that pid (SIGTERM, then SIGKILL after 10 s), and it is killed if the script
// dies on its way out, so no test leaves one running.
function supervise(child) {
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(exited = {code, signal}));
    child.on('error', (e) => resolve(exited = {code: null, signal: null, error: e.message}));
  });
  const stop = async () => {
    if (exited) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 10000);
    const result = await exit;
    clearTimeout(timer);
    return result;
  };
  process.on('exit', () => { if (!exited) child.kill('SIGKILL'); });
  return {pid: child.pid, exit, stop, exited: () => exited};
}

// Runs main() under a watchdog of --timeout seconds (`fallbackS` without one): past it, a failing
// line, a screenshot of each page open in running.context into running.out, running.tmp removed, and
// exit (the supervise() hooks stop the children, playwright its browser).
function runWithWatchdog(main, running, fallbackS) {
  const at = process.argv.indexOf('--timeout');
  const timeoutS = Number((at >= 0 && process.argv[at + 1]) || fallbackS);
  const watchdog = setTimeout(async () => {
    console.log(`not ok - timeout: the whole test took longer than ${timeoutS} s`);
    const pages = running.context ? running.context.pages() : [];
    const shots = pages.map(
        (page, i) => page.screenshot({path: path.join(running.out, `timeout-${i}.png`), fullPage: true}).catch(() => {}));
    await Promise.race([Promise.all(shots), sleep(5000)]);
    if (running.tmp) fs.rmSync(running.tmp, {recursive: true, force: true});
    process.exit(1);
  }, timeoutS * 1000);
  main().then((code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
  }, (e) => {
    clearTimeout(watchdog);
    console.log(`not ok - setup: ${e.message}`);
    process.exitCode = 1;
  });
}

// Starts the portal on a free loopback port and resolves once it prints `listening on URL`.
// Its stdout and stderr go to logFile; stop() ends that pid (SIGTERM, then SIGKILL).
function startPortal(bin, portalArgs, logFile, timeoutMs) {
  const log = fs.createWriteStream(logFile);
  const child = spawn(bin, portalArgs, {stdio: ['ignore', 'pipe', 'pipe']});
  const {exit, stop, exited} = supervise(child);
  child.stderr.pipe(log, {end: false});

  const ready = new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`the portal did not print "listening on" within ${timeoutMs} ms`)),
                             timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`could not start ${bin}: ${e.message}`)); });
    exit.then(({code, signal}) => {
      clearTimeout(timer);
      reject(new Error(`the portal exited before listening (code ${code}, signal ${signal}); see ${logFile}`));
    });
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      buffer += chunk.toString();
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/m.exec(buffer);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {pid: child.pid, ready, stop, exited};
}

function get(url, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks)}));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

function post(url, body, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(url, {method: 'POST', headers: {'Content-Type': 'application/json',
                                                             'Content-Length': data.length}}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks)}));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`POST ${url} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function getJson(url) {
  const res = await get(url);
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
  return JSON.parse(res.body.toString());
}

// The video rungs' heights as the master playlist lists them (RESOLUTION=WxH of each variant).
function hlsHeights(master) {
  const heights = [];
  for (const line of master.split(/\r?\n/)) {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const m = /RESOLUTION=(\d+)x(\d+)/.exec(line);
    if (m) heights.push(Number(m[2]));
  }
  return heights.sort((a, b) => a - b);
}

// The video Representations' heights in the MPD (audio Representations have no height).
function dashHeights(mpd) {
  const heights = [];
  for (const m of mpd.matchAll(/<Representation\b[^>]*>/g)) {
    const h = /\bheight="(\d+)"/.exec(m[0]);
    if (h) heights.push(Number(h[1]));
  }
  return heights.sort((a, b) => a - b);
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Runs fn(page, problems) on a fresh page whose console goes to OUT/NAME-console.log. Script errors,
// errors on the console and answers of 400 or more are problems; on any failure the page is saved as
// OUT/NAME-failure.png.
async function withPage(ctx, name, fn) {
  const page = await ctx.context.newPage();
  const consoleLog = [];
  const problems = [];
  page.on('console', (m) => {
    consoleLog.push(`[${m.type()}] ${m.text()}`);
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });
  page.on('requestfailed', (r) => {
    // A player aborts requests it no longer needs (a rung switch); those are not failures.
    const why = r.failure() ? r.failure().errorText : '';
    if (why !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${why}`);
  });
  try {
    return await fn(page, problems);
  } catch (e) {
    const shot = path.join(ctx.out, `${name}-failure.png`);
    await page.screenshot({path: shot, fullPage: true}).catch(() => {});
    e.message += ` (screenshot ${shot})`;
    throw e;
  } finally {
    fs.writeFileSync(path.join(ctx.out, `${name}-console.log`), consoleLog.join('\n') + '\n');
    await page.close().catch(() => {});
  }
}

module.exports = {withPage, parseArgs, requireFile, makeSample, supervise, runWithWatchdog, startPortal, get, post,
                  getJson, hlsHeights, dashHeights, sameList, sleep};
