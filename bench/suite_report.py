"""The suite's combined report: summary.md from each workload's JSON and Markdown, and gnuplot PNG
plots of the figures the summary gives (medians, with each run's value beside them)."""
import json
import os
import subprocess


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _demote(md):
    """A workload's own Markdown under the summary's headings: '# x' becomes '### x'."""
    return "\n".join("##" + line if line.startswith("#") else line for line in md.splitlines())


def _q(s):
    """A gnuplot string literal."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _gnuplot(script_path, script, log_path):
    with open(script_path, "w") as f:
        f.write(script)
    try:
        p = subprocess.run(["gnuplot", script_path], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return f"gnuplot did not run: {e}"
    with open(log_path, "a") as f:
        f.write(p.stdout + p.stderr)
    return "" if p.returncode == 0 else f"gnuplot failed ({p.returncode}): {p.stderr.strip()[:200]}"


_HEAD = ('set terminal pngcairo noenhanced size 900,520 font "DejaVu Sans,10"\nset output {out}\nset title {title}\n'
         'set grid ytics\nset key outside right top\nset style data histogram\n'
         'set style histogram clustered gap 1\nset style fill solid 0.8 border -1\nset boxwidth 0.9\n')


def plot_ladder(doc, plots):
    """Wall seconds of each method in each run (clustered by run), so the spread and order effects show."""
    methods = doc.get("methods") or {}
    if not methods:
        return None, "no ladder figures"
    keys = list(methods)
    runs = max(len(m["runs"]) for m in methods.values())
    dat = os.path.join(plots, "ladder.dat")
    with open(dat, "w") as f:
        f.write("# run " + " ".join(keys) + "\n")
        for i in range(runs):
            row = []
            for k in keys:
                r = methods[k]["runs"][i] if i < len(methods[k]["runs"]) else None
                row.append(f"{r['wall_s']:.3f}" if r and r.get("ok") else "NaN")
            f.write(f"run{i + 1} " + " ".join(row) + "\n")
    out = os.path.join(plots, "ladder.png")
    script = _HEAD.format(out=_q(out), title=_q("ladder: wall seconds per run (lower is better)"))
    script += "set ylabel 'wall s'\nset yrange [0:*]\n"
    script += "plot " + ", ".join(f"{_q(dat)} using {i + 2}:xtic(1) title {_q(methods[k].get('label', k))}"
                                  for i, k in enumerate(keys)) + "\n"
    return out, _gnuplot(os.path.join(plots, "ladder.gp"), script, os.path.join(plots, "gnuplot.log"))


def plot_queue(doc, plots):
    """Median jobs/s of each queue measure, on a log scale (mem:// and file:// differ by orders)."""
    ms = [m for m in doc.get("measures", []) if m.get("median_jobs_per_s")]
    if not ms:
        return None, "no queue figures"
    dat = os.path.join(plots, "queue.dat")
    with open(dat, "w") as f:
        for m in ms:
            f.write(f"{_q(m['key'])} {m['median_jobs_per_s']:.1f}\n")
    out = os.path.join(plots, "queue.png")
    script = _HEAD.format(out=_q(out), title=_q("queue backends: median jobs/s (log scale, higher is better)"))
    script += "set logscale y\nset ylabel 'jobs/s'\nset xtics rotate by -35 left font ',8'\nset key off\n"
    script += "set bmargin 9\nset rmargin 12\n"
    script += f"plot {_q(dat)} using 2:xtic(1) title 'jobs/s'\n"
    return out, _gnuplot(os.path.join(plots, "queue.gp"), script, os.path.join(plots, "gnuplot.log"))


def plot_portal(doc, plots):
    """p50 / p90 / p99 / max of each phase (medians over rounds), log scale, with the target's bound."""
    summary = doc.get("summary") or {}
    if not summary:
        return None, "no portal figures"
    dat = os.path.join(plots, "portal.dat")
    with open(dat, "w") as f:
        f.write("# phase p50 p90 p99 max\n")
        timeout_ms = 1000.0 * (doc.get("settings") or {}).get("timeout_s", 2)
        for name, s in summary.items():
            # a figure above the timeout is drawn at the timeout, and the label says so
            vals = [f"{timeout_ms:.3f}" if k in s.get("over_timeout", []) else "NaN" if s[k] is None else f"{s[k]:.3f}"
                    for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
            label = name
            if s["timeout"] or s.get("stalled"):
                label += f" ({s['timeout']} t/o, {s.get('stalled', 0)} stalled)"
            f.write(f"{_q(label)} " + " ".join(vals) + "\n")
    censored = any(s.get("over_timeout") for s in summary.values())
    title = "portal: GET /videos/{id} latency, ms (log scale)"
    if censored:
        title += f"; a bar at {timeout_ms:.0f} ms: above the timeout"
    out = os.path.join(plots, "portal.png")
    script = _HEAD.format(out=_q(out), title=_q(title))
    script += "set logscale y\nset ylabel 'ms'\nset xtics font ',8'\n"
    bound = (doc.get("target") or {}).get("bound_ms")
    if bound:
        script += "set arrow from graph 0, first {b} to graph 1, first {b} nohead dashtype 2 lw 2 lc rgb 'red'\n".format(
            b=bound)
        script += f"set label {_q(f'target p99 while encoding <= {bound:.1f} ms')} at graph 0.98, first {bound} " \
                  "right offset 0,0.7 tc rgb 'red' front\n"
    script += "plot " + ", ".join(f"{_q(dat)} using {i}:xtic(1) title {_q(t)}"
                                  for i, t in ((2, "p50"), (3, "p90"), (4, "p99"), (5, "max"))) + "\n"
    return out, _gnuplot(os.path.join(plots, "portal.gp"), script, os.path.join(plots, "gnuplot.log"))


def _seekable_panel(sk, plots):
    """Whole lecture seekable per round, --remux on and off, with the 60 s target; a run stopped at its
    cap is drawn at the cap, and the title says so."""
    dat = os.path.join(plots, "playable-seekable.dat")
    capped, seen = [], [60.0]  # the target's line stays in view
    with open(dat, "w") as f:
        f.write("# round remux_on_s remux_off_s (a run stopped at its cap: the cap)\n")
        for r in sk["rounds"]:
            cells = []
            for m in ("on", "off"):
                x = r["runs"].get(m, {})
                v = x.get("seekable_s")
                if v is None and x.get("seekable_over_s") is not None:
                    v = x["seekable_over_s"]
                    capped.append(v)
                if v is not None and "error" not in x:
                    seen.append(v)
                cells.append("NaN" if v is None or "error" in x else f"{v:.3f}")
            f.write(f"round{r['round']} " + " ".join(cells) + "\n")
    title = "whole lecture seekable, s (target <= 60 s with remux on)"
    if capped:
        title += f"; a bar at {max(capped):g} s: not seekable by then"
    return (f"set title {_q(title)}\n"
            "set arrow 1 from graph 0, first 60 to graph 1, first 60 nohead dashtype 2 lw 2 lc rgb 'red'\n"
            "set label 1 'target 60 s' at graph 0.98, first 60 right offset 0,0.7 tc rgb 'red' front\n"
            f"set key outside bottom center horizontal\nset ylabel 's'\nset yrange [0:{1.15 * max(seen):.3f}]\n"
            f"plot {_q(dat)} using 2:xtic(1) title 'remux on', '' using 3 title 'remux off'\n")


def plot_playable(doc, plots):
    """Time to first playable per round with the target; wall seconds per round of progressive and
    atomic publishing, with the median ratio in the title; whole lecture seekable per round with the
    remux fast path and without. One panel for each part that ran."""
    pl, wl, sk = doc.get("playable"), doc.get("wall"), doc.get("seekable")
    panels = []
    if pl and pl.get("rounds"):
        dat = os.path.join(plots, "playable.dat")
        seen = [r["first_playable_s"] for r in pl["rounds"] if r.get("first_playable_s") is not None]
        top = 1.15 * max(seen + [10.0])  # the target's line stays in view
        with open(dat, "w") as f:
            f.write("# round first_playable_s\n")
            for r in pl["rounds"]:
                v = r.get("first_playable_s")
                f.write(f"round{r['round']} {'NaN' if v is None or 'error' in r else f'{v:.3f}'}\n")
        secs = (pl.get("lecture") or {}).get("seconds") or 0
        length = f"{secs / 60:g} min" if secs >= 60 else f"{secs:g} s"
        panels.append(f"set title {_q(f'first playable, s ({length} lecture, progressive)')}\n"
                      "set arrow 1 from graph 0, first 10 to graph 1, first 10 nohead dashtype 2 lw 2 lc rgb 'red'\n"
                      "set label 1 'target 10 s' at graph 0.98, first 10 right offset 0,0.7 tc rgb 'red' front\n"
                      f"set key off\nset ylabel 's'\nset yrange [0:{top:.3f}]\n"
                      f"plot {_q(dat)} using 2:xtic(1) title 'first playable'\n")
    if wl and wl.get("rounds"):
        dat = os.path.join(plots, "playable-wall.dat")
        with open(dat, "w") as f:
            f.write("# round progressive atomic\n")
            for r in wl["rounds"]:
                cells = [f"{x['wall_s']:.3f}" if x.get("ok") else "NaN"
                         for x in (r["runs"].get("progressive", {}), r["runs"].get("atomic", {}))]
                f.write(f"round{r['round']} " + " ".join(cells) + "\n")
        ratio = (wl.get("summary") or {}).get("median_ratio")
        shown = "-" if ratio is None else f"{ratio:.3f}"
        panels.append(f"unset arrow 1\nunset label 1\nset key outside bottom center horizontal\n"
                      f"set title {_q(f'wall s; progressive / atomic {shown} (target <= 1.05)')}\n"
                      "set ylabel 's'\nset yrange [0:*]\n"
                      f"plot {_q(dat)} using 2:xtic(1) title 'progressive', '' using 3 title 'atomic'\n")
    if sk and sk.get("rounds"):
        panels.append("unset arrow 1\nunset label 1\n" + _seekable_panel(sk, plots))
    if not panels:
        return None, "no first-playable figures"
    out = os.path.join(plots, "playable.png")
    script = _HEAD.format(out=_q(out), title=_q("")).replace("size 900,", f"size {max(900, 440 * len(panels))},")
    script += f"set multiplot layout 1,{len(panels)}\n"
    script += "".join(panels) + "unset multiplot\n"
    return out, _gnuplot(os.path.join(plots, "playable.gp"), script, os.path.join(plots, "gnuplot.log"))


def plot_chunked(doc, plots):
    """Wall seconds per round of the three runs (unchunked on one core, chunked on one and on two),
    with the median speed-ups in the title."""
    rounds = doc.get("rounds") or []
    if not rounds:
        return None, "no chunked figures"
    dat = os.path.join(plots, "chunked.dat")
    with open(dat, "w") as f:
        f.write("# round a b c (wall s)\n")
        for r in rounds:
            cells = [f"{x['wall_s']:.3f}" if x.get("ok") else "NaN" for x in (r["runs"].get(v, {}) for v in "abc")]
            f.write(f"round{r['round']} " + " ".join(cells) + "\n")
    s = doc.get("summary") or {}
    shown = lambda k: "-" if s.get(k) is None else f"{s[k]:.2f}"  # noqa: E731
    out = os.path.join(plots, "chunked.png")
    title = f"wall s; speed-up b / c {shown('speedup_b_c')}, a / c {shown('speedup_a_c')} (target >= 1.7)"
    script = _HEAD.format(out=_q(out), title=_q(title)) + "set ylabel 's'\nset yrange [0:*]\n"
    script += (f"plot {_q(dat)} using 2:xtic(1) title 'a: unchunked, 1 worker', '' using 3 title 'b: chunked, 1 "
               "worker', '' using 4 title 'c: chunked, 2 workers'\n")
    return out, _gnuplot(os.path.join(plots, "chunked.gp"), script, os.path.join(plots, "gnuplot.log"))


def _queue_md(doc):
    lines = ["| measure | jobs | jobs/s | p50 us | p99 us | latency of | x raw |", "|---|---:|---:|---:|---:|---|---:|"]
    f = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for m in doc.get("measures", []):
        lines.append(f"| {m['label']} | {m['jobs']:,} | {f(m['median_jobs_per_s'], ',.0f')} | "
                     f"{f(m['median_p50_us'], '.1f')} | {f(m['median_p99_us'], '.1f')} | {m['latency_of'] or '-'} | "
                     f"{f(m['ratio_to_raw_commit'], '.2f')} |")
    lines += ["", "| target | value | verdict |", "|---|---:|---|"]
    for t in doc.get("targets", []):
        v = t["value"]
        shown = "-" if v is None else (f"{v:.2f}" if v < 10 else f"{v:,.0f}")
        lines.append(f"| {t['target']} | {shown} | {'met' if t['met'] else '**MISSED**'} |")
    mach = doc.get("machine", {})
    lines += ["", f"Medians over {doc.get('options', {}).get('runs')} runs; the order of file:// and mem:// "
              f"alternates per run. Scratch {mach.get('scratch_dir')} ({mach.get('filesystem')}), load "
              f"{mach.get('load_before')} -> {mach.get('load_after')}, SQLite {mach.get('sqlite')}."]
    return "\n".join(lines) + "\n"


def _stamp_md(stamp):
    m, v = stamp["machine"], stamp["versions"]
    libs = ", ".join(f"{k} {x}" for k, x in v["ffmpeg_libraries"].items() if x)
    return "\n".join([
        f"- started {stamp['started_utc']}, finished {stamp.get('finished_utc', '?')} (UTC); mode "
        f"**{stamp['mode']}**; command `{stamp['command']}`",
        f"- machine: {m['cpu_model'] or 'unknown CPU'}, {m['cores']} cores, {m['mem_gb']} GB RAM; {m['os']}, "
        f"Linux {m['kernel']}",
        f"- load average (1, 5, 15 min) before {stamp['load_before']}, after {stamp.get('load_after', '?')}",
        f"- spool: {v['spool'] or '?'} (commit {v['git_commit'] or '?'}, {v['build_type'] or 'default'} build); "
        f"compiler: {v['compiler'] or '?'}",
        f"- FFmpeg libraries: {libs or '?'}; ffmpeg CLI: {v['ffmpeg_cli'] or 'not installed'}",
        f"- tools: {v['wrk'] or 'wrk not installed'}; {v['gnuplot'] or 'gnuplot not installed'}; "
        f"Python {v['python']}"]) + "\n"


def write_summary(results, stamp, workloads):
    """workloads: the orchestrator's records (name, title, status, reason, seconds, files, command)."""
    plots = os.path.join(results, "plots")
    os.makedirs(plots, exist_ok=True)
    md = ["# spool bench suite", "", _stamp_md(stamp),
          "| workload | status | seconds | load average before / after | output |", "|---|---|---:|---|---|"]
    for w in workloads:
        status = w["status"] + (f": {w['reason']}" if w.get("reason") else "")
        files = ", ".join(f"[{os.path.basename(p)}]({os.path.basename(p)})" for p in w.get("files", [])
                          if os.path.exists(os.path.join(results, os.path.basename(p))))
        load = f"{w['load_before']} / {w['load_after']}" if w.get("load_after") else "-"
        md.append(f"| {w['title']} | {status} | {w.get('seconds', 0):.0f} | {load} | {files or '-'} |")
    md.append("")
    plotters = {"portal": ("portal.json", plot_portal), "ladder": ("ladder.json", plot_ladder),
                "queue": ("queue.json", plot_queue), "playable": ("playable.json", plot_playable),
                "chunked": ("chunked.json", plot_chunked)}
    for w in workloads:
        md += [f"## {w['title']}", ""]
        if w.get("command"):
            md += [f"`{w['command']}`", ""]
        if w["status"] == "skipped":
            md += [f"Skipped: {w['reason']}.", ""]
            continue
        if w["status"] != "ok":
            md += [f"**{w['status']}**: {w.get('reason', '')} (log: logs/{w['name']}.stderr)", ""]
        doc = None
        if w["name"] in plotters:
            doc = _load(os.path.join(results, plotters[w["name"]][0]))
        if doc is not None:
            png, err = plotters[w["name"]][1](doc, plots)
            if png and not err:
                md += [f"![{w['name']}](plots/{os.path.basename(png)})", ""]
            elif err:
                md += [f"(plot: {err})", ""]
        body = ""
        if w["name"] == "queue" and doc is not None:
            body = _queue_md(doc)
        elif w.get("markdown"):
            body = _demote(_text(os.path.join(results, w["markdown"])))
        if body:
            md += [body, ""]
    with open(os.path.join(results, "summary.md"), "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
