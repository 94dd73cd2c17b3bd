#!/usr/bin/env python3
"""The bench suite's own logic: phase rotation, medians and the latency target, wrk's figures read
back through its Lua hook against servers on 127.0.0.1, the portal child's start and stop, and the
summary with its plots. Standard library only; wrk and gnuplot tests skip when they are missing."""
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import textwrap
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import portal_client  # noqa: E402
import portal_latency  # noqa: E402
import suite_report  # noqa: E402


def wrk_figures(p99, timeouts=0, errors=0, requests=1000, p50=None):
    p50 = p99 / 4 if p50 is None else p50
    return {"sent": requests + 2, "requests": requests, "unanswered": 2, "stalled": 2, "duration_us": 4_000_000, "bytes": 1,
            "connect": 0, "read": 0, "write": 0, "status": errors, "timeout": timeouts, "errors": errors,
            "p50_ms": p50, "p90_ms": p99 / 2, "p99_ms": p99, "max_ms": p99 * 2, "over_timeout": []}


def phase(name, rnd, p99, covered=True, **kw):
    return {"phase": name, "round": rnd, "covered": covered, "wrk": wrk_figures(p99, **kw), "notes": [],
            "portal_cpu_cores": 1.5, "load_before": 1.0}


class Rotation(unittest.TestCase):
    def test_every_phase_takes_every_position_once_in_three_rounds(self):
        phases = list(portal_latency.PHASES)
        orders = [portal_latency.round_order(phases, r) for r in (1, 2, 3)]
        for order in orders:
            self.assertCountEqual(order, phases)
        for pos in range(3):
            self.assertCountEqual([o[pos] for o in orders], phases)
        self.assertEqual(portal_latency.round_order(phases, 4), orders[0])


class Summary(unittest.TestCase):
    def rounds(self):
        return [{"round": 1, "order": ["idle", "encoding"],
                 "phases": {"idle": phase("idle", 1, 2.0), "encoding": phase("encoding", 1, 5.0)}},
                {"round": 2, "order": ["encoding", "idle"],
                 "phases": {"idle": phase("idle", 2, 4.0, timeouts=3),
                            "encoding": phase("encoding", 2, 900.0, covered=False)}},
                {"round": 3, "order": ["idle", "encoding"],
                 "phases": {"idle": phase("idle", 3, 3.0), "encoding": phase("encoding", 3, 7.0)}}]

    def test_medians_over_covered_rounds_and_sums_of_timeouts(self):
        s = portal_latency.summarize(self.rounds(), ["idle", "encoding"])
        self.assertEqual(s["idle"]["p99_ms"], 3.0)
        self.assertEqual(s["idle"]["timeout"], 3)
        self.assertEqual(s["idle"]["rounds_measured"], 3)
        # round 2's encoding window was not all encoding: its 900 ms must not count
        self.assertEqual(s["encoding"]["p99_ms"], 6.0)
        self.assertEqual(s["encoding"]["rounds_measured"], 2)
        self.assertEqual(s["encoding"]["rounds_failed_or_left_out"], 1)
        self.assertEqual(s["encoding"]["requests"], 2000)

    def test_target_bound_is_twice_idle_plus_two_capped_at_twenty(self):
        def judge(idle, enc, **kw):
            s = {"idle": {"p99_ms": idle, "timeout": 0, "errors": 0, "rounds_measured": 3},
                 "encoding": {"p99_ms": enc, "timeout": kw.get("timeouts", 0), "errors": 0, "rounds_measured": 3}}
            return portal_latency.verdict(s)

        self.assertTrue(judge(3.0, 7.9)["met"])
        self.assertFalse(judge(3.0, 8.1)["met"])
        self.assertEqual(judge(3.0, 1.0)["bound_ms"], 8.0)
        self.assertEqual(judge(12.0, 1.0)["bound_ms"], 20.0)
        self.assertFalse(judge(12.0, 21.0)["met"])
        self.assertFalse(judge(3.0, 4.0, timeouts=1)["met"])
        self.assertIsNone(judge(None, 4.0)["met"])
        self.assertFalse(judge(3.0, None)["met"])  # encoding p99 above the timeout

    def test_a_median_that_lands_above_the_timeout_is_above_the_timeout(self):
        rounds = self.rounds()
        for r in rounds[:2]:
            w = r["phases"]["idle"]["wrk"]
            w["p99_ms"] = None
            w["over_timeout"] = ["p99_ms"]
        s = portal_latency.summarize(rounds, ["idle"])["idle"]
        self.assertIsNone(s["p99_ms"])
        self.assertEqual(s["over_timeout"], ["p99_ms"])
        self.assertEqual(s["p50_ms"], 0.75)  # the other figures are still medians

    def test_markdown_shows_a_phase_without_answers_and_the_verdict(self):
        rounds = self.rounds()
        rounds[0]["order"].append("naive")
        rounds[0]["phases"]["naive"] = phase("naive", 1, 1.0, timeouts=40, requests=0)
        w = rounds[0]["phases"]["naive"]["wrk"]
        for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            w[k] = None
            w["over_timeout"].append(k)
        doc = {"settings": {"threads": 1, "connections": 4, "seconds": 4, "timeout_s": 2, "rounds": 3},
               "lecture": {"seconds": 40, "bytes": 123456}, "rounds": rounds}
        doc["summary"] = portal_latency.summarize(rounds, ["idle", "encoding", "naive"])
        doc["target"] = portal_latency.verdict(doc["summary"])
        md = portal_latency.markdown(doc)
        self.assertIn("| naive | > 2000 | > 2000 | > 2000 | > 2000 | 0 | 0 | 40 | 2 |", md)
        self.assertIn("**met**", md)  # 6.0 ms against 2 x 3.0 + 2 = 8.0 ms
        self.assertIn("left out", md)


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed")
class Wrk(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-bench-test-")
        self.lua = os.path.join(self.dir, "report.lua")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def wrk(self, port, seconds=1, timeout_s=2, delay_ms=0):
        return portal_client.run_wrk("wrk", f"http://127.0.0.1:{port}/x", seconds, 1, 2, timeout_s, self.lua,
                                     os.path.join(self.dir, "wrk.log"), delay_ms=delay_ms)

    def test_paced_connections_send_no_faster_than_their_pause_allows(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            f = self.wrk(server.server_address[1], seconds=2, delay_ms=200)
        finally:
            server.shutdown()
            server.server_close()
        # two connections, 2 s, at least 200 ms between requests on each: at most 2 x (2 / 0.2 + 1)
        self.assertGreater(f["requests"], 0)
        self.assertLessEqual(f["sent"], 22)

    def test_figures_of_an_answering_server(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            f = self.wrk(server.server_address[1])
        finally:
            server.shutdown()
            server.server_close()
        self.assertGreater(f["requests"], 0)
        self.assertEqual(f["timeout"] + f["errors"] + f["stalled"], 0)
        self.assertLessEqual(f["unanswered"], 2)  # at most one in flight per connection at the end
        self.assertLessEqual(f["p50_ms"], f["p90_ms"])
        self.assertLessEqual(f["p90_ms"], f["p99_ms"])
        self.assertLessEqual(f["p99_ms"], f["max_ms"])
        self.assertGreater(f["max_ms"], 0)

    def test_a_server_that_never_answers_gives_no_percentiles_but_counts_what_was_sent(self):
        # Listens (the kernel completes the handshakes) but never accepts: like a blocked event loop.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        try:
            f = self.wrk(s.getsockname()[1], seconds=3, timeout_s=1)
        finally:
            s.close()
        self.assertEqual(f["requests"], 0)
        self.assertEqual(f["sent"], 2)  # one per connection
        self.assertEqual(f["unanswered"], 2)
        self.assertEqual(f["stalled"], 2)
        self.assertIsNone(f["p99_ms"])
        self.assertIn("p99_ms", f["over_timeout"])

    def test_answers_later_than_the_timeout_are_timeouts_and_rank_above_it(self):
        class Slow(Quiet):
            def do_GET(self):  # noqa: N802
                time.sleep(1.3)
                try:
                    super().do_GET()
                except BrokenPipeError:  # wrk has gone
                    pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            f = self.wrk(server.server_address[1], seconds=3, timeout_s=1)
        finally:
            server.shutdown()
            server.server_close()
        self.assertGreater(f["timeout"], 0)
        self.assertEqual(f["over_timeout"], ["p50_ms", "p90_ms", "p99_ms", "max_ms"])


class PortalChild(unittest.TestCase):
    """Portal() against small stand-in programs: the listening line, an early exit, a stubborn child."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-bench-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def program(self, body):
        path = os.path.join(self.dir, "child.py")
        with open(path, "w") as f:
            f.write("#!" + sys.executable + "\n" + textwrap.dedent(body))
        os.chmod(path, 0o755)
        return path

    def test_reads_the_port_and_stops_on_sigterm(self):
        prog = self.program("""
            import signal, sys, time
            signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
            print("starting", flush=True)
            print("listening on http://127.0.0.1:4321", flush=True)
            time.sleep(60)
            """)
        p = portal_client.Portal(prog, os.path.join(self.dir, "data"), os.path.join(self.dir, "p"), [])
        self.assertEqual(p.port, 4321)
        self.assertIsNotNone(p.cpu_seconds())
        self.assertEqual(p.stop(grace_s=10), "exited 0 on SIGTERM")

    def test_a_child_that_exits_before_listening_is_an_error(self):
        prog = self.program("import sys; print('no'); sys.exit(3)\n")
        with self.assertRaises(portal_client.PortalError):
            portal_client.Portal(prog, os.path.join(self.dir, "data"), os.path.join(self.dir, "p"), [])

    def test_a_child_that_ignores_sigterm_is_killed(self):
        prog = self.program("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("listening on http://127.0.0.1:1234", flush=True)
            time.sleep(60)
            """)
        p = portal_client.Portal(prog, os.path.join(self.dir, "data"), os.path.join(self.dir, "p"), [])
        t0 = time.monotonic()
        self.assertIn("SIGKILL", p.stop(grace_s=1))
        self.assertLess(time.monotonic() - t0, 20)
        self.assertIsNotNone(p.exit_code)


@unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed")
class Report(unittest.TestCase):
    def test_summary_links_plots_that_are_pngs_and_says_what_was_skipped(self):
        out = tempfile.mkdtemp(prefix="spool-bench-test-")
        self.addCleanup(shutil.rmtree, out, True)
        rounds = Summary().rounds()
        doc = {"rounds": rounds, "summary": portal_latency.summarize(rounds, ["idle", "encoding"])}
        doc["target"] = portal_latency.verdict(doc["summary"])
        with open(os.path.join(out, "portal.json"), "w") as f:
            json.dump(doc, f)
        with open(os.path.join(out, "portal.md"), "w") as f:
            f.write("# portal heading\nbody\n")
        stamp = {"mode": "quick", "started_utc": "2026-01-01T00:00:00+00:00", "command": "x", "load_before": "1 1 1",
                 "machine": {"cpu_model": "cpu", "cores": 2, "mem_gb": 4, "os": "os", "kernel": "k"},
                 "versions": {"spool": "spool 1", "git_commit": "abc", "build_type": "", "compiler": "g++",
                              "ffmpeg_libraries": {"libavcodec": "59"}, "ffmpeg_cli": "", "wrk": "", "gnuplot": "",
                              "python": "3"}}
        records = [{"name": "portal", "title": "Portal", "status": "ok", "seconds": 3, "files": ["portal.json"],
                    "markdown": "portal.md", "command": "portal_latency.py"},
                   {"name": "aws", "title": "AWS", "status": "skipped", "reason": "no tools here", "seconds": 0}]
        suite_report.write_summary(out, stamp, records)
        with open(os.path.join(out, "summary.md")) as f:
            md = f.read()
        self.assertIn("![portal](plots/portal.png)", md)
        self.assertIn("### portal heading", md)
        self.assertIn("Skipped: no tools here.", md)
        with open(os.path.join(out, "plots", "portal.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
