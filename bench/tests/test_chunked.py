#!/usr/bin/env python3
"""The chunked workload's own logic: the rotation of its three runs, where the chunk boundaries fall,
the ssim filter's stats read back, SSIM over the whole and around boundaries, a package's bytes,
medians with per-round ratios, the targets, a run against a stand-in spool that fails, and the plot in
the suite's summary. Standard library only; the plot's test skips without gnuplot."""
import json
import os
import shutil
import stat
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import chunked  # noqa: E402
import suite_report  # noqa: E402


class Rotation(unittest.TestCase):
    def test_every_run_takes_every_position_once_in_three_rounds(self):
        orders = [chunked.variant_order(r) for r in (1, 2, 3)]
        for order in orders:
            self.assertCountEqual(order, chunked.VARIANTS)
        for pos in range(3):
            self.assertCountEqual([o[pos] for o in orders], chunked.VARIANTS)
        self.assertEqual(chunked.variant_order(4), orders[0])


class Boundaries(unittest.TestCase):
    def test_chunks_are_whole_segments_and_a_short_tail_joins_the_last(self):
        # 600 s in 6 s segments, chunks of 60 s: ten chunks, nine boundaries at whole minutes.
        self.assertEqual(chunked.chunk_boundaries(600, 6, 60), [60.0 * k for k in range(1, 10)])
        # 620 s: the 20 s tail is under half a chunk, so the last chunk runs to the end.
        self.assertEqual(chunked.chunk_boundaries(620, 6, 60)[-1], 540)
        # 640 s: a 40 s tail is a chunk of its own.
        self.assertEqual(chunked.chunk_boundaries(640, 6, 60)[-1], 600)
        # 64 s chunks on a 6 s grid round to 66 s (eleven segments).
        self.assertEqual(chunked.chunk_boundaries(600, 6, 64)[:2], [66, 132])

    def test_an_input_shorter_than_a_chunk_has_no_boundary(self):
        self.assertEqual(chunked.chunk_boundaries(50, 6, 60), [])


class Ssim(unittest.TestCase):
    STATS = textwrap.dedent("""\
        n:1 Y:0.990000 U:0.995000 V:0.995000 All:0.992000 (20.969100)
        n:2 Y:0.980000 U:0.995000 V:0.995000 All:0.985000 (18.239087)
        garbage line
        n:3 Y:0.970000 U:0.995000 V:0.995000 All:0.978000 (16.575773)
        """)

    def test_the_stats_file_gives_each_frames_number_and_overall_ssim(self):
        self.assertEqual(chunked.parse_ssim_stats(self.STATS), [(1, 0.992), (2, 0.985), (3, 0.978)])
        self.assertEqual(chunked.parse_ssim_stats(""), [])

    def test_boundary_figures_take_only_the_frames_near_a_boundary(self):
        # 10 fps for round numbers: frame n is at (n - 1) / 10 s; a boundary at 1.0 s, window 0.1 s.
        frames = [(n, 0.9 if 10 <= n <= 12 else 1.0) for n in range(1, 31)]
        got = chunked.ssim_figures(frames, 10.0, [1.0], 0.1)
        self.assertEqual(got["frames"], 30)
        self.assertEqual(got["boundary_frames"], 3)  # 0.9 s, 1.0 s and 1.1 s
        self.assertAlmostEqual(got["boundary_mean"], 0.9)
        self.assertAlmostEqual(got["mean"], (27 * 1.0 + 3 * 0.9) / 30)
        self.assertIsNone(chunked.ssim_figures(frames, 10.0, [], 0.1)["boundary_mean"])
        self.assertIsNone(chunked.ssim_figures([], 10.0, [1.0], 0.1)["mean"])


class Bytes(unittest.TestCase):
    def test_every_file_but_the_workers_status_counts(self):
        root = tempfile.mkdtemp(prefix="spool-chunked-test-")
        self.addCleanup(shutil.rmtree, root, True)
        for rel, size in (("master.m3u8", 10), ("status.json", 1000), ("1080p/seg_00001.m4s", 300),
                          ("1080p/init.mp4", 20), ("audio/seg_00001.m4s", 50)):
            os.makedirs(os.path.dirname(os.path.join(root, rel)) or root, exist_ok=True)
            with open(os.path.join(root, rel), "wb") as f:
                f.write(b"x" * size)
        got = chunked.package_bytes(root)
        self.assertEqual(got["total"], 380)
        self.assertEqual(got["per_folder"], {".": 10, "1080p": 320, "audio": 50})


def run(variant, rnd, wall, total):
    return {"variant": variant, "round": rnd, "ok": True, "wall_s": wall, "package": {"total": total}}


def sample_rounds():
    """Three rounds of the three runs; c failed in round 2."""
    return [{"round": 1, "order": ["a", "b", "c"],
             "runs": {"a": run("a", 1, 100, 1000), "b": run("b", 1, 110, 1010), "c": run("c", 1, 55, 1010)}},
            {"round": 2, "order": ["b", "c", "a"],
             "runs": {"a": run("a", 2, 120, 1000), "b": run("b", 2, 100, 1010),
                      "c": {"variant": "c", "round": 2, "ok": False, "error": "boom"}}},
            {"round": 3, "order": ["c", "a", "b"],
             "runs": {"a": run("a", 3, 90, 1000), "b": run("b", 3, 120, 1030), "c": run("c", 3, 80, 1030)}}]


class Summary(unittest.TestCase):
    def test_medians_and_ratios_paired_within_rounds(self):
        s = chunked.summarize(sample_rounds())
        self.assertEqual(s["a"]["median_wall_s"], 100)
        self.assertEqual(s["c"]["runs_ok"], 2)
        self.assertEqual(s["c"]["runs_failed"], 1)
        self.assertEqual(s["speedup_b_c_runs"], [2.0, None, 1.5])
        self.assertEqual(s["speedup_b_c"], 1.75)
        self.assertEqual(s["speedup_a_c_runs"], [100 / 55, None, 90 / 80])
        self.assertEqual(s["bytes_c_a_runs"], [1.01, None, 1.03])

    def test_targets_judge_speed_up_bytes_and_ssim(self):
        doc = {"summary": chunked.summarize(sample_rounds()),
               "ssim": {"a": {"mean": 0.95, "boundary_mean": 0.95}, "c": {"mean": 0.949, "boundary_mean": 0.94}}}
        got = {t["target"]: t["met"] for t in chunked.targets(doc)}
        met = [k for k, v in got.items() if v]
        missed = [k for k, v in got.items() if v is False]
        self.assertTrue(any("1 worker / 2 workers" in k for k in met), got)  # 1.75 >= 1.7
        self.assertTrue(any("unchunked 1 worker" in k for k in missed), got)  # 1.47
        self.assertTrue(any("bytes" in k for k in met), got)  # 1.02 is within 2 %
        self.assertTrue(any("overall" in k for k in met), got)  # 0.001
        self.assertTrue(any("boundary" in k for k in missed), got)  # 0.01
        ssim = {"boundaries": [60], "a": dict(doc["ssim"]["a"], rung="1080p", frames=9, boundary_frames=3),
                "c": dict(doc["ssim"]["c"], rung="1080p", frames=9, boundary_frames=3)}
        md = chunked.markdown(dict(doc, ssim=ssim, lecture={"seconds": 600, "bytes": 1}, rounds=sample_rounds(),
                                   targets=chunked.targets(doc), settings={"segment_s": 6, "chunk_s": 60,
                                                                           "window_s": 1}))
        self.assertIn("**MISSED**", md)
        self.assertIn("c failed: boom", md)


class StandIn(unittest.TestCase):
    """chunked.py against a spool that cannot submit: every run fails, the report says so, exit 1."""

    def test_failed_runs_are_reported_and_the_exit_status_is_1(self):
        d = tempfile.mkdtemp(prefix="spool-chunked-standin-")
        self.addCleanup(shutil.rmtree, d, True)
        fake = os.path.join(d, "spool")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'queue unreachable' >&2\nexit 3\n")
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)
        source = os.path.join(d, "in.mp4")
        with open(source, "wb") as f:
            f.write(b"\0" * 100)
        code = chunked.main(["--spool", fake, "--source", source, "--rounds", "1", "--out", os.path.join(d, "out"),
                             "--json", os.path.join(d, "r.json"), "--markdown", os.path.join(d, "r.md"),
                             "--ffmpeg", "/bin/false"])
        self.assertEqual(code, 1)
        with open(os.path.join(d, "r.md")) as f:
            md = f.read()
        self.assertIn("queue unreachable", md)
        self.assertIn("not judged", md)


@unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed")
class Plot(unittest.TestCase):
    def test_the_summary_shows_the_plot_and_the_targets(self):
        out = tempfile.mkdtemp(prefix="spool-chunked-report-")
        self.addCleanup(shutil.rmtree, out, True)
        rounds = sample_rounds()
        doc = {"lecture": {"seconds": 600, "bytes": 1000}, "rounds": rounds, "summary": chunked.summarize(rounds),
               "settings": {"segment_s": 6, "chunk_s": 60, "window_s": 1}}
        doc["targets"] = chunked.targets(doc)
        with open(os.path.join(out, "chunked.json"), "w") as f:
            json.dump(doc, f)
        with open(os.path.join(out, "chunked.md"), "w") as f:
            f.write(chunked.markdown(doc))
        stamp = {"mode": "quick", "started_utc": "2026-01-01T00:00:00+00:00", "command": "x", "load_before": "1 1 1",
                 "machine": {"cpu_model": "cpu", "cores": 2, "mem_gb": 4, "os": "os", "kernel": "k"},
                 "versions": {"spool": "spool 1", "git_commit": "abc", "build_type": "", "compiler": "g++",
                              "ffmpeg_libraries": {}, "ffmpeg_cli": "", "wrk": "", "gnuplot": "", "python": "3"}}
        records = [{"name": "chunked", "title": "Chunked", "status": "ok", "seconds": 3, "files": ["chunked.json"],
                    "markdown": "chunked.md", "command": "chunked.py"}]
        suite_report.write_summary(out, stamp, records)
        with open(os.path.join(out, "summary.md")) as f:
            md = f.read()
        self.assertIn("![chunked](plots/chunked.png)", md)
        self.assertIn("- round 2: b 100.0 s; c failed: boom; a 120.0 s", md)
        with open(os.path.join(out, "plots", "chunked.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with open(os.path.join(out, "plots", "chunked.dat")) as f:
            self.assertIn("round2 120.000 100.000 NaN", f.read())


if __name__ == "__main__":
    unittest.main()
