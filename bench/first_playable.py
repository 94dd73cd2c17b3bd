#!/usr/bin/env python3
"""Progressive publish, two figures measured in one run with `spool transcode --publish ...`:

  playable  time to first playable: a long 1080p30 lecture (60 min; made once and cached) encoded
            with --publish progressive, the output folder polled from the moment the process starts
            until master.m3u8 and every playlist it names exist, each naming a segment, and each
            track's init + first segment decode with ffprobe; then SIGINT, and the folder checked
            for what the cancelled job left. Target: median <= 10 s.
  wall      the whole default ladder on a short lecture (2 min), --publish progressive against
            --publish atomic, interleaved, the order rotated from round to round. Target: median of
            the per-round ratios progressive / atomic <= 1.05. The time each package became playable
            is polled (file listing only) for both: atomic's is its first playable figure.
  seekable  the first part's lecture with --publish progressive, --remux on against --remux off,
            interleaved: first playable, and when the whole lecture is seekable at the top rung (its
            playlist lists the source's duration, every segment there, the last one decodes); a run
            not seekable within --seekable-timeout is reported as more. Target: remux on <= 60 s.

JSON to --json, Markdown to --markdown and stdout. Standard library only; run with --help for the
options. Exit status 0 when every step ran, 1 when one failed, 2 for bad usage; targets never change it."""
import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import playable
import seekable
from transcode_child import BenchError, Child, leftovers, median  # noqa: F401
from report_files import write_reports

PARTS = ("playable", "wall", "seekable")
METHODS = ("progressive", "atomic")
TARGET_PLAYABLE_S, TARGET_WALL_RATIO = 10.0, 1.05


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--spool", required=True, help="the spool binary")
    p.add_argument("--make-sample", help="spool-make-sample, to make the lectures (unless both sources are given)")
    p.add_argument("--ffprobe", default="ffprobe", help="decodes the first segments (ffprobe)")
    p.add_argument("--cache", default=os.path.join("bench-results", "cache"),
                   help="where generated lectures are kept and reused (bench-results/cache)")
    p.add_argument("--playable-source", help="an existing lecture for the first-playable and seekable parts instead")
    p.add_argument("--playable-seconds", type=float, default=3600, help="length of its generated lecture (3600)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the first-playable and seekable parts (3)")
    p.add_argument("--wall-source", help="an existing lecture for the wall-time part instead")
    p.add_argument("--wall-seconds", type=float, default=120, help="length of its generated lecture (120)")
    p.add_argument("--wall-rounds", type=int, default=4, help="wall-time rounds, each runs both methods (4)")
    p.add_argument("--parts", default=",".join(PARTS), help="which parts, comma-separated")
    p.add_argument("--spool-args", default="", help="more options for every spool transcode (one string)")
    p.add_argument("--poll-ms", type=int, default=50, help="how often the output folder is looked at (50)")
    p.add_argument("--playable-timeout", type=float, default=600, help="seconds to wait for a playable package")
    p.add_argument("--seekable-timeout", type=float, default=120,
                   help="seconds a seekable run waits for the whole lecture before it is stopped (120)")
    p.add_argument("--stop-timeout", type=float, default=60, help="seconds spool gets to exit after SIGINT")
    p.add_argument("--timeout", type=float, help="seconds one wall-time encode may take (120 + 20 x its length)")
    p.add_argument("--out", default="bench-playable-out", help="scratch folders and logs")
    p.add_argument("--json", help="write the JSON report here")
    p.add_argument("--markdown", help="write the Markdown report here")
    o = p.parse_args(argv)
    o.parts = [x for x in o.parts.split(",") if x]
    if not o.parts or any(x not in PARTS for x in o.parts):
        p.error(f"--parts takes some of {','.join(PARTS)}")
    sources = {"playable": o.playable_source, "wall": o.wall_source, "seekable": o.playable_source}
    if not o.make_sample and not all(sources[x] for x in o.parts):
        p.error("--make-sample is required unless every part has its --*-source")
    if o.rounds < 1 or o.wall_rounds < 1 or o.poll_ms < 1 or o.playable_seconds <= 0 or o.wall_seconds <= 0 \
            or o.seekable_timeout <= 0:
        p.error("--rounds, --wall-rounds and --poll-ms >= 1, lengths and --seekable-timeout > 0")
    o.spool_args = shlex.split(o.spool_args)
    return o


def method_order(rnd):
    """Round 1 progressive, atomic; round 2 atomic, progressive; ... (rnd counts from 1)."""
    k = (rnd - 1) % len(METHODS)
    return list(METHODS[k:] + METHODS[:k])


def probe_duration(ffprobe, path):
    p = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    try:
        return float(p.stdout.strip())
    except ValueError:
        return None


def lecture(o, source, seconds):
    """The given source, or a 1080p30 lecture of `seconds` from the cache, made there when missing."""
    if source:
        return {"path": os.path.abspath(source), "seconds": probe_duration(o.ffprobe, source),
                "bytes": os.path.getsize(source), "generated": False}
    os.makedirs(o.cache, exist_ok=True)
    path = os.path.abspath(os.path.join(o.cache, f"lecture-{seconds:g}s-1920x1080-30fps.mp4"))
    info = {"path": path, "seconds": seconds, "generated": False, "generation_s": None}
    d = probe_duration(o.ffprobe, path) if os.path.exists(path) else None
    if d is None or abs(d - seconds) > 1.0:
        print(f"first-playable: making a {seconds:g} s lecture in {path}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        subprocess.run([o.make_sample, path, "--duration", f"{seconds:g}", "--width", "1920", "--height", "1080",
                        "--fps", "30"], check=True, stdin=subprocess.DEVNULL, timeout=600 + 20 * seconds)
        info.update(generated=True, generation_s=time.monotonic() - t0)
    info["bytes"] = os.path.getsize(path)
    return info


def transcode_argv(o, source, out, method):
    return [o.spool, "transcode", source, out, "--publish", method, "-q"] + o.spool_args


def wait_playable(o, child, out, scratch, result):
    """Polls out until it is playable and its first segments decode; the seconds from spool's start to
    the look that found it so (the decoding after that is not counted)."""
    deadline = child.started + o.playable_timeout
    last = None
    while True:
        code = child.poll()
        listed = playable.listing(out)
        seen = time.monotonic() - child.started
        if listed.ok:
            ok, why, figures = playable.first_segments_decode(listed, o.ffprobe, scratch)
            result["verified_after_s"] = time.monotonic() - child.started - seen
            if ok:
                result["tracks"] = [dict(t.as_json(out), decoded=f) for t, f in zip(listed.tracks, figures)]
                result["manifest_mpd_at_playable"] = listed.has_mpd
                return seen
            # The contract says a playlist never names a segment that is not complete: worth a record.
            result["rejected"].append({"at_s": round(seen, 3), "why": why})
            if len(result["rejected"]) >= 20:
                raise BenchError(f"20 listings named segments that do not decode, the last: {why}")
        elif listed.why != last:
            result["waits"].append({"at_s": round(seen, 3), "why": listed.why})
            last = listed.why
        if code is not None:
            raise BenchError(f"spool exited {code} before the package was playable ({listed.why}): "
                             f"{child.stderr_tail()}")
        if seen > o.playable_timeout or time.monotonic() > deadline:
            raise BenchError(f"not playable after {o.playable_timeout:g} s: {listed.why}")
        time.sleep(o.poll_ms / 1000)


def playable_round(o, rnd, source, work, logs):
    out = os.path.join(work, f"playable-{rnd}")
    shutil.rmtree(out, ignore_errors=True)
    argv = transcode_argv(o, source, out, "progressive")
    result = {"round": rnd, "command": shlex.join(argv), "waits": [], "rejected": [], "load_before": os.getloadavg()[0]}
    with Child(argv, os.path.join(logs, f"playable-{rnd}")) as child:
        result["first_playable_s"] = wait_playable(o, child, out, work, result)
        t0 = time.monotonic()
        result["stop"] = child.interrupt(o.stop_timeout)
        result["stop_s"] = time.monotonic() - t0
        result["exit_code"] = child.exit_code
    result["left"] = leftovers(out)
    # A job that had already finished left its package, as it should: nothing to judge then.
    finished = result["stop"].startswith("had exited")
    result["cleaned"] = None if finished else not result["left"]["playlists"]
    shutil.rmtree(out, ignore_errors=True)
    return result


def package_summary(out):
    """The finished package: result.json, the tracks' segment counts, whether every playlist ended, bytes."""
    listed = playable.listing(out)
    mpd = playable.read_text(os.path.join(out, "manifest.mpd")) or ""
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(out) for n in ns)
    return {"result_json": os.path.exists(os.path.join(out, "result.json")), "playable": listed.ok,
            "why": listed.why, "all_ended": bool(listed.tracks) and all(t.ended for t in listed.tracks),
            "segments": {os.path.relpath(t.playlist, out): t.segments for t in listed.tracks},
            "mpd_static": 'type="static"' in mpd, "bytes": size}


def note_target_durations(listed, out, seen):
    """Adds each playlist's EXT-X-TARGETDURATION to the values seen for it, when new."""
    for t in listed.tracks:
        values = seen.setdefault(os.path.relpath(t.playlist, out), [])
        if t.target_duration is not None and t.target_duration not in values:
            values.append(t.target_duration)


def wall_run(o, method, rnd, position, source, limit, work, logs):
    out = os.path.join(work, f"wall-{method}")
    shutil.rmtree(out, ignore_errors=True)
    argv = transcode_argv(o, source, out, method)
    result = {"method": method, "round": rnd, "position": position, "command": shlex.join(argv), "ok": False,
              "load_before": os.getloadavg()[0]}
    first, lapses, targets_seen = None, [], {}
    with Child(argv, os.path.join(logs, f"wall-{rnd}-{method}")) as child:
        # The same cheap look at the folder for both methods, so the polling costs them alike.
        while child.poll() is None:
            now = time.monotonic() - child.started
            listed = playable.listing(out)
            note_target_durations(listed, out, targets_seen)
            if listed.ok and first is None:
                first = now
                result["playlists_at_first_playable"] = sorted(os.path.relpath(t.playlist, out) for t in listed.tracks)
            elif not listed.ok and first is not None and len(lapses) < 20:
                # Once playable, every later look must find it so: files appear by rename, none goes away.
                lapses.append({"at_s": round(now, 3), "why": listed.why})
            if now > limit:
                raise BenchError(f"{method}: still running after {limit:g} s")
            time.sleep(o.poll_ms / 1000)
    result["unplayable_after_playable"] = lapses
    wall = child.ended - child.started
    if child.exit_code != 0:
        raise BenchError(f"{method}: spool exited {child.exit_code}: {child.stderr_tail()}")
    ru = child.rusage
    result.update(ok=True, wall_s=wall, cpu_s=ru.ru_utime + ru.ru_stime, max_rss_mb=ru.ru_maxrss / 1024,
                  package=package_summary(out))
    # Not seen while it ran (published in the last poll interval): playable by the time it exited.
    result["first_playable_s"] = first if first is not None else (wall if result["package"]["playable"] else None)
    note_target_durations(playable.listing(out), out, targets_seen)
    # RFC 8216 4.3.3.1: a playlist's EXT-X-TARGETDURATION must not change, growing or finished.
    result["target_duration_changes"] = {k: v for k, v in targets_seen.items() if len(v) > 1}
    at_first = result.get("playlists_at_first_playable")
    if at_first is not None:  # a growing master names every rung from the start
        result["same_playlists_at_end"] = at_first == sorted(result["package"]["segments"])
    shutil.rmtree(out, ignore_errors=True)
    return result


def summarize_playable(rounds):
    ok = [r for r in rounds if "first_playable_s" in r and "error" not in r]
    judged = [r for r in ok if r.get("cleaned") is not None]
    return {"rounds_measured": len(ok), "rounds_failed": len(rounds) - len(ok),
            "median_s": median([r["first_playable_s"] for r in ok]),
            "min_s": min((r["first_playable_s"] for r in ok), default=None),
            "max_s": max((r["first_playable_s"] for r in ok), default=None),
            "median_verify_s": median([r.get("verified_after_s") for r in ok]),
            "median_stop_s": median([r.get("stop_s") for r in ok]),
            "cancel_judged": len(judged), "cancel_cleaned": sum(1 for r in judged if r["cleaned"]),
            "rejected_listings": sum(len(r.get("rejected", [])) for r in rounds)}


def summarize_wall(rounds):
    """Per method medians over the runs that succeeded; ratios paired within each round."""
    s = {}
    for m in METHODS:
        runs = [r["runs"][m] for r in rounds if m in r["runs"]]
        good = [x for x in runs if x.get("ok")]
        s[m] = {"runs_ok": len(good), "runs_failed": len(runs) - len(good),
                "median_wall_s": median([x["wall_s"] for x in good]),
                "median_cpu_s": median([x["cpu_s"] for x in good]),
                "median_first_playable_s": median([x.get("first_playable_s") for x in good]),
                "runs_steady": sum(1 for x in good if not x.get("unplayable_after_playable")
                                   and x.get("same_playlists_at_end", True)),
                "runs_target_duration_kept": sum(1 for x in good if not x.get("target_duration_changes"))}
    ratios, cpu_ratios = [], []
    for r in rounds:
        p, a = r["runs"].get("progressive", {}), r["runs"].get("atomic", {})
        both = p.get("ok") and a.get("ok")
        ratios.append(p["wall_s"] / a["wall_s"] if both and a["wall_s"] > 0 else None)
        cpu_ratios.append(p["cpu_s"] / a["cpu_s"] if both and a["cpu_s"] > 0 else None)
    s["ratio_runs"] = ratios
    s["median_ratio"] = median(ratios)
    # CPU time barely moves with the neighbours' load, wall time does: the steadier of the two figures.
    s["cpu_ratio_runs"] = cpu_ratios
    s["median_cpu_ratio"] = median(cpu_ratios)
    pw, aw = s["progressive"]["median_wall_s"], s["atomic"]["median_wall_s"]
    s["ratio_of_medians"] = pw / aw if pw and aw else None
    return s


def targets(doc):
    out = []
    p = doc.get("playable", {}).get("summary")
    if p is not None:
        v = p["median_s"]
        out.append({"target": f"median time to first playable <= {TARGET_PLAYABLE_S:g} s", "value": v,
                    "met": None if v is None else v <= TARGET_PLAYABLE_S})
        if p["cancel_judged"]:
            out.append({"target": "a cancelled job leaves no playlist (every round)",
                        "value": f"{p['cancel_cleaned']}/{p['cancel_judged']}",
                        "met": p["cancel_cleaned"] == p["cancel_judged"]})
    w = doc.get("wall", {}).get("summary")
    if w is not None:
        v = w["median_ratio"]
        out.append({"target": f"wall progressive / atomic <= {TARGET_WALL_RATIO:g} (median of per-round ratios)",
                    "value": v, "met": None if v is None else v <= TARGET_WALL_RATIO})
        runs = sum(w[m]["runs_ok"] for m in METHODS)
        if runs:
            steady = sum(w[m]["runs_steady"] for m in METHODS)
            out.append({"target": "once playable, a package stays playable with the same playlists (every run)",
                        "value": f"{steady}/{runs}", "met": steady == runs})
            kept = sum(w[m]["runs_target_duration_kept"] for m in METHODS)
            out.append({"target": "no playlist's EXT-X-TARGETDURATION changes (every run)",
                        "value": f"{kept}/{runs}", "met": kept == runs})
    sk = doc.get("seekable", {}).get("summary")
    if sk is not None:
        out += seekable.targets(sk, TARGET_PLAYABLE_S)
    return out


def fmt_s(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def markdown(doc):
    lines = []
    pl = doc.get("playable")
    if pl:
        s, lec = pl["summary"], pl["lecture"]
        lines += [f"Time to first playable: `spool transcode LECTURE OUT --publish progressive -q` on a "
                  f"{fmt_s(lec['seconds'], 'g')} s 1080p30 lecture ({lec['bytes']:,} bytes), OUT polled every "
                  f"{doc['settings']['poll_ms']} ms from the process start until master.m3u8, every playlist it "
                  "names and their init and first segments exist, then those decoded with ffprobe (not counted); "
                  "then SIGINT. Seconds, over rounds.", "",
                  "| rounds | median | min | max | decoding check | SIGINT to exit | cancelled job left no playlist |",
                  "|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {s['rounds_measured']}/{s['rounds_measured'] + s['rounds_failed']} | {fmt_s(s['median_s'])} | "
                  f"{fmt_s(s['min_s'])} | {fmt_s(s['max_s'])} | {fmt_s(s['median_verify_s'])} | "
                  f"{fmt_s(s['median_stop_s'])} | {s['cancel_cleaned']}/{s['cancel_judged']} |", ""]
        for r in pl["rounds"]:
            if "error" in r:
                lines.append(f"- round {r['round']}: failed: {r['error']}")
                continue
            left = r.get("left", {})
            lines.append(f"- round {r['round']}: playable at {fmt_s(r['first_playable_s'])} s "
                         f"(load {fmt_s(r.get('load_before'), '.1f')}) "
                         f"with {len(r.get('tracks', []))} playlists, stop: {r['stop']}, left {left.get('files', '?')} "
                         f"files{', playlists: ' + ', '.join(left['playlists']) if left.get('playlists') else ''}"
                         + (f"; {len(r['rejected'])} listings named segments that did not decode: "
                            f"{r['rejected'][0]['why']}" if r.get("rejected") else ""))
        lines.append("")
    wl = doc.get("wall")
    if wl:
        s, lec = wl["summary"], wl["lecture"]
        lines += [f"Wall time of the default ladder on a {fmt_s(lec['seconds'], 'g')} s 1080p30 lecture "
                  f"({lec['bytes']:,} bytes), `--publish progressive` against `--publish atomic`, the order "
                  "rotated per round; medians. First playable is when a listing of OUT (no decoding) first "
                  "found the package playable.", "",
                  "| method | wall s | CPU s | first playable s | runs |", "|---|---:|---:|---:|---:|"]
        for m in METHODS:
            x = s[m]
            lines.append(f"| {m} | {fmt_s(x['median_wall_s'])} | {fmt_s(x['median_cpu_s'])} | "
                         f"{fmt_s(x['median_first_playable_s'])} | {x['runs_ok']}/{x['runs_ok'] + x['runs_failed']} |")
        per = ", ".join(fmt_s(r, ".3f") for r in s["ratio_runs"])
        cpu = ", ".join(fmt_s(r, ".3f") for r in s["cpu_ratio_runs"])
        lines += ["", f"progressive / atomic wall: median of per-round ratios **{fmt_s(s['median_ratio'], '.3f')}** "
                  f"(rounds: {per}; ratio of medians {fmt_s(s['ratio_of_medians'], '.3f')}); CPU: "
                  f"{fmt_s(s['median_cpu_ratio'], '.3f')} (rounds: {cpu})", ""]
        for r in wl["rounds"]:
            cells = []
            for m in r["order"]:
                x = r["runs"].get(m, {})
                if not x.get("ok"):
                    cells.append(f"{m} failed: {x.get('error')}")
                    continue
                lapses = x.get("unplayable_after_playable") or []
                cells.append(f"{m} {fmt_s(x.get('wall_s'))} s (load {fmt_s(x.get('load_before'), '.1f')})" +
                             (f" (unplayable again {len(lapses)} times after playable: {lapses[0]['why']})" if lapses
                              else "") +
                             ("" if x.get("same_playlists_at_end", True) else " (playlists changed after playable)") +
                             "".join(f" ({k}: EXT-X-TARGETDURATION {' then '.join(map(str, v))})"
                                     for k, v in (x.get("target_duration_changes") or {}).items()))
            lines.append(f"- round {r['round']}: " + "; ".join(cells))
        lines.append("")
    if doc.get("seekable", {}).get("summary"):
        lines += seekable.markdown(doc["seekable"], doc["settings"])
    lines += ["| target | value | verdict |", "|---|---:|---|"]
    for t in doc["targets"]:
        v = t["value"]
        shown = v if isinstance(v, str) else fmt_s(v, ".3f")
        verdict = "not judged" if t["met"] is None else "met" if t["met"] else "**MISSED**"
        lines.append(f"| {t['target']} | {shown} | {verdict} |")
    return "\n".join(lines) + "\n"


def run_part_playable(o, doc, work, logs):
    lec = lecture(o, o.playable_source, o.playable_seconds)
    part = doc["playable"] = {"lecture": lec, "rounds": []}
    failed = False
    for rnd in range(1, o.rounds + 1):
        print(f"first-playable: playable round {rnd}/{o.rounds}", file=sys.stderr, flush=True)
        try:
            part["rounds"].append(playable_round(o, rnd, lec["path"], work, logs))
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            failed = True
            part["rounds"].append({"round": rnd, "error": f"{type(e).__name__}: {e}"})
            print(f"first-playable: round {rnd} failed: {e}", file=sys.stderr, flush=True)
    part["summary"] = summarize_playable(part["rounds"])
    return failed


def run_part_wall(o, doc, work, logs):
    lec = lecture(o, o.wall_source, o.wall_seconds)
    part = doc["wall"] = {"lecture": lec, "rounds": []}
    limit = o.timeout or 120 + 20 * (lec["seconds"] or o.wall_seconds)
    failed = False
    for rnd in range(1, o.wall_rounds + 1):
        entry = {"round": rnd, "order": method_order(rnd), "runs": {}}
        for pos, m in enumerate(entry["order"]):
            print(f"first-playable: wall round {rnd}/{o.wall_rounds}, {m}", file=sys.stderr, flush=True)
            try:
                entry["runs"][m] = wall_run(o, m, rnd, pos + 1, lec["path"], limit, work, logs)
            except (BenchError, OSError, subprocess.SubprocessError) as e:
                failed = True
                entry["runs"][m] = {"method": m, "round": rnd, "ok": False, "error": f"{type(e).__name__}: {e}"}
                print(f"first-playable: wall round {rnd} {m} failed: {e}", file=sys.stderr, flush=True)
        part["rounds"].append(entry)
    part["summary"] = summarize_wall(part["rounds"])
    return failed


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds the with-blocks, which kill the child by its pid


def main(argv):
    o = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    out = os.path.abspath(o.out)
    work, logs = os.path.join(out, "work"), os.path.join(out, "logs")
    os.makedirs(work, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    doc = {"benchmark": "first-playable",
           "settings": {k: getattr(o, k) for k in ("spool", "spool_args", "rounds", "wall_rounds", "poll_ms", "parts",
                                                   "playable_timeout", "seekable_timeout", "stop_timeout")},
           "load_before": os.getloadavg()[0]}
    failed = False
    try:
        for part in o.parts:
            if part == "seekable":
                lec = lecture(o, o.playable_source, o.playable_seconds)
                failed |= seekable.run_part(o, doc, lec, work, logs)
            else:
                failed |= (run_part_playable if part == "playable" else run_part_wall)(o, doc, work, logs)
    except (OSError, subprocess.SubprocessError, seekable.BenchError) as e:  # no lecture to measure
        failed = True
        doc["error"] = f"{type(e).__name__}: {e}"
        print(f"first-playable: {doc['error']}", file=sys.stderr)
    doc["load_after"] = os.getloadavg()[0]
    doc["targets"] = targets(doc)
    md = markdown(doc)
    write_reports(o, doc, md)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
