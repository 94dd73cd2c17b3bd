#!/usr/bin/env python3
"""The portal's latency: GET /videos/{id} under wrk, in three phases per round, against
build/bin/lecture-portal on 127.0.0.1:

  idle      two lectures uploaded, no worker (--workers 0): nothing encodes;
  encoding  the same two lectures uploaded and both transcoding in the portal's own worker;
  naive     --naive: the PUT handler transcodes in the request path, wrk while it does.

The order of the phases rotates from round to round; every phase starts a fresh portal with a fresh
data directory. Reports medians over rounds, timeouts and errors, and the target
p99(encoding) <= 2 x p99(idle) + 2 ms and <= 20 ms. JSON to --json, Markdown to --markdown and stdout.
Standard library only; run with --help for the options."""
import argparse
import http.client
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

from portal_client import Portal, PortalError, Upload, load1, run_wrk
from report_files import write_reports

PHASES = ("idle", "encoding", "naive")
PHASE_ARGS = {"idle": ["--workers", "0"], "encoding": ["--workers", "2"], "naive": ["--workers", "2", "--naive"]}
FIGURES = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
TARGET_FACTOR, TARGET_SLACK_MS, TARGET_CEILING_MS = 2.0, 2.0, 20.0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--portal", required=True, help="the lecture-portal binary")
    p.add_argument("--make-sample", help="spool-make-sample, to make the lecture (unless --source)")
    p.add_argument("--source", help="an existing 1080p lecture to upload instead")
    p.add_argument("--lecture-seconds", type=float, default=90, help="length of the generated lecture (90)")
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--seconds", type=int, default=10, help="wrk's duration per phase (10)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the three phases (3)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--connections", type=int, default=4, help="wrk connections (4)")
    p.add_argument("--pace-ms", type=int, default=0,
                   help="each connection waits this long after an answer before its next request\n"
                        "(0: none, as fast as the portal answers; wrk's delay() hook)")
    p.add_argument("--timeout-s", type=int, default=2, help="wrk's per-request timeout in whole seconds (2)")
    p.add_argument("--phases", default=",".join(PHASES), help="which phases, comma-separated")
    p.add_argument("--out", default="bench-portal-out", help="scratch and logs (removed data dirs)")
    p.add_argument("--json", help="write the JSON report here")
    p.add_argument("--markdown", help="write the Markdown report here")
    p.add_argument("--ready-timeout", type=float, default=180, help="seconds to wait for both encodes to run")
    o = p.parse_args(argv)
    o.phases = [x for x in o.phases.split(",") if x]
    if not o.phases or any(x not in PHASES for x in o.phases):
        p.error(f"--phases takes some of {','.join(PHASES)}")
    if not o.source and not o.make_sample:
        p.error("--make-sample or --source is required")
    if o.rounds < 1 or o.seconds < 1 or o.threads < 1 or o.connections < o.threads or o.pace_ms < 0:
        p.error("--rounds and --seconds >= 1, --connections >= --threads >= 1, --pace-ms >= 0")
    return o


def round_order(phases, rnd):
    """Round 1 idle, encoding, naive; round 2 encoding, naive, idle; ... (rnd counts from 1)."""
    k = (rnd - 1) % len(phases)
    return phases[k:] + phases[:k]


def make_lecture(o, path):
    t0 = time.monotonic()
    subprocess.run([o.make_sample, path, "--duration", f"{o.lecture_seconds:g}", "--width", "1920", "--height",
                    "1080", "--fps", "30"], check=True, timeout=600 + 20 * o.lecture_seconds)
    return time.monotonic() - t0


class Phase:
    """One phase of one round: a fresh portal, two uploads, wrk, and what was seen around it."""

    def __init__(self, o, name, rnd, lecture, logs, scratch):
        self.o, self.name, self.rnd, self.lecture = o, name, rnd, lecture
        self.tag = f"round{rnd}-{name}"
        self.data = os.path.join(scratch, self.tag)
        self.log_prefix = os.path.join(logs, self.tag)
        self.result = {"phase": name, "round": rnd, "portal_args": PHASE_ARGS[name], "notes": []}

    def note(self, text):
        self.result["notes"].append(text)

    def run(self):
        portal = Portal(self.o.portal, self.data, self.log_prefix + "-portal", PHASE_ARGS[self.name])
        uploads = []
        try:
            ids = self.prepare(portal, uploads)
            self.measure(portal, ids, uploads)
        finally:
            self.result["stop"] = portal.stop(grace_s=10)
            for u in uploads:
                if u.ident is not None:
                    u.join(15)
            self.result["put_answers"] = [u.status or u.error or None for u in uploads]
            shutil.rmtree(self.data, ignore_errors=True)
        return self.result

    def prepare(self, portal, uploads):
        size = os.path.getsize(self.lecture)
        videos = [portal.create_video(f"lecture-{i}.mp4", size) for i in (1, 2)]
        ids = [v["id"] for v in videos]
        for v in videos:
            uploads.append(Upload(portal, v["upload_url"], self.lecture, timeout=3600))
        if self.name == "naive":
            # Both PUTs go out together; once one body is all sent, its handler is transcoding (the
            # server may read either first).
            for u in uploads:
                u.start()
            deadline = time.monotonic() + self.o.ready_timeout
            while not any(u.sent_at for u in uploads):
                if all(u.sent.is_set() for u in uploads) or time.monotonic() > deadline:
                    raise PortalError("naive uploads: " + "; ".join(u.error or "body not sent in time" for u in uploads))
                time.sleep(0.05)
            time.sleep(1.0)
            return ids
        for u in uploads:
            u.start()
            u.join(self.o.ready_timeout)
            if u.status != 200:
                raise PortalError(f"PUT {u.target}: {u.status or u.error or 'no answer'} {u.body[:300]!r}")
        if self.name == "encoding":
            self.wait_running(portal, ids)
        else:
            self.result["states_before"] = [portal.video(i)["state"] for i in ids]
        return ids

    def wait_running(self, portal, ids):
        deadline = time.monotonic() + self.o.ready_timeout
        while True:
            states = [portal.video(i)["state"] for i in ids]
            if all(s == "running" for s in states):
                self.result["states_before"] = states
                self.progress_before = [portal.video(i).get("progress") for i in ids]
                return
            if any(s in ("succeeded", "failed", "dead") for s in states):
                raise PortalError(f"a lecture finished before both ran at once ({states}): make it longer")
            if time.monotonic() > deadline:
                raise PortalError(f"both lectures not running after {self.o.ready_timeout} s: {states}")
            time.sleep(0.2)

    def measure(self, portal, ids, uploads):
        o = self.o
        url = f"http://127.0.0.1:{portal.port}/videos/{ids[0]}"
        lua = self.log_prefix + "-report.lua"
        self.result["load_before"] = load1()
        cpu0, t0 = portal.cpu_seconds(), time.monotonic()
        wrk = run_wrk(o.wrk, url, o.seconds, o.threads, o.connections, o.timeout_s, lua, self.log_prefix + "-wrk.log",
                      delay_ms=o.pace_ms)
        cpu1, t1 = portal.cpu_seconds(), time.monotonic()
        self.result["load_after"] = load1()
        self.result["wrk"] = wrk
        if cpu0 is not None and cpu1 is not None:
            self.result["portal_cpu_cores"] = (cpu1 - cpu0) / (t1 - t0)
        self.result["covered"] = True
        if self.name == "encoding":
            after = [portal.video(i) for i in ids]
            self.result["states_after"] = [v["state"] for v in after]
            self.result["progress_before"] = self.progress_before
            self.result["progress_after"] = [v.get("progress") for v in after]
            if any(v["state"] != "running" for v in after):
                self.result["covered"] = False
                self.note(f"an encode ended inside the window ({self.result['states_after']}): left out of the "
                          "medians; use a longer --lecture-seconds")
        elif self.name == "naive":
            answered = [u.answered_at is not None and u.answered_at <= t1 for u in uploads]
            self.result["puts_answered_in_window"] = answered
            if all(answered):
                self.result["covered"] = False
                self.note("both PUTs were answered before wrk ended: the window was not all encoding; "
                          "left out of the medians")
        if cpu1 is None:
            self.note("the portal was not running at the end of the window")
            self.result["covered"] = False


def summarize(rounds, phases):
    """Per phase: medians over the rounds that measured it (a figure above the timeout ranks above
    every number, and the median is "above the timeout" when it lands on one), counts summed."""
    out = {}
    for name in phases:
        runs = [r["phases"][name] for r in rounds if name in r["phases"]]
        good = [x for x in runs if x.get("covered") and "wrk" in x]
        s = {"rounds_measured": len(good), "rounds_failed_or_left_out": len(runs) - len(good), "over_timeout": []}
        for k in FIGURES:
            vals = [math.inf if k in x["wrk"]["over_timeout"] else x["wrk"][k] for x in good]
            vals = [v for v in vals if v is not None]
            m = statistics.median(vals) if vals else None
            if m == math.inf:
                m = None
                s["over_timeout"].append(k)
            s[k] = m
        for k in ("sent", "requests", "unanswered", "stalled", "timeout", "errors", "connect", "read", "write", "status"):
            s[k] = sum(x["wrk"][k] for x in good)
        durations = sum(x["wrk"]["duration_us"] for x in good) / 1e6
        s["requests_per_s"] = s["requests"] / durations if durations else None
        cores = [x["portal_cpu_cores"] for x in good if x.get("portal_cpu_cores") is not None]
        s["portal_cpu_cores"] = statistics.median(cores) if cores else None
        out[name] = s
    return out


def verdict(summary):
    idle, enc = summary.get("idle"), summary.get("encoding")
    rule = "p99(encoding) <= min(2 x p99(idle) + 2 ms, 20 ms), no timeouts or errors while encoding"
    if not idle or not enc or idle["p99_ms"] is None or not enc["rounds_measured"]:
        return {"met": None, "rule": rule, "why": "idle p99 and an encoding phase both needed"}
    bound = min(TARGET_FACTOR * idle["p99_ms"] + TARGET_SLACK_MS, TARGET_CEILING_MS)
    p99 = enc["p99_ms"]  # None here: above the timeout
    met = p99 is not None and p99 <= bound and enc["timeout"] == 0 and enc["errors"] == 0
    return {"met": met, "bound_ms": bound, "encoding_p99_ms": p99, "idle_p99_ms": idle["p99_ms"], "rule": rule}


def fmt_ms(v, over=False, timeout_s=None):
    if over:
        return f"> {timeout_s * 1000:.0f}" if timeout_s else "> timeout"
    return "-" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def lecture_text(lecture):
    if lecture.get("seconds"):
        return f"{lecture['seconds']:g} s 1080p30 from spool-make-sample"
    return os.path.basename(lecture["path"])


def markdown(doc):
    s, o = doc["summary"], doc["settings"]
    t = o["timeout_s"]
    pace = f", each pausing {o['pace_ms']} ms between answer and request" if o.get("pace_ms") else \
        ", each sending its next request as soon as it has an answer"
    lines = [f"GET /videos/{{id}} with wrk --latency: {o['threads']} thread(s), {o['connections']} connections{pace}, "
             f"{o['seconds']} s per phase, timeout {t} s; {o['rounds']} rounds, phase order rotated; "
             f"lecture {lecture_text(doc['lecture'])} ({doc['lecture']['bytes']:,} bytes), uploaded twice "
             "through the API. Latencies in ms, medians over rounds; an answer later than the timeout, and a "
             "request stalled (no answer on its wrk thread for longer than the timeout when the window closed), "
             f"rank above {t} s. Counts summed over rounds.", "",
             "| phase | p50 | p90 | p99 | max | answered | req/s | timeouts | stalled | errors | "
             "portal CPU (cores) | rounds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, x in s.items():
        rps = "-" if x["requests_per_s"] is None else f"{x['requests_per_s']:.0f}"
        cores = "-" if x["portal_cpu_cores"] is None else f"{x['portal_cpu_cores']:.2f}"
        figs = " | ".join(fmt_ms(x[k], k in x["over_timeout"], t) for k in FIGURES)
        lines.append(f"| {name} | {figs} | {x['requests']:,} | {rps} | {x['timeout']:,} | {x['stalled']:,} | "
                     f"{x['errors']:,} | {cores} | "
                     f"{x['rounds_measured']}/{x['rounds_measured'] + x['rounds_failed_or_left_out']} |")
    v = doc["target"]
    lines.append("")
    if v["met"] is None:
        lines.append(f"Target {v['rule']}: not judged ({v['why']}).")
    else:
        enc = fmt_ms(v["encoding_p99_ms"], v["encoding_p99_ms"] is None, t)
        lines.append(f"Target {v['rule']}: encoding p99 {enc} ms against a bound of {fmt_ms(v['bound_ms'])} ms "
                     f"(idle p99 {fmt_ms(v['idle_p99_ms'])} ms): **{'met' if v['met'] else 'MISSED'}**.")
    lines += ["", "Per round, in the order run: phase p99 ms / timeouts / stalled / 1-min load before:"]
    for r in doc["rounds"]:
        cells = []
        for name in r["order"]:
            x = r["phases"].get(name, {})
            if "wrk" in x:
                w = x["wrk"]
                flag = "" if x.get("covered") else " (left out)"
                cells.append(f"{name} {fmt_ms(w['p99_ms'], 'p99_ms' in w['over_timeout'], t)} / {w['timeout']} / "
                             f"{w['stalled']} / {x.get('load_before', 0):.1f}{flag}")
            else:
                cells.append(f"{name} failed: {x.get('error', '?')}")
        lines.append(f"- round {r['round']}: " + "; ".join(cells))
    notes = [f"round {r['round']} {n}: {text}" for r in doc["rounds"] for n, x in r["phases"].items()
             for text in x.get("notes", [])]
    if notes:
        lines += ["", "Notes:"] + [f"- {t}" for t in notes]
    return "\n".join(lines) + "\n"


def main(argv):
    o = parse_args(argv)
    out = os.path.abspath(o.out)
    logs, scratch = os.path.join(out, "logs"), os.path.join(out, "data")
    os.makedirs(logs, exist_ok=True)
    lecture = o.source
    generation_s = None
    if not lecture:
        lecture = os.path.join(out, "lecture.mp4")
        generation_s = make_lecture(o, lecture)
    doc = {"benchmark": "portal-latency",
           "settings": {k: getattr(o, k) for k in ("seconds", "rounds", "threads", "connections", "timeout_s", "pace_ms",
                                                   "phases", "portal", "wrk")},
           "lecture": {"path": lecture, "seconds": o.lecture_seconds if not o.source else None,
                       "bytes": os.path.getsize(lecture), "generation_s": generation_s},
           "load_before": load1(), "rounds": []}
    failed = False
    for rnd in range(1, o.rounds + 1):
        order = round_order(o.phases, rnd)
        entry = {"round": rnd, "order": order, "phases": {}}
        for name in order:
            print(f"portal-latency: round {rnd}/{o.rounds}, {name}", file=sys.stderr, flush=True)
            try:
                entry["phases"][name] = Phase(o, name, rnd, lecture, logs, scratch).run()
            except (PortalError, OSError, http.client.HTTPException, subprocess.SubprocessError, ValueError,
                    KeyError) as e:
                failed = True
                entry["phases"][name] = {"phase": name, "round": rnd, "error": f"{type(e).__name__}: {e}"}
                print(f"portal-latency: round {rnd} {name} failed: {e}", file=sys.stderr, flush=True)
        doc["rounds"].append(entry)
    doc["load_after"] = load1()
    doc["summary"] = summarize(doc["rounds"], o.phases)
    doc["target"] = verdict(doc["summary"])
    md = markdown(doc)
    write_reports(o, doc, md)
    shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
