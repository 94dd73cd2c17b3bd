#!/usr/bin/env python3
"""The spool CLI's command line itself: help texts, the options each command takes, how values are
checked, and what a usage error looks like. Nothing here encodes; a job is queued only to read back
an option's effect from `queue stats`.

Runs the built binary named by the SPOOL_CLI environment variable or the first argument:
    SPOOL_CLI=build/bin/spool python3 tests/cli/test_args_cli.py
Prints "N passed, N failed" last and exits non-zero on any failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

CLI = None

# The options each command has always taken (the tool's documented contract), written out here
# rather than read from the tool.
OPTIONS = {
    "probe": ["--allow-https-host", "--https-ca-file", "--allow-private-addresses", "--max-duration", "--deadline"],
    "transcode": ["--preset", "--spec", "--overwrite", "--quiet", "--allow-https-host", "--https-ca-file",
                  "--allow-private-addresses", "--max-duration", "--deadline", "--nice", "--encoder-threads",
                  "--queue-frames"],
    "submit": ["--queue", "--input", "--output", "--preset", "--spec", "--idempotency-key", "--metadata"],
    "worker": ["--queue", "--concurrency", "--min-concurrency", "--jobs-per-worker", "--lease", "--grace", "--poll",
               "--max-attempts", "--retry-base", "--exit-when-idle", "--progress", "--quiet", "--nice",
               "--encoder-threads", "--allow-https-host", "--https-ca-file", "--allow-private-addresses",
               "--max-duration", "--deadline"],
    "queue stats": ["--queue", "--jobs-per-worker"],
    "dlq list": ["--queue"],
    "dlq redrive": ["--queue", "--id"],
}
FLAGS = {"--overwrite", "--quiet", "--allow-private-addresses", "--exit-when-idle", "--progress"}


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def last_error(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    if not lines:
        raise AssertionError("nothing on stderr")
    return json.loads(lines[-1])["error"]


class Help(unittest.TestCase):
    def test_general_help_names_every_command_on_stdout(self):
        for args in (["help"], ["--help"], ["-h"]):
            with self.subTest(args=args):
                p = run(*args)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "")
                for command in list(OPTIONS) + ["status", "presets", "version"]:
                    self.assertRegex(p.stdout, re.compile(rf"^  spool {re.escape(command)}( |$)", re.M))

    def test_each_command_help_lists_its_options(self):
        for command, options in OPTIONS.items():
            with self.subTest(command=command):
                p = run(*command.split(), "--help")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(p.stdout.startswith(f"usage: spool {command} "), p.stdout[:200])
                for o in options:
                    self.assertIn(o, p.stdout)
                self.assertEqual(run("help", *command.split()).stdout, p.stdout)

    def test_help_skips_the_required_options_but_not_unknown_ones(self):
        self.assertEqual(run("worker", "--help").returncode, 0)
        p = run("worker", "--bogus", "--help")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--bogus", last_error(p)["message"])


class Options(unittest.TestCase):
    def test_every_option_is_taken_by_its_command_and_no_other(self):
        # --help after the options: parsed and checked, then nothing runs.
        for command, options in OPTIONS.items():
            for o in options:
                with self.subTest(command=command, option=o):
                    args = [o] if o in FLAGS else [o, "1"]
                    p = run(*command.split(), *args, "--help")
                    self.assertEqual(p.returncode, 0, p.stderr)
        for command, option, value in (("probe", "--preset", "x"), ("probe", "--quiet", None),
                                       ("dlq list", "--id", "x"), ("submit", "--lease", "5"),
                                       ("queue stats", "--concurrency", "2")):
            with self.subTest(command=command, option=option):
                p = run(*command.split(), option, *([value] if value else []), "--help")
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(last_error(p)["message"], f"unknown option {option}")

    def test_short_forms(self):
        for command in ("transcode", "worker"):
            self.assertEqual(run(command, "-q", "--help").returncode, 0)
        self.assertEqual(run("transcode", "-h").returncode, 0)

    def test_numbers_are_whole_finite_and_in_range(self):
        bad = ["", "nan", "inf", "-inf", "1x", "x1", "1e999", "1 ", "0x"]
        for command, option in (("transcode", "--nice"), ("worker", "--lease"), ("worker", "--jobs-per-worker"),
                                ("queue stats", "--jobs-per-worker"), ("probe", "--max-duration")):
            for value in bad:
                with self.subTest(command=command, option=option, value=value):
                    p = run(*command.split(), option, value, "--help")
                    self.assertEqual(p.returncode, 2, p.stderr)
                    e = last_error(p)
                    self.assertEqual((e["code"], e["category"]), ("usage", "usage"))
                    self.assertIn(option, e["message"])
        # The least value each takes, and just below it.
        for command, option, least, below in (("worker", "--lease", "1", "0.999"), ("worker", "--concurrency", "1", "0"),
                                              ("worker", "--max-attempts", "1", "0"),
                                              ("worker", "--jobs-per-worker", "0.001", "0.0009"),
                                              ("worker", "--grace", "0", "-0.5"), ("transcode", "--nice", "0", "-1"),
                                              ("queue stats", "--jobs-per-worker", "0.0001", "0")):
            with self.subTest(command=command, option=option):
                self.assertEqual(run(*command.split(), option, least, "--help").returncode, 0)
                self.assertEqual(run(*command.split(), option, below, "--help").returncode, 2)
        # Past what the variable holds: refused, not wrapped around.
        self.assertEqual(run("transcode", "--nice", "3000000000", "--help").returncode, 2)
        self.assertEqual(run("worker", "--lease", "1e17", "--help").returncode, 2)

    def test_usage_errors(self):
        cases = [(["transcode", "in.mp4"], "transcode needs IN OUTDIR"),
                 (["transcode", "a", "b", "c"], "unexpected argument 'c'"),
                 (["status"], "status needs OUTDIR"),
                 (["worker", "--queue"], "--queue needs a value"),
                 (["worker", "--queue="], "--queue needs a value"),
                 (["worker", "--queue", ""], "--queue needs a value"),
                 (["worker"], "--queue is required"),
                 (["worker", "--queue", "mem://q", "--conc", "2"], "unknown option --conc"),
                 (["worker", "--queue", "mem://q", "--progress=yes"], "--progress takes no value"),
                 (["worker", "--queue", "mem://q", "--concurrency", "2", "--min-concurrency", "3"],
                  "--min-concurrency is above --concurrency"),
                 (["bogus"], "unknown command 'bogus'"),
                 (["queue"], "queue needs a subcommand (stats)"),
                 ([], "usage")]
        for args, message in cases:
            with self.subTest(args=args):
                p = run(*args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stdout, "")
                self.assertEqual(last_error(p), {"code": "usage", "category": "usage", "message": message})
                self.assertIn("usage: spool", p.stderr)


class Values(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-args-")
        self.queue = "file://" + os.path.join(self.dir, "jobs.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_a_repeated_option_keeps_its_last_value(self):
        # Three jobs waiting: with 2 jobs per worker that is 2 workers, with 0.5 it is 6.
        for n in range(3):
            p = run("submit", "--queue", self.queue, "--input", os.path.join(self.dir, f"in{n}.mp4"), "--output",
                    os.path.join(self.dir, f"out{n}"))
            self.assertEqual(p.returncode, 0, p.stderr)
        for values, workers in ((["0.5", "2"], 2), (["2", "0.5"], 6)):
            with self.subTest(values=values):
                p = run("queue", "stats", "--queue", self.queue, "--jobs-per-worker", values[0],
                        "--jobs-per-worker=" + values[1])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(json.loads(p.stdout)["recommended_workers"], workers)

    def test_a_list_option_keeps_every_value(self):
        # Port 1 on loopback: refused by the policy before any connection is tried.
        url = "https://127.0.0.1:1/in.mp4"
        p = run("probe", url, "--allow-https-host", "127.0.0.1", "--allow-https-host", "example.org")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("private addresses are not allowed", last_error(p)["message"])  # the host passed
        p = run("probe", url, "--allow-https-host", "example.org")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("not on the https allow-list", last_error(p)["message"])

    def test_an_operand_after_a_double_dash_may_start_with_a_dash(self):
        p = run("status", "--", "-no-such-dir")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("-no-such-dir", last_error(p)["message"])


def main():
    global CLI
    args = sys.argv[1:]
    CLI = os.environ.get("SPOOL_CLI") or (args.pop(0) if args else None)
    if not CLI or not os.access(CLI, os.X_OK):
        print(f"the spool CLI is not executable: {CLI!r} (set SPOOL_CLI or pass its path)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    suite = unittest.TestSuite([unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in (Help, Options, Values)])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
