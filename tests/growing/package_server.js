// A small HTTP server on 127.0.0.1 for the growing-package test: the test page, the player libraries and
// package directories, each file read when asked for (a package that grows on disk is served as it is
// now). Every answer is `Cache-Control: no-store`, so neither the browser nor a player library keeps an
// old playlist. It logs every request (time, path, status) for the test to read.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment',
};

// routes: {'/url/prefix/': '/a/directory', '/exact/path': '/a/file'}. A prefix ends with '/'.
function startServer(routes) {
  const log = [];
  const resolve = (urlPath) => {
    for (const [prefix, target] of Object.entries(routes)) {
      if (prefix.endsWith('/') ? urlPath.startsWith(prefix) : urlPath === prefix) {
        if (!prefix.endsWith('/')) return target;
        const file = path.resolve(target, `.${urlPath.slice(prefix.length - 1)}`);
        // No way out of the directory (`..` in a request).
        return file.startsWith(path.resolve(target) + path.sep) ? file : null;
      }
    }
    return null;
  };
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    const answer = (status, headers, body) => {
      log.push({t: Date.now(), path: urlPath, status});
      res.writeHead(status, {'Cache-Control': 'no-store', ...headers});
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, {'Allow': 'GET, HEAD'}, '');
    const file = resolve(urlPath);
    let body;
    try {
      body = file ? fs.readFileSync(file) : null;
    } catch (_) {
      body = null;  // not there (yet): a 404, as a CDN in front of storage would answer
    }
    if (!body) return answer(404, {'Content-Type': 'text/plain'}, `not found: ${urlPath}\n`);
    const type = MIME[path.extname(file)] || 'application/octet-stream';
    return answer(200, {'Content-Type': type, 'Content-Length': body.length}, req.method === 'HEAD' ? '' : body);
  });
  const ready = new Promise((resolveReady, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolveReady(`http://127.0.0.1:${server.address().port}`));
  });
  const stop = () => new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return {ready, stop, log};
}

module.exports = {startServer, MIME};
