#!/usr/bin/env python3
"""spool on SQS and S3, end to end, against fauxqs on 127.0.0.1, checked with the AWS CLI.

    SPOOL_CLI=build/bin/spool SPOOL_TEST_INPUT=build/bin/spool-test-input \
    SPOOL_AWS_TOOLS_DIR=build/aws-tools python3 tests/cli/test_aws_cli.py

The emulator is started by this script through tests/aws/tools/serve.mjs (bound to loopback) and
stopped by the pid it started. The AWS CLI (`aws`, JSON protocol for SQS) is the independent client
that sets up the queues and the bucket and reads back what spool did. Without `aws` on PATH the
script prints SKIP and passes nothing else. Every process and every wait has a deadline.
Prints "N passed, N failed" last and exits non-zero on any failure.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

CLI = None
MAKE_INPUT = None
TOOLS = None
PORTAL = None  # build/bin/lecture-portal, for its S3 test
HERE = os.path.dirname(os.path.abspath(__file__))
SERVE = os.path.join(HERE, "..", "aws", "tools", "serve.mjs")
ACCOUNT = "000000000000"  # fauxqs's account
REGION = "us-east-1"

FAST_SPEC = {"version": 1, "video": {"preset": "ultrafast", "rungs": [{"name": "180p", "height": 180, "crf": 30}]}}
SLOW_SPEC = {"version": 1, "video": {"preset": "medium", "rungs": [{"name": "360p", "height": 360, "crf": 30},
                                                                  {"name": "180p", "height": 180, "crf": 30}]}}
# FAST_SPEC chunked: the 20 s input becomes three chunks of about 6 s.
CHUNKED_SPEC = dict(FAST_SPEC, packaging={"segment_s": 2, "gop_s": 2},
                    chunking={"enabled": True, "min_duration_s": 10, "chunk_s": 6})


class Fauxqs:
    """fauxqs on 127.0.0.1, stopped by the pid this started (its own process group)."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", SERVE, TOOLS, "fauxqs", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY ") or self.proc.poll() is not None:
                break
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("fauxqs did not start: " + (self.proc.stderr.read() if self.proc.stderr else ""))
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict):
            out.append(v)
    return out


class AwsCli(unittest.TestCase):
    service = None

    @classmethod
    def setUpClass(cls):
        cls.service = Fauxqs()
        try:
            cls._prepare()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails: stop what was started here
            cls.tearDownClass()
            raise

    @classmethod
    def _prepare(cls):
        cls.env = dict(os.environ, AWS_ACCESS_KEY_ID="spooltest", AWS_SECRET_ACCESS_KEY="spooltest-secret",
                       AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=cls.service.endpoint,
                       AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
                       AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        cls.dir = tempfile.mkdtemp(prefix="spool-aws-cli-")
        cls.inputs = {}
        for name, args in {"tiny": ["--seconds", "3", "--width", "320", "--height", "180"],
                           "long": ["--seconds", "20", "--width", "640", "--height", "360"]}.items():
            path = os.path.join(cls.dir, name + ".mp4")
            p = subprocess.run([MAKE_INPUT, path, *args], capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise RuntimeError("spool-test-input failed: " + p.stderr)
            cls.inputs[name] = path
        cls.specs = {}
        for name, spec in (("fast", FAST_SPEC), ("slow", SLOW_SPEC), ("chunked", CHUNKED_SPEC)):
            cls.specs[name] = os.path.join(cls.dir, name + ".json")
            with open(cls.specs[name], "w") as f:
                json.dump(spec, f)

    @classmethod
    def tearDownClass(cls):
        if cls.service:
            cls.service.stop()
        if getattr(cls, "dir", None):
            shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- helpers ----
    def aws(self, *args, check=True):
        p = subprocess.run(["aws", "--endpoint-url", self.service.endpoint, "--output", "json", *args],
                           capture_output=True, text=True, timeout=60, env=self.env, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {p.stderr}")
        try:
            return json.loads(p.stdout) if p.stdout.strip() else {}
        except ValueError:  # `aws s3 cp` reports in words
            return {"text": p.stdout}

    def spool(self, *args, timeout=120):
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, env=self.env,
                              stdin=subprocess.DEVNULL)

    def setUp(self):
        # names S3 and SQS take: short, lower case, no trailing '-'
        n = self.id().split(".")[-1].replace("_", "-")[5:35].strip("-")
        self.bucket = "media-" + n
        self.aws("s3api", "create-bucket", "--bucket", self.bucket)
        self.dlq_url = self.aws("sqs", "create-queue", "--queue-name", n + "-dlq")["QueueUrl"]
        dlq_arn = self.aws("sqs", "get-queue-attributes", "--queue-url", self.dlq_url, "--attribute-names",
                           "QueueArn")["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "4"})
        self.queue_url = self.aws("sqs", "create-queue", "--queue-name", n, "--attributes",
                                  json.dumps({"RedrivePolicy": redrive}))["QueueUrl"]
        self.queue = f"sqs://{REGION}/{ACCOUNT}/{n}"
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=20)

    def upload(self, name, key):
        self.aws("s3", "cp", self.inputs[name], f"s3://{self.bucket}/{key}")

    def submit(self, key, out, spec="fast"):
        p = self.spool("submit", "--queue", self.queue, "--input", f"s3://{self.bucket}/{key}", "--output",
                       f"s3://{self.bucket}/{out}", "--spec", self.specs[spec])
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def worker(self, *args):
        log = tempfile.NamedTemporaryFile(dir=self.dir, prefix="worker-", suffix=".out", delete=False)
        w = subprocess.Popen([CLI, "worker", "--queue", self.queue, "--allow-s3-bucket", self.bucket, *args],
                             stdout=log, stderr=subprocess.PIPE, text=True, env=self.env, stdin=subprocess.DEVNULL)
        w.log_path = log.name
        self.workers.append(w)
        return w

    def finish(self, w, timeout=180):
        try:
            w.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            w.kill()
            raise AssertionError("spool worker did not exit in time")
        err = w.stderr.read()
        with open(w.log_path) as f:
            lines = json_lines(f.read())
        return w.returncode, lines, err

    def keys(self, prefix):
        listed = self.aws("s3api", "list-objects-v2", "--bucket", self.bucket, "--prefix", prefix)
        return sorted(o["Key"][len(prefix):] for o in listed.get("Contents", []))

    def queue_counts(self, url):
        a = self.aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def check_package(self, prefix):
        keys = self.keys(prefix)
        for name in ("master.m3u8", "manifest.mpd", "result.json", "status.json"):
            self.assertIn(name, keys, f"{prefix}: {keys}")
        self.assertTrue(any(k.endswith(".m4s") for k in keys), keys)
        head = self.aws("s3api", "head-object", "--bucket", self.bucket, "--key", prefix + "master.m3u8")
        self.assertEqual(head["ContentType"], "application/vnd.apple.mpegurl")
        got = os.path.join(self.dir, "result.json")
        self.aws("s3", "cp", f"s3://{self.bucket}/{prefix}result.json", got)
        with open(got) as f:
            result = json.load(f)
        # every segment the HLS playlists name is in the bucket
        for rendition in ("180p",):
            playlist = os.path.join(self.dir, "p.m3u8")
            self.aws("s3", "cp", f"s3://{self.bucket}/{prefix}{rendition}/index.m3u8", playlist)
            with open(playlist) as f:
                named = [l.strip() for l in f if l.strip() and not l.startswith("#")]
            self.assertTrue(named)
            for seg in named:
                self.assertIn(f"{rendition}/{seg}", keys)
        return result

    # ---- tests ----
    def test_input_in_s3_becomes_a_ladder_in_s3_and_the_job_is_acked(self):
        self.upload("tiny", "uploads/lecture.mp4")
        self.submit("uploads/lecture.mp4", "outputs/lecture/")
        rc, lines, err = self.finish(self.worker("--exit-when-idle", "--poll", "1"))
        self.assertEqual(rc, 0, err)
        summary = [l["summary"] for l in lines if "summary" in l][0]
        self.assertEqual(summary["succeeded"], 1, lines)
        self.check_package("outputs/lecture/")
        self.assertEqual(self.queue_counts(self.queue_url), (0, 0))
        self.assertEqual(self.queue_counts(self.dlq_url), (0, 0))

    def test_a_poison_job_lands_in_the_dead_letter_queue_with_its_reason(self):
        bad = os.path.join(self.dir, "bad.mp4")
        with open(bad, "wb") as f:
            f.write(b"this is not a video at all" * 100)
        self.aws("s3", "cp", bad, f"s3://{self.bucket}/uploads/bad.mp4")
        self.submit("uploads/bad.mp4", "outputs/bad/")
        rc, lines, err = self.finish(self.worker("--exit-when-idle", "--poll", "1"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.queue_counts(self.queue_url), (0, 0))
        got = self.aws("sqs", "receive-message", "--queue-url", self.dlq_url, "--message-attribute-names", "All",
                       "--wait-time-seconds", "1")
        messages = got.get("Messages", [])
        self.assertEqual(len(messages), 1, got)
        attrs = {k: v.get("StringValue", "") for k, v in messages[0].get("MessageAttributes", {}).items()}
        text = json.dumps(attrs)
        self.assertIn("input_not_media", text, attrs)
        self.assertEqual(json.loads(messages[0]["Body"])["input"], f"s3://{self.bucket}/uploads/bad.mp4")
        self.assertNotIn("result.json", self.keys("outputs/bad/"))

    def test_a_job_longer_than_its_lease_is_kept_by_heartbeats(self):
        self.upload("long", "uploads/long.mp4")
        self.submit("uploads/long.mp4", "outputs/long/", spec="slow")
        rc, lines, err = self.finish(self.worker("--exit-when-idle", "--poll", "1", "--lease", "3",
                                                 "--encoder-threads", "1"))
        self.assertEqual(rc, 0, err)
        summary = [l["summary"] for l in lines if "summary" in l][0]
        self.assertEqual(summary["succeeded"], 1, lines)
        self.assertEqual(summary.get("lease_lost", 0), 0, lines)
        # one delivery: a lapsed lease would have let SQS deliver it again
        started = [l for l in lines if l.get("state") == "running"]
        self.assertTrue(all(l.get("attempt", 1) == 1 for l in started), started)
        self.check_package("outputs/long/")
        self.assertEqual(self.queue_counts(self.queue_url), (0, 0))

    def test_a_growing_package_on_s3_names_only_segments_already_there(self):
        # 2 s segments of a slow ladder: the package is visible long before the job ends
        spec = dict(SLOW_SPEC, packaging={"segment_s": 2, "gop_s": 2})
        spec_file = os.path.join(self.dir, "growing.json")
        with open(spec_file, "w") as f:
            json.dump(spec, f)
        self.upload("long", "uploads/growing.mp4")
        p = self.spool("submit", "--queue", self.queue, "--input", f"s3://{self.bucket}/uploads/growing.mp4",
                       "--output", f"s3://{self.bucket}/outputs/growing/", "--spec", spec_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        w = self.worker("--exit-when-idle", "--poll", "1", "--encoder-threads", "1", "--progress")
        prefix = "outputs/growing/"
        seen_growing, problems = [], []
        deadline = time.monotonic() + 180
        while w.poll() is None and time.monotonic() < deadline:
            master = self.aws("s3", "cp", f"s3://{self.bucket}/{prefix}master.m3u8", "-", check=False).get("text", "")
            if not master.startswith("#EXTM3U"):
                time.sleep(0.2)
                continue
            rungs = [l.strip() for l in master.splitlines() if l.strip() and not l.startswith("#")]
            playlist = self.aws("s3", "cp", f"s3://{self.bucket}/{prefix}{rungs[0]}", "-", check=False).get("text", "")
            keys = set(self.keys(prefix))  # listed after the playlist was read
            if "result.json" in keys:
                break
            named = [l.strip() for l in playlist.splitlines() if l.strip() and not l.startswith("#")]
            folder = rungs[0].rsplit("/", 1)[0]
            missing = [n for n in named + ["init.mp4"] if f"{folder}/{n}" not in keys]
            if missing:
                problems.append(f"{rungs[0]} names {missing}, not in the bucket")
            if "#EXT-X-PLAYLIST-TYPE:EVENT" in playlist:
                seen_growing.append(len(named))
        rc, lines, err = self.finish(w)
        self.assertEqual(rc, 0, err)
        self.assertEqual(problems, [])
        # visible while it grew, and it did grow
        self.assertTrue(seen_growing, "the package was never seen before it was finished")
        self.assertGreater(max(seen_growing), 0)
        statuses = [l for l in lines if l.get("state") == "running" and l.get("playable")]
        self.assertTrue(statuses, "no running status said playable")
        result = self.check_package(prefix)
        self.assertEqual(result["publish"]["mode"], "progressive")
        final = self.aws("s3", "cp", f"s3://{self.bucket}/{prefix}180p/index.m3u8", "-").get("text", "")
        self.assertIn("#EXT-X-ENDLIST", final)

    def test_two_workers_share_the_queue_and_survive_a_sigkill(self):
        for i in range(3):
            self.upload("tiny", f"uploads/t{i}.mp4")
            self.submit(f"uploads/t{i}.mp4", f"outputs/t{i}/", spec="slow")
        victim = self.worker("--lease", "4", "--poll", "1", "--encoder-threads", "1")
        # kill it once it holds a job
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(victim.log_path) as f:
                if any(l.get("state") == "running" for l in json_lines(f.read())):
                    break
            time.sleep(0.1)
        else:
            self.fail("the first worker never started a job")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=20)
        survivor = self.worker("--exit-when-idle", "--poll", "1", "--lease", "4", "--encoder-threads", "1")
        rc, lines, err = self.finish(survivor, timeout=240)
        self.assertEqual(rc, 0, err)
        for i in range(3):
            self.check_package(f"outputs/t{i}/")
        self.assertEqual(self.queue_counts(self.queue_url), (0, 0))
        self.assertEqual(self.queue_counts(self.dlq_url), (0, 0))

    def test_a_chunked_job_is_split_encoded_by_two_workers_and_stitched(self):
        self.upload("long", "uploads/long.mp4")
        job_id = self.submit("uploads/long.mp4", "outputs/long/", spec="chunked")
        args = ("--exit-when-idle", "--poll", "1", "--lease", "10", "--encoder-threads", "1")
        a, b = self.worker(*args), self.worker(*args)
        (rc_a, lines_a, err_a), (rc_b, lines_b, err_b) = self.finish(a, timeout=240), self.finish(b, timeout=60)
        self.assertEqual((rc_a, rc_b), (0, 0), err_a + err_b)
        sums = [l["summary"] for l in lines_a + lines_b if "summary" in l]
        self.assertEqual(sum(s["split"] for s in sums), 1, sums)
        self.assertEqual(sum(s["dead"] for s in sums), 0, sums)
        self.check_package("outputs/long/")
        got = os.path.join(self.dir, "status.json")
        self.aws("s3", "cp", f"s3://{self.bucket}/outputs/long/status.json", got)
        with open(got) as f:
            st = json.load(f)
        self.assertEqual((st["job_id"], st["state"], st["chunks"]), (job_id, "succeeded", {"done": 3, "total": 3}))
        # The children's packages went with the work area.
        self.assertEqual(self.keys("outputs/long.chunks-"), [])
        self.assertEqual(self.queue_counts(self.queue_url), (0, 0))
        self.assertEqual(self.queue_counts(self.dlq_url), (0, 0))

    def test_the_lecture_portal_on_s3_and_sqs(self):
        """The portal's S3 path: a presigned PUT by the client, /complete, the embedded worker reading
        and writing S3, and a private package played through presigned playlists."""
        if not PORTAL:
            self.skipTest("SPOOL_PORTAL is not set")
        import http.client
        import re
        import urllib.error
        import urllib.request
        data = tempfile.mkdtemp(dir=self.dir, prefix="portal-")
        p = subprocess.Popen([PORTAL, "--listen", "127.0.0.1:0", "--data", data, "--queue", self.queue,
                              "--storage", f"s3://{self.bucket}/portal", "--multipart-threshold", str(6 << 20)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env, stdin=subprocess.DEVNULL)
        try:
            m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", p.stdout.readline())
            self.assertTrue(m, p.stderr.read() if p.poll() is not None else "no listening line")
            port = int(m.group(1))

            def call(method, path, body=None):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request(method, path, body=body, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
                c.close()
                return out

            payload = open(self.inputs["tiny"], "rb").read()
            status, _, body = call("POST", "/videos", json.dumps({"filename": "t.mp4", "size": len(payload),
                                                                 "content_type": "video/mp4"}))
            self.assertEqual(status, 201, body)
            created = json.loads(body)
            vid = created["id"]
            self.assertTrue(created["upload_url"].startswith(self.service.endpoint), created)
            put = urllib.request.Request(created["upload_url"], data=payload, method="PUT",
                                         headers=created.get("upload_headers", {}))
            with urllib.request.urlopen(put, timeout=30) as r:
                self.assertEqual(r.status, 200)
            self.assertEqual(self.keys(f"portal/uploads/{vid}"), [""])  # the client's PUT reached the bucket
            status, _, body = call("POST", created["complete_url"])
            self.assertEqual(status, 200, body)
            self.assertEqual(call("POST", created["complete_url"])[0], 409)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                v = json.loads(call("GET", "/videos/" + vid)[2])
                if v["state"] in ("succeeded", "dead"):
                    break
                time.sleep(0.5)
            self.assertEqual(v["state"], "succeeded", v)
            self.check_package(f"portal/packages/{vid}/")
            status, h, master = call("GET", v["hls_url"])
            self.assertEqual((status, h["content-type"]), (200, "application/vnd.apple.mpegurl"), master)
            media = [l for l in master.decode().splitlines() if l.endswith("index.m3u8")]
            self.assertTrue(media, master)
            self.assertTrue(media[0].startswith(f"/videos/{vid}/package/"), master)  # served by the portal
            status, _, playlist = call("GET", media[0])
            self.assertEqual(status, 200, playlist)
            urls = [l for l in playlist.decode().splitlines() if l.startswith("http")]
            urls += re.findall(r'URI="(http[^"]+)"', playlist.decode())
            self.assertTrue(urls and all("X-Amz-Signature=" in u for u in urls), playlist)
            with urllib.request.urlopen(urls[0], timeout=30) as r:  # presigned: no credentials needed
                self.assertEqual(r.status, 200)
                self.assertGreater(len(r.read()), 100)
            status, h, mpd = call("GET", v["dash_url"])
            self.assertEqual((status, h["content-type"]), (200, "application/dash+xml"))
            self.assertIn(b"X-Amz-Signature=", mpd)
            self.assertEqual(self.queue_counts(self.queue_url), (0, 0))

            # From --multipart-threshold on: a plan of presigned parts, put and completed by the client.
            big = os.urandom((13 << 20) + 12345)
            status, _, body = call("POST", "/videos", json.dumps({"filename": "big.mp4", "size": len(big),
                                                                 "content_type": "video/mp4"}))
            self.assertEqual(status, 201, body)
            created = json.loads(body)
            plan = created["multipart"]
            self.assertIsNone(created["upload_url"])
            size = plan["part_size"]
            self.assertEqual(len(plan["part_urls"]), (len(big) + size - 1) // size)
            etags = []
            for n, url in enumerate(plan["part_urls"]):
                req = urllib.request.Request(url, data=big[n * size:(n + 1) * size], method="PUT",
                                             headers={"Content-Type": "application/octet-stream"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        etags.append(r.headers["ETag"])
                except urllib.error.HTTPError as e:
                    self.fail(f"part {n + 1}: {e.code} {e.read()[:500]!r}")
            xml = "<CompleteMultipartUpload>" + "".join(
                f"<Part><PartNumber>{n + 1}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags)
            ) + "</CompleteMultipartUpload>"
            req = urllib.request.Request(plan["complete_url"], data=xml.encode(), method="POST",
                                         headers={"Content-Type": "application/xml"})
            with urllib.request.urlopen(req, timeout=60) as r:
                self.assertEqual(r.status, 200)
            self.assertEqual(call("POST", created["complete_url"])[0], 200)
            got = os.path.join(self.dir, "big-back")
            self.aws("s3", "cp", f"s3://{self.bucket}/portal/uploads/{created['id']}", got)
            with open(got, "rb") as f:
                self.assertEqual(f.read(), big)  # the parts, in order, whole
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                v = json.loads(call("GET", "/videos/" + created["id"])[2])
                if v["state"] in ("succeeded", "dead"):
                    break
                time.sleep(0.5)
            self.assertEqual((v["state"], v["error"]["category"]), ("dead", "input"), v)  # random bytes
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()


def main():
    global CLI, MAKE_INPUT, TOOLS, PORTAL
    PORTAL = os.environ.get("SPOOL_PORTAL")
    CLI = os.environ.get("SPOOL_CLI")
    MAKE_INPUT = os.environ.get("SPOOL_TEST_INPUT")
    TOOLS = os.environ.get("SPOOL_AWS_TOOLS_DIR")
    for what, value in (("SPOOL_CLI", CLI), ("SPOOL_TEST_INPUT", MAKE_INPUT), ("SPOOL_AWS_TOOLS_DIR", TOOLS)):
        if not value:
            print(f"{what} is not set", file=sys.stderr)
            return 2
    for path in (CLI, MAKE_INPUT):
        if not os.access(path, os.X_OK):
            print(f"{path} is not built", file=sys.stderr)
            return 1
    if not os.path.isdir(os.path.join(TOOLS, "node_modules", "fauxqs")):
        print(f"fauxqs is not installed in {TOOLS}: run scripts/install-aws-tools.sh", file=sys.stderr)
        return 1
    if shutil.which("aws") is None:
        print("SKIP: the AWS CLI (aws) is not on PATH; spool's SQS and S3 path is not checked end to end")
        return 0
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(AwsCli)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"{max(result.testsRun - failed, 0)} passed, {failed} failed")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
