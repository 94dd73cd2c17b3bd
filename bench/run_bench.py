#!/usr/bin/env python3
"""spool's bench suite: runs the workloads one after the other and writes one results folder,
bench-results/<UTC stamp>/, with each workload's JSON and Markdown, plots (gnuplot, PNG), logs,
stamp.json (machine and versions) and summary.md. `make bench` and `make bench-quick` run it.

  ladder  spool-bench-ladder: spool's ladder against the ffmpeg CLI
  queue   spool-bench-queue: the mem:// and file:// queue backends
  portal  portal_latency.py: GET /videos/{id} latency of lecture-portal, idle / encoding / naive
  playable first_playable.py: time to first playable with progressive publish, its wall-time cost,
           and how soon the whole lecture is seekable with the remux fast path and without
  chunked chunked.py: chunked encoding with one and two pinned workers against the unchunked job
  aws     spool-bench-aws: SQS and S3 against fauxqs (only when BUILD/aws-tools is installed)

Standard library only. Every workload runs as a child process with a time limit; one that fails is
reported as failed and the suite goes on. Exit status: 0 when every workload that ran succeeded,
1 otherwise, 2 for bad usage."""
import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import suite_report
import suite_stamp

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
WORKLOADS = ("ladder", "queue", "portal", "playable", "chunked", "aws")
TITLES = {"ladder": "Ladder: spool against the ffmpeg CLI", "queue": "Queue backends",
          "portal": "Portal latency: idle, encoding, naive",
          "playable": "First playable: progressive publish", "chunked": "Chunked encoding: 1 and 2 pinned workers",
          "aws": "S3 and SQS (fauxqs emulator)"}
# Options of each workload in the quick mode: short inputs, fewer repetitions (still rotating).
QUICK = {"ladder": ["--duration", "8", "--runs", "3"],
         "queue": ["--runs", "2"],
         "portal": ["--lecture-seconds", "40", "--seconds", "4", "--rounds", "3"],
         "playable": ["--playable-seconds", "300", "--rounds", "3", "--wall-seconds", "30", "--wall-rounds", "2",
                      "--seekable-timeout", "60"],
         "chunked": ["--seconds", "120", "--chunk-s", "30", "--rounds", "1"],
         "aws": ["--duration", "8", "--runs", "2", "--messages", "300"]}
# playable's first full run makes a 60-minute lecture (cached in RESULTS/cache afterwards).
LIMIT_S = {"full": {"ladder": 4 * 3600, "queue": 1800, "portal": 3600, "playable": 6 * 3600, "chunked": 4 * 3600,
                    "aws": 3600},
           "quick": {"ladder": 900, "queue": 600, "portal": 900, "playable": 1500, "chunked": 900, "aws": 900}}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE, "build"), help="the CMake build directory")
    p.add_argument("--results", default=os.path.join(SOURCE, "bench-results"), help="parent of the results folders")
    p.add_argument("--quick", action="store_true", help="short inputs: the whole report in a few minutes")
    p.add_argument("--only", default=",".join(WORKLOADS), help="workloads to run, comma-separated")
    for w in WORKLOADS:
        p.add_argument(f"--{w}-args", default="", help=f"more options for the {w} workload (one string)")
    o = p.parse_args(argv)
    o.only = [w for w in o.only.split(",") if w]
    if any(w not in WORKLOADS for w in o.only):
        p.error(f"--only takes some of {','.join(WORKLOADS)}")
    o.build = os.path.abspath(o.build)
    return o


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


class Suite:
    def __init__(self, o):
        self.o = o
        self.mode = "quick" if o.quick else "full"
        self.bin = os.path.join(o.build, "bin")
        self.started = utc_now()
        stamp_name = self.started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if o.quick else "")
        self.out = os.path.join(os.path.abspath(o.results), stamp_name)
        self.logs = os.path.join(self.out, "logs")
        os.makedirs(self.logs)
        self.records = []

    def tool(self, name):
        return os.path.join(self.bin, name)

    def plan(self, w):
        """(argv, files it writes, Markdown file, stdout file) or (None, reason) when it cannot run."""
        out, bin_ = self.out, self.tool
        tools = os.path.join(self.o.build, "aws-tools")
        if w == "aws" and not os.path.isdir(tools):
            return None, f"{os.path.relpath(tools, SOURCE)} is not installed (make aws-tools, or make bench-aws)"
        missing = [b for b in self.needs(w) if not os.access(b, os.X_OK)]
        if missing:
            return None, "not built: " + ", ".join(os.path.relpath(b, SOURCE) for b in missing)
        extra = (QUICK[w] if self.o.quick else []) + shlex.split(getattr(self.o, f"{w}_args"))
        if w == "ladder":
            if not shutil.which("ffmpeg"):
                return None, "the ffmpeg program is not installed (scripts/install-deps.sh bench)"
            argv = [bin_("spool-bench-ladder"), "--spool", bin_("spool"), "--out", os.path.join(out, "ladder-out"),
                    "--json", os.path.join(out, "ladder.json"), "--markdown", os.path.join(out, "ladder.md")]
            return argv + extra, ["ladder.json", "ladder.md"], "ladder.md", None
        if w == "queue":
            return [bin_("spool-bench-queue"), "--json"] + extra, ["queue.json"], None, "queue.json"
        if w == "portal":
            if not shutil.which("wrk"):
                return None, "wrk is not installed (scripts/install-deps.sh bench)"
            argv = [sys.executable, os.path.join(HERE, "portal_latency.py"), "--portal", bin_("lecture-portal"),
                    "--make-sample", bin_("spool-make-sample"), "--out", os.path.join(out, "portal-out"),
                    "--json", os.path.join(out, "portal.json"), "--markdown", os.path.join(out, "portal.md")]
            return argv + extra, ["portal.json", "portal.md"], "portal.md", None
        if w == "playable":
            if not shutil.which("ffprobe"):
                return None, "the ffprobe program is not installed (scripts/install-deps.sh bench)"
            argv = [sys.executable, os.path.join(HERE, "first_playable.py"), "--spool", bin_("spool"), "--make-sample",
                    bin_("spool-make-sample"), "--cache", os.path.join(os.path.dirname(out), "cache"),
                    "--out", os.path.join(out, "playable-out"), "--json", os.path.join(out, "playable.json"),
                    "--markdown", os.path.join(out, "playable.md")]
            return argv + extra, ["playable.json", "playable.md"], "playable.md", None
        if w == "chunked":
            missing = [p for p in ("ffmpeg", "taskset") if not shutil.which(p)]
            if missing:
                return None, f"{' and '.join(missing)} not installed (scripts/install-deps.sh bench)"
            argv = [sys.executable, os.path.join(HERE, "chunked.py"), "--spool", bin_("spool"), "--make-sample",
                    bin_("spool-make-sample"), "--cache", os.path.join(os.path.dirname(out), "cache"),
                    "--out", os.path.join(out, "chunked-out"), "--json", os.path.join(out, "chunked.json"),
                    "--markdown", os.path.join(out, "chunked.md")]
            return argv + extra, ["chunked.json", "chunked.md"], "chunked.md", None
        argv = [bin_("spool-bench-aws"), "--spool", bin_("spool"), "--make-sample", bin_("spool-make-sample"),
                "--tools", tools, "--out", os.path.join(out, "aws-out"), "--json", os.path.join(out, "aws.json")]
        return argv + extra, ["aws.json", "aws.md"], "aws.md", "aws.md"

    def needs(self, w):
        return {"ladder": [self.tool("spool-bench-ladder"), self.tool("spool")],
                "queue": [self.tool("spool-bench-queue")],
                "portal": [self.tool("lecture-portal"), self.tool("spool-make-sample")],
                "playable": [self.tool("spool"), self.tool("spool-make-sample")],
                "chunked": [self.tool("spool"), self.tool("spool-make-sample")],
                "aws": [self.tool("spool-bench-aws"), self.tool("spool"), self.tool("spool-make-sample")]}[w]

    def run_one(self, w):
        rec = {"name": w, "title": TITLES[w]}
        planned = self.plan(w)
        if planned[0] is None:
            rec.update(status="skipped", reason=planned[1], seconds=0)
            print(f"bench: {w} skipped: {planned[1]}", file=sys.stderr, flush=True)
            return rec
        argv, files, markdown, stdout_file = planned
        rec.update(command=shlex.join(argv), files=files, markdown=markdown, load_before=suite_stamp.loadavg())
        print(f"bench: {w}: {rec['command']}", file=sys.stderr, flush=True)
        stdout_path = os.path.join(self.out, stdout_file) if stdout_file else os.path.join(self.logs, f"{w}.stdout")
        limit = LIMIT_S[self.mode][w]
        t0 = time.monotonic()
        with open(stdout_path, "wb") as so, open(os.path.join(self.logs, f"{w}.stderr"), "wb") as se:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se, cwd=SOURCE,
                                    start_new_session=True)
            try:
                code = proc.wait(limit)
                rec["status"] = "ok" if code == 0 else "failed"
                if code != 0:
                    rec["reason"] = f"exit status {code}"
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the workload and its children
                proc.wait()
                rec.update(status="failed", reason=f"killed after the {limit} s limit")
            except KeyboardInterrupt:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
                raise
        rec["seconds"] = time.monotonic() - t0
        rec["load_after"] = suite_stamp.loadavg()
        print(f"bench: {w} {rec['status']} in {rec['seconds']:.0f} s", file=sys.stderr, flush=True)
        return rec

    def run(self):
        stamp = {"mode": self.mode, "started_utc": self.started.isoformat(timespec="seconds"),
                 "command": shlex.join([os.path.relpath(sys.argv[0], SOURCE)] + sys.argv[1:]),
                 "machine": suite_stamp.machine(), "load_before": suite_stamp.loadavg(),
                 "versions": suite_stamp.versions(SOURCE, self.o.build, self.tool("spool"))}
        for w in self.o.only:
            self.records.append(self.run_one(w))
            stamp["load_after"] = suite_stamp.loadavg()
            stamp["finished_utc"] = utc_now().isoformat(timespec="seconds")
            stamp["workloads"] = self.records
            with open(os.path.join(self.out, "stamp.json"), "w") as f:
                json.dump(stamp, f, indent=2)
            suite_report.write_summary(self.out, stamp, self.records)  # after each, so a partial run has one
        latest = os.path.join(os.path.dirname(self.out), "latest")
        if os.path.islink(latest) or not os.path.exists(latest):
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(os.path.basename(self.out), latest)
        print(f"bench: results in {self.out}/summary.md", file=sys.stderr)
        return 0 if all(r["status"] != "failed" for r in self.records) else 1


def main(argv):
    o = parse_args(argv)
    return Suite(o).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
