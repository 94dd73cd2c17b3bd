"""The seekable part of bench/first_playable.py: how soon a whole lecture is seekable at the top rung,
with the remux fast path (`--remux on`) and without it (`--remux off`), side by side.

Each round runs `spool transcode LECTURE OUT --publish progressive --remux on|off -q`, the order of the
two rotated from round to round, and polls OUT from the process start for two moments: first playable
(playable.listing, then the first segments decoded, as the playable part does) and whole-lecture
seekable (playable.seekable: the top rung lists the source's duration within a frame, every segment
on disk, then its last segment decoded). Decoding runs beside the polling, not timed. A run that is
not seekable within --seekable-timeout is stopped and reported as "> N s" (an encoded top rung takes
about the whole encode). Then SIGINT, and what the cancelled job left is recorded."""
import concurrent.futures
import os
import shlex
import shutil
import subprocess
import sys
import time

import playable
from transcode_child import BenchError, Child, leftovers, median

REMUX = ("on", "off")
TARGET_SEEKABLE_S = 60.0


def remux_order(rnd):
    """Round 1 on, off; round 2 off, on; ... (rnd counts from 1)."""
    k = (rnd - 1) % len(REMUX)
    return list(REMUX[k:] + REMUX[:k])


def bounded_median(values):
    """Median of (value, at_least) pairs, where at_least marks a lower bound (a run stopped at its cap).
    Returns (median, at_least): at_least when a bound is among the values the median is taken from or
    below them (the upper middle one, with an even count), so that the true values could move it;
    (None, False) for no values."""
    vals = [(v, b) for v, b in values if v is not None]
    if not vals:
        return None, False
    upper_middle = sorted(v for v, _ in vals)[len(vals) // 2]
    return median([v for v, _ in vals]), any(b and v <= upper_middle for v, b in vals)


def seekable_run(o, remux, rnd, position, source, probe, work, logs):
    """One encode polled for first playable and whole-lecture seekable; the run's record."""
    out = os.path.join(work, f"seekable-{rnd}-remux-{remux}")
    shutil.rmtree(out, ignore_errors=True)
    argv = [o.spool, "transcode", source, out, "--publish", "progressive", "--remux", remux, "-q"] + o.spool_args
    cap = o.seekable_timeout
    r = {"remux": remux, "round": rnd, "position": position, "command": shlex.join(argv), "waits": [], "rejected": [],
         "load_before": os.getloadavg()[0], "first_playable_s": None, "seekable_s": None}
    last_why, pending, refused = None, {}, set()
    # The decoding runs beside the polling: a look never waits for ffprobe, so neither moment is late
    # by the other's check. Files are published by rename and never replaced, so a later decode reads
    # what the look saw.
    with Child(argv, os.path.join(logs, f"seekable-{rnd}-remux-{remux}")) as child, \
            concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        while True:
            code = child.poll()  # before the looks: a look after the exit sees the finished package
            listed = playable.listing(out)
            seen_playable = time.monotonic() - child.started
            seek = playable.seekable(out, probe["duration_s"], probe["frame_s"])
            seen_seekable = time.monotonic() - child.started
            if code is not None and child.ended is not None:  # found only now: there by the exit
                seen_playable = seen_seekable = min(seen_seekable, child.ended - child.started)
            if "variants" not in r and seek.variants:
                r["variants"] = [dict(v, resolution="x".join(map(str, v["resolution"] or ())) or None)
                                 for v in seek.variants]
            files = _files(p for t in listed.tracks for p in (t.init, t.first))
            if r["first_playable_s"] is None and "playable" not in pending and listed.ok and files not in refused:
                pending["playable"] = (pool.submit(playable.first_segments_decode, listed, o.ffprobe, work),
                                       seen_playable, time.monotonic(), files)
            files = _files([seek.init, seek.segments[-1][1]] if seek.ok else [])
            if r["seekable_s"] is None and "seekable" not in pending and seek.ok and files not in refused:
                facts = {"files": files, "top_playlist": os.path.relpath(seek.playlist, out),
                         "top_segments": len(seek.segments), "top_listed_s": seek.listed_s,
                         "listed_s_at_seekable": playable.listed_seconds(out)}
                pending["seekable"] = (pool.submit(playable.decodes, seek.last_track(), o.ffprobe, scratch=work),
                                       seen_seekable, time.monotonic(), facts)
            for kind in [k for k, v in pending.items() if v[0].done() or code is not None]:
                future, seen, t0, facts = pending.pop(kind)
                ok, why, figures = future.result()
                r[f"{kind}_verified_after_s"] = time.monotonic() - t0
                if not ok:  # the same files are not decoded again: only a new file can change the answer
                    refused.add(facts if kind == "playable" else facts["files"])
                    r["rejected"].append({"at_s": round(seen, 3), "why": why})
                elif kind == "playable":
                    r["first_playable_s"] = seen
                else:
                    facts.pop("files")
                    r.update(facts, seekable_s=seen, last_decoded=figures)
            why = seek.why if listed.ok else listed.why
            if why and why != last_why and len(r["waits"]) < 50:
                r["waits"].append({"at_s": round(seen_seekable, 3), "why": why})
                last_why = why
            if len(r["rejected"]) >= 20:
                raise BenchError(f"20 listings named segments that do not decode, the last: {r['rejected'][-1]['why']}")
            now = time.monotonic() - child.started
            if not pending and r["first_playable_s"] is not None and (r["seekable_s"] is not None or now > cap):
                break
            if code is not None and not pending:
                raise BenchError(f"spool exited {code} before the lecture was "
                                 f"{'seekable' if r['first_playable_s'] is not None else 'playable'} ({why}): "
                                 f"{child.stderr_tail()}")
            if now > o.playable_timeout:
                raise BenchError(f"not playable after {o.playable_timeout:g} s: {listed.why}")
            time.sleep(o.poll_ms / 1000)
        if r["seekable_s"] is None:
            r["seekable_over_s"] = cap
            r["top_listed_s_at_cap"] = seek.listed_s
            r["listed_s_at_cap"] = playable.listed_seconds(out)
        t0 = time.monotonic()
        r["stop"] = child.interrupt(o.stop_timeout)
        r["stop_s"] = time.monotonic() - t0
        r["exit_code"] = child.exit_code
    r["left"] = leftovers(out)
    finished = r["stop"].startswith("had exited")  # a finished job keeps its package, as it should
    r["cleaned"] = None if finished else not r["left"]["playlists"]
    shutil.rmtree(out, ignore_errors=True)
    return r


def _files(paths):
    """Which files these are, as they are now: (path, size, mtime) each; None when one is missing."""
    try:
        return tuple((p, st.st_size, st.st_mtime_ns) for p in paths for st in [os.stat(p)])
    except (OSError, TypeError):
        return None


def _seekable_value(x):
    """A run's whole-lecture figure as (value, at_least)."""
    if x.get("seekable_s") is not None:
        return x["seekable_s"], False
    return x.get("seekable_over_s"), x.get("seekable_over_s") is not None


def summarize(rounds):
    """Per --remux value: medians over the runs that measured; off / on paired within each round."""
    s = {}
    for m in REMUX:
        runs = [r["runs"][m] for r in rounds if m in r["runs"]]
        good = [x for x in runs if "error" not in x]
        fp = [x["first_playable_s"] for x in good if x.get("first_playable_s") is not None]
        sk, sk_bound = bounded_median([_seekable_value(x) for x in good])
        judged = [x for x in good if x.get("cleaned") is not None]
        s[m] = {"runs_ok": len(good), "runs_failed": len(runs) - len(good), "median_first_playable_s": median(fp),
                "min_first_playable_s": min(fp, default=None), "max_first_playable_s": max(fp, default=None),
                "median_seekable_s": sk, "seekable_at_least": sk_bound,
                "runs_seekable": sum(1 for x in good if x.get("seekable_s") is not None),
                "median_stop_s": median([x.get("stop_s") for x in good]),
                "cancel_judged": len(judged), "cancel_cleaned": sum(1 for x in judged if x["cleaned"]),
                "rejected_listings": sum(len(x.get("rejected", [])) for x in runs)}
    ratios, fp_ratios = [], []
    for r in rounds:
        on, off = r["runs"].get("on", {}), r["runs"].get("off", {})
        (a, a_bound), (b, b_bound) = _seekable_value(on), _seekable_value(off)
        # off's figure stopped at its cap makes the ratio a lower bound; on's stopped makes it unknown.
        ok = "error" not in on and "error" not in off and a and b is not None and not a_bound
        ratios.append([b / a, b_bound] if ok else None)
        fa, fb = on.get("first_playable_s"), off.get("first_playable_s")
        fp_ratios.append(fa / fb if fa is not None and fb else None)
    s["seekable_ratio_runs"] = ratios
    s["median_seekable_ratio"], s["seekable_ratio_at_least"] = bounded_median([tuple(x) for x in ratios if x])
    s["first_playable_ratio_runs"] = fp_ratios
    s["median_first_playable_ratio"] = median(fp_ratios)
    return s


def targets(s, target_playable_s):
    on = s["on"]
    v, bound = on["median_seekable_s"], on["seekable_at_least"]
    met = None if v is None or (bound and v <= TARGET_SEEKABLE_S) else v <= TARGET_SEEKABLE_S
    out = [{"target": f"remux on: median time to the whole lecture seekable <= {TARGET_SEEKABLE_S:g} s",
            "value": f"> {v:g}" if bound and v is not None else v, "met": met}]
    v = on["median_first_playable_s"]
    out.append({"target": f"remux on: median time to first playable <= {target_playable_s:g} s", "value": v,
                "met": None if v is None else v <= target_playable_s})
    judged = sum(s[m]["cancel_judged"] for m in REMUX)
    if judged:
        cleaned = sum(s[m]["cancel_cleaned"] for m in REMUX)
        out.append({"target": "a cancelled job leaves no playlist (every seekable run, both)",
                    "value": f"{cleaned}/{judged}", "met": cleaned == judged})
    return out


def _f(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def _bounded(v, at_least, spec=".2f"):
    return "-" if v is None else ("> " if at_least else "") + format(v, spec)


def markdown(part, settings):
    s, lec, probe = part["summary"], part["lecture"], part["probe"]
    lines = [f"Whole lecture seekable: `spool transcode LECTURE OUT --publish progressive --remux on|off -q` on a "
             f"{_f(probe.get('duration_s'), '.3f')} s 1080p30 lecture ({lec['bytes']:,} bytes), the two "
             f"interleaved, the order rotated per round; OUT polled every {settings['poll_ms']} ms from the process "
             "start. Seekable: the top rung's playlist (the master's highest RESOLUTION) lists the source's duration "
             "within one frame, every segment on disk, and its last segment decodes (not counted). A run not "
             f"seekable within {settings['seekable_timeout']:g} s is stopped there (`>`). Then SIGINT. "
             "Seconds, medians over rounds.", "",
             "| remux | first playable (min to max) | whole lecture seekable | runs seekable | SIGINT to exit | "
             "cancelled job left no playlist | runs |", "|---|---:|---:|---:|---:|---:|---:|"]
    for m in REMUX:
        x = s[m]
        lines.append(f"| {m} | {_f(x['median_first_playable_s'])} ({_f(x['min_first_playable_s'])} to "
                     f"{_f(x['max_first_playable_s'])}) | {_bounded(x['median_seekable_s'], x['seekable_at_least'])} | "
                     f"{x['runs_seekable']}/{x['runs_ok']} | {_f(x['median_stop_s'])} | "
                     f"{x['cancel_cleaned']}/{x['cancel_judged']} | {x['runs_ok']}/{x['runs_ok'] + x['runs_failed']} |")
    per = ", ".join("-" if r is None else _bounded(r[0], r[1], ".1f") for r in s["seekable_ratio_runs"])
    fp = ", ".join(_f(r, ".2f") for r in s["first_playable_ratio_runs"])
    lines += ["", f"off / on, whole lecture seekable: median of per-round ratios "
              f"**{_bounded(s['median_seekable_ratio'], s['seekable_ratio_at_least'], '.1f')}** (rounds: {per}); "
              f"first playable on / off: {_f(s['median_first_playable_ratio'])} (rounds: {fp})", ""]
    for r in part["rounds"]:
        cells = []
        for m in r["order"]:
            x = r["runs"].get(m, {})
            if "error" in x:
                cells.append(f"remux {m} failed: {x['error']}")
                continue
            if x.get("seekable_s") is not None:
                others = {k: v for k, v in (x.get("listed_s_at_seekable") or {}).items() if k != x.get("top_playlist")}
                seek = (f"seekable at {_f(x['seekable_s'])} s ({x.get('top_playlist')}: {x.get('top_segments')} "
                        f"segments, {_f(x.get('top_listed_s'), '.3f')} s; the others then listed "
                        + ", ".join(f"{k} {v:g} s" for k, v in sorted(others.items())) + ")")
            else:
                seek = (f"not seekable within {x.get('seekable_over_s', 0):g} s (the top rung listed "
                        f"{_f(x.get('top_listed_s_at_cap'), '.1f')} s)")
            left = x.get("left", {})
            cells.append(f"remux {m}: playable at {_f(x.get('first_playable_s'))} s, {seek}, load "
                         f"{_f(x.get('load_before'), '.1f')}, stop: {x.get('stop')}, "
                         f"left {left.get('files', '?')} files"
                         + (", playlists: " + ", ".join(left["playlists"]) if left.get("playlists") else "")
                         + (f"; {len(x['rejected'])} listings named segments that did not decode: "
                            f"{x['rejected'][0]['why']}" if x.get("rejected") else ""))
        lines.append(f"- round {r['round']}: " + "; ".join(cells))
    variants = next((x.get("variants") for r in part["rounds"] for x in r["runs"].values() if x.get("variants")), None)
    if variants:
        lines += ["", "The master's variants (result.json is not written, the jobs are cancelled): " + ", ".join(
            f"{v['uri']} {v['resolution'] or '?'} {v['bandwidth'] or '?'} bit/s {v['codecs'] or ''}".rstrip()
            for v in variants)]
    return lines + [""]


def run_part(o, doc, lec, work, logs):
    """Every round of the part into doc["seekable"]; True when a run failed."""
    probe = playable.probe_source(o.ffprobe, lec["path"])
    part = doc["seekable"] = {"lecture": lec, "probe": probe, "rounds": []}
    if not probe["duration_s"] or not probe["frame_s"]:
        raise BenchError(f"ffprobe gave no video duration or frame rate for {lec['path']}: {probe}")
    failed = False
    for rnd in range(1, o.rounds + 1):
        entry = {"round": rnd, "order": remux_order(rnd), "runs": {}}
        for pos, m in enumerate(entry["order"]):
            print(f"first-playable: seekable round {rnd}/{o.rounds}, remux {m}", file=sys.stderr, flush=True)
            try:
                entry["runs"][m] = seekable_run(o, m, rnd, pos + 1, lec["path"], probe, work, logs)
            except (BenchError, OSError, subprocess.SubprocessError) as e:
                failed = True
                entry["runs"][m] = {"remux": m, "round": rnd, "error": f"{type(e).__name__}: {e}"}
                print(f"first-playable: seekable round {rnd} remux {m} failed: {e}", file=sys.stderr, flush=True)
        part["rounds"].append(entry)
    part["summary"] = summarize(part["rounds"])
    return failed
