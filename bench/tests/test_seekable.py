#!/usr/bin/env python3
"""The seekable part of the first-playable workload: the "whole lecture seekable" predicate on crafted
folders (the top rung chosen by RESOLUTION, its EXTINFs against the source's duration within a frame,
every listed segment on disk), the source probe, runs against a stand-in spool whose top rung grows
(in time, never, with a torn last segment), the medians with runs stopped at their cap, targets and
the plot. Standard library only; tests that need real segments skip without the ffmpeg and ffprobe
programs, the plot without gnuplot."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import first_playable  # noqa: E402
import playable  # noqa: E402
import seekable  # noqa: E402
import suite_report  # noqa: E402
from test_first_playable import HAVE_FFMPEG, ffmpeg_track, media_playlist, write  # noqa: E402

FRAME = 1 / 30
# 720p is named first and declares more bandwidth than 1080p: neither makes it the top rung.
MASTER = ('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",'
          'URI="audio/index.m3u8"\n'
          '#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"\n'
          'v720/index.m3u8\n'
          '#EXT-X-STREAM-INF:BANDWIDTH=3200000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",AUDIO="audio"\n'
          'v1080/index.m3u8\n'
          '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"\n'
          'v360/index.m3u8\n')


def grow_rung(root, rung, durations):
    """The rung's playlist listing one segment per duration, each segment file written first."""
    names = [f"seg{i}.m4s" for i in range(len(durations))]
    for name in names + ["init.mp4"]:
        path = os.path.join(root, rung, name)
        if not os.path.exists(path):
            write(path, b"x" * 16)
    write(os.path.join(root, rung, "index.m3u8"), media_playlist(names, durations=durations))


class Seekable(unittest.TestCase):
    """A 60 s lecture at 30 fps: the top rung reaches it with 10 segments of 6 s."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spool-seekable-test-")
        self.addCleanup(shutil.rmtree, self.root, True)
        write(os.path.join(self.root, "master.m3u8"), MASTER)
        for rung in ("v720", "v360", "audio"):
            grow_rung(self.root, rung, [6.0])
        grow_rung(self.root, "v1080", [6.0] * 10)

    def check(self):
        return playable.seekable(self.root, 60.0, FRAME)

    def test_the_top_rung_is_the_highest_resolution_not_the_first_or_the_widest(self):
        got = self.check()
        self.assertTrue(got.ok, got.why)
        self.assertEqual(os.path.relpath(got.playlist, self.root), os.path.join("v1080", "index.m3u8"))
        self.assertEqual(len(got.segments), 10)
        self.assertEqual(os.path.basename(got.last_track().first), "seg9.m4s")
        self.assertEqual(got.last_track().first_duration_s, 6.0)
        variants = {v["uri"]: v for v in got.variants}
        self.assertEqual(variants["v1080/index.m3u8"]["resolution"], (1920, 1080))
        self.assertEqual(variants["v720/index.m3u8"]["bandwidth"], 6000000)
        self.assertEqual(variants["v360/index.m3u8"]["codecs"], "avc1.64001e,mp4a.40.2")

    def test_a_top_rung_two_frames_short_is_not_seekable_yet_and_one_within_a_frame_is(self):
        grow_rung(self.root, "v1080", [6.0] * 9 + [6.0 - 2 * FRAME])
        got = self.check()
        self.assertFalse(got.ok)
        self.assertIn("lists 59.933 s of 60.000 s", got.why)
        grow_rung(self.root, "v1080", [6.0] * 9 + [6.0 - FRAME / 2])
        self.assertTrue(self.check().ok, self.check().why)

    def test_a_growing_top_rung_becomes_seekable_with_its_last_segment(self):
        for n in range(1, 10):
            grow_rung(self.root, "v1080", [6.0] * n)
            got = self.check()
            self.assertFalse(got.ok, n)
            self.assertAlmostEqual(got.listed_s, 6.0 * n)
        grow_rung(self.root, "v1080", [6.0] * 10)
        self.assertTrue(self.check().ok)

    def test_a_missing_listed_segment_or_init_is_not_seekable(self):
        for name in ("seg4.m4s", "seg9.m4s", "init.mp4"):
            path = os.path.join(self.root, "v1080", name)
            os.rename(path, path + ".gone")
            got = self.check()
            self.assertFalse(got.ok, name)
            self.assertIn("init" if name == "init.mp4" else name, got.why)
            os.rename(path + ".gone", path)
        self.assertTrue(self.check().ok)

    def test_the_lower_rungs_do_not_count(self):
        grow_rung(self.root, "v720", [6.0] * 10)
        grow_rung(self.root, "v1080", [6.0] * 3)
        self.assertFalse(self.check().ok)
        self.assertEqual(playable.listed_seconds(self.root),
                         {"audio/index.m3u8": 6.0, "v720/index.m3u8": 60.0, "v1080/index.m3u8": 18.0,
                          "v360/index.m3u8": 6.0})

    def test_no_master_or_no_resolution_or_no_top_playlist_is_not_seekable(self):
        os.rename(os.path.join(self.root, "v1080", "index.m3u8"), os.path.join(self.root, "gone.m3u8"))
        self.assertIn("v1080/index.m3u8 does not exist", self.check().why)
        write(os.path.join(self.root, "master.m3u8"), MASTER.replace("RESOLUTION=", "X-RES="))
        self.assertIn("no variant with a RESOLUTION", self.check().why)
        os.remove(os.path.join(self.root, "master.m3u8"))
        self.assertEqual(self.check().why, "no master.m3u8")


class Figures(unittest.TestCase):
    def test_a_median_with_stopped_runs_is_a_lower_bound_only_when_they_could_move_it(self):
        self.assertEqual(seekable.bounded_median([(30, False), (120, True), (40, False)]), (40, False))
        self.assertEqual(seekable.bounded_median([(30, False), (120, True), (120, True)]), (120, True))
        self.assertEqual(seekable.bounded_median([(30, False), (20, True), (40, False)]), (30, True))
        self.assertEqual(seekable.bounded_median([(None, False)]), (None, False))

    def rounds(self, on, off):
        run = lambda m, v: ({"remux": m, "error": "BenchError: x"} if v == "fail" else  # noqa: E731
                            {"remux": m, "first_playable_s": 2.0 if m == "on" else 4.0, "cleaned": True, "stop_s": 0.1,
                             **({"seekable_s": v} if v < 120 else {"seekable_s": None, "seekable_over_s": 120.0})})
        return [{"round": i + 1, "order": seekable.remux_order(i + 1),
                 "runs": {"on": run("on", a), "off": run("off", b)}} for i, (a, b) in enumerate(zip(on, off))]

    def test_off_stopped_at_its_cap_gives_a_lower_bound_ratio_and_on_is_judged(self):
        s = seekable.summarize(self.rounds([30.0, 50.0, 40.0], [120.0, 120.0, 120.0]))
        self.assertEqual((s["on"]["median_seekable_s"], s["on"]["seekable_at_least"]), (40.0, False))
        self.assertEqual((s["off"]["median_seekable_s"], s["off"]["seekable_at_least"]), (120.0, True))
        self.assertEqual(s["off"]["runs_seekable"], 0)
        self.assertEqual(s["seekable_ratio_runs"], [[4.0, True], [2.4, True], [3.0, True]])
        self.assertEqual((s["median_seekable_ratio"], s["seekable_ratio_at_least"]), (3.0, True))
        self.assertEqual(s["median_first_playable_ratio"], 0.5)
        verdicts = {t["target"]: (t["value"], t["met"]) for t in seekable.targets(s, 10.0)}
        self.assertEqual(verdicts["remux on: median time to the whole lecture seekable <= 60 s"], (40.0, True))
        self.assertEqual(verdicts["remux on: median time to first playable <= 10 s"], (2.0, True))
        self.assertEqual(verdicts["a cancelled job leaves no playlist (every seekable run, both)"], ("6/6", True))

    def test_on_too_slow_or_stopped_misses_the_target_and_a_failed_run_drops_its_round(self):
        s = seekable.summarize(self.rounds([70.0, 65.0, "fail"], [120.0, 90.0, 120.0]))
        self.assertEqual(s["on"]["runs_failed"], 1)
        self.assertEqual(s["seekable_ratio_runs"][2], None)
        self.assertAlmostEqual(s["median_seekable_ratio"], (120 / 70 + 90 / 65) / 2)
        self.assertIs(s["seekable_ratio_at_least"], True)  # 120/70 is a bound at or below the median
        self.assertIs(seekable.targets(s, 10.0)[0]["met"], False)
        s = seekable.summarize(self.rounds([120.0, 120.0, 30.0], [120.0, 120.0, 120.0]))
        first = seekable.targets(s, 10.0)[0]
        self.assertEqual((first["value"], first["met"]), ("> 120", False))
        self.assertEqual(s["seekable_ratio_runs"][:2], [None, None])  # on stopped: off / on unknown


# A stand-in for `spool transcode SRC OUT --publish progressive --remux R -q --mode M --pkg DIR --grow S`:
# publishes DIR into OUT (each file by rename, master last) with the top rung's playlist cut after its
# first segment, then after S seconds its last segment and whole playlist (grow), or never (stall), or
# a torn last segment made whole 3 s later (torn); on SIGINT it removes OUT and exits 130.
FAKE_SPOOL = textwrap.dedent("""
    import os, shutil, signal, sys, time
    a = sys.argv[1:]
    opt = lambda k: a[a.index(k) + 1]
    out, mode, pkg, grow = a[2], opt("--mode"), opt("--pkg"), float(opt("--grow"))
    stop = []
    signal.signal(signal.SIGINT, lambda *x: stop.append(1))
    os.makedirs(out)
    def read(rel):
        with open(os.path.join(pkg, rel), "rb") as f:
            return f.read()
    def put(rel, data):
        dst = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst + ".tmp", "wb") as f:
            f.write(data)
        os.rename(dst + ".tmp", dst)
    held = ("master.m3u8", "top/index.m3u8", "top/seg1.m4s")
    for rel in sorted(os.path.relpath(os.path.join(d, n), pkg) for d, _, ns in os.walk(pkg) for n in ns):
        if rel not in held:
            put(rel, read(rel))
    lines = read("top/index.m3u8").decode().splitlines(True)
    first = next(i for i, x in enumerate(lines) if x.strip() and not x.startswith("#"))
    put("top/index.m3u8", "".join(lines[:first + 1]).encode())
    put("master.m3u8", read("master.m3u8"))
    time.sleep(grow)
    if mode != "stall":
        last = read("top/seg1.m4s")
        put("top/seg1.m4s", last[: len(last) // 2] if mode == "torn" else last)
        put("top/index.m3u8", read("top/index.m3u8"))
        if mode == "torn":
            time.sleep(3)
            put("top/seg1.m4s", last)
    end = time.monotonic() + 60
    while not stop and time.monotonic() < end:
        time.sleep(0.02)
    shutil.rmtree(out)
    sys.exit(130)
    """)


@unittest.skipUnless(HAVE_FFMPEG, "the ffmpeg and ffprobe programs are not installed")
class Runs(unittest.TestCase):
    """A real package: two video rungs of 4 s in 2 s segments (the top one by RESOLUTION) and audio;
    and a 4 s 30 fps source for the probe."""

    @classmethod
    def setUpClass(cls):
        cls.pkg = tempfile.mkdtemp(prefix="spool-seekable-pkg-")
        ffmpeg_track(cls.pkg, "low", "video")
        ffmpeg_track(cls.pkg, "audio", "audio")
        shutil.copytree(os.path.join(cls.pkg, "low"), os.path.join(cls.pkg, "top"))
        write(os.path.join(cls.pkg, "master.m3u8"), MASTER.replace("v720/", "low/").replace("v1080/", "top/")
              .replace('#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",'
                       'AUDIO="audio"\nv360/index.m3u8\n', ""))
        cls.source = cls.pkg + "-source.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30", "-t", "4",
                        "-c:v", "libx264", "-preset", "ultrafast", cls.source], check=True, timeout=60,
                       stdin=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pkg, ignore_errors=True)
        os.remove(cls.source)

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spool-seekable-test-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.spool = os.path.join(self.root, "fake-spool")
        write(self.spool, "#!" + sys.executable + "\n" + FAKE_SPOOL)
        os.chmod(self.spool, 0o755)
        self.work, self.logs = os.path.join(self.root, "work"), os.path.join(self.root, "logs")
        os.makedirs(self.work)
        os.makedirs(self.logs)
        self.probe = playable.probe_source("ffprobe", self.source)

    def options(self, mode, grow=0.5, **kw):
        o = argparse.Namespace(spool=self.spool, spool_args=["--mode", mode, "--pkg", self.pkg, "--grow", str(grow)],
                               ffprobe="ffprobe", poll_ms=20, playable_timeout=20, seekable_timeout=20,
                               stop_timeout=10, rounds=1)
        for k, v in kw.items():
            setattr(o, k, v)
        return o

    def run_once(self, o, remux="on"):
        return seekable.seekable_run(o, remux, 1, 1, self.source, self.probe, self.work, self.logs)

    def test_the_probe_gives_the_video_duration_and_frame(self):
        self.assertAlmostEqual(self.probe["duration_s"], 4.0, delta=FRAME)
        self.assertAlmostEqual(self.probe["frame_s"], FRAME)

    def test_playable_first_then_seekable_when_the_top_rung_lists_the_whole_source(self):
        r = self.run_once(self.options("grow", grow=0.6))
        self.assertIn("--remux on", r["command"])
        self.assertIsNotNone(r["first_playable_s"])
        self.assertGreater(r["seekable_s"], r["first_playable_s"])
        self.assertGreaterEqual(r["seekable_s"], 0.6)  # the stand-in's wait: measured from its start
        self.assertEqual((r["top_playlist"], r["top_segments"]), ("top/index.m3u8", 2))
        self.assertGreater(r["last_decoded"]["frames"], 0)
        self.assertEqual(r["listed_s_at_seekable"]["low/index.m3u8"], r["top_listed_s"])
        self.assertEqual([v["resolution"] for v in r["variants"]], ["1280x720", "1920x1080"])
        self.assertIn("top/index.m3u8 lists 2.000 s of 4.000 s", [w["why"] for w in r["waits"]])
        self.assertEqual((r["stop"], r["cleaned"], r["rejected"]), ("exited 130 on SIGINT", True, []))

    def test_a_top_rung_that_does_not_grow_is_stopped_at_the_cap(self):
        r = self.run_once(self.options("stall", seekable_timeout=1.0), "off")
        self.assertIsNone(r["seekable_s"])
        self.assertEqual(r["seekable_over_s"], 1.0)
        self.assertAlmostEqual(r["top_listed_s_at_cap"], 2.0, places=3)
        self.assertIsNotNone(r["first_playable_s"])
        self.assertIs(r["cleaned"], True)

    def test_a_torn_last_segment_is_rejected_until_it_is_whole(self):
        r = self.run_once(self.options("torn", grow=0.2))
        self.assertEqual(len(r["rejected"]), 1)  # the same torn file is decoded once, not at every look
        self.assertIn("seg1.m4s", r["rejected"][0]["why"])
        self.assertGreater(r["seekable_s"], r["rejected"][0]["at_s"])

    def test_the_part_rotates_the_order_and_reports(self):
        doc = {"settings": {"poll_ms": 20, "seekable_timeout": 20}}
        lec = {"path": self.source, "bytes": os.path.getsize(self.source)}
        failed = seekable.run_part(self.options("grow", grow=0.2, rounds=2), doc, lec, self.work, self.logs)
        self.assertFalse(failed)
        part = doc["seekable"]
        self.assertEqual([r["order"] for r in part["rounds"]], [["on", "off"], ["off", "on"]])
        self.assertEqual([part["summary"][m]["runs_seekable"] for m in seekable.REMUX], [2, 2])
        md = "\n".join(seekable.markdown(part, doc["settings"]))
        self.assertIn("| on |", md)
        self.assertIn("low/index.m3u8 1280x720 6000000 bit/s", md)


@unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed")
class Plot(unittest.TestCase):
    def test_the_summary_shows_the_seekable_panel_and_targets(self):
        out = tempfile.mkdtemp(prefix="spool-seekable-report-")
        self.addCleanup(shutil.rmtree, out, True)
        rounds = Figures().rounds([30.0, 50.0], [120.0, 90.0])
        doc = {"settings": {"poll_ms": 50, "seekable_timeout": 120},
               "seekable": {"lecture": {"seconds": 3600, "bytes": 1000}, "probe": {"duration_s": 3600.0},
                            "rounds": rounds, "summary": seekable.summarize(rounds)}}
        doc["targets"] = first_playable.targets(doc)
        with open(os.path.join(out, "playable.json"), "w") as f:
            json.dump(doc, f)
        with open(os.path.join(out, "playable.md"), "w") as f:
            f.write(first_playable.markdown(doc))
        stamp = {"mode": "quick", "started_utc": "2026-01-01T00:00:00+00:00", "command": "x", "load_before": "1 1 1",
                 "machine": {"cpu_model": "cpu", "cores": 2, "mem_gb": 4, "os": "os", "kernel": "k"},
                 "versions": {"spool": "spool 1", "git_commit": "abc", "build_type": "", "compiler": "g++",
                              "ffmpeg_libraries": {}, "ffmpeg_cli": "", "wrk": "", "gnuplot": "", "python": "3"}}
        records = [{"name": "playable", "title": "Playable", "status": "ok", "seconds": 3, "files": ["playable.json"],
                    "markdown": "playable.md", "command": "first_playable.py"}]
        suite_report.write_summary(out, stamp, records)
        with open(os.path.join(out, "summary.md")) as f:
            md = f.read()
        self.assertIn("![playable](plots/playable.png)", md)
        self.assertIn("| remux on: median time to the whole lecture seekable <= 60 s | 40.000 | met |", md)
        self.assertIn("| off | 4.00 (4.00 to 4.00) | > 105.00 |", md)
        with open(os.path.join(out, "plots", "playable.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with open(os.path.join(out, "plots", "playable-seekable.dat")) as f:
            self.assertEqual(f.read().splitlines()[1:], ["round1 30.000 120.000", "round2 50.000 90.000"])


if __name__ == "__main__":
    unittest.main()
