// The upload page: pick the file in the form, upload it, watch its row until the transcode succeeds.
'use strict';

const path = require('path');

const TRANSCODE_TIMEOUT_MS = 240000;

async function checkUpload(ctx, sample, sampleSize) {
  const {support} = ctx;
  return support.withPage(ctx, 'upload', async (page, problems) => {
    await page.goto(`${ctx.base}/`, {waitUntil: 'load'});
    await page.setInputFiles('#upload-file', sample);
    await page.click('#upload-button');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('upload-form').dataset.state),
                               null, {timeout: 60000, polling: 100});
    const form = await page.$eval('#upload-form', (f) => ({state: f.dataset.state, id: f.dataset.videoId}));
    const message = await page.textContent('#upload-message');
    if (form.state !== 'done') throw new Error(`the page reports: ${message}`);
    const bar = await page.$eval('#upload-progress', (b) => ({hidden: b.hidden, value: b.value}));
    if (bar.hidden || bar.value !== 1) throw new Error(`the upload bar shows ${JSON.stringify(bar)} after the upload`);

    // The row of this upload, as the page shows it, until a terminal state.
    const row = `#videos tr[data-id="${form.id}"]`;
    const seen = [];
    const deadline = Date.now() + TRANSCODE_TIMEOUT_MS;
    let shown = null;
    for (;;) {
      shown = await page.$eval(row, (tr) => ({
        state: tr.dataset.state,
        bar: tr.querySelector('progress').value,
        text: tr.querySelector('td.progress span').textContent,
        links: [...tr.querySelectorAll('td.play a')].map((a) => a.getAttribute('href')),
      })).catch(() => null);
      if (shown) {
        const last = seen[seen.length - 1];
        if (!last || last.state !== shown.state || last.bar !== shown.bar) seen.push(shown);
        if (['succeeded', 'failed', 'dead'].includes(shown.state)) break;
      }
      if (Date.now() > deadline) {
        throw new Error(`no terminal state within ${TRANSCODE_TIMEOUT_MS / 1000} s; ` +
                        `the row showed ${JSON.stringify(seen)}`);
      }
      await support.sleep(200);
    }
    // Consecutive observations of one state folded: `running 0%..100% (25 updates)`.
    const runs = [];
    for (const s of seen) {
      const last = runs[runs.length - 1];
      if (last && last.state === s.state) {
        last.to = s.text;
        last.n++;
      } else {
        runs.push({state: s.state, from: s.text, to: s.text, n: 1});
      }
    }
    const history = runs.map((r) => `${r.state} ${r.from}${r.n > 1 ? `..${r.to} (${r.n} updates)` : ''}`).join(' -> ');
    await page.screenshot({path: path.join(ctx.out, 'upload-page.png'), fullPage: true});

    // What the page shows against what the portal answers, and against the file on disk.
    const video = await support.getJson(`${ctx.base}/videos/${encodeURIComponent(form.id)}`);
    if (shown.state !== 'succeeded') {
      throw new Error(`the row ended ${shown.state} (${JSON.stringify(video.error)}); it showed ${history}`);
    }
    if (video.state !== 'succeeded' || !video.playable) throw new Error(`GET /videos/ID: ${JSON.stringify(video)}`);
    if (video.size !== sampleSize) {
      throw new Error(`the portal recorded ${video.size} bytes of a ${sampleSize}-byte file`);
    }
    if (video.filename !== path.basename(sample)) throw new Error(`the portal recorded the name ${video.filename}`);
    if (shown.bar !== 1 || shown.text !== '100%') {
      throw new Error(`the finished row shows ${shown.text} (${shown.bar})`);
    }
    const wantLinks = [video.player_url, `${video.player_url}&format=dash`];
    if (!support.sameList(shown.links, wantLinks)) {
      throw new Error(`the row links ${JSON.stringify(shown.links)}, not ${JSON.stringify(wantLinks)}`);
    }
    // The transcode was watched, not only its end: the row showed a state before `succeeded`.
    if (!seen.some((s) => s.state === 'queued' || s.state === 'running')) {
      throw new Error(`the row never showed the job queued or running: ${history}`);
    }
    if (problems.length) throw new Error(`the page had problems: ${problems.join('; ')}`);
    return {...video, note: `the row showed ${history}`};
  });
}

// A portal that refuses the file (--max-upload-bytes below its size): the page says why, in the
// portal's own words, and lists no video.
async function checkRefusedUpload(ctx, sample, sampleSize) {
  const {support} = ctx;
  return support.withPage(ctx, 'upload-refused', async (page, problems) => {
    await page.goto(`${ctx.base}/`, {waitUntil: 'load'});
    await page.setInputFiles('#upload-file', sample);
    await page.click('#upload-button');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('upload-form').dataset.state),
                               null, {timeout: 30000, polling: 100});
    const state = await page.$eval('#upload-form', (f) => f.dataset.state);
    const message = await page.textContent('#upload-message');
    if (state !== 'error') throw new Error(`the page accepted a file the portal must refuse: ${message}`);
    // The portal's answer to the same announcement, asked directly.
    const answer = await support.post(`${ctx.base}/videos`, {filename: path.basename(sample), size: sampleSize,
                                                             content_type: 'video/mp4'});
    const error = JSON.parse(answer.body.toString()).error;
    if (answer.status < 400 || !error) {
      throw new Error(`the portal answered ${answer.status} to an oversized announcement`);
    }
    if (!message.includes(error.code) || !message.includes(error.message)) {
      throw new Error(`the page says "${message}", the portal "${error.code}: ${error.message}"`);
    }
    await support.sleep(1500);  // a poll of the list
    const rows = await page.$$eval('#videos tbody tr', (trs) => trs.length);
    if (rows !== 0) throw new Error(`the list shows ${rows} videos after a refused upload`);
    // The refusal itself, which the console reports as a failed load too.
    const unexpected = problems.filter((p) => !p.startsWith(`HTTP ${answer.status} for ${ctx.base}/videos`) &&
                                              !p.startsWith(`console error: Failed to load resource: ` +
                                                            `the server responded with a status of ${answer.status}`));
    if (unexpected.length) throw new Error(`the page had problems: ${unexpected.join('; ')}`);
    return `the page showed "${message}"`;
  });
}

module.exports = {checkUpload, checkRefusedUpload};
