#!/usr/bin/env python3
"""The queue commands of the spool CLI: submit, queue stats, dlq list, dlq redrive; and Ctrl-C on a
probe that is stalled on a silent server.

Runs the built binary named by the SPOOL_CLI environment variable or the first argument:
    SPOOL_CLI=build/bin/spool python3 tests/cli/test_queue_cli.py
    python3 tests/cli/test_queue_cli.py build/bin/spool
Prints "N passed, N failed" last and exits non-zero on any failure.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

CLI = None


def run(*args, cwd=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def last_error(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    if not lines:
        raise AssertionError("nothing on stderr")
    return json.loads(lines[-1])["error"]


class QueueCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-cli-")
        self.queue = "file://" + os.path.join(self.dir, "jobs.db")
        self.input = os.path.join(self.dir, "in.mp4")
        self.output = os.path.join(self.dir, "out")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def submit(self, *extra):
        return run("submit", "--queue", self.queue, "--input", self.input, "--output", self.output, *extra)

    def stats(self):
        p = run("queue", "stats", "--queue", self.queue)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        s = json.loads(lines[0])
        self.assertEqual(set(s), {"visible", "in_flight", "delayed", "dead", "oldest_age_s", "recommended_workers"})
        return s

    def assert_refused(self, p, code=3, category="input"):
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertEqual(p.stdout, "")
        e = last_error(p)
        self.assertEqual(set(e), {"code", "category", "message"})
        self.assertEqual(e["category"], category)
        return e

    def test_submit_prints_an_id_and_queues_one_job(self):
        p = self.submit()
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        self.assertTrue(lines[0].strip())
        s = self.stats()
        self.assertEqual(s["visible"], 1)
        self.assertEqual(s["in_flight"], 0)
        self.assertEqual(s["delayed"], 0)
        self.assertEqual(s["dead"], 0)
        self.assertGreaterEqual(s["oldest_age_s"], 0)

    def test_submit_with_a_relative_input_and_metadata_and_spec(self):
        spec = os.path.join(self.dir, "spec.json")
        with open(spec, "w") as f:
            json.dump({"video": {"rungs": [{"height": 360}]}}, f)
        p = run("submit", "--queue", self.queue, "--input", "in.mp4", "--output", "out", "--spec", spec,
                "--metadata", '{"tenant":"a"}', cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.stats()["visible"], 1)
        # Nothing is written where the package will go: its status is the worker's to write.
        self.assertFalse(os.path.exists(os.path.join(self.dir, "out")))

    def test_submit_never_touches_a_status_json(self):
        # A worker took the job and wrote "running" already.
        os.makedirs(self.output)
        running = {"job_id": "0123456789abcdef0123456789abcdef", "state": "running", "attempt": 1, "progress": 0.5,
                   "eta_s": 3, "updated_at": "2026-01-02T03:04:05.678Z", "error": None}
        with open(os.path.join(self.output, "status.json"), "w") as f:
            json.dump(running, f)
        with open(os.path.join(self.output, "status.json"), "rb") as f:
            before = f.read()
        p = self.submit()
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.output, "status.json"), "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(os.listdir(self.output), ["status.json"])

    def test_submit_writes_nothing_into_a_directory_of_other_files(self):
        os.makedirs(self.output)
        with open(os.path.join(self.output, "notes.txt"), "w") as f:
            f.write("mine\n")
        p = self.submit()
        self.assertEqual(p.returncode, 0, p.stderr)  # queued; the worker will refuse the output
        self.assertEqual(os.listdir(self.output), ["notes.txt"])
        self.assertEqual(self.stats()["visible"], 1)

    def test_same_idempotency_key_returns_the_first_id(self):
        first = self.submit("--idempotency-key", "k-1")
        second = self.submit("--idempotency-key", "k-1")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(first.stdout, second.stdout)
        self.assertEqual(self.stats()["visible"], 1)
        other = self.submit("--idempotency-key", "k-2")
        self.assertEqual(other.returncode, 0, other.stderr)
        self.assertNotEqual(other.stdout, first.stdout)
        self.assertEqual(self.stats()["visible"], 2)

    def test_bad_preset_is_refused_and_nothing_is_queued(self):
        p = self.submit("--preset", "no-such-preset")
        e = self.assert_refused(p)
        self.assertEqual(e["code"], "invalid_spec")
        self.assertEqual(self.stats()["visible"], 0)

    def test_bad_spec_is_refused_and_nothing_is_queued(self):
        spec = os.path.join(self.dir, "spec.json")
        with open(spec, "w") as f:
            json.dump({"video": {"rungs": [{"height": 7}]}}, f)
        e = self.assert_refused(self.submit("--spec", spec))
        self.assertEqual(e["code"], "invalid_spec")
        self.assertEqual(self.stats()["visible"], 0)

    def test_bad_metadata_is_refused(self):
        self.assert_refused(self.submit("--metadata", "{not json"))
        self.assertEqual(self.stats()["visible"], 0)

    # A queue URI nothing can open is the caller's mistake (usage, exit 2), not a bad job.
    def test_unknown_scheme_is_refused(self):
        p = run("submit", "--queue", "nosuch://q", "--input", self.input, "--output", self.output)
        e = self.assert_refused(p, code=2, category="usage")
        self.assertEqual(e["code"], "invalid_argument")
        self.assertIn("nosuch://q", e["message"])
        e = self.assert_refused(run("queue", "stats", "--queue", "nosuch://q"), code=2, category="usage")
        self.assertEqual(e["code"], "invalid_argument")

    def test_relative_file_queue_is_refused(self):
        p = run("queue", "stats", "--queue", "file://jobs.db")
        e = self.assert_refused(p, code=2, category="usage")
        self.assertEqual(e["code"], "invalid_argument")
        self.assertIn("absolute path", e["message"])

    def test_usage_errors_exit_2(self):
        for args in (["submit", "--input", self.input, "--output", self.output],
                     ["submit", "--queue", self.queue, "--output", self.output],
                     ["submit", "--queue", self.queue, "--input", self.input],
                     ["submit", "--queue"],
                     ["queue", "stats"],
                     ["queue"],
                     ["queue", "bogus", "--queue", self.queue],
                     ["dlq", "list"],
                     ["dlq", "list", "--queue", self.queue, "--id", "x"],
                     ["dlq"],
                     ["dlq", "redrive", "--queue", self.queue, "--bogus", "x"]):
            with self.subTest(args=args):
                p = run(*args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(last_error(p)["code"], "usage")
        self.assertEqual(self.stats()["visible"], 0)

    def test_dlq_list_on_an_empty_queue_prints_nothing(self):
        p = run("dlq", "list", "--queue", self.queue)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "")

    def test_redrive_without_dead_jobs_moves_nothing(self):
        self.assertEqual(self.submit().returncode, 0)
        for extra in ([], ["--id", "no-such-job"]):
            with self.subTest(extra=extra):
                p = run("dlq", "redrive", "--queue", self.queue, *extra)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.splitlines(), ['{"moved":0}'])
        self.assertEqual(self.stats()["visible"], 1)


class ProbeCli(unittest.TestCase):
    def test_ctrl_c_ends_a_probe_stalled_on_a_silent_server(self):
        # A server on 127.0.0.1 that accepts and never answers: the TLS handshake waits for ever.
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            srv.settimeout(30)
            port = srv.getsockname()[1]
            # Loopback is refused unless allowed: the probe must reach the server to stall on it.
            p = subprocess.Popen([CLI, "probe", f"https://127.0.0.1:{port}/lecture.mp4", "--allow-https-host",
                                  "127.0.0.1", "--allow-private-addresses"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
            try:
                conn, _ = srv.accept()
                with conn:
                    time.sleep(0.5)
                    self.assertIsNone(p.poll(), "the probe should still be waiting for the server")
                    p.send_signal(signal.SIGINT)
                    out, err = p.communicate(timeout=20)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=20)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(out, "")
        self.assertEqual(json.loads([l for l in err.splitlines() if l.strip()][-1])["error"]["code"], "cancelled")


def main():
    global CLI
    args = sys.argv[1:]
    CLI = os.environ.get("SPOOL_CLI") or (args.pop(0) if args else None)
    if not CLI or not os.access(CLI, os.X_OK):
        print(f"the spool CLI is not executable: {CLI!r} (set SPOOL_CLI or pass its path)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    suite = unittest.TestSuite([unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in (QueueCli, ProbeCli)])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
