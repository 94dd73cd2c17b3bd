#!/usr/bin/env python3
"""The examples of examples/, run end to end the way their README says, on generated samples.

Environment (set by tests/examples/CMakeLists.txt):
    SPOOL_EXAMPLES_BIN   the folder holding the built examples
    SPOOL_MAKE_SAMPLE    spool-make-sample
    SPOOL_CLI            the spool command-line tool (queue stats, to look at a queue from outside)
    SPOOL_EXAMPLES_WORK  where the samples are (made by `test_examples.py samples`)

    python3 tests/examples/test_examples.py samples          # once: writes the samples
    python3 tests/examples/test_examples.py TranscodeStyles  # any test class or Class.test_name

Each check reads what the example wrote (playlists, segments, status.json, its output lines) and
never the library's own view of it. Every child process has a timeout.
"""
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
import xml.etree.ElementTree as ET

BIN = os.environ.get("SPOOL_EXAMPLES_BIN", "")
MAKE_SAMPLE = os.environ.get("SPOOL_MAKE_SAMPLE", "")
CLI = os.environ.get("SPOOL_CLI", "")
WORK = os.environ.get("SPOOL_EXAMPLES_WORK", "")

SHORT = "short.mp4"  # a few seconds: jobs that should simply finish
LONG = "long.mp4"  # long enough to be caught running by a signal or a connection
NOT_VIDEO = "not-video.mp4"


def sample(name):
    return os.path.join(WORK, name)


def make_samples():
    os.makedirs(WORK, exist_ok=True)
    for name, seconds in ((SHORT, 3), (LONG, 120)):
        subprocess.run([MAKE_SAMPLE, sample(name), "--duration", str(seconds), "--width", "640", "--height", "360",
                        "--fps", "24", "--preset", "ultrafast"], check=True, timeout=300)
    with open(sample(NOT_VIDEO), "w") as f:
        f.write("these are lecture notes, not a video\n" * 100)


def example(name):
    return os.path.join(BIN, name)


def run(args, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def queue_stats(db):
    r = run([CLI, "queue", "stats", "--queue", "file://" + db], timeout=60)
    if r.returncode != 0:
        raise AssertionError("spool queue stats failed: " + r.stderr)
    return json.loads(r.stdout)


def read_text(path):
    with open(path) as f:
        return f.read()


def read_status(outdir):
    with open(os.path.join(outdir, "status.json")) as f:
        return json.load(f)


def check_package(test, outdir):
    """The package as a player would walk it: every playlist, init section and segment it names exists."""
    master = os.path.join(outdir, "master.m3u8")
    test.assertTrue(os.path.isfile(master), "no master playlist in " + outdir)
    lines = read_text(master).splitlines()
    test.assertEqual(lines[0], "#EXTM3U")
    variants = [lines[i + 1] for i, l in enumerate(lines) if l.startswith("#EXT-X-STREAM-INF")]
    test.assertGreater(len(variants), 0, "the master playlist names no variant")
    for uri in variants:
        media = os.path.join(outdir, uri)
        test.assertTrue(os.path.isfile(media), "variant playlist missing: " + uri)
        text = read_text(media)
        base = os.path.dirname(media)
        segments = [l for l in text.splitlines() if l and not l.startswith("#")]
        test.assertGreater(len(segments), 0, uri + " lists no segment")
        for ref in segments + re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text):
            path = os.path.join(base, ref)
            test.assertTrue(os.path.isfile(path) and os.path.getsize(path) > 0, "missing or empty: " + ref)
        test.assertIn("#EXT-X-ENDLIST", text)
    mpd = ET.parse(os.path.join(outdir, "manifest.mpd")).getroot()
    test.assertTrue(mpd.tag.endswith("MPD"))
    return len(variants)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def state_of(outdir):
    try:
        return read_status(outdir).get("state")
    except (OSError, ValueError):
        return None  # not written yet, or being replaced


class Scratch(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-examples-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, args):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        return p


class TranscodeStyles(Scratch):
    """transcode_callback, _coroutine, _future and _sync: one transcode, four ways of waiting for it."""

    STYLES = ["transcode_callback", "transcode_coroutine", "transcode_future", "transcode_sync"]

    def test_each_style_publishes_a_package(self):
        for style in self.STYLES:
            with self.subTest(style=style):
                out = self.path(style)
                r = run([example(style), sample(SHORT), out])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("published", r.stdout)
                # One line per rendition it reports, and the master playlist names the video ones.
                variants = check_package(self, out)
                self.assertGreaterEqual(len(re.findall(r"kbit/s", r.stdout)), variants)

    def test_each_style_reports_bad_input_and_leaves_nothing(self):
        for style in self.STYLES:
            with self.subTest(style=style):
                out = self.path(style + "-bad")
                r = run([example(style), sample(NOT_VIDEO), out])
                self.assertEqual(r.returncode, 1, r.stderr)
                last = r.stderr.strip().splitlines()[-1]
                self.assertRegex(last, r"^failed: [a-z_]+ \((input|policy|unsupported)\): ")
                self.assertFalse(os.path.exists(os.path.join(out, "master.m3u8")))

    def test_usage(self):
        for style in self.STYLES:
            with self.subTest(style=style):
                self.assertEqual(run([example(style)]).returncode, 2)

    def test_coroutine_timeout_publishes_nothing(self):
        out = self.path("timed-out")
        r = run([example("transcode_coroutine"), sample(LONG), out, "1"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("timed out after 1s", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "master.m3u8")))


class EmbeddedWorker(Scratch):
    def test_queues_works_and_resubmits_nothing(self):
        out, db = self.path("out"), self.path("jobs.db")
        r = run([example("embedded_worker"), sample(SHORT), out, db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("queued", r.stdout)
        check_package(self, out)
        status = read_status(out)
        self.assertEqual(status["state"], "succeeded")
        # Again: the idempotency key finds the first job; nothing new is queued or encoded.
        again = run([example("embedded_worker"), sample(SHORT), out, db])
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("was queued before", again.stdout)
        self.assertIn(status["job_id"], again.stdout)
        self.assertEqual(queue_stats(db)["visible"], 0)


class WorkerInIoContext(Scratch):
    def start_host(self, out, db, grace):
        p = self.start([example("worker_in_io_context"), sample(LONG), out, db, str(grace)])
        line = p.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        self.assertIsNotNone(m, "first line: " + line)
        return p, int(m.group(1))

    def ticks(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.settimeout(10)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
        m = re.match(rb"ticks (\d+)\n$", data)
        self.assertIsNotNone(m, data)
        return int(m.group(1))

    def test_host_keeps_serving_while_the_worker_encodes(self):
        out, db = self.path("out"), self.path("jobs.db")
        p, port = self.start_host(out, db, 30)
        wait_for(lambda: state_of(out) == "running", 120, "the job to run")
        first = self.ticks(port)
        time.sleep(0.3)
        second = self.ticks(port)
        self.assertEqual(state_of(out), "running", "the job ended before the second connection; sample too short")
        self.assertGreater(second, first, "the host's timer stood still while the worker encoded")
        stdout, stderr = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, stderr)
        summary = json_lines(stdout)[-1]["summary"]
        self.assertEqual(summary["succeeded"], 1)
        check_package(self, out)
        self.assertEqual(read_status(out)["state"], "succeeded")

    def test_signal_drains_through_cancellation(self):
        out, db = self.path("out"), self.path("jobs.db")
        p, _ = self.start_host(out, db, 0)  # no grace: the running job goes straight back on the queue
        wait_for(lambda: state_of(out) == "running", 120, "the job to run")
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, stderr)
        summary = json_lines(stdout)[-1]["summary"]
        self.assertEqual((summary["released"], summary["succeeded"]), (1, 0))
        self.assertFalse(os.path.exists(os.path.join(out, "master.m3u8")), "a drained job published")
        stats = queue_stats(db)
        self.assertEqual((stats["visible"], stats["in_flight"]), (1, 0))
        # The released job is delivered again to the next run, which finishes it.
        p2, _ = self.start_host(out, db, 30)
        stdout, stderr = p2.communicate(timeout=300)
        self.assertEqual(p2.returncode, 0, stderr)
        self.assertEqual(json_lines(stdout)[-1]["summary"]["succeeded"], 1)
        check_package(self, out)


class SubmitAndWork(Scratch):
    def test_two_processes_meet_in_the_queue(self):
        out, db = self.path("out"), self.path("jobs.db")
        prog = example("submit_and_work")
        first = run([prog, "submit", db, sample(SHORT), out], timeout=60)
        self.assertEqual(first.returncode, 0, first.stderr)
        job_id, said = first.stdout.strip().split(" ", 1)
        self.assertEqual(said, "queued")
        again = run([prog, "submit", db, sample(SHORT), out], timeout=60)
        self.assertEqual(again.stdout.strip(), job_id + " already queued")
        stats = queue_stats(db)
        self.assertEqual((stats["visible"], stats["in_flight"]), (1, 0))
        self.assertFalse(os.path.exists(out), "submitting wrote output")

        work = run([prog, "work", db])
        self.assertEqual(work.returncode, 0, work.stderr)
        self.assertEqual(json_lines(work.stdout)[-1]["summary"]["succeeded"], 1)
        check_package(self, out)
        status = read_status(out)
        self.assertEqual((status["job_id"], status["state"]), (job_id, "succeeded"))
        stats = queue_stats(db)
        self.assertEqual((stats["visible"], stats["in_flight"], stats["dead"]), (0, 0, 0))

    def test_usage(self):
        self.assertEqual(run([example("submit_and_work"), "work"]).returncode, 2)
        self.assertEqual(run([example("submit_and_work"), "encode", "x"]).returncode, 2)


class ProgressEvents(Scratch):
    def events(self, stdout):
        lines = json_lines(stdout)
        self.assertIn("summary", lines[-1], "the summary is not the last line")
        by_job = {}
        for e in lines[:-1]:
            by_job.setdefault(e["job_id"], []).append(e)
        return by_job, lines[-1]["summary"]

    def test_two_jobs_stream_ordered_progress(self):
        root = self.path("out")
        r = run([example("progress_events"), root, sample(SHORT), sample(SHORT)])
        self.assertEqual(r.returncode, 0, r.stderr)
        by_job, summary = self.events(r.stdout)
        self.assertEqual(summary["succeeded"], 2)
        self.assertEqual(len(by_job), 2)
        finals = set()
        for job_id, events in by_job.items():
            progress = [e["progress"] for e in events]
            self.assertEqual(progress, sorted(progress), job_id + ": progress went backwards")
            states = [e["state"] for e in events]
            self.assertIn("running", states)
            self.assertEqual(states[-1], "succeeded")
            self.assertEqual(states.count("succeeded"), 1)
            # No two lines alike: only changes go out.
            keys = [(e["state"], int(e["progress"] * 100)) for e in events]
            self.assertEqual(len(keys), len(set(keys)), job_id + ": a line repeats the one before")
            finals.add(job_id)
        written = set()
        for n in ("1", "2"):
            check_package(self, os.path.join(root, n))
            status = read_status(os.path.join(root, n))
            self.assertEqual(status["state"], "succeeded")
            written.add(status["job_id"])
        self.assertEqual(finals, written)

    def test_a_dead_job_ends_its_stream_with_the_reason(self):
        r = run([example("progress_events"), self.path("out"), sample(NOT_VIDEO)])
        self.assertEqual(r.returncode, 1, r.stderr)
        by_job, summary = self.events(r.stdout)
        self.assertEqual(summary["dead"], 1)
        (events,) = by_job.values()
        self.assertEqual(events[-1]["state"], "dead")
        self.assertEqual(events[-1]["error"]["category"], "input")


if __name__ == "__main__":
    for name, value in (("SPOOL_EXAMPLES_BIN", BIN), ("SPOOL_MAKE_SAMPLE", MAKE_SAMPLE), ("SPOOL_CLI", CLI),
                        ("SPOOL_EXAMPLES_WORK", WORK)):
        if not value:
            sys.exit(name + " is not set")
    if sys.argv[1:] == ["samples"]:
        make_samples()
        sys.exit(0)
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])
