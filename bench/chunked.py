#!/usr/bin/env python3
"""Chunked parallel encoding, measured in one run with `spool worker` processes pinned to cores:

  a  unchunked: the default ladder, one worker pinned to core 0 (taskset -c 0)
  b  chunked: the same plan with chunking on, one worker pinned to core 0
  c  chunked, two workers pinned to cores 0 and 1

on a 10-minute 1080p30 lecture (made once with spool-make-sample and cached). Each run queues the job
on a fresh file:// queue, starts the workers with --exit-when-idle and times them from their start to
the last one's exit. The three are interleaved, their order rotated from round to round; medians.
Reported: the speed-up of two workers, b / c and a / c (per-round ratios, median; target >= 1.7), the
package's total bytes chunked / unchunked (target within 2 %), and the SSIM of the top rung against
the source (the ffmpeg CLI's ssim filter) for a and c, over the whole lecture and within a second of
each chunk boundary, where rate control starts afresh (target: chunked within 0.002 of unchunked).

JSON to --json, Markdown to --markdown and stdout. Standard library plus the taskset and ffmpeg
programs; run with --help for the options. Exit status 0 when every step ran, 1 when one failed, 2 for
bad usage; targets never change it."""
import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

from report_files import write_reports

VARIANTS = ("a", "b", "c")
TITLES = {"a": "unchunked, 1 worker", "b": "chunked, 1 worker", "c": "chunked, 2 workers"}
CORES = {"a": [0], "b": [0], "c": [0, 1]}
TARGET_SPEEDUP, TARGET_BYTES, TARGET_SSIM = 1.7, 0.02, 0.002


class BenchError(RuntimeError):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--spool", required=True, help="the spool binary")
    p.add_argument("--make-sample", help="spool-make-sample, to make the lecture (unless --source is given)")
    p.add_argument("--ffmpeg", default="ffmpeg", help="computes SSIM (the ffmpeg program)")
    p.add_argument("--taskset", default="taskset", help="pins each worker to its core")
    p.add_argument("--cache", default=os.path.join("bench-results", "cache"),
                   help="where the generated lecture is kept and reused (bench-results/cache)")
    p.add_argument("--source", help="an existing lecture instead")
    p.add_argument("--seconds", type=float, default=600, help="length of the generated lecture (600)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, each runs a, b and c (3)")
    p.add_argument("--chunk-s", type=float, default=60, help="chunking.chunk_s of the chunked plan (60)")
    p.add_argument("--segment-s", type=float, default=6, help="packaging.segment_s of every plan (6)")
    p.add_argument("--window-s", type=float, default=1.0, help="SSIM around a boundary: frames within this (1)")
    p.add_argument("--worker-args", default="", help="more options for every spool worker (one string)")
    p.add_argument("--no-ssim", action="store_true", help="skip the SSIM comparison")
    p.add_argument("--timeout", type=float, help="seconds one run may take (300 + 10 x the lecture's length)")
    p.add_argument("--out", default="bench-chunked-out", help="scratch folders and logs")
    p.add_argument("--json", help="write the JSON report here")
    p.add_argument("--markdown", help="write the Markdown report here")
    o = p.parse_args(argv)
    if not o.make_sample and not o.source:
        p.error("--make-sample is required unless --source is given")
    if o.rounds < 1 or o.seconds <= 0 or o.chunk_s < o.segment_s or o.segment_s <= 0 or o.window_s <= 0:
        p.error("--rounds >= 1, --seconds > 0, --chunk-s >= --segment-s > 0, --window-s > 0")
    o.worker_args = shlex.split(o.worker_args)
    return o


def variant_order(rnd):
    """Round 1 a, b, c; round 2 b, c, a; round 3 c, a, b; ... (rnd counts from 1)."""
    k = (rnd - 1) % len(VARIANTS)
    return list(VARIANTS[k:] + VARIANTS[:k])


def plan_spec(chunked, o):
    """The default ladder with the bench's segment length, chunking on or off. Every rung encoded in
    both: the worker would otherwise copy a fit lecture as the top rung (video.remux), which a chunked
    job does not, and the two would not compare."""
    spec = {"version": 1, "video": {"remux": "off"}, "packaging": {"segment_s": o.segment_s, "gop_s": 2}}
    if chunked:
        # Every input of the bench is long enough to be split.
        spec["chunking"] = {"enabled": True, "min_duration_s": 0, "chunk_s": o.chunk_s}
    return spec


def chunk_boundaries(duration_s, segment_s, chunk_s):
    """Where chunks meet, as docs/job-spec.md describes the split: chunks of chunk_s rounded to whole
    segments, a tail shorter than half a chunk joined to the chunk before it."""
    total = max(1, math.ceil(duration_s / segment_s - 1e-6))
    per = max(1, round(chunk_s / segment_s))
    count = max(1, total // per)
    tail = duration_s - count * per * segment_s
    if tail > 0 and tail >= 0.5 * per * segment_s:
        count += 1
    return [k * per * segment_s for k in range(1, count)]


def parse_ssim_stats(text):
    """The ssim filter's stats_file: (frame number from 1, SSIM of all planes) per line."""
    out = []
    for line in text.splitlines():
        n, a = re.search(r"\bn:(\d+)", line), re.search(r"\bAll:([0-9.]+)", line)
        if n and a:
            out.append((int(n.group(1)), float(a.group(1))))
    return out


def ssim_figures(frames, fps, boundaries, window_s):
    """Mean SSIM over every frame, and over the frames within window_s of a boundary."""
    if not frames:
        return {"frames": 0, "mean": None, "boundary_frames": 0, "boundary_mean": None}
    near = [v for n, v in frames if any(abs((n - 1) / fps - b) <= window_s + 1e-9 for b in boundaries)]
    return {"frames": len(frames), "mean": statistics.fmean(v for _, v in frames), "boundary_frames": len(near),
            "boundary_mean": statistics.fmean(near) if near else None}


def package_bytes(root):
    """Bytes of the package's files (status.json, the worker's, not counted), in all and per folder."""
    total, per = 0, {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n == "status.json" and dirpath == root:
                continue
            size = os.path.getsize(os.path.join(dirpath, n))
            total += size
            top = os.path.relpath(dirpath, root).split(os.sep)[0]
            per[top] = per.get(top, 0) + size
    return {"total": total, "per_folder": per}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(x, y):
    return x / y if x is not None and y else None


def probe_seconds(ffmpeg, path):
    """The duration ffmpeg reports for `path`, or None."""
    p = subprocess.run([ffmpeg, "-hide_banner", "-i", path], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    m = re.search(r"Duration: (\d+):(\d+):([0-9.]+)", p.stderr)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None


def lecture(o):
    """The given source, or a 1080p30 lecture of o.seconds from the cache, made there when missing."""
    if o.source:
        return {"path": os.path.abspath(o.source), "seconds": probe_seconds(o.ffmpeg, o.source),
                "bytes": os.path.getsize(o.source), "generated": False}
    os.makedirs(o.cache, exist_ok=True)
    path = os.path.abspath(os.path.join(o.cache, f"lecture-{o.seconds:g}s-1920x1080-30fps.mp4"))
    info = {"path": path, "seconds": o.seconds, "generated": False}
    d = probe_seconds(o.ffmpeg, path) if os.path.exists(path) else None
    if d is None or abs(d - o.seconds) > 1.0:
        print(f"chunked: making a {o.seconds:g} s lecture in {path}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        subprocess.run([o.make_sample, path, "--duration", f"{o.seconds:g}", "--width", "1920", "--height", "1080",
                        "--fps", "30"], check=True, stdin=subprocess.DEVNULL, timeout=600 + 20 * o.seconds)
        info.update(generated=True, generation_s=time.monotonic() - t0)
    info["bytes"] = os.path.getsize(path)
    return info


def spool(o, *args, timeout=120):
    p = subprocess.run([o.spool, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError(f"spool {args[0]} exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return p.stdout


def run_variant(o, variant, rnd, position, source, work, logs, limit):
    """One job on a fresh queue, its workers pinned; the wall time from their start to the last exit."""
    scratch = os.path.join(work, f"run-{variant}")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    queue = "file://" + os.path.join(scratch, "jobs.db")
    out = os.path.join(scratch, "package")
    spec_path = os.path.join(scratch, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(plan_spec(variant != "a", o), f)
    job_id = spool(o, "submit", "--queue", queue, "--input", source, "--output", out, "--spec", spec_path).strip()
    result = {"variant": variant, "round": rnd, "position": position, "job_id": job_id, "ok": False,
              "load_before": os.getloadavg()[0]}
    procs = []
    try:
        started = time.monotonic()
        for core in CORES[variant]:
            argv = [o.taskset, "-c", str(core), o.spool, "worker", "--queue", queue, "--exit-when-idle",
                    "--concurrency", "1", "--poll", "0.2"] + o.worker_args
            prefix = os.path.join(logs, f"{rnd}-{variant}-core{core}")
            with open(prefix + ".stdout", "wb") as so, open(prefix + ".stderr", "wb") as se:
                procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se))
        result["command"] = shlex.join(argv)
        codes = []
        for p in procs:
            codes.append(p.wait(timeout=max(1.0, limit - (time.monotonic() - started))))
        wall = time.monotonic() - started
    except subprocess.TimeoutExpired:
        raise BenchError(f"{variant}: the workers were still running after {limit:g} s")
    finally:
        for p in procs:  # by the pid this run started
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
    if any(codes):
        raise BenchError(f"{variant}: a worker exited {codes}")
    with open(os.path.join(out, "status.json")) as f:
        status = json.load(f)
    if status.get("state") != "succeeded":
        raise BenchError(f"{variant}: the job ended {status.get('state')}: {status.get('error')}")
    result.update(ok=True, wall_s=wall, chunks=status.get("chunks"), package=package_bytes(out), output=out)
    leftovers = [n for n in os.listdir(scratch) if n.startswith("package.chunks")]
    result["work_area_left"] = leftovers
    return result


def top_rung(package):
    """The tallest rung's folder: its name starts with the height ("1080p")."""
    rungs = [n for n in os.listdir(package) if re.match(r"^\d+p$", n)]
    return max(rungs, key=lambda n: int(n[:-1])) if rungs else None


def rendition_mp4(package, rung, dest):
    """init.mp4 and the segments, in playlist order, concatenated into one fragmented MP4."""
    d = os.path.join(package, rung)
    with open(os.path.join(d, "index.m3u8")) as f:
        segments = [x.strip() for x in f if x.strip() and not x.startswith("#")]
    with open(dest, "wb") as w:
        for name in ["init.mp4"] + segments:
            with open(os.path.join(d, name), "rb") as r:
                shutil.copyfileobj(r, w)
    return dest


def ssim_against_source(o, package, source, scratch, boundaries, timeout):
    rung = top_rung(package)
    if rung is None:
        raise BenchError(f"{package} has no rung")
    track = rendition_mp4(package, rung, os.path.join(scratch, f"{rung}.mp4"))
    stats = os.path.join(scratch, "ssim.log")
    graph = (f"[0:v]settb=AVTB,setpts=PTS-STARTPTS[a];[1:v]settb=AVTB,setpts=PTS-STARTPTS[b];"
             f"[a][b]ssim=stats_file={stats}")
    subprocess.run([o.ffmpeg, "-v", "error", "-nostdin", "-i", track, "-i", source, "-lavfi", graph, "-an", "-f",
                    "null", "-"], check=True, stdin=subprocess.DEVNULL, timeout=timeout)
    with open(stats) as f:
        frames = parse_ssim_stats(f.read())
    os.remove(track)
    return dict(ssim_figures(frames, 30.0, boundaries, o.window_s), rung=rung)


def summarize(rounds):
    s = {}
    for v in VARIANTS:
        runs = [r["runs"][v] for r in rounds if v in r["runs"]]
        good = [x for x in runs if x.get("ok")]
        s[v] = {"runs_ok": len(good), "runs_failed": len(runs) - len(good),
                "median_wall_s": median([x["wall_s"] for x in good]),
                "median_bytes": median([x["package"]["total"] for x in good])}
    for name, (num, den) in {"speedup_b_c": ("b", "c"), "speedup_a_c": ("a", "c"), "bytes_c_a": ("c", "a")}.items():
        key = "package" if name.startswith("bytes") else "wall_s"
        per = []
        for r in rounds:
            x, y = r["runs"].get(num, {}), r["runs"].get(den, {})
            if not (x.get("ok") and y.get("ok")):
                per.append(None)
            elif key == "package":
                per.append(ratio(x["package"]["total"], y["package"]["total"]))
            else:
                per.append(ratio(x["wall_s"], y["wall_s"]))
        s[name + "_runs"] = per
        s[name] = median(per)
    return s


def targets(doc):
    out = []
    s = doc.get("summary", {})
    for key, label in (("speedup_b_c", "chunked: 1 worker / 2 workers wall"),
                       ("speedup_a_c", "unchunked 1 worker / chunked 2 workers wall")):
        v = s.get(key)
        out.append({"target": f"{label} >= {TARGET_SPEEDUP:g} (median of per-round ratios)", "value": v,
                    "met": None if v is None else v >= TARGET_SPEEDUP})
    v = s.get("bytes_c_a")
    out.append({"target": f"bytes chunked / unchunked within {TARGET_BYTES:.0%}", "value": v,
                "met": None if v is None else abs(v - 1) <= TARGET_BYTES + 1e-9})
    q = doc.get("ssim")
    if q and "error" not in q:
        for key, label in (("mean", "overall"), ("boundary_mean", "within the window of a boundary")):
            a, c = q["a"].get(key), q["c"].get(key)
            d = None if a is None or c is None else a - c
            out.append({"target": f"SSIM {label}: unchunked - chunked <= {TARGET_SSIM:g}", "value": d,
                        "met": None if d is None else d <= TARGET_SSIM})
    return out


def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def markdown(doc):
    s, lec = doc["summary"], doc["lecture"]
    lines = [f"Chunked encoding on a {fmt(lec.get('seconds'), 'g')} s 1080p30 lecture ({lec['bytes']:,} bytes), the "
             f"default ladder in {doc['settings']['segment_s']:g} s segments, chunks of "
             f"{doc['settings']['chunk_s']:g} s; `spool worker --exit-when-idle` pinned with `taskset -c`, a fresh "
             "file:// queue per run, the three runs rotated per round. Medians.", "",
             "| run | wall s | package bytes | runs |", "|---|---:|---:|---:|"]
    for v in VARIANTS:
        x = s[v]
        lines.append(f"| {v}: {TITLES[v]} | {fmt(x['median_wall_s'], '.1f')} | "
                     f"{fmt(x['median_bytes'], ',.0f')} | {x['runs_ok']}/{x['runs_ok'] + x['runs_failed']} |")
    lines += ["", f"Speed-up b / c **{fmt(s['speedup_b_c'])}** (rounds: "
              f"{', '.join(fmt(r) for r in s['speedup_b_c_runs'])}), a / c **{fmt(s['speedup_a_c'])}** (rounds: "
              f"{', '.join(fmt(r) for r in s['speedup_a_c_runs'])}); bytes c / a **{fmt(s['bytes_c_a'], '.4f')}**.",
              ""]
    q = doc.get("ssim")
    if q and "error" not in q:
        lines += [f"SSIM of the {q['a']['rung']} rung against the source (ffmpeg's ssim filter, all planes); the "
                  f"boundary columns cover the frames within {doc['settings']['window_s']:g} s of the "
                  f"{len(q['boundaries'])} chunk boundaries.", "",
                  "| package | SSIM | frames | SSIM at boundaries | frames |", "|---|---:|---:|---:|---:|"]
        for v in ("a", "c"):
            x = q[v]
            lines.append(f"| {v}: {TITLES[v]} | {fmt(x['mean'], '.5f')} | {x['frames']} | "
                         f"{fmt(x['boundary_mean'], '.5f')} | {x['boundary_frames']} |")
        lines.append("")
    elif q:
        lines += [f"SSIM failed: {q['error']}", ""]
    for r in doc["rounds"]:
        cells = [f"{v} {fmt(r['runs'][v].get('wall_s'), '.1f')} s" if r["runs"][v].get("ok")
                 else f"{v} failed: {r['runs'][v].get('error')}" for v in r["order"]]
        lines.append(f"- round {r['round']}: " + "; ".join(cells))
    lines += ["", "| target | value | verdict |", "|---|---:|---|"]
    for t in doc["targets"]:
        verdict = "not judged" if t["met"] is None else "met" if t["met"] else "**MISSED**"
        lines.append(f"| {t['target']} | {fmt(t['value'], '.4f')} | {verdict} |")
    return "\n".join(lines) + "\n"


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds the finally blocks, which kill the workers by their pids


def run(o, doc, work, logs):
    lec = doc["lecture"] = lecture(o)
    limit = o.timeout or 300 + 10 * (lec["seconds"] or o.seconds)
    failed = False
    kept = {}
    for rnd in range(1, o.rounds + 1):
        entry = {"round": rnd, "order": variant_order(rnd), "runs": {}}
        for pos, v in enumerate(entry["order"]):
            print(f"chunked: round {rnd}/{o.rounds}, {v} ({TITLES[v]})", file=sys.stderr, flush=True)
            try:
                entry["runs"][v] = run_variant(o, v, rnd, pos + 1, lec["path"], work, logs, limit)
                if rnd == o.rounds and v in ("a", "c"):  # the last round's packages, for SSIM
                    dest = os.path.join(work, f"keep-{v}")
                    shutil.rmtree(dest, ignore_errors=True)
                    os.rename(entry["runs"][v]["output"], dest)
                    kept[v] = dest
            except (BenchError, OSError, subprocess.SubprocessError) as e:
                failed = True
                entry["runs"][v] = {"variant": v, "round": rnd, "ok": False, "error": f"{type(e).__name__}: {e}"}
                print(f"chunked: round {rnd} {v} failed: {e}", file=sys.stderr, flush=True)
        doc["rounds"].append(entry)
    doc["summary"] = summarize(doc["rounds"])
    if not o.no_ssim and len(kept) == 2:
        boundaries = chunk_boundaries(lec["seconds"] or o.seconds, o.segment_s, o.chunk_s)
        try:
            doc["ssim"] = {"boundaries": boundaries,
                           **{v: ssim_against_source(o, kept[v], lec["path"], work, boundaries, limit)
                              for v in ("a", "c")}}
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            failed = True
            doc["ssim"] = {"error": f"{type(e).__name__}: {e}"}
    return failed


def main(argv):
    o = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    out = os.path.abspath(o.out)
    work, logs = os.path.join(out, "work"), os.path.join(out, "logs")
    os.makedirs(work, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    doc = {"benchmark": "chunked", "rounds": [], "load_before": os.getloadavg()[0],
           "settings": {k: getattr(o, k) for k in ("spool", "rounds", "chunk_s", "segment_s", "window_s",
                                                   "worker_args")}}
    try:
        failed = run(o, doc, work, logs)
    except (OSError, subprocess.SubprocessError) as e:  # the lecture could not be made
        failed = True
        doc["error"] = f"{type(e).__name__}: {e}"
        doc.setdefault("lecture", {"bytes": 0})
        doc["summary"] = summarize(doc["rounds"])
        print(f"chunked: {doc['error']}", file=sys.stderr)
    doc["load_after"] = os.getloadavg()[0]
    doc["targets"] = targets(doc)
    md = markdown(doc)
    write_reports(o, doc, md)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
