// The upload page: announce the file (POST /videos), PUT its bytes to the one-time upload URL with a
// progress bar, and keep the list of videos current by polling GET /videos. On S3 the upload URL is
// presigned: the PUT carries the headers it was signed with (upload_headers), and the portal queues
// the job on POST complete_url. A large file on S3 comes with a multipart plan instead: each part is
// PUT to its own presigned URL (retried on its own), S3 is told to assemble them, then the portal.
'use strict';

(function () {
  const POLL_MS = 1000;

  const form = document.getElementById('upload-form');
  const fileInput = document.getElementById('upload-file');
  const button = document.getElementById('upload-button');
  const bar = document.getElementById('upload-progress');
  const message = document.getElementById('upload-message');
  const table = document.getElementById('videos');
  const tbody = table.querySelector('tbody');
  const empty = document.getElementById('videos-empty');
  const listError = document.getElementById('list-error');

  // The portal's errors are {"error":{"code","message"}}; anything else is reported by status.
  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && body.error) return `${body.error.code}: ${body.error.message}`;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.status}`;
  }

  // fetch() cannot report upload progress; XMLHttpRequest can.
  function put(url, headers, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      // Exactly the signed headers when there are some (setRequestHeader twice would join two values).
      const signed = Object.entries(headers || {});
      if (!signed.some(([name]) => name.toLowerCase() === 'content-type')) {
        xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      }
      for (const [name, value] of signed) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(xhr.getResponseHeader('ETag'));  // a part's, for the multipart completion
          return;
        }
        let text = `HTTP ${xhr.status}`;
        try {
          const body = JSON.parse(xhr.responseText);
          if (body && body.error) text = `${body.error.code}: ${body.error.message}`;
        } catch (_) { /* not JSON */ }
        reject(new Error(text));
      };
      xhr.onerror = () => reject(new Error('the upload connection failed'));
      xhr.send(file);
    });
  }

  // The parts in order, each tried up to three times; S3 then joins them (the bucket's CORS rules
  // must expose ETag). On failure the upload is aborted so S3 keeps no parts.
  async function putParts(plan, file, onProgress) {
    const etags = [];
    const size = plan.part_size;
    try {
      for (let n = 0; n < plan.part_urls.length; ++n) {
        const part = file.slice(n * size, Math.min(file.size, (n + 1) * size));
        for (let attempt = 1; ; ++attempt) {
          try {
            const etag = await put(plan.part_urls[n], {}, part, (f) => onProgress((n * size + f * part.size) / file.size));
            if (!etag) throw new Error('S3 did not expose the ETag of a part (the bucket\'s CORS rules)');
            etags.push(etag);
            break;
          } catch (e) {
            if (attempt === 3) throw e;
          }
        }
      }
      const xml = '<CompleteMultipartUpload>' +
          etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('') +
          '</CompleteMultipartUpload>';
      const done = await fetch(plan.complete_url, {method: 'POST', headers: {'Content-Type': 'application/xml'}, body: xml});
      if (!done.ok) throw new Error(`S3 refused to assemble the parts: HTTP ${done.status}`);
    } catch (e) {
      fetch(plan.abort_url, {method: 'DELETE'}).catch(() => {});
      throw e;
    }
  }

  function setUploadState(state, text, fraction) {
    form.dataset.state = state;  // idle | uploading | done | error (read by the browser tests)
    message.textContent = text;
    message.className = state === 'error' ? 'error' : '';
    if (fraction === undefined) {
      bar.hidden = true;
    } else {
      bar.hidden = false;
      bar.value = fraction;
    }
  }

  async function upload(file) {
    button.disabled = true;
    setUploadState('uploading', `Announcing ${file.name}…`, 0);
    try {
      const announced = await fetch('/videos', {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(
            {filename: file.name, size: file.size, content_type: file.type || 'application/octet-stream'}),
      });
      if (!announced.ok) throw new Error(await errorText(announced));
      const {id, upload_url: uploadUrl, upload_headers: headers, complete_url: completeUrl, multipart} =
          await announced.json();
      refresh();  // the new video appears in the list as `uploading`
      const progress = (f) => setUploadState('uploading', `Uploading ${file.name}: ${percent(f)}`, f);
      if (multipart)
        await putParts(multipart, file, progress);
      else
        await put(uploadUrl, headers, file, progress);
      if (completeUrl) {
        const completed = await fetch(completeUrl, {method: 'POST'});
        if (!completed.ok) throw new Error(await errorText(completed));
      }
      setUploadState('done', `Uploaded ${file.name}; it is queued for transcoding.`, 1);
      form.dataset.videoId = id;
      form.reset();
    } catch (e) {
      setUploadState('error', `Upload failed: ${e.message}`);
    } finally {
      button.disabled = false;
      refresh();
    }
  }

  function percent(f) {
    return `${Math.round(Math.max(0, Math.min(1, f)) * 100)}%`;
  }

  function cell(className, ...children) {
    const td = document.createElement('td');
    td.className = className;
    td.append(...children);
    return td;
  }

  function link(text, href) {
    const a = document.createElement('a');
    a.textContent = text;
    a.href = href;
    return a;
  }

  function stateText(v) {
    if (v.state === 'running' && v.eta_s >= 0) return `running, ${Math.ceil(v.eta_s)} s left`;
    return v.state;
  }

  // One row per video, rebuilt from the server's answer (textContent only: names are user input).
  function row(v) {
    const tr = document.createElement('tr');
    tr.dataset.id = v.id;
    tr.dataset.state = v.state;
    tr.dataset.progress = String(v.progress);

    const state = document.createElement('span');
    state.className = `state state-${v.state}`;
    state.textContent = stateText(v);
    const stateCell = cell('state-cell', state);
    if (v.error) {
      const detail = document.createElement('div');
      detail.className = 'error';
      detail.textContent = `${v.error.code}: ${v.error.message}`;
      stateCell.append(detail);
    }

    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = v.progress;
    const pct = document.createElement('span');
    pct.textContent = percent(v.progress);

    const play = v.playable
        ? [link('HLS', v.player_url), document.createTextNode(' · '), link('DASH', `${v.player_url}&format=dash`)]
        : [document.createTextNode('—')];

    tr.append(cell('file', v.filename), stateCell, cell('progress', bar, pct), cell('play', ...play));
    return tr;
  }

  let polling = null;
  async function refresh() {
    try {
      const response = await fetch('/videos', {cache: 'no-store'});
      if (!response.ok) throw new Error(await errorText(response));
      const {videos} = await response.json();
      tbody.replaceChildren(...videos.map(row));
      table.hidden = videos.length === 0;
      empty.hidden = videos.length !== 0;
      listError.hidden = true;
    } catch (e) {
      listError.textContent = `Could not load the list: ${e.message}`;
      listError.hidden = false;
    }
  }

  function poll() {
    clearTimeout(polling);
    refresh().finally(() => { polling = setTimeout(poll, POLL_MS); });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = fileInput.files[0];
    if (file) upload(file);
  });

  setUploadState('idle', '');
  poll();
})();
