#!/usr/bin/env python3
"""The worker side of the spool CLI: spool worker, spool status, and what a crash leaves behind.

Runs the built binaries named by the environment (or the first two arguments):
    SPOOL_CLI=build/bin/spool SPOOL_TEST_INPUT=build/bin/spool-test-input python3 tests/cli/test_worker_cli.py
    python3 tests/cli/test_worker_cli.py build/bin/spool build/bin/spool-test-input
SPOOL_TEST_SEED=N replays the crash test's kill schedule (the seed is printed on every run).
SPOOL_TEST_KEEP=1 keeps the test directories (their paths are printed) for a post-mortem.
Prints "N passed, N failed" last and exits non-zero on any failure.

Every child process and every polling loop is bounded by a deadline, and tearDown kills whatever
is still running, so a misbehaving worker fails a test instead of hanging it.
"""
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

CLI = None
MAKE_INPUT = None

# A fast plan: one small rendition (plus the audio one) at x264 "ultrafast".
FAST_SPEC = {"version": 1, "video": {"preset": "ultrafast", "rungs": [{"name": "180p", "height": 180, "crf": 30}]}}
# A slower plan for jobs that must outlast a lease or a signal: two renditions at "medium", both
# encoded (the worker would otherwise copy the fit input as the top rung, in no time).
SLOW_SPEC = {"version": 1, "video": {"preset": "medium", "remux": "off",
                                     "rungs": [{"name": "360p", "height": 360, "crf": 30},
                                               {"name": "180p", "height": 180, "crf": 30}]}}
# Chunked, the 20 s input becomes three chunks of about 6 s (three 2 s segments each), each encoded
# slowly enough (several status updates, one a second) for a test to catch one under way.
CHUNKED_SPEC = dict(SLOW_SPEC, video=dict(SLOW_SPEC["video"], preset="slower"),
                    packaging={"segment_s": 2, "gop_s": 2},
                    chunking={"enabled": True, "min_duration_s": 10, "chunk_s": 6})


def run(*args, timeout=60, cwd=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def json_lines(text):
    """The JSON objects of a worker's stdout; a line cut short by SIGKILL is skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict):
            out.append(v)
    return out


def last_error(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    if not lines:
        raise AssertionError("nothing on stderr")
    return json.loads(lines[-1])["error"]


def wall_time(iso):
    """Seconds since the epoch of an updated_at such as 2026-01-02T03:04:05.678Z."""
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def temp_leftovers(root):
    """Staging directories (.<out>.spool-tmp-XXXXXX) and status temporaries (.status.json.tmp-XXXXXX)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if ".spool-tmp-" in name or name.startswith(".status.json.tmp-"):
                found.append(os.path.join(dirpath, name))
    return sorted(found)


class Worker:
    """One `spool worker` process with its stdout and stderr in files (they survive SIGKILL)."""

    def __init__(self, log_prefix, queue, *args):
        self.log_prefix = log_prefix
        self.out_path = log_prefix + ".out"
        self.err_path = log_prefix + ".err"
        self._out = open(self.out_path, "w")
        self._err = open(self.err_path, "w")
        self.args = [CLI, "worker", "--queue", queue, *args]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """The exit code; a worker still running after `timeout` seconds is killed and fails the test."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"spool worker did not exit within {timeout} s: {' '.join(self.args)}\n"
                                 f"stdout: {self.stdout()[-2000:]}\nstderr: {self.stderr()[-2000:]}")
        self._close()
        return rc

    def kill(self):
        if self.running():
            self.proc.kill()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        self._close()

    def _close(self):
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def stdout(self):
        with open(self.out_path) as f:
            return f.read()

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def lines(self):
        return json_lines(self.stdout())

    def events(self):
        return [l for l in self.lines() if "summary" not in l]

    def summary(self):
        sums = [l["summary"] for l in self.lines() if "summary" in l]
        if len(sums) != 1:
            raise AssertionError(f"expected one summary line, got {len(sums)}: {self.stdout()[-2000:]}")
        return sums[0]


class WorkerCli(unittest.TestCase):
    inputs = None

    @classmethod
    def setUpClass(cls):
        cls.input_dir = tempfile.mkdtemp(prefix="spool-worker-inputs-")
        cls.inputs = {}
        for name, args in {
            "tiny": ["--seconds", "3", "--width", "320", "--height", "180"],     # ~0.2 s with FAST_SPEC
            "short": ["--seconds", "16", "--width", "320", "--height", "180"],   # ~1-2 s with FAST_SPEC, 1 thread
            "long": ["--seconds", "20", "--width", "640", "--height", "360"],    # ~4-6 s with SLOW_SPEC, 1 thread
        }.items():
            path = os.path.join(cls.input_dir, name + ".mp4")
            p = subprocess.run([MAKE_INPUT, path, *args], capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise RuntimeError(f"spool-test-input failed: {p.stderr}")
            cls.inputs[name] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.input_dir, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-worker-cli-")
        self.queue = "file://" + os.path.join(self.dir, "jobs.db")
        self.workers = []
        self.specs = {}
        for name, spec in (("fast", FAST_SPEC), ("slow", SLOW_SPEC), ("chunked", CHUNKED_SPEC)):
            path = os.path.join(self.dir, name + "-spec.json")
            with open(path, "w") as f:
                json.dump(spec, f)
            self.specs[name] = path

    def tearDown(self):
        for w in self.workers:
            w.kill()
        if os.environ.get("SPOOL_TEST_KEEP"):
            print(f"\n  kept {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- helpers ----

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def submit(self, input_path, output, spec="fast", *extra):
        p = run("submit", "--queue", self.queue, "--input", input_path, "--output", output,
                "--spec", self.specs[spec], *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        job_id = p.stdout.strip()
        self.assertRegex(job_id, r"^[0-9a-f]{32}$")
        return job_id

    def start_worker(self, *args, name=None):
        name = name or f"worker-{len(self.workers)}"
        w = Worker(self.path(name), self.queue, *args)
        self.workers.append(w)
        return w

    def stats(self):
        p = run("queue", "stats", "--queue", self.queue)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def assert_queue_empty(self):
        s = self.stats()
        self.assertEqual({k: s[k] for k in ("visible", "in_flight", "delayed", "dead")},
                         {"visible": 0, "in_flight": 0, "delayed": 0, "dead": 0}, s)

    def dlq(self):
        p = run("dlq", "list", "--queue", self.queue)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json_lines(p.stdout)

    def status(self, outdir):
        """status.json as `spool status` prints it, or None when the command refuses."""
        p = run("status", outdir)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def wait_for_state(self, outdir, state, timeout, worker=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(outdir)
            if last and last["state"] == state:
                return last
            if worker is not None and not worker.running():
                self.fail(f"the worker exited before {outdir} was {state}: {worker.stdout()[-2000:]}"
                          f"{worker.stderr()[-2000:]}")
            time.sleep(0.05)
        self.fail(f"{outdir} did not reach {state!r} within {timeout} s; last status {last}")

    def assert_no_temporaries(self):
        self.assertEqual(temp_leftovers(self.dir), [], "temporary files or staging directories were left behind")

    def assert_complete_package(self, outdir, job_id, attempt=None):
        """A published package: every file result.json lists, every rendition's playlist and segments,
        and a status.json that says this job succeeded. Nothing else in the directory."""
        self.assertTrue(os.path.isdir(outdir), outdir)
        with open(os.path.join(outdir, "result.json")) as f:
            result = json.load(f)
        with open(os.path.join(outdir, "status.json")) as f:
            st = json.load(f)
        self.assertEqual(st["state"], "succeeded", f"{outdir}: {st}")
        self.assertEqual(st["job_id"], job_id, outdir)
        self.assertEqual(st["progress"], 1)
        self.assertIsNone(st["error"])
        self.assertGreaterEqual(st["attempt"], 1)
        if attempt is not None:
            self.assertEqual(st["attempt"], attempt, f"{outdir}: {st}")
        for name in ("master.m3u8", "manifest.mpd", "result.json"):
            self.assertIn(name, result["files"], outdir)
        for name in result["files"]:
            p = os.path.join(outdir, name)
            self.assertTrue(os.path.isfile(p), p)
            self.assertGreater(os.path.getsize(p), 0, p)
        with open(os.path.join(outdir, "master.m3u8")) as f:
            master = f.read()
        with open(os.path.join(outdir, "manifest.mpd")) as f:
            mpd = f.read()
        self.assertTrue(master.startswith("#EXTM3U"), outdir)
        self.assertTrue(result["renditions"], outdir)
        names = set()
        for r in result["renditions"]:
            name = r["name"]
            names.add(name)
            rdir = os.path.join(outdir, name)
            self.assertIn(f"{name}/index.m3u8", master, f"{outdir}: master.m3u8 does not list {name}")
            self.assertIn(name, mpd, f"{outdir}: manifest.mpd does not name {name}")
            with open(os.path.join(rdir, "index.m3u8")) as f:
                playlist = f.read().splitlines()
            self.assertIn("#EXT-X-ENDLIST", playlist, rdir)
            maps = [l for l in playlist if l.startswith("#EXT-X-MAP:")]
            self.assertEqual(maps, ['#EXT-X-MAP:URI="init.mp4"'], rdir)
            self.assertGreater(os.path.getsize(os.path.join(rdir, "init.mp4")), 0, rdir)
            segments = [l for l in playlist if l and not l.startswith("#")]
            self.assertGreater(r["segments"], 0, rdir)
            self.assertEqual(len(segments), r["segments"], rdir)
            for s in segments:
                p = os.path.join(rdir, s)
                self.assertTrue(os.path.isfile(p), p)
                self.assertGreater(os.path.getsize(p), 0, p)
            on_disk = sorted(n for n in os.listdir(rdir) if n.endswith(".m4s"))
            self.assertEqual(on_disk, sorted(segments), rdir)
            self.assertEqual(set(os.listdir(rdir)), {"index.m3u8", "init.mp4", *segments}, rdir)
        self.assertEqual(set(os.listdir(outdir)), set(result["files"]) | names | {"status.json"},
                         f"{outdir} holds something that is not part of the package")
        return st, result

    def assert_status_line_shape(self, line):
        self.assertTrue({"job_id", "state", "attempt", "progress", "eta_s", "playable", "playable_s", "error",
                         "updated_at"} <= set(line), line)
        self.assertTrue(set(line) <= {"job_id", "state", "attempt", "progress", "eta_s", "playable", "playable_s",
                                      "error", "updated_at", "idempotency_key", "metadata", "chunks"}, line)
        # playable only while running (a growing package) or once succeeded, never after a failure
        if line["state"] not in ("running", "succeeded"):
            self.assertFalse(line["playable"], line)

    # ---- 1. SIGKILL at random moments ----

    def test_random_sigkills_lose_no_job_and_leave_nothing_behind(self):
        jobs = 20
        kill_window_s = 35
        min_kills = 5
        seed = int(os.environ.get("SPOOL_TEST_SEED") or time.time_ns() % 1_000_000_007)
        print(f"\n  crash test seed {seed} (SPOOL_TEST_SEED={seed} replays it)", flush=True)
        rng = random.Random(seed)

        ids = {}
        for i in range(jobs):
            out = self.path(f"out{i:02d}")
            ids[out] = self.submit(self.inputs["short"], out)
        self.assertEqual(len(set(ids.values())), jobs)

        # Every delivery counts as an attempt, crashed ones included (like SQS's receive count), and a
        # delivery numbered above --max-attempts is dead-lettered before it starts (docs/worker.md):
        # with the default 5, a job whose workers this test SIGKILLs five times would be dead-lettered.
        # The crashes are the test's doing, not the job's, so the budget is raised out of the way.
        worker_args = ["--concurrency", "1", "--lease", "2", "--poll", "0.2", "--max-attempts", "50",
                       "--encoder-threads", "1"]
        incarnation = [0]

        def spawn(slot):
            incarnation[0] += 1
            return self.start_worker(*worker_args, name=f"crash-{slot}-{incarnation[0]:03d}")

        def all_succeeded():
            for out in ids:
                try:
                    with open(os.path.join(out, "status.json")) as f:
                        if json.load(f)["state"] != "succeeded":
                            return False
                except (OSError, ValueError):
                    return False
            return True

        slots = [spawn(0), spawn(1)]
        kills = 0
        mid_job_kills = 0
        self_exits = []
        start = time.monotonic()
        deadline = start + kill_window_s
        while time.monotonic() < deadline and (kills < min_kills or not all_succeeded()):
            time.sleep(min(rng.uniform(0.2, 2.5), max(0.0, deadline - time.monotonic())))
            slot = rng.randrange(len(slots))
            w = slots[slot]
            if not w.running():
                self_exits.append((w.log_prefix, w.proc.returncode, w.stderr()[-1000:]))
            w.kill()
            kills += 1
            events = w.events()
            # The last state this worker reported was "running": it died inside a job.
            if events and events[-1]["state"] == "running":
                mid_job_kills += 1
            slots[slot] = spawn(slot)
        # End with both killed too, leases and all: the final worker must wait those out.
        for w in slots:
            if not w.running():
                self_exits.append((w.log_prefix, w.proc.returncode, w.stderr()[-1000:]))
            w.kill()
        print(f"  {kills} kills ({mid_job_kills} inside a job) in {time.monotonic() - start:.1f} s", flush=True)
        self.assertEqual(self_exits, [], "a worker without --exit-when-idle exited on its own")

        final = self.start_worker("--exit-when-idle", "--lease", "2", "--poll", "0.2", "--max-attempts", "50",
                                  name="crash-final")
        rc = final.wait(timeout=150)
        self.assertEqual(rc, 0, final.stderr())
        summary = final.summary()
        self.assertEqual(summary["dead"], 0, summary)
        self.assertEqual(summary["lease_lost"], 0, summary)

        self.assert_queue_empty()
        self.assertEqual(self.dlq(), [])
        attempts = []
        for out, job_id in ids.items():
            st, _ = self.assert_complete_package(out, job_id)
            attempts.append(st["attempt"])
        self.assert_no_temporaries()
        print(f"  attempts per job: {sorted(attempts)}", flush=True)
        self.assertGreaterEqual(kills, min_kills)
        self.assertGreaterEqual(mid_job_kills, 1, "no kill landed inside a job")
        self.assertGreaterEqual(max(attempts), 2, "no job was ever delivered again after a crash")

    # ---- 2. a poison job ----

    def test_poison_job_is_dead_lettered_at_once_and_redrive_retries_it(self):
        bad = self.path("clip.mp4")
        with open(bad, "w") as f:
            f.write("this is a text file, not a video\n" * 20)
        out = self.path("out")
        job_id = self.submit(bad, out)

        w = self.start_worker("--exit-when-idle", "--poll", "0.2", "--lease", "5")
        self.assertEqual(w.wait(timeout=60), 0, w.stderr())
        summary = w.summary()
        self.assertEqual(summary, {"succeeded": 0, "already_complete": 0, "retried": 0, "dead": 1, "released": 0,
                                   "lease_lost": 0, "split": 0})
        self.assertEqual([e["state"] for e in w.events()], ["running", "dead"])

        dead = self.dlq()
        self.assertEqual(len(dead), 1, dead)
        d = dead[0]
        self.assertEqual(d["job_id"], job_id)
        self.assertEqual(d["attempts"], 1)
        self.assertEqual(d["error"]["category"], "input", d)
        # docs/errors.md: input_not_media for "no known container format"; the mp4 demuxer chosen by
        # the file name's extension reports the same text file as undecodable. Either is a permanent
        # input failure, which is what decides dead-lettering.
        self.assertIn(d["error"]["code"], ("input_not_media", "input_undecodable"), d)
        self.assertEqual(d["job"]["input"], bad)
        self.assertEqual(d["job"]["output"], out)

        st = self.status(out)
        self.assertIsNotNone(st)
        self.assertEqual(st["job_id"], job_id)
        self.assertEqual(st["state"], "dead")
        self.assertEqual(st["attempt"], 1)
        self.assertEqual(st["error"]["code"], d["error"]["code"])
        self.assertEqual(st["error"]["category"], "input")
        self.assertEqual(os.listdir(out), ["status.json"])
        self.assertEqual(self.stats()["dead"], 1)
        self.assert_no_temporaries()

        # Fixed input, redriven: the same job id now succeeds.
        shutil.copyfile(self.inputs["tiny"], bad)
        p = run("dlq", "redrive", "--queue", self.queue, "--id", job_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), {"moved": 1})
        w2 = self.start_worker("--exit-when-idle", "--poll", "0.2", "--lease", "5")
        self.assertEqual(w2.wait(timeout=60), 0, w2.stderr())
        self.assertEqual(w2.summary()["succeeded"], 1, w2.stdout())
        self.assert_complete_package(out, job_id)
        self.assertEqual(self.dlq(), [])
        self.assert_queue_empty()
        self.assert_no_temporaries()

    # ---- 3. a job longer than its lease ----

    def test_job_longer_than_its_lease_runs_once(self):
        out = self.path("out")
        job_id = self.submit(self.inputs["long"], out, "slow")
        args = ["--lease", "1", "--poll", "0.2", "--exit-when-idle", "--encoder-threads", "1"]
        a = self.start_worker(*args, name="lease-a")
        b = self.start_worker(*args, name="lease-b")
        rc_a, rc_b = a.wait(timeout=120), b.wait(timeout=60)
        self.assertEqual((rc_a, rc_b), (0, 0), a.stderr() + b.stderr())
        sums = sorted([a.summary(), b.summary()], key=lambda s: s["succeeded"])
        idle, busy = sums
        self.assertEqual(busy, {"succeeded": 1, "already_complete": 0, "retried": 0, "dead": 0, "released": 0,
                                "lease_lost": 0, "split": 0}, sums)
        self.assertEqual(idle, {"succeeded": 0, "already_complete": 0, "retried": 0, "dead": 0, "released": 0,
                                "lease_lost": 0, "split": 0}, sums)
        st, result = self.assert_complete_package(out, job_id, attempt=1)
        # The property is only exercised when the job really outlived its lease: at least twice over.
        self.assertGreater(result["timings"]["elapsed_s"], 2.0, result["timings"])
        # One delivery: every status line of either worker is attempt 1, and only one worker ran it.
        events = a.events() + b.events()
        self.assertEqual({e["attempt"] for e in events}, {1}, events)
        self.assertEqual(sorted(e["state"] for e in events), ["running", "succeeded"], events)
        self.assert_queue_empty()
        self.assert_no_temporaries()

    # ---- 4. SIGTERM drains ----

    def test_sigterm_lets_a_running_job_finish_and_takes_no_new_one(self):
        first, second = self.path("first"), self.path("second")
        first_id = self.submit(self.inputs["long"], first, "slow")
        second_id = self.submit(self.inputs["tiny"], second)
        w = self.start_worker("--lease", "5", "--poll", "0.2", "--grace", "60", "--encoder-threads", "1")
        running = self.wait_for_state(first, "running", timeout=30, worker=w)
        self.assertEqual(running["job_id"], first_id)
        signalled_at = time.time()
        w.signal(signal.SIGTERM)
        rc = w.wait(timeout=90)
        self.assertEqual(rc, 0, w.stderr())
        self.assertIn("draining", w.stderr())
        summary = w.summary()
        self.assertEqual(summary, {"succeeded": 1, "already_complete": 0, "retried": 0, "dead": 0, "released": 0,
                                   "lease_lost": 0, "split": 0})
        st, result = self.assert_complete_package(first, first_id, attempt=1)
        # The job was still encoding when the signal came: it finished after it, not before.
        self.assertGreater(wall_time(st["updated_at"]), signalled_at, (st, result["timings"]))
        # Draining stops receiving: the second job was not started.
        self.assertEqual([e["job_id"] for e in w.events()], [first_id, first_id])
        self.assertIsNone(self.status(second))  # never taken: no worker wrote its status
        s = self.stats()
        self.assertEqual((s["visible"], s["in_flight"], s["delayed"], s["dead"]), (1, 0, 0, 0), s)
        self.assert_no_temporaries()

    def test_sigterm_with_no_grace_releases_the_job_at_once(self):
        out = self.path("out")
        job_id = self.submit(self.inputs["long"], out, "slow")
        w = self.start_worker("--lease", "60", "--grace", "0", "--poll", "0.2", "--encoder-threads", "1")
        self.wait_for_state(out, "running", timeout=30, worker=w)
        time.sleep(0.5)  # well inside the encode
        w.signal(signal.SIGTERM)
        sent = time.monotonic()
        rc = w.wait(timeout=30)
        took = time.monotonic() - sent
        self.assertEqual(rc, 0, w.stderr())
        self.assertLess(took, 10, "a drain with --grace 0 should not wait for the job (lease 60 s)")
        summary = w.summary()
        self.assertEqual(summary, {"succeeded": 0, "already_complete": 0, "retried": 0, "dead": 0, "released": 1,
                                   "lease_lost": 0, "split": 0})
        # Released, not left to expire: visible again at once although the lease had 60 s to run.
        s = self.stats()
        self.assertEqual((s["visible"], s["in_flight"], s["delayed"], s["dead"]), (1, 0, 0, 0), s)
        self.assert_no_temporaries()
        st = self.status(out)
        self.assertEqual((st["job_id"], st["state"]), (job_id, "queued"), st)
        self.assertEqual(os.listdir(out), ["status.json"])
        self.assertEqual([e["state"] for e in w.events()], ["running", "queued"])

        w2 = self.start_worker("--exit-when-idle", "--lease", "60", "--poll", "0.2")
        self.assertEqual(w2.wait(timeout=90), 0, w2.stderr())
        self.assertEqual(w2.summary()["succeeded"], 1, w2.stdout())
        # The released delivery did not count (file:// undoes it): this is still the first attempt.
        self.assert_complete_package(out, job_id, attempt=1)
        self.assert_queue_empty()
        self.assert_no_temporaries()

    def test_a_second_sigterm_releases_at_once(self):
        out = self.path("out")
        job_id = self.submit(self.inputs["long"], out, "slow")
        # A grace far longer than the test: only the second signal can end the run in time.
        w = self.start_worker("--lease", "60", "--grace", "600", "--poll", "0.2", "--encoder-threads", "1")
        self.wait_for_state(out, "running", timeout=30, worker=w)
        time.sleep(0.5)
        w.signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while "draining" not in w.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("draining", w.stderr())
        self.assertTrue(w.running(), "the first SIGTERM should leave the job its grace")
        w.signal(signal.SIGTERM)
        rc = w.wait(timeout=30)
        self.assertEqual(rc, 0, w.stderr())
        self.assertEqual(w.summary(), {"succeeded": 0, "already_complete": 0, "retried": 0, "dead": 0, "released": 1,
                                       "lease_lost": 0, "split": 0})
        s = self.stats()
        self.assertEqual((s["visible"], s["in_flight"], s["delayed"], s["dead"]), (1, 0, 0, 0), s)
        st = self.status(out)
        self.assertEqual((st["job_id"], st["state"]), (job_id, "queued"), st)
        self.assertEqual(os.listdir(out), ["status.json"])
        self.assert_no_temporaries()

    def test_drains_do_not_use_up_attempts_but_crashes_do(self):
        drained, crashed = self.path("drained"), self.path("crashed")
        drained_id = self.submit(self.inputs["long"], drained, "slow")
        # Three rolling deploys cut the encode short; --max-attempts is 2.
        args = ["--lease", "60", "--grace", "0", "--poll", "0.2", "--max-attempts", "2", "--encoder-threads", "1"]
        for deploy in range(3):
            w = self.start_worker(*args, name=f"deploy-{deploy}")
            self.wait_for_state(drained, "running", timeout=30, worker=w)
            w.signal(signal.SIGTERM)
            self.assertEqual(w.wait(timeout=30), 0, w.stderr())
            self.assertEqual(w.summary()["released"], 1, w.stdout())
            self.assertEqual([e["attempt"] for e in w.events()], [1, 1], w.events())
        final = self.start_worker("--exit-when-idle", "--lease", "60", "--poll", "0.2", "--max-attempts", "2")
        self.assertEqual(final.wait(timeout=120), 0, final.stderr())
        self.assertEqual(final.summary()["succeeded"], 1, final.stdout())
        self.assert_complete_package(drained, drained_id, attempt=1)
        self.assertEqual(self.dlq(), [])

        # Two workers SIGKILLed inside the job: each delivery counts, and the third is dead-lettered.
        crashed_id = self.submit(self.inputs["long"], crashed, "slow")
        for crash in range(2):
            w = self.start_worker("--lease", "1", "--poll", "0.2", "--max-attempts", "2", "--encoder-threads", "1",
                                  name=f"crash-{crash}")
            deadline = time.monotonic() + 30
            st = None
            while time.monotonic() < deadline:  # this worker's delivery, not the killed one's status
                st = self.status(crashed)
                if st and st["state"] == "running" and st["attempt"] == crash + 1:
                    break
                time.sleep(0.05)
            self.assertEqual((st["state"], st["attempt"]), ("running", crash + 1), st)
            w.kill()
        last = self.start_worker("--exit-when-idle", "--lease", "1", "--poll", "0.2", "--max-attempts", "2")
        self.assertEqual(last.wait(timeout=60), 0, last.stderr())
        self.assertEqual(last.summary()["dead"], 1, last.stdout())
        dead = self.dlq()
        self.assertEqual([d["job_id"] for d in dead], [crashed_id], dead)
        self.assertEqual(dead[0]["attempts"], 3)
        self.assertIn("without finishing", dead[0]["reason"])
        self.assertEqual(self.status(crashed)["state"], "dead")

    # ---- 5. submit and status ----

    def test_status_of_a_fresh_submit_and_of_a_missing_directory(self):
        out = self.path("out")
        job_id = self.submit(self.inputs["tiny"], out, "fast", "--metadata", '{"tenant":"t1","n":3}')
        # Until a worker takes the job there is no status: submitting writes nothing where the
        # package will go.
        p = run("status", out)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(json.loads(p.stderr.splitlines()[-1])["error"]["code"], "input_unreadable")
        self.assertFalse(os.path.exists(out))

        # The worker's status lines carry the same fields and the metadata, and status follows them.
        w = self.start_worker("--exit-when-idle", "--poll", "0.2", "--lease", "5")
        self.assertEqual(w.wait(timeout=60), 0, w.stderr())
        events = w.events()
        self.assertEqual([e["state"] for e in events], ["running", "succeeded"], events)
        for e in events:
            self.assert_status_line_shape(e)
            self.assertEqual(e["job_id"], job_id)
            self.assertEqual(e["attempt"], 1)
            self.assertEqual(e["metadata"], {"tenant": "t1", "n": 3})
        final = self.status(out)
        self.assertEqual(final["state"], "succeeded")
        self.assertEqual(final["metadata"], {"tenant": "t1", "n": 3})
        self.assertEqual(final["updated_at"], events[-1]["updated_at"])

        missing = self.path("nowhere")
        p = run("status", missing)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(p.stdout, "")
        e = last_error(p.stderr)
        self.assertEqual(set(e), {"code", "category", "message"})
        self.assertEqual(e["category"], "input")
        self.assertEqual(e["code"], "input_unreadable")
        self.assertFalse(os.path.exists(missing))

    # ---- 6. idempotency ----

    def test_same_idempotency_key_runs_one_job(self):
        out = self.path("out")
        first = self.submit(self.inputs["tiny"], out, "fast", "--idempotency-key", "upload-42")
        second = self.submit(self.inputs["tiny"], out, "fast", "--idempotency-key", "upload-42")
        self.assertEqual(first, second)
        self.assertEqual(self.stats()["visible"], 1)
        w = self.start_worker("--exit-when-idle", "--poll", "0.2", "--lease", "5")
        self.assertEqual(w.wait(timeout=60), 0, w.stderr())
        self.assertEqual(w.summary(), {"succeeded": 1, "already_complete": 0, "retried": 0, "dead": 0,
                                       "released": 0, "lease_lost": 0, "split": 0})
        events = w.events()
        self.assertEqual([(e["job_id"], e["state"]) for e in events], [(first, "running"), (first, "succeeded")])
        for e in events:
            self.assert_status_line_shape(e)
        st, _ = self.assert_complete_package(out, first, attempt=1)
        self.assertEqual(st.get("idempotency_key"), "upload-42", st)
        self.assert_queue_empty()

    # ---- 7. chunked jobs ----

    def test_chunked_job_with_a_worker_killed_mid_chunk_ends_whole(self):
        out = self.path("out")
        job_id = self.submit(self.inputs["long"], out, "chunked")
        work = out + ".chunks-" + job_id
        args = ["--lease", "2", "--poll", "0.2", "--encoder-threads", "1"]
        victim = self.start_worker("--concurrency", "1", *args, name="victim")

        # It splits the job, then takes the chunks one by one: killed once one is under way and not near
        # its end (a chunk first seen past the middle may be published before the kill lands).
        deadline = time.monotonic() + 60
        killed = None
        while killed is None and time.monotonic() < deadline:
            for name in sorted(os.listdir(work)) if os.path.isdir(work) else []:
                try:
                    with open(os.path.join(work, name, "status.json")) as f:
                        st = json.load(f)
                except (OSError, ValueError):
                    continue
                if name.startswith("chunk-") and st["state"] == "running" and 0 < st["progress"] < 0.8:
                    killed = st["job_id"]
                    break
            time.sleep(0.05)
        self.assertIsNotNone(killed, f"no chunk started within 60 s: {victim.stderr()[-2000:]}")
        victim.kill()

        a = self.start_worker("--exit-when-idle", *args, name="after-a")
        b = self.start_worker("--exit-when-idle", *args, name="after-b")
        self.assertEqual((a.wait(timeout=180), b.wait(timeout=60)), (0, 0), a.stderr() + b.stderr())
        sums = [a.summary(), b.summary()]
        self.assertEqual(sum(s["dead"] for s in sums), 0, sums)

        st, result = self.assert_complete_package(out, job_id)
        self.assertEqual(st["chunks"], {"done": 3, "total": 3}, st)
        self.assertEqual([r["name"] for r in result["renditions"]], ["360p", "180p", "audio"])
        # The killed chunk was delivered again and published by its second delivery.
        again = [e for w in (a, b) for e in w.events() if e["job_id"] == killed and e["state"] == "succeeded"]
        self.assertEqual(len(again), 1, again)
        self.assertGreaterEqual(again[0]["attempt"], 2, again)
        self.assertFalse(os.path.exists(work), "the work area was left behind")
        self.assert_no_temporaries()
        self.assert_queue_empty()
        self.assertEqual(self.dlq(), [])


def main():
    global CLI, MAKE_INPUT
    args = sys.argv[1:]
    CLI = os.environ.get("SPOOL_CLI") or (args.pop(0) if args else None)
    MAKE_INPUT = os.environ.get("SPOOL_TEST_INPUT") or (args.pop(0) if args else None)
    for what, path, var in (("the spool CLI", CLI, "SPOOL_CLI"), ("spool-test-input", MAKE_INPUT, "SPOOL_TEST_INPUT")):
        if not path or not os.access(path, os.X_OK):
            print(f"{what} is not executable: {path!r} (set {var} or pass its path)", file=sys.stderr)
            print("0 passed, 1 failed")
            return 1
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(WorkerCli)
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"took {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
