#!/usr/bin/env python3
"""The lecture portal's HTTP API, driven from outside as a browser or a backend would.

    SPOOL_PORTAL=build/bin/lecture-portal SPOOL_CLI=build/bin/spool SPOOL_TEST_INPUT=build/bin/spool-test-input \
        python3 tests/cli/test_portal_api.py

Each test starts its own portal on 127.0.0.1 (port 0) with a fresh data folder and stops it by the pid
it started; every wait has a deadline. Prints "N passed, N failed" last; exits non-zero on a failure.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

PORTAL = os.environ.get("SPOOL_PORTAL")
CLI = os.environ.get("SPOOL_CLI")
MAKE_INPUT = os.environ.get("SPOOL_TEST_INPUT")
SAMPLE = None  # a 4 s 320x180 clip, made once


class Portal:
    """One lecture-portal process."""

    def __init__(self, data, *args):
        self.data = data
        self.proc = subprocess.Popen([PORTAL, "--listen", "127.0.0.1:0", "--data", data, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            self.stop()
            raise AssertionError("the portal did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def json(self, method, path, obj=None, **kw):
        body = None if obj is None else (obj if isinstance(obj, (bytes, str)) else json.dumps(obj))
        status, headers, data = self.request(method, path, body, {"Content-Type": "application/json"}, **kw)
        return status, json.loads(data) if data else None

    def create(self, size, filename="lecture.mp4", content_type="video/mp4"):
        status, v = self.json("POST", "/videos", {"filename": filename, "size": size, "content_type": content_type})
        assert status == 201, (status, v)
        return v["id"], v["upload_url"]

    def upload(self, url, payload, headers=None):
        path = url.split("://", 1)[1]
        path = path[path.index("/"):]
        return self.request("PUT", path, payload, headers or {"Content-Type": "video/mp4"})

    def wait_state(self, vid, states, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, v = self.json("GET", "/videos/" + vid)
            assert status == 200, (status, v)
            if v["state"] in states:
                return v
            time.sleep(0.2)
        raise AssertionError("video %s never reached %s: %s" % (vid, states, v))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


class PortalTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="portal-test-")
        self.portals = []

    def tearDown(self):
        for p in self.portals:
            p.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *args, data=None):
        p = Portal(data or os.path.join(self.dir, "data"), *args)
        self.portals.append(p)
        return p

    def uploaded(self, p, payload=None):
        payload = payload if payload is not None else open(SAMPLE, "rb").read()
        vid, url = p.create(len(payload))
        status, _, body = p.upload(url, payload)
        self.assertEqual(status, 200, body)
        return vid, url, json.loads(body)


class Lifecycle(PortalTest):
    def test_upload_answers_at_once_and_the_video_becomes_playable(self):
        p = self.start()
        vid, _, answer = self.uploaded(p)
        self.assertIn(answer["state"], ("queued", "running"))  # not waiting for the transcode
        v = p.wait_state(vid, ("succeeded", "dead"))
        self.assertEqual(v["state"], "succeeded", v)
        self.assertTrue(v["playable"])
        self.assertEqual(v["progress"], 1)
        self.assertIsNone(v["error"])
        status, listing = p.json("GET", "/videos")
        self.assertEqual([x["id"] for x in listing["videos"]], [vid])
        # The package, as the players fetch it.
        status, h, master = p.request("GET", v["hls_url"])
        self.assertEqual((status, h["content-type"]), (200, "application/vnd.apple.mpegurl"))
        self.assertIn(b"#EXTM3U", master)
        status, h, mpd = p.request("GET", v["dash_url"])
        self.assertEqual((status, h["content-type"]), (200, "application/dash+xml"))
        rung = [l for l in master.decode().splitlines() if l.endswith("index.m3u8")][0]
        seg = "/videos/%s/package/%s/seg_00001.m4s" % (vid, rung.split("/")[0])
        on_disk = open(os.path.join(p.data, "packages", vid, rung.split("/")[0], "seg_00001.m4s"), "rb").read()
        status, h, whole = p.request("GET", seg)
        self.assertEqual((status, whole), (200, on_disk))
        self.assertIn("immutable", h["cache-control"])
        self.assertEqual(h["accept-ranges"], "bytes")
        status, h, part = p.request("GET", seg, headers={"Range": "bytes=10-99"})
        self.assertEqual((status, part), (206, on_disk[10:100]))
        self.assertEqual(h["content-range"], "bytes 10-99/%d" % len(on_disk))
        status, h, tail = p.request("GET", seg, headers={"Range": "bytes=-7"})
        self.assertEqual((status, tail), (206, on_disk[-7:]))
        status, h, _ = p.request("GET", seg, headers={"Range": "bytes=%d-" % len(on_disk)})
        self.assertEqual((status, h["content-range"]), (416, "bytes */%d" % len(on_disk)))
        status, h, body = p.request("HEAD", seg)
        self.assertEqual((status, body, int(h["content-length"])), (200, b"", len(on_disk)))
        status, _, body = p.request("GET", seg, headers={"If-None-Match": h["etag"]})
        self.assertEqual((status, body), (304, b""))

    def test_events_stream_follows_the_video_to_its_end(self):
        p = self.start()
        vid, url = p.create(os.path.getsize(SAMPLE))
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=120)
        c.request("GET", "/videos/%s/events" % vid)
        r = c.getresponse()
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, "text/event-stream"))
        status, _, _ = p.upload(url, open(SAMPLE, "rb").read())
        self.assertEqual(status, 200)
        states = []
        for line in r.read().decode().splitlines():  # the stream ends after the last state
            if line.startswith("data: "):
                states.append(json.loads(line[6:])["state"])
        c.close()
        self.assertEqual(states[0], "uploading")
        self.assertEqual(states[-1], "succeeded")
        self.assertIn("queued", states)
        order = ["uploading", "queued", "running", "succeeded"]
        self.assertEqual(states, sorted(states, key=order.index), states)

    def test_a_restart_finds_every_video_and_sigterm_exits_cleanly(self):
        data = os.path.join(self.dir, "data")
        p = self.start(data=data)
        vid, _, _ = self.uploaded(p)
        p.wait_state(vid, ("succeeded",))
        waiting, url = p.create(1234)
        # A client still following a video does not hold the shutdown up, nor outlive the service.
        follower = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
        follower.request("GET", "/videos/%s/events" % waiting)
        self.assertEqual(follower.getresponse().status, 200)
        self.assertEqual(p.stop(), 0)
        follower.close()
        q = self.start(data=data)
        _, listing = q.json("GET", "/videos")
        self.assertEqual({x["id"]: x["state"] for x in listing["videos"]}, {vid: "succeeded", waiting: "uploading"})
        # The upload URL signed before the restart still works once.
        status, _, _ = q.upload(url, b"x" * 1234)
        self.assertEqual(status, 200)

    def test_a_file_that_is_not_a_video_ends_dead_with_a_typed_error(self):
        p = self.start()
        vid, _, _ = self.uploaded(p, os.urandom(50_000))
        v = p.wait_state(vid, ("dead", "succeeded"))
        self.assertEqual(v["state"], "dead")
        self.assertEqual(v["error"]["category"], "input", v["error"])
        self.assertFalse(v["playable"])
        self.assertFalse(os.path.exists(os.path.join(p.data, "packages", vid, "master.m3u8")))

    def test_separate_workers_reading_the_same_queue(self):
        p = self.start("--workers", "0")
        vid, _, _ = self.uploaded(p)
        time.sleep(1.5)
        self.assertEqual(p.json("GET", "/videos/" + vid)[1]["state"], "queued")  # nothing works it here
        w = subprocess.run([CLI, "worker", "--queue", "file://" + os.path.join(p.data, "jobs.db"), "--exit-when-idle"],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(w.returncode, 0, w.stderr)
        self.assertEqual(p.wait_state(vid, ("succeeded", "dead"), timeout=30)["state"], "succeeded")

    def test_naive_design_answers_the_upload_only_when_transcoded(self):
        p = self.start("--naive")
        vid, _, answer = self.uploaded(p)
        self.assertEqual(answer["state"], "succeeded")
        self.assertTrue(os.path.exists(os.path.join(p.data, "packages", vid, "master.m3u8")))

    def test_encodes_take_only_the_cpu_time_requests_leave(self):
        """The embedded worker's media threads are SCHED_IDLE (and niced); the request thread is not."""
        longer = os.path.join(self.dir, "longer.mp4")
        subprocess.run([MAKE_INPUT, longer, "--seconds", "30", "--width", "640", "--height", "360"], check=True,
                       timeout=120)
        p = self.start()
        vid, _, _ = self.uploaded(p, open(longer, "rb").read())
        base = os.getpriority(os.PRIO_PROCESS, 0)  # the portal inherits this test's nice value
        media = (5, min(19, base + 10))  # SCHED_IDLE, nice +10
        deadline = time.monotonic() + 60
        policies = {}
        while time.monotonic() < deadline and media not in policies.values():
            policies = {}
            for tid in os.listdir("/proc/%d/task" % p.proc.pid):
                try:
                    with open("/proc/%d/task/%s/stat" % (p.proc.pid, tid)) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:  # the thread ended meanwhile
                    continue
                # after the name: state is field 3, nice field 19, policy field 41
                policies[int(tid)] = (int(fields[41 - 3]), int(fields[19 - 3]))
            time.sleep(0.02)
        self.assertIn(media, policies.values(), policies)
        self.assertEqual(policies[p.proc.pid], (0, base))  # the request thread: SCHED_OTHER, as started
        self.assertEqual(p.wait_state(vid, ("succeeded", "dead"))["state"], "succeeded")

    def test_metrics_count_what_happened(self):
        p = self.start()
        payload = open(SAMPLE, "rb").read()
        vid, _, _ = self.uploaded(p, payload)
        p.wait_state(vid, ("succeeded",))
        for _ in range(3):
            p.json("GET", "/videos/" + vid)
        status, h, text = p.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/plain"))
        series = {}
        for line in text.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                series[name] = float(value)
        self.assertEqual(series["portal_upload_bytes_total"], len(payload))
        self.assertEqual(series['portal_videos{state="succeeded"}'], 1)
        self.assertGreaterEqual(series['portal_request_duration_seconds_count{route="video"}'], 3)
        self.assertEqual(series['portal_queue_messages{where="visible"}'], 0)
        self.assertEqual(p.json("GET", "/healthz"), (200, {"ok": True}))


class UploadUrls(PortalTest):
    def test_tampered_urls_are_403(self):
        p = self.start()
        vid, url = p.create(100)
        other, _ = p.create(100)
        for bad in (url[:-1] + ("0" if url[-1] != "0" else "1"),        # signature
                    re.sub(r"expires=(\d+)", lambda m: "expires=%d" % (int(m.group(1)) + 1), url),
                    url.replace(vid, other),                             # another video's upload
                    url.split("&sig=")[0]):                              # no signature
            status, _, body = p.upload(bad, b"x" * 100)
            self.assertEqual(status, 403, bad)
            self.assertEqual(json.loads(body)["error"]["code"], "bad_signature")
        self.assertEqual(p.json("GET", "/videos/" + vid)[1]["state"], "uploading")

    def test_expired_urls_are_403(self):
        p = self.start("--url-ttl", "1")
        vid, url = p.create(100)
        time.sleep(2.2)
        status, _, body = p.upload(url, b"x" * 100)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (403, "url_expired"))

    def test_sizes_other_than_announced_and_a_second_use(self):
        p = self.start()
        vid, url = p.create(1000)
        status, _, body = p.upload(url, b"x" * 1001)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (413, "larger_than_announced"))
        status, _, body = p.upload(url, b"x" * 999)
        self.assertEqual(status, 400)
        # Chunked, without a length: refused before any byte is stored.
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        path = url[url.index("/uploads/"):]
        c.request("PUT", path, body=iter([b"x" * 500, b"x" * 500]), encode_chunked=True)
        self.assertEqual(c.getresponse().status, 411)
        c.close()
        self.assertEqual(os.listdir(os.path.join(p.data, "uploads")), [])
        status, _, _ = p.upload(url, b"x" * 1000)
        self.assertEqual(status, 200)
        status, _, body = p.upload(url, b"x" * 1000)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (409, "already_uploaded"))

    def test_a_refused_upload_is_answered_even_while_its_body_is_still_coming(self):
        p = self.start()
        vid, url = p.create(1000)
        path = url[url.index("/uploads/"):]
        for attempt in range(3):
            s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
            s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n" % path).encode())
            for _ in range(40):  # the body trickles in after the answer has gone out
                s.sendall(b"b" * 10_000)
                time.sleep(0.01)
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
            s.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer[:200])
            self.assertIn(b"larger_than_announced", answer)
        self.assertEqual(os.listdir(os.path.join(p.data, "uploads")), [])

    def test_an_upload_cut_short_leaves_nothing_and_can_be_sent_again(self):
        p = self.start()
        vid, url = p.create(1_000_000)
        path = url[url.index("/uploads/"):]
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" % path).encode())
        s.sendall(b"y" * 300_000)
        time.sleep(0.3)
        s.close()
        deadline = time.monotonic() + 10
        while os.listdir(os.path.join(p.data, "uploads")) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(os.listdir(os.path.join(p.data, "uploads")), [])
        self.assertEqual(p.json("GET", "/videos/" + vid)[1]["state"], "uploading")
        status, _, _ = p.upload(url, b"y" * 1_000_000)
        self.assertEqual(status, 200)
        self.assertEqual(os.path.getsize(os.path.join(p.data, "uploads", vid)), 1_000_000)

    def test_a_large_upload_streams_in_constant_memory(self):
        p = self.start("--workers", "0")

        def peak_kb():
            with open("/proc/%d/status" % p.proc.pid) as f:
                return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))

        small_id, small_url = p.create(1 << 20)
        self.assertEqual(p.upload(small_url, b"s" * (1 << 20))[0], 200)  # warm: every code path once
        before = peak_kb()
        size = 256 << 20
        vid, url = p.create(size)
        path = url[url.index("/uploads/"):]
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=60)
        chunk = b"z" * (1 << 20)
        c.request("PUT", path, body=iter([chunk] * 256), headers={"Content-Length": str(size)})
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        grown = peak_kb() - before
        self.assertLess(grown, 16 * 1024, "peak RSS grew by %d kB for a 256 MiB upload" % grown)
        self.assertEqual(os.path.getsize(os.path.join(p.data, "uploads", vid)), size)


class BadRequests(PortalTest):
    def test_new_videos_are_checked(self):
        p = self.start("--max-upload-bytes", "5000", "--max-videos", "2")
        cases = [("not json", 400, "invalid_json"), ([1, 2], 400, "invalid_json"),
                 ({"size": 10}, 400, "invalid_video"),
                 ({"filename": "a.mp4"}, 400, "invalid_video"),
                 ({"filename": "../../etc/passwd", "size": 10}, 400, "invalid_video"),
                 ({"filename": "a\nb.mp4", "size": 10}, 400, "invalid_video"),
                 ({"filename": "a.mp4", "size": -1}, 400, "invalid_video"),
                 ({"filename": "a.mp4", "size": 1.5}, 400, "invalid_video"),
                 ({"filename": "a.mp4", "size": 10, "content_type": "text/html"}, 400, "invalid_video"),
                 ({"filename": "a.mp4", "size": 5001}, 413, "too_large")]
        for body, status, code in cases:
            got, answer = p.json("POST", "/videos", body)
            self.assertEqual((got, answer["error"]["code"]), (status, code), body)
        status, _ = p.json("POST", "/videos", "x" * 20000)
        self.assertEqual(status, 413)
        p.create(10)
        p.create(10)
        status, answer = p.json("POST", "/videos", {"filename": "a.mp4", "size": 10})
        self.assertEqual((status, answer["error"]["code"]), (429, "too_many_videos"))
        self.assertEqual(len(os.listdir(os.path.join(p.data, "videos"))), 2)

    def test_nothing_outside_the_data_folder_can_be_reached(self):
        p = self.start()
        vid, _, _ = self.uploaded(p)
        p.wait_state(vid, ("succeeded",))
        secret = b"not for the web"
        open(os.path.join(self.dir, "secret.txt"), "wb").write(secret)
        probes = ["/videos/%s/package/../../../secret.txt" % vid, "/videos/%s/package/..%%2f..%%2fportal.key" % vid,
                  "/videos/%s/package/%%2e%%2e/%%2e%%2e/portal.key" % vid, "/videos/..%2f..%2fsecret.txt",
                  "/videos/%s/package//etc/passwd" % vid, "/videos/%s/package/.hidden" % vid,
                  "/static/../../portal.key", "/static/..%2f..%2fportal.key", "/static//etc/passwd",
                  "/videos/%s/../../portal.key" % vid, "/uploads/../portal.key",
                  "/videos/%s/package/status.json/../../../portal.key" % vid]
        for path in probes:
            status, _, body = p.request("GET", path)
            self.assertIn(status, (400, 403, 404, 405), path)
            self.assertNotIn(secret, body, path)
            self.assertNotIn(open(os.path.join(p.data, "portal.key"), "rb").read(), body, path)

    def test_unknown_routes_and_methods(self):
        p = self.start()
        self.assertEqual(p.json("GET", "/videos/0123456789abcdef")[0], 404)
        self.assertEqual(p.json("GET", "/videos/NOT-AN-ID")[0], 404)
        self.assertEqual(p.json("DELETE", "/videos")[0], 405)
        self.assertEqual(p.json("PUT", "/healthz")[0], 405)
        self.assertEqual(p.json("GET", "/nowhere")[0], 404)
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 400"))
        s.close()


class Demo(unittest.TestCase):
    def test_demo_uploads_through_the_api_and_exits_when_playable_without_a_terminal(self):
        d = tempfile.mkdtemp(prefix="portal-demo-")
        try:
            r = subprocess.run([PORTAL, "--listen", "127.0.0.1:0", "--data", d, "--demo", SAMPLE], capture_output=True,
                               text=True, timeout=300, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr)
            vid = re.search(r"player\?id=([0-9a-f]{16})&format=dash", r.stdout).group(1)
            self.assertTrue(os.path.exists(os.path.join(d, "packages", vid, "master.m3u8")), r.stdout)
            self.assertIn("demo: succeeded", r.stdout)
        finally:
            shutil.rmtree(d, ignore_errors=True)


def main():
    global PORTAL, CLI, MAKE_INPUT, SAMPLE
    missing = [n for n, v in (("SPOOL_PORTAL", PORTAL), ("SPOOL_CLI", CLI), ("SPOOL_TEST_INPUT", MAKE_INPUT)) if not v]
    if missing:
        print("set %s to the built binaries" % ", ".join(missing))
        return 2
    work = tempfile.mkdtemp(prefix="portal-sample-")
    try:
        SAMPLE = os.path.join(work, "lecture.mp4")
        subprocess.run([MAKE_INPUT, SAMPLE, "--seconds", "4", "--width", "320", "--height", "180"], check=True,
                       timeout=120)
        result = unittest.main(exit=False, verbosity=2).result
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
