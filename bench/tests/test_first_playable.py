#!/usr/bin/env python3
"""The first-playable workload's own logic: the "playable" predicate on crafted folders (listing and
decoding), a round against stand-in spool programs (publishing, cancelling, ignoring SIGINT, never
publishing, failing at once, a torn segment), the wall-time run, medians, paired ratios and targets,
and its plot in the summary. Standard library only; tests that need real segments skip without the
ffmpeg and ffprobe programs, the plot without gnuplot."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import first_playable  # noqa: E402
import playable  # noqa: E402
import suite_report  # noqa: E402

HAVE_FFMPEG = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
MASTER = ('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",'
          'URI="audio/index.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=900000,AUDIO="audio"\nv360/index.m3u8\n')


def media_playlist(segments, ended=False, durations=None):
    text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n"
    for i, s in enumerate(segments):
        text += f"#EXTINF:{(durations or [2.0] * len(segments))[i]:.6f},\n{s}\n"
    return text + ("#EXT-X-ENDLIST\n" if ended else "")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def fake_package(root):
    """Two tracks whose files hold placeholder bytes: enough for listing(), not for decoding."""
    for track in ("v360", "audio"):
        write(os.path.join(root, track, "index.m3u8"), media_playlist(["seg1.m4s", "seg2.m4s"]))
        for name in ("init.mp4", "seg1.m4s", "seg2.m4s"):
            write(os.path.join(root, track, name), b"x" * 16)
    write(os.path.join(root, "master.m3u8"), MASTER)


class Listing(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spool-playable-test-")
        self.addCleanup(shutil.rmtree, self.root, True)
        fake_package(self.root)

    def test_a_complete_package_lists_every_track_with_its_first_segment(self):
        got = playable.listing(self.root)
        self.assertTrue(got.ok, got.why)
        self.assertEqual(sorted(os.path.relpath(t.first, self.root) for t in got.tracks),
                         ["audio/seg1.m4s", "v360/seg1.m4s"])
        self.assertEqual([t.segments for t in got.tracks], [2, 2])
        self.assertEqual(got.tracks[0].first_duration_s, 2.0)

    def test_no_master_is_not_playable(self):
        os.remove(os.path.join(self.root, "master.m3u8"))
        self.assertEqual(playable.listing(self.root).why, "no master.m3u8")

    def test_a_master_without_media_playlists_is_not_playable(self):
        write(os.path.join(self.root, "master.m3u8"), "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
        got = playable.listing(self.root)
        self.assertFalse(got.ok)
        self.assertIn("names no playlist", got.why)

    def test_a_missing_media_playlist_is_not_playable(self):
        os.remove(os.path.join(self.root, "audio", "index.m3u8"))
        got = playable.listing(self.root)
        self.assertFalse(got.ok)
        self.assertIn("audio/index.m3u8", got.why)

    def test_a_playlist_without_segments_is_not_playable(self):
        write(os.path.join(self.root, "v360", "index.m3u8"), media_playlist([]))
        got = playable.listing(self.root)
        self.assertFalse(got.ok)
        self.assertIn("names no segment", got.why)

    def test_a_missing_first_segment_or_init_is_not_playable(self):
        for name in ("seg1.m4s", "init.mp4"):
            path = os.path.join(self.root, "audio", name)
            os.rename(path, path + ".gone")
            got = playable.listing(self.root)
            self.assertFalse(got.ok, name)
            self.assertIn(name, got.why)
            os.rename(path + ".gone", path)
        self.assertTrue(playable.listing(self.root).ok)

    def test_a_playlist_naming_files_outside_the_package_is_not_playable(self):
        write(os.path.join(self.root, "v360", "index.m3u8"), media_playlist(["../../../etc/passwd"]))
        self.assertFalse(playable.listing(self.root).ok)
        write(os.path.join(self.root, "master.m3u8"), "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://x/y.m3u8\n")
        self.assertFalse(playable.listing(self.root).ok)


def ffmpeg_track(root, name, kind):
    """A real fMP4 HLS track of 4 s in 2 s segments (160x90 H.264, or AAC), made by the ffmpeg program."""
    src = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30", "-c:v", "libx264", "-preset", "ultrafast", "-g",
           "30"] if kind == "video" else ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a", "aac"]
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + src + ["-t", "4", "-hls_time", "2", "-hls_segment_type", "fmp4",
                    "-hls_playlist_type", "vod", "-hls_segment_filename", os.path.join(d, "seg%d.m4s"), "-f", "hls",
                    os.path.join(d, "index.m3u8")], check=True, timeout=60, stdin=subprocess.DEVNULL)


class PackageCase(unittest.TestCase):
    """A real two-track package made once per class, copied into a fresh folder for each test."""

    @classmethod
    def setUpClass(cls):
        cls.pkg = tempfile.mkdtemp(prefix="spool-playable-pkg-")
        ffmpeg_track(cls.pkg, "v360", "video")
        ffmpeg_track(cls.pkg, "audio", "audio")
        write(os.path.join(cls.pkg, "master.m3u8"), MASTER)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pkg, ignore_errors=True)

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="spool-playable-test-")
        self.addCleanup(shutil.rmtree, self.root, True)
        shutil.copytree(self.pkg, self.root, dirs_exist_ok=True)

    def track(self, name):
        listed = playable.listing(self.root)
        self.assertTrue(listed.ok, listed.why)
        return next(t for t in listed.tracks if os.path.basename(os.path.dirname(t.playlist)) == name)


@unittest.skipUnless(HAVE_FFMPEG, "the ffmpeg and ffprobe programs are not installed")
class Decoding(PackageCase):
    def test_complete_first_segments_decode(self):
        for name, kind in (("v360", "video"), ("audio", "audio")):
            ok, why, figures = playable.decodes(self.track(name))
            self.assertTrue(ok, why)
            self.assertEqual(figures["kinds"], [kind])
            self.assertGreater(figures["frames"], 0)
        self.assertEqual(playable.decodes(self.track("v360"))[2]["frames"], 60)  # 2 s at 30 fps

    def test_a_playlist_naming_an_incomplete_segment_is_caught(self):
        for name in ("v360", "audio"):
            path = os.path.join(self.root, name, "seg0.m4s")
            with open(path, "rb") as f:
                data = f.read()
            for cut in (len(data) // 2, len(data) - 100, 0):
                write(path, data[:cut])
                ok, why, _ = playable.decodes(self.track(name))
                self.assertFalse(ok, f"{name} cut at {cut} of {len(data)}")
                self.assertIn("seg0.m4s", why)
            write(path, data)
            self.assertTrue(playable.decodes(self.track(name))[0])

    def test_a_segment_shorter_than_its_extinf_is_caught(self):
        path = os.path.join(self.root, "v360", "index.m3u8")
        with open(path) as f:
            text = f.read()
        write(path, text.replace("#EXTINF:2.000000,", "#EXTINF:4.000000,", 1))
        ok, why, figures = playable.decodes(self.track("v360"))
        self.assertFalse(ok)
        self.assertIn("the playlist says 4.000", why)


# A stand-in for `spool transcode SRC OUT --publish M -q --mode X --pkg DIR --delay S`: publishes the
# package DIR into OUT (media first, master last, each by rename) after S seconds, then behaves as X.
FAKE_SPOOL = textwrap.dedent("""
    import os, shutil, signal, sys, time
    a = sys.argv[1:]
    opt = lambda k: a[a.index(k) + 1]
    out, method, mode, pkg, delay = a[2], opt("--publish"), opt("--mode"), opt("--pkg"), float(opt("--delay"))
    if mode == "exits":
        print("spool: unrecognised option '--publish'", file=sys.stderr)
        sys.exit(2)
    stop = []
    signal.signal(signal.SIGINT, signal.SIG_IGN if mode == "stubborn" else lambda *x: stop.append(1))
    os.makedirs(out)
    def put(rel, data):
        dst = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst + ".tmp", "wb") as f:
            f.write(data)
        os.rename(dst + ".tmp", dst)
    def publish():
        files = [os.path.relpath(os.path.join(d, n), pkg) for d, _, ns in os.walk(pkg) for n in ns]
        for rel in sorted(files, key=lambda r: r == "master.m3u8"):
            with open(os.path.join(pkg, rel), "rb") as f:
                data = f.read()
            put(rel, data[: len(data) // 2] if mode == "torn" and rel == "v360/seg0.m4s" else data)
    time.sleep(delay)
    if mode != "never":
        publish()
    if mode == "torn":
        time.sleep(0.5)
        with open(os.path.join(pkg, "v360", "seg0.m4s"), "rb") as f:
            put("v360/seg0.m4s", f.read())
    if mode == "flicker":  # the master rewritten in place instead of by rename
        time.sleep(0.3)
        os.remove(os.path.join(out, "master.m3u8"))
        time.sleep(0.3)
        with open(os.path.join(pkg, "master.m3u8"), "rb") as f:
            put("master.m3u8", f.read())
        with open(os.path.join(pkg, "audio", "index.m3u8"), "rb") as f:
            put("audio/index.m3u8", f.read().replace(b"TARGETDURATION:2", b"TARGETDURATION:3"))
    if method == "atomic":
        time.sleep(0.2)  # the end of the job: manifests, then result.json
        put("result.json", b"{}")
        sys.exit(0)
    end = time.monotonic() + 60
    while not stop and time.monotonic() < end:
        time.sleep(0.02)
    if mode == "clean":
        shutil.rmtree(out)
    sys.exit(130)
    """)


@unittest.skipUnless(HAVE_FFMPEG, "the ffmpeg and ffprobe programs are not installed")
class Rounds(PackageCase):
    def options(self, mode, delay=0.3, **kw):
        o = argparse.Namespace(spool=self.spool, spool_args=["--mode", mode, "--pkg", self.pkg, "--delay", str(delay)],
                               ffprobe="ffprobe", poll_ms=20, playable_timeout=20, stop_timeout=10, timeout=None)
        for k, v in kw.items():
            setattr(o, k, v)
        return o

    def setUp(self):
        super().setUp()
        self.spool = os.path.join(self.root, "fake-spool")
        write(self.spool, "#!" + sys.executable + "\n" + FAKE_SPOOL)
        os.chmod(self.spool, 0o755)
        self.work, self.logs = os.path.join(self.root, "work"), os.path.join(self.root, "logs")
        os.makedirs(self.work)
        os.makedirs(self.logs)

    def round(self, o):
        return first_playable.playable_round(o, 1, "lecture.mp4", self.work, self.logs)

    def test_a_job_that_publishes_then_cleans_up_on_sigint(self):
        r = self.round(self.options("clean"))
        self.assertGreaterEqual(r["first_playable_s"], 0.3)  # measured from the start: nothing before the delay
        self.assertEqual(len(r["tracks"]), 2)
        self.assertEqual(r["stop"], "exited 130 on SIGINT")
        self.assertIs(r["cleaned"], True)
        self.assertEqual(r["rejected"], [])
        self.assertEqual(r["waits"][0]["why"], "no master.m3u8")

    def test_a_cancelled_job_that_leaves_its_playlists_is_recorded(self):
        r = self.round(self.options("leaves"))
        self.assertIs(r["cleaned"], False)
        self.assertIn("master.m3u8", r["left"]["playlists"])
        self.assertIn("v360/index.m3u8", r["left"]["playlists"])
        summary = first_playable.summarize_playable([r])
        self.assertEqual((summary["cancel_cleaned"], summary["cancel_judged"]), (0, 1))
        verdicts = {t["target"]: t["met"] for t in first_playable.targets({"playable": {"summary": summary}})}
        self.assertIs(verdicts["a cancelled job leaves no playlist (every round)"], False)

    def test_a_job_that_ignores_sigint_is_killed(self):
        r = self.round(self.options("stubborn", stop_timeout=1))
        self.assertIn("SIGKILL", r["stop"])
        self.assertEqual(r["exit_code"], -9)

    def test_a_job_that_never_publishes_fails_the_round_in_time_and_is_killed(self):
        o = self.options("never", playable_timeout=1.5)
        t0 = time.monotonic()
        with self.assertRaisesRegex(first_playable.BenchError, "not playable after 1.5 s: no master.m3u8"):
            self.round(o)
        self.assertLess(time.monotonic() - t0, 30)
        # The child was reaped: no process of ours is left running the fake.
        left = subprocess.run(["pgrep", "-f", self.spool], capture_output=True, text=True).stdout.split()
        self.assertEqual(left, [])

    def test_a_spool_without_the_option_fails_the_round_with_its_message(self):
        with self.assertRaisesRegex(first_playable.BenchError, "exited 2 .*unrecognised option"):
            self.round(self.options("exits"))

    def test_a_listing_that_names_a_torn_segment_is_rejected_until_it_is_whole(self):
        r = self.round(self.options("torn", delay=0.1))
        self.assertGreater(len(r["rejected"]), 0)
        self.assertIn("v360/seg0.m4s", r["rejected"][0]["why"])
        self.assertGreater(r["first_playable_s"], r["rejected"][0]["at_s"])

    def test_wall_runs_of_both_methods(self):
        o = self.options("clean", delay=0.3)
        atomic = first_playable.wall_run(o, "atomic", 1, 1, "lecture.mp4", 30, self.work, self.logs)
        self.assertTrue(atomic["ok"])
        self.assertGreaterEqual(atomic["wall_s"], 0.3)
        self.assertLessEqual(atomic["first_playable_s"], atomic["wall_s"])
        self.assertTrue(atomic["package"]["result_json"])
        self.assertEqual(atomic["package"]["segments"], {"audio/index.m3u8": 3, "v360/index.m3u8": 2})
        self.assertFalse(os.path.exists(os.path.join(self.work, "wall-atomic")))
        self.assertEqual(atomic["unplayable_after_playable"], [])
        self.assertIs(atomic["same_playlists_at_end"], True)
        self.assertEqual(atomic["target_duration_changes"], {})
        # progressive: the stand-in waits for a signal that never comes
        with self.assertRaisesRegex(first_playable.BenchError, "still running after 1 s"):
            first_playable.wall_run(o, "progressive", 1, 2, "lecture.mp4", 1, self.work, self.logs)


    def test_a_package_that_stops_being_playable_is_recorded(self):
        o = self.options("flicker", delay=0.1)
        run = first_playable.wall_run(o, "atomic", 1, 1, "lecture.mp4", 30, self.work, self.logs)
        self.assertTrue(run["ok"])
        self.assertGreater(len(run["unplayable_after_playable"]), 0)
        self.assertEqual(run["unplayable_after_playable"][0]["why"], "no master.m3u8")
        s = first_playable.summarize_wall([{"round": 1, "order": ["atomic"], "runs": {"atomic": run}}])
        verdicts = {t["target"]: (t["value"], t["met"]) for t in first_playable.targets({"wall": {"summary": s}})}
        self.assertEqual(verdicts["once playable, a package stays playable with the same playlists (every run)"],
                         ("0/1", False))
        self.assertEqual(run["target_duration_changes"], {"audio/index.m3u8": [2, 3]})
        self.assertEqual(verdicts["no playlist's EXT-X-TARGETDURATION changes (every run)"], ("0/1", False))


def wall_round(rnd, progressive, atomic):
    run = lambda m, w: {"method": m, "ok": w is not None, "wall_s": w, "cpu_s": 2 * (w or 0),  # noqa: E731
                        "first_playable_s": 1.0 if m == "progressive" else w}
    return {"round": rnd, "order": first_playable.method_order(rnd),
            "runs": {"progressive": run("progressive", progressive), "atomic": run("atomic", atomic)}}


class Figures(unittest.TestCase):
    def test_method_order_alternates(self):
        self.assertEqual(first_playable.method_order(1), ["progressive", "atomic"])
        self.assertEqual(first_playable.method_order(2), ["atomic", "progressive"])
        self.assertEqual(first_playable.method_order(3), first_playable.method_order(1))

    def test_ratios_are_paired_per_round_and_a_failed_run_drops_its_round(self):
        rounds = [wall_round(1, 110.0, 100.0), wall_round(2, 90.0, 100.0), wall_round(3, 200.0, None),
                  wall_round(4, 103.0, 100.0)]
        s = first_playable.summarize_wall(rounds)
        self.assertEqual(s["ratio_runs"], [1.1, 0.9, None, 1.03])
        self.assertEqual(s["cpu_ratio_runs"], [1.1, 0.9, None, 1.03])  # the stand-in's CPU is twice its wall
        self.assertAlmostEqual(s["median_ratio"], 1.03)
        self.assertEqual(s["progressive"]["median_wall_s"], 106.5)  # of 90, 103, 110, 200
        self.assertEqual(s["atomic"]["runs_failed"], 1)
        self.assertAlmostEqual(s["ratio_of_medians"], 1.065)
        met = {t["target"].split()[0]: t["met"] for t in first_playable.targets({"wall": {"summary": s}})}
        self.assertIs(met["wall"], True)
        s2 = first_playable.summarize_wall([wall_round(1, 106.0, 100.0)])
        self.assertIs(first_playable.targets({"wall": {"summary": s2}})[0]["met"], False)

    def test_first_playable_median_leaves_out_failed_rounds(self):
        rounds = [{"round": 1, "first_playable_s": 12.0, "cleaned": True, "rejected": []},
                  {"round": 2, "error": "BenchError: x"},
                  {"round": 3, "first_playable_s": 8.0, "cleaned": None, "rejected": [{"at_s": 1, "why": "w"}]},
                  {"round": 4, "first_playable_s": 9.0, "cleaned": True, "rejected": []}]
        s = first_playable.summarize_playable(rounds)
        self.assertEqual((s["median_s"], s["rounds_measured"], s["rounds_failed"]), (9.0, 3, 1))
        self.assertEqual((s["cancel_cleaned"], s["cancel_judged"], s["rejected_listings"]), (2, 2, 1))
        self.assertIs(first_playable.targets({"playable": {"summary": s}})[0]["met"], True)


@unittest.skipUnless(shutil.which("gnuplot"), "gnuplot is not installed")
class Plot(unittest.TestCase):
    def test_the_summary_shows_the_plot_and_the_targets(self):
        out = tempfile.mkdtemp(prefix="spool-playable-report-")
        self.addCleanup(shutil.rmtree, out, True)
        rounds = [{"round": 1, "first_playable_s": 7.5, "cleaned": True, "rejected": [], "stop": "exited 130 on SIGINT",
                   "left": {"files": 0, "playlists": []}, "tracks": [{}]},
                  {"round": 2, "error": "BenchError: spool exited 2"}]
        walls = [wall_round(1, 110.0, 100.0), wall_round(2, 95.0, 100.0)]
        doc = {"settings": {"poll_ms": 50},
               "playable": {"lecture": {"seconds": 300, "bytes": 1000}, "rounds": rounds,
                            "summary": first_playable.summarize_playable(rounds)},
               "wall": {"lecture": {"seconds": 30, "bytes": 500}, "rounds": walls,
                        "summary": first_playable.summarize_wall(walls)}}
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
        self.assertIn("| median time to first playable <= 10 s | 7.500 | met |", md)
        self.assertIn("- round 2: failed: BenchError: spool exited 2", md)
        with open(os.path.join(out, "plots", "playable.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with open(os.path.join(out, "plots", "playable.dat")) as f:
            self.assertIn("7.500", f.read())


if __name__ == "__main__":
    unittest.main()
