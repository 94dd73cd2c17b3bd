#!/usr/bin/env python3
"""Runs spool over real-world media taken from Debian's own packages.

Downloads the packages listed in packages.txt with `apt-get download`, unpacks them with
`dpkg -x`, picks media files (by extension) plus a few odd and non-media files, adds some broken
files derived from them (truncated, corrupted, empty), then runs `spool probe` and
`spool transcode` on each and judges the outcome against the CLI contract. See README.md.

The last line printed is `corpus: N passed, N failed`; the exit status is 0 only if nothing failed.
Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

VIDEO_EXT = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ogv", ".flv", ".mpg", ".mpeg", ".ts",
             ".m2ts", ".mts", ".wmv", ".asf", ".3gp", ".3g2", ".dv", ".gif", ".y4m", ".mxf", ".rm", ".rmvb",
             ".ivf", ".nut", ".vob"}
AUDIO_EXT = {".mp3", ".wav", ".flac", ".m4a", ".opus", ".ogg", ".oga", ".aac", ".ac3", ".amr", ".mka",
             ".aif", ".aiff", ".wma", ".wv", ".caf", ".au"}
MEDIA_EXT = VIDEO_EXT | AUDIO_EXT

CATEGORIES = {"input", "policy", "unsupported", "resource", "transient", "cancelled", "internal"}
EXIT3_CATEGORIES = {"input", "policy", "unsupported"}
EXIT4_CATEGORIES = {"resource", "transient", "internal"}

# Formats whose container duration is only an estimate (raw elementary streams: the demuxer guesses
# from the bit rate). A duration mismatch on them is reported as a warning, not a failure.
ESTIMATED_DURATION_FORMATS = {"mpegvideo", "h264", "hevc", "m4v", "mjpeg", "vc1", "cavsvideo", "dirac",
                              "obu", "h263", "h261", "mpeg4"}

TMP_MARK = ".spool-tmp"

# Error codes the CLI may print: spool's own (the errc enum) and the names code_name() gives errno values.
ERRNO_CODES = {"no_space", "quota_exceeded", "file_too_large", "io_error", "permission_denied", "not_found",
               "out_of_memory"}


def known_codes(header: Path = REPO / "include" / "spool" / "error.hpp") -> set[str]:
    """The names of spool::errc, read from the header so that a new code needs no edit here."""
    text = header.read_text()
    body = text[text.index("enum class errc"):]
    body = body[:body.index("};")]
    body = re.sub(r"//[^\n]*", "", body)
    return set(re.findall(r"^\s*([a-z_]+)\s*(?:=\s*\d+\s*)?,", body, re.M)) | ERRNO_CODES


KNOWN_CODES = known_codes()


# --------------------------------------------------------------------------------------------------
# Small helpers

def log(msg: str = "") -> None:
    print(msg, flush=True)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def as_float(v) -> float | None:
    """A JSON number or a numeric string ("30000/1001" included) as float; None otherwise."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, str):
        try:
            if "/" in v:
                num, den = v.split("/", 1)
                d = float(den)
                return float(num) / d if d else None
            x = float(v)
            return x if math.isfinite(x) else None
        except ValueError:
            return None
    return None


def parse_json_output(text: str):
    """The JSON object printed on stdout: the whole text, or failing that the first object in it."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:])
            return obj
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
    return None


def last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def tail(text: str, n: int = 12) -> str:
    lines = text.splitlines()
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------------------------------
# Packages: download and unpack

@dataclasses.dataclass
class PackageSpec:
    name: str
    extras: list[str]
    unreliable: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Package:
    name: str
    deb: Path | None = None
    version: str = ""
    size: int = 0
    root: Path | None = None
    error: str = ""


def read_package_list(path: Path) -> list[PackageSpec]:
    specs = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        specs.append(PackageSpec(words[0], [w[1:] for w in words[1:] if w.startswith("+")],
                                 [w[1:] for w in words[1:] if w.startswith("~")]))
    return specs


def run_quiet(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Apt:
    def __init__(self) -> None:
        self.updated = False

    def known(self, pkg: str) -> bool:
        """apt-cache knows a candidate version of pkg."""
        try:
            r = run_quiet(["apt-cache", "policy", pkg], timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return False
        m = re.search(r"Candidate:\s*(\S+)", r.stdout)
        return bool(m) and m.group(1) != "(none)"

    def update(self) -> None:
        if self.updated:
            return
        self.updated = True
        log("corpus: apt-get update (the package lists do not know every corpus package)")
        try:
            r = run_quiet(["apt-get", "update"], timeout=600)
            if r.returncode != 0:
                log(f"corpus: apt-get update failed: {last_line(r.stderr)}")
        except (OSError, subprocess.TimeoutExpired) as e:
            log(f"corpus: apt-get update failed: {e}")


def find_deb(debs: Path, pkg: str) -> Path | None:
    # apt-get download names files NAME_VERSION_ARCH.deb with ':' in the version escaped as %3a.
    found = sorted(p for p in debs.glob("*.deb") if p.name.split("_", 1)[0] == pkg)
    return found[-1] if found else None


def prune(root: Path, extras: list[str]) -> None:
    """Deletes what discovery never looks at (documentation trees can be hundreds of MB)."""
    keep = {m.resolve() for pattern in extras for m in root.glob(pattern)}
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for fn in filenames:
            p = Path(dirpath) / fn
            if p.suffix.lower() in MEDIA_EXT and not p.is_symlink():
                continue
            if p.resolve() in keep and not p.is_symlink():
                continue
            p.unlink()
        for dn in dirnames:
            d = Path(dirpath) / dn
            if d.is_symlink():
                d.unlink()
            elif not any(d.iterdir()):
                d.rmdir()


def fetch_package(spec: PackageSpec, cache: Path, apt: Apt) -> Package:
    pkg = Package(spec.name)
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = find_deb(debs, spec.name)
    if deb is None:
        if not apt.known(spec.name):
            apt.update()
        for attempt in range(2):
            try:
                r = run_quiet(["apt-get", "download", spec.name], cwd=debs, timeout=600)
            except (OSError, subprocess.TimeoutExpired) as e:
                pkg.error = f"apt-get download: {e}"
                return pkg
            deb = find_deb(debs, spec.name)
            if r.returncode == 0 and deb is not None:
                break
            pkg.error = f"apt-get download failed: {last_line(r.stderr) or last_line(r.stdout)}"
            if attempt == 0 and not apt.updated:
                apt.update()  # stale lists: the pool may have dropped the old version
                continue
            return pkg
        pkg.error = ""
    pkg.deb = deb
    parts = deb.name[:-4].split("_")
    pkg.version = parts[1].replace("%3a", ":") if len(parts) > 1 else ""
    pkg.size = deb.stat().st_size

    root = cache / "unpacked" / spec.name
    stamp = root / ".corpus-unpacked"
    if not (stamp.exists() and stamp.read_text().strip() == deb.name):
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        r = run_quiet(["dpkg", "-x", str(deb), str(root)], timeout=600)
        if r.returncode != 0:
            pkg.error = f"dpkg -x failed: {last_line(r.stderr)}"
            return pkg
        prune(root, spec.extras)
        stamp.write_text(deb.name + "\n")
    pkg.root = root
    return pkg


# --------------------------------------------------------------------------------------------------
# Discovery and selection

@dataclasses.dataclass
class Item:
    path: Path
    label: str          # shown in the report: package:relative/path or derived:name
    package: str
    kind: str           # "media" (found by extension), "extra" (listed in packages.txt), "derived"
    size: int = 0
    note: str = ""      # how a derived file was made
    unreliable_duration: bool = False  # listed with ~GLOB: the container's duration is known wrong


def discover(pkg: Package, spec: PackageSpec, per_package: int, per_ext: int,
             max_size: int) -> tuple[list[Item], list[Item]]:
    """Media files (at most per_package, per_ext of one extension) and the package's extra files."""
    assert pkg.root is not None
    buckets: dict[str, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(pkg.root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            ext = p.suffix.lower()
            if ext not in MEDIA_EXT or p.is_symlink() or not p.is_file():
                continue
            if p.stat().st_size > max_size:
                continue
            buckets.setdefault(ext, []).append(p)

    # In each extension: alternately the smallest and the largest file left, so that both the
    # odd tiny files and the substantial ones get in. Then round-robin over the extensions.
    ordered: dict[str, list[Path]] = {}
    for ext, files in buckets.items():
        files.sort(key=lambda p: (p.stat().st_size, str(p)))
        lo, hi, out = 0, len(files) - 1, []
        while lo <= hi:
            out.append(files[lo]); lo += 1
            if lo <= hi:
                out.append(files[hi]); hi -= 1
        if ext == ".gif":
            out = sorted(files, key=lambda p: -p.stat().st_size)  # the largest are animated
        # GIFs are mostly icons and .ts files mostly Qt translations: one of each is plenty.
        ordered[ext] = out[:1 if ext in (".gif", ".ts") else per_ext]

    picked: list[Path] = []
    exts = sorted(ordered, key=lambda e: (e not in VIDEO_EXT, e))
    while len(picked) < per_package and any(ordered.values()):
        for ext in exts:
            if ordered[ext] and len(picked) < per_package:
                picked.append(ordered[ext].pop(0))

    unreliable = {m.resolve() for pattern in spec.unreliable for m in pkg.root.glob(pattern)}

    def item(p: Path, kind: str) -> Item:
        rel = p.relative_to(pkg.root).as_posix()
        return Item(p, f"{pkg.name}:{rel}", pkg.name, kind, p.stat().st_size,
                    unreliable_duration=p.resolve() in unreliable)

    media = [item(p, "media") for p in sorted(picked)]
    extras = []
    for pattern in spec.extras:
        matches = sorted(m for m in pkg.root.glob(pattern) if m.is_file())
        if not matches:
            log(f"corpus: warning: {pkg.name}: extra file pattern {pattern!r} matches nothing")
        extras += [item(m, "extra") for m in matches]
    return media, extras


def derive_broken(items: list[Item], cache: Path) -> list[Item]:
    """Broken files made from real ones: truncated, corrupted, header-only, empty, random bytes."""
    out_dir = cache / "derived"
    out_dir.mkdir(parents=True, exist_ok=True)
    by_suffix: dict[str, Item] = {}
    for it in items:
        if it.kind != "media" or it.size < 50_000:
            continue
        suffix = it.path.suffix.lower()
        if suffix not in by_suffix or it.size < by_suffix[suffix].size:
            by_suffix[suffix] = it  # the smallest substantial file of each kind

    derived: list[Item] = []

    def make(name: str, data: bytes, note: str, source: Item | None) -> None:
        p = out_dir / name
        if not p.exists() or p.read_bytes() != data:
            p.write_bytes(data)
        derived.append(Item(p, f"derived:{name}", source.package if source else "derived", "derived",
                            len(data), note + (f" of {source.label}" if source else "")))

    recipes = [  # suffix, how, fraction
        (".mkv", "trunc", 0.5), (".mp4", "trunc", 0.5), (".webm", "trunc", 0.4), (".mpeg", "trunc", 0.3),
        (".ogv", "trunc", 0.5), (".flv", "trunc", 0.5), (".avi", "trunc", 0.6), (".mp3", "trunc", 0.5),
        (".mp4", "head", 4096), (".mp4", "corrupt", 0.0), (".mkv", "corrupt", 0.0), (".avi", "corrupt", 0.0),
    ]
    for suffix, how, arg in recipes:
        src = by_suffix.get(suffix)
        if src is None:
            continue
        data = src.path.read_bytes()
        stem = src.path.stem
        if how == "trunc":
            n = int(len(data) * arg)
            make(f"{stem}.trunc{int(arg * 100)}{suffix}", data[:n], f"first {int(arg * 100)}% ({n} bytes)", src)
        elif how == "head":
            make(f"{stem}.head{int(arg)}{suffix}", data[:int(arg)], f"first {int(arg)} bytes", src)
        elif how == "corrupt":
            buf = bytearray(data)
            # Overwrite 16-byte runs every 997 bytes in the middle half with a fixed pattern.
            for off in range(len(buf) // 4, 3 * len(buf) // 4, 997):
                buf[off:off + 16] = b"\xde\xad\xbe\xef" * 4
            make(f"{stem}.corrupt{suffix}", bytes(buf), "16-byte runs overwritten every 997 bytes in the middle half", src)
    make("empty.mp4", b"", "a 0-byte file", None)
    rnd, seed = bytearray(), b"spool corpus"
    while len(rnd) < 65536:
        seed = hashlib.sha256(seed).digest()
        rnd += seed
    make("random.bin", bytes(rnd), "64 KB of pseudo-random bytes", None)
    make("random.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(rnd[:8192]),
         "an MP4 ftyp box followed by 8 KB of pseudo-random bytes", None)
    return derived


# --------------------------------------------------------------------------------------------------
# Running spool

@dataclasses.dataclass
class Run:
    cmd: list[str]
    rc: int | None = None         # None: timed out
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    timed_out: bool = False


def run_spool(cmd: list[str], timeout: float, env: dict[str, str]) -> Run:
    run = Run(cmd)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    run.seconds = time.monotonic() - t0
    run.stdout = out.decode("utf-8", "replace")
    run.stderr = err.decode("utf-8", "replace")
    if not run.timed_out:
        if proc.returncode < 0:
            run.signal = -proc.returncode
        else:
            run.rc = proc.returncode
    return run


@dataclasses.dataclass
class Refusal:
    pattern: str  # a label as the report shows it (package:path), globs allowed
    code: str     # the error code the file is refused with
    reason: str
    used: int = 0


def read_refusals(path: Path) -> list[Refusal]:
    """expected-refusals.txt: LABEL CODE REASON... a line; '#' starts a comment."""
    out = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split(None, 2)
        if len(words) < 3:
            raise SystemExit(f"{path}:{n}: want LABEL CODE REASON, got {raw!r}")
        if words[1] not in KNOWN_CODES:
            raise SystemExit(f"{path}:{n}: unknown error code {words[1]!r}")
        out.append(Refusal(words[0], words[1], words[2]))
    return out


def expected_refusal(refusals: list[Refusal], label: str) -> Refusal | None:
    return next((r for r in refusals if fnmatch.fnmatchcase(label, r.pattern)), None)


def check_error_json(run: Run) -> tuple[list[str], dict | None]:
    """Problems with a failing run's final stderr line, and the error object if well formed."""
    problems = []
    line = last_line(run.stderr)
    try:
        obj = json.loads(line) if line else None
    except json.JSONDecodeError:
        obj = None
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not isinstance(err, dict) or set(obj) != {"error"}:
        return [f"last stderr line is not a JSON error object: {line[:200]!r}"], None
    for key in ("code", "category", "message"):
        if not isinstance(err.get(key), str) or not err.get(key):
            problems.append(f"error.{key} missing or not a non-empty string")
    cat = err.get("category")
    code = err.get("code")
    if isinstance(code, str) and code and code not in KNOWN_CODES:
        problems.append(f"unknown error code {code!r}")
    if isinstance(cat, str) and cat not in CATEGORIES:
        problems.append(f"unknown error category {cat!r}")
    elif run.rc == 3 and cat not in EXIT3_CATEGORIES:
        problems.append(f"exit 3 with category {cat!r} (expected input/policy/unsupported)")
    elif run.rc == 4 and cat not in EXIT4_CATEGORIES:
        problems.append(f"exit 4 with category {cat!r} (expected resource/transient/internal)")
    return problems, err


def describe_run(run: Run) -> str:
    if run.timed_out:
        return "timeout"
    if run.signal is not None:
        try:
            name = signal.Signals(run.signal).name
        except ValueError:
            name = f"signal {run.signal}"
        return f"killed by {name}"
    return f"exit {run.rc}"


# --------------------------------------------------------------------------------------------------
# Judging

@dataclasses.dataclass
class Verdict:
    item: Item
    status: str = "PASS"             # PASS, FAIL, SKIP
    kind: str = ""                   # ok, refused, internal, crash, timeout, ...
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    probe: dict | None = None
    probe_rc: str = ""
    probe_error: dict | None = None
    result: dict | None = None
    error: dict | None = None
    exit: str = ""
    duration_line: str = ""
    seconds: float = 0.0
    reproduce: str = ""
    stderr_tail: str = ""

    def fail(self, kind: str, msg: str) -> None:
        self.status = "FAIL"
        if not self.kind or self.kind in ("ok", "refused"):
            self.kind = kind
        self.problems.append(msg)


def probe_info(probe: dict | None) -> dict:
    """Duration, frame rate, and which stream types the probe saw."""
    info = {"duration": None, "fps": None, "video": False, "audio": False, "format": None,
            "video_duration": None, "audio_duration": None}
    if not isinstance(probe, dict):
        return info
    d = as_float(probe.get("duration_s"))
    info["duration"] = d if d is not None and d > 0 else None
    fmt = probe.get("format")
    if isinstance(fmt, dict):
        fmt = fmt.get("name") or fmt.get("format_name")
    info["format"] = fmt if isinstance(fmt, str) else None
    streams = probe.get("streams") if isinstance(probe.get("streams"), list) else []

    def pick(idx_key: str, typ: str) -> dict | None:
        idx = probe.get(idx_key)
        if isinstance(idx, int) and not isinstance(idx, bool) and idx >= 0:
            for s in streams:
                if isinstance(s, dict) and s.get("index") == idx:
                    return s
            if idx < len(streams) and isinstance(streams[idx], dict):
                return streams[idx]
        for s in streams:
            if isinstance(s, dict) and s.get("type") == typ:
                return s
        return None

    v, a = pick("video_index", "video"), pick("audio_index", "audio")
    info["video"], info["audio"] = v is not None, a is not None
    if v is not None:
        for key in ("fps", "frame_rate", "avg_frame_rate", "r_frame_rate"):
            f = as_float(v.get(key))
            if f and 0 < f < 1000:
                info["fps"] = f
                break
        vd = as_float(v.get("duration_s"))
        info["video_duration"] = vd if vd and vd > 0 else None
    if a is not None:
        ad = as_float(a.get("duration_s"))
        info["audio_duration"] = ad if ad and ad > 0 else None
    return info


def tolerance(duration: float, fps: float | None) -> float:
    frame2 = 2.0 / fps if fps else 0.0
    return max(0.5, frame2, 0.02 * duration)


def duration_mismatches(dur: float, rdurs: list[tuple[str, str, float]], src: float, vref: float | None,
                        aref: float | None, fps: float | None, what: str) -> list[str]:
    """The result's duration against the source's, and each rendition's against its own stream's
    (or the whole source's: either one within tolerance will do)."""
    bad = []
    tol = tolerance(src, fps)
    if abs(dur - src) > tol:
        bad.append(f"result {dur:.3f}s vs {what} {src:.3f}s (|Δ| {abs(dur - src):.3f} > {tol:.3f})")
    for name, kind, rd in rdurs:
        ref = (vref if kind == "video" else aref if kind == "audio" else None) or src
        t = tolerance(ref, fps if kind == "video" else None)
        if abs(rd - ref) > t and abs(rd - src) > tol:
            bad.append(f"rendition {name} {rd:.3f}s vs {what} {ref:.3f}s (|Δ| {abs(rd - ref):.3f} > {t:.3f})")
    return bad


def packet_spans(path: Path, probe: dict) -> tuple[float, float | None, float | None] | None:
    """How long the input really is, from its packets' timestamps: (whole, video, audio) in seconds.
    Needs ffprobe (Debian's ffmpeg package); None where it is missing or fails."""
    ffprobe = shutil.which("ffprobe")
    if not ffprobe:
        return None
    try:
        r = run_quiet([ffprobe, "-v", "error", "-show_entries", "packet=stream_index,pts_time,dts_time,duration_time",
                       "-of", "csv=p=0", str(path)], timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    wanted = {probe.get("video_index"), probe.get("audio_index")} - {None}
    ranges: dict[int, list[float]] = {}
    for line in r.stdout.splitlines():
        f = line.split(",")
        if len(f) < 4 or not f[0].isdigit():
            continue
        idx = int(f[0])
        if wanted and idx not in wanted:
            continue
        t = as_float(f[1]) if f[1] != "N/A" else as_float(f[2])
        if t is None:
            continue
        d = as_float(f[3]) or 0.0
        lo_hi = ranges.setdefault(idx, [t, t + d])
        lo_hi[0] = min(lo_hi[0], t)
        lo_hi[1] = max(lo_hi[1], t + d)
    if not ranges:
        return None
    whole = max(hi for _, hi in ranges.values()) - min(lo for lo, _ in ranges.values())

    def span(idx):
        return ranges[idx][1] - ranges[idx][0] if idx in ranges else None

    return whole, span(probe.get("video_index")), span(probe.get("audio_index"))


def leftovers(parent: Path, out: Path, tmpdir: Path) -> list[str]:
    found = []
    for entry in sorted(parent.iterdir()):
        if entry == out or entry == tmpdir:
            continue
        found.append(str(entry))
    if out.exists():
        for dirpath, dirnames, filenames in os.walk(out):
            for n in dirnames + filenames:
                if TMP_MARK in n:
                    found.append(os.path.join(dirpath, n))
    if tmpdir.exists():
        for dirpath, dirnames, filenames in os.walk(tmpdir):
            for n in dirnames + filenames:
                if TMP_MARK in n:
                    found.append(os.path.join(dirpath, n))
    return found


HLS_URI_ATTR = re.compile(r'URI="([^"]+)"')


def check_package(out: Path, result: dict, v: Verdict) -> dict[str, float]:
    """The packaged output: files present, playlists and manifest well formed. Returns the sum of
    EXTINF durations for each media playlist, keyed by playlist path relative to out."""
    sums: dict[str, float] = {}
    for name in ("master.m3u8", "manifest.mpd", "result.json"):
        p = out / name
        if not p.is_file() or p.stat().st_size == 0:
            v.fail("package", f"{name} missing or empty")
    rj = out / "result.json"
    if rj.is_file() and rj.stat().st_size:
        try:
            json.loads(rj.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            v.fail("package", f"result.json does not parse: {e}")

    mpd = out / "manifest.mpd"
    if mpd.is_file() and mpd.stat().st_size:
        try:
            root = ET.parse(mpd).getroot()
            if not root.tag.endswith("MPD"):
                v.fail("package", f"manifest.mpd root element is {root.tag}")
            elif not [e for e in root.iter() if e.tag.endswith("Representation")]:
                v.fail("package", "manifest.mpd has no Representation")
        except ET.ParseError as e:
            v.fail("package", f"manifest.mpd is not well-formed XML: {e}")

    master = out / "master.m3u8"
    if not (master.is_file() and master.stat().st_size):
        return sums
    text = master.read_text(errors="replace")
    if not text.startswith("#EXTM3U"):
        v.fail("package", "master.m3u8 does not start with #EXTM3U")
    uris = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith(("#EXT-X-MEDIA:", "#EXT-X-I-FRAME-STREAM-INF:")):
                uris += HLS_URI_ATTR.findall(line)
        else:
            uris.append(line)
    if not uris:
        v.fail("package", "master.m3u8 references no playlist")
    for uri in dict.fromkeys(uris):
        pl = (master.parent / uri).resolve()
        if not pl.is_file():
            v.fail("package", f"master.m3u8 references missing {uri}")
            continue
        ptext = pl.read_text(errors="replace")
        total, segments, missing = 0.0, 0, []
        for ln in ptext.splitlines():
            ln = ln.strip()
            if ln.startswith("#EXTINF:"):
                d = as_float(ln[8:].split(",", 1)[0])
                total += d or 0.0
            elif ln.startswith("#EXT-X-MAP:"):
                for m in HLS_URI_ATTR.findall(ln):
                    if not (pl.parent / m).is_file():
                        missing.append(m)
            elif ln and not ln.startswith("#"):
                segments += 1
                if not (pl.parent / ln).is_file():
                    missing.append(ln)
        if segments == 0:
            v.fail("package", f"{uri} lists no segment")
        if "#EXT-X-ENDLIST" not in ptext and "#EXT-X-I-FRAMES-ONLY" not in ptext:
            v.fail("package", f"{uri} has no #EXT-X-ENDLIST")
        if missing:
            v.fail("package", f"{uri} references {len(missing)} missing file(s), e.g. {missing[0]}")
        if "#EXT-X-I-FRAMES-ONLY" not in ptext:
            sums[uri] = total
    return sums


def judge_success(v: Verdict, run: Run, out: Path, info: dict) -> None:
    result = parse_json_output(run.stdout)
    if not isinstance(result, dict):
        v.fail("bad-output", f"stdout is not a JSON object: {run.stdout[:200]!r}")
        return
    v.result = result
    if not out.is_dir():
        v.fail("package", "exit 0 but the output directory does not exist")
        return
    sums = check_package(out, result, v)

    rends = result.get("renditions")
    if not isinstance(rends, list) or not rends:
        v.fail("bad-output", "result has no renditions")
        rends = []
    rends = [r for r in rends if isinstance(r, dict)]
    kinds = {r.get("kind") for r in rends}
    if info["video"] and "video" not in kinds:
        v.fail("bad-output", "the input has a video stream but the result has no video rendition")
    if not info["video"] and info["audio"] and kinds - {"audio"}:
        v.warnings.append(f"audio-only input gave renditions of kind {sorted(kinds - {'audio'})}")
    if info["audio"] and "audio" not in kinds:
        v.warnings.append("the input has an audio stream but the result has no audio rendition")
    for r in rends:
        name = r.get("name", "?")
        if r.get("kind") == "video" and not (isinstance(r.get("frames"), int) and r["frames"] > 0):
            v.fail("bad-output", f"rendition {name}: frames = {r.get('frames')!r}")
        for key in ("segments", "bytes"):
            if not (isinstance(r.get(key), (int, float)) and r[key] > 0):
                v.fail("bad-output", f"rendition {name}: {key} = {r.get(key)!r}")

    # Durations.
    dur = as_float(result.get("duration_s"))
    src = info["duration"]
    parts = []
    if dur is None or dur <= 0:
        v.fail("duration", f"result duration_s = {result.get('duration_s')!r}")
    rdurs = []
    for r in rends:
        rd = as_float(r.get("duration_s"))
        if rd is None or rd <= 0:
            v.fail("duration", f"rendition {r.get('name', '?')}: duration_s = {r.get('duration_s')!r}")
        else:
            rdurs.append((str(r.get("name", "?")), r.get("kind"), rd))
    if src is not None and dur is not None and dur > 0:
        tol = tolerance(src, info["fps"])
        parts.append(f"src {src:.2f}s out {dur:.2f}s tol {tol:.2f}")
        bad = duration_mismatches(dur, rdurs, src, info["video_duration"], info["audio_duration"], info["fps"], "probed")
        if bad and v.item.kind == "derived":
            # A broken file may yield less than its header promises, never more.
            if dur > src + tol:
                v.fail("duration", f"result {dur:.3f}s is longer than the probed {src:.3f}s of a broken input")
            else:
                v.warnings.append("shorter than the header says (broken input): " + "; ".join(bad))
        elif bad:
            # The container's duration may be wrong: ask the packets, where ffprobe is installed.
            spans = packet_spans(v.item.path, v.probe or {})
            if spans is not None:
                total, vspan, aspan = spans
                again = duration_mismatches(dur, rdurs, total, vspan, aspan, info["fps"], "packet span")
                if not again:
                    v.warnings.append(f"the container says {src:.3f}s but its packets span {total:.3f}s; "
                                      "the output matches the packets")
                else:
                    v.fail("duration", "; ".join(bad) + f" (ffprobe: packets span {total:.3f}s"
                           + (f", video {vspan:.3f}s" if vspan else "") + (f", audio {aspan:.3f}s" if aspan else "") + ")")
            elif v.item.unreliable_duration:
                v.warnings.append("duration differs from a container duration known to be wrong: " + "; ".join(bad))
            elif (info["format"] or "").split(",")[0] in ESTIMATED_DURATION_FORMATS:
                v.warnings.append("duration differs from the probe's estimate for a raw stream: " + "; ".join(bad))
            else:
                v.fail("duration", "; ".join(bad))
    else:
        parts.append(f"src ? out {dur:.2f}s" if dur else "src ? out ?")
    if rdurs:
        parts.append(" ".join(f"{n}={d:.2f}" for n, _, d in rdurs))

    # Playlists against the renditions they describe.
    for name, kind, rd in rdurs:
        match = [s for uri, s in sums.items() if uri.split("/")[0] == name or Path(uri).stem == name]
        if len(match) == 1:
            s = match[0]
            t = max(0.5, 0.02 * rd)
            if abs(s - rd) > t:
                v.fail("playlist", f"rendition {name}: EXTINF sum {s:.3f}s vs duration_s {rd:.3f}s")
    v.duration_line = "; ".join(parts)


def judge_refusal(v: Verdict, rc: int, err: dict, refusals: list[Refusal]) -> None:
    """A known-good media file may be refused only as expected-refusals.txt says, and never with exit 4
    (resource, transient, internal): a refusal there would hide a regression that breaks valid files."""
    code, cat, msg = err.get("code"), err.get("category"), err.get("message")
    entry = expected_refusal(refusals, v.item.label)
    if entry:
        entry.used += 1
    if rc == 4:
        v.fail("refused-valid", f"transcode: a media file failed with exit 4 ({cat}/{code}): {msg}")
    elif entry is None:
        v.fail("refused-valid", f"transcode: a media file was refused ({cat}/{code}: {msg}) and "
                                f"expected-refusals.txt does not list it")
    elif entry.code != code:
        v.fail("refused-valid", f"transcode: refused with {code} ({msg}); expected-refusals.txt expects {entry.code}")
    else:
        v.kind = "expected"


def judge(item: Item, spool: str, workroot: Path, idx: int, tf: float, keep: bool,
          refusals: list[Refusal]) -> Verdict:
    v = Verdict(item)
    t0 = time.monotonic()
    parent = workroot / f"{idx:03d}"
    parent.mkdir(parents=True)
    tmpdir = parent / "tmp"
    tmpdir.mkdir()
    out = parent / "out"
    env = dict(os.environ, TMPDIR=str(tmpdir))
    v.reproduce = f"rm -rf /tmp/spool-repro && {spool} transcode '{item.path}' /tmp/spool-repro"

    # Probe.
    probe = run_spool([spool, "probe", str(item.path)], 60 * tf, env)
    v.probe_rc = describe_run(probe)
    if probe.timed_out or probe.signal is not None:
        v.fail("crash" if probe.signal is not None else "timeout", f"probe: {describe_run(probe)}")
        v.stderr_tail = tail(probe.stderr)
    elif probe.rc == 0:
        obj = parse_json_output(probe.stdout)
        if not isinstance(obj, dict) or not isinstance(obj.get("streams"), list):
            v.fail("bad-output", f"probe: stdout is not the probe JSON: {probe.stdout[:200]!r}")
        else:
            v.probe = obj
    elif probe.rc in (3, 4):
        problems, err = check_error_json(probe)
        v.probe_error = err
        for p in problems:
            v.fail("bad-error", f"probe: {p}")
        if err and err.get("category") == "internal":
            v.fail("internal", f"probe: internal error {err.get('code')}: {err.get('message')}")
        elif err and probe.rc == 4 and item.kind == "media":
            v.fail("refused-valid", f"probe: a media file failed with exit 4 ({err.get('category')}/{err.get('code')})")
    else:
        v.fail("exit-code", f"probe: unexpected exit {probe.rc}")
        v.stderr_tail = tail(probe.stderr)
    info = probe_info(v.probe)

    # Transcode.
    base = info["duration"] or 0.0
    timeout = tf * max(120.0, 4.0 * base)
    # With the remux fast path on: a file fit for it is copied as the top rung, and the package must be
    # as right as an encoded one; the others say why they were not copied and are encoded.
    run = run_spool([spool, "transcode", str(item.path), str(out), "--remux", "on"], timeout, env)
    v.exit = describe_run(run)
    v.seconds = time.monotonic() - t0
    if run.timed_out:
        v.fail("timeout", f"transcode: no answer after {timeout:.0f}s (hang?)")
        v.stderr_tail = tail(run.stderr)
    elif run.signal is not None:
        v.fail("crash", f"transcode: {describe_run(run)}")
        v.stderr_tail = tail(run.stderr)
    elif run.rc == 0:
        v.kind = "ok"
        judge_success(v, run, out, info)
        if entry := expected_refusal(refusals, item.label):
            entry.used += 1
            v.warnings.append(f"transcoded, though expected-refusals.txt expects {entry.code}: remove the entry")
        if v.probe_error and v.probe_error.get("category") in EXIT3_CATEGORIES:
            v.fail("inconsistent", f"probe refused the input ({v.probe_error.get('code')}) but transcode succeeded")
    elif run.rc in (3, 4):
        v.kind = "refused"
        problems, err = check_error_json(run)
        v.error = err
        for p in problems:
            v.fail("bad-error", f"transcode: {p}")
        if err and err.get("category") == "internal":
            v.fail("internal", f"transcode: internal error {err.get('code')}: {err.get('message')}")
        elif err and not problems and item.kind == "media":
            judge_refusal(v, run.rc, err, refusals)
        if out.exists():
            v.fail("leftover", "transcode failed but left the output directory behind")
        if problems or (err and err.get("category") == "internal"):
            v.stderr_tail = tail(run.stderr)
    else:
        v.fail("exit-code", f"transcode: unexpected exit {run.rc}")
        v.stderr_tail = tail(run.stderr)

    left = leftovers(parent, out, tmpdir)
    if left:
        v.fail("leftover", f"left behind: {', '.join(left[:3])}" + (" ..." if len(left) > 3 else ""))
    extra_tmp = [p.name for p in tmpdir.iterdir()] if tmpdir.exists() else []
    if extra_tmp:
        v.warnings.append(f"files left in TMPDIR: {', '.join(extra_tmp[:3])}")
    if not keep:
        shutil.rmtree(parent, ignore_errors=True)
    return v


# --------------------------------------------------------------------------------------------------
# Reporting

def one_line(v: Verdict) -> str:
    what = v.kind
    if v.kind in ("refused", "expected", "refused-valid") and v.error:
        what = f"{'refused as expected' if v.kind == 'expected' else 'refused'} {v.error.get('category')}/{v.error.get('code')}"
    elif v.status == "SKIP":
        what = "skipped"
    extra = f"  [{v.duration_line}]" if v.duration_line else ""
    warn = f"  (warning: {'; '.join(v.warnings)})" if v.warnings else ""
    return f"{v.status:4}  {v.item.label}  {v.exit or '-'}  {what}{extra}  {v.seconds:.1f}s{warn}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spool", default=str(REPO / "build" / "bin" / "spool"), help="the spool CLI (default build/bin/spool)")
    ap.add_argument("--cache", default=str(REPO / "build" / "corpus-cache"), help="download cache (default build/corpus-cache)")
    ap.add_argument("--packages", default=str(HERE / "packages.txt"), help="package list (default tests/corpus/packages.txt)")
    ap.add_argument("--refusals", default=str(HERE / "expected-refusals.txt"),
                    help="media files expected to be refused, with the code and why (default tests/corpus/expected-refusals.txt)")
    ap.add_argument("--max-files", type=int, default=150, help="run at most N files (default 150)")
    ap.add_argument("--per-package", type=int, default=10, help="media files taken from one package (default 10)")
    ap.add_argument("--per-ext", type=int, default=3, help="media files of one extension taken from one package (default 3)")
    ap.add_argument("--max-size", type=int, default=16 << 20, help="skip media files larger than this many bytes")
    ap.add_argument("--timeout-factor", type=float, default=1.0,
                    help="multiplies every timeout (transcode: max(120 s, 4 x probed duration); probe: 60 s)")
    ap.add_argument("--budget", type=float, default=1080.0,
                    help="seconds after which the files not yet run are skipped (default 1080)")
    ap.add_argument("--keep", action="store_true", help="keep every output directory")
    ap.add_argument("--json", metavar="FILE", help="write a machine-readable report")
    ap.add_argument("--filter", metavar="GLOB", help="run only files whose label matches GLOB")
    ap.add_argument("--list", action="store_true", help="download and list the corpus, run nothing")
    args = ap.parse_args(argv)

    started = time.monotonic()
    spool = str(Path(args.spool).resolve()) if os.sep in args.spool else args.spool
    if not args.list and not (shutil.which(spool) or (os.path.isfile(spool) and os.access(spool, os.X_OK))):
        log(f"corpus: the spool CLI {args.spool} is missing or not executable")
        log("corpus: 0 passed, 1 failed")
        return 1
    cache = Path(args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)

    # 1. Packages.
    specs = read_package_list(Path(args.packages))
    refusals = read_refusals(Path(args.refusals))
    apt = Apt()
    packages: list[Package] = []
    t_dl = time.monotonic()
    for spec in specs:
        pkg = fetch_package(spec, cache, apt)
        packages.append(pkg)
        if pkg.error:
            log(f"corpus: warning: package {spec.name} unavailable: {pkg.error}")
    have = [p for p in packages if p.root]
    log(f"corpus: {len(have)}/{len(specs)} packages ready in {cache} "
        f"({human_bytes(sum(p.size for p in have))} of .debs, {time.monotonic() - t_dl:.1f}s)")

    # 2. Files.
    media: list[Item] = []
    extras: list[Item] = []
    spec_by_name = {s.name: s for s in specs}
    per_pkg_media: list[list[Item]] = []
    for pkg in have:
        m, e = discover(pkg, spec_by_name[pkg.name], args.per_package, args.per_ext, args.max_size)
        per_pkg_media.append(m)
        extras += e
    # Interleave packages so that --max-files keeps some of each.
    for round_ in range(max((len(m) for m in per_pkg_media), default=0)):
        for m in per_pkg_media:
            if round_ < len(m):
                media.append(m[round_])
    derived = derive_broken(media, cache)

    items, seen = [], set()
    for it in media + extras + derived:
        digest = sha256_of(it.path)
        if digest in seen:
            continue  # the same bytes under another name
        seen.add(digest)
        items.append(it)
    if args.filter:
        items = [it for it in items if fnmatch.fnmatch(it.label, args.filter)]
    items = items[:args.max_files] if args.max_files > 0 else items
    log(f"corpus: {len(items)} files ({sum(it.kind == 'media' for it in items)} media, "
        f"{sum(it.kind == 'extra' for it in items)} odd or non-media, {sum(it.kind == 'derived' for it in items)} broken derived)")
    if args.list:
        for it in items:
            log(f"  {it.kind:7} {human_bytes(it.size):>9}  {it.label}" + (f"  ({it.note})" if it.note else ""))
        return 0
    if not items:
        log("corpus: no input files (were the packages downloaded?)")
        log("corpus: 0 passed, 1 failed")
        return 1

    # 3. Runs.
    workroot = Path(tempfile.mkdtemp(prefix="spool-corpus-"))
    verdicts: list[Verdict] = []
    interrupted = False
    try:
        for i, it in enumerate(items):
            if time.monotonic() - started > args.budget:
                v = Verdict(it, status="SKIP", kind="skipped")
                v.warnings.append(f"time budget of {args.budget:.0f}s used up")
            else:
                v = judge(it, spool, workroot, i, args.timeout_factor, args.keep, refusals)
            verdicts.append(v)
            log(one_line(v))
            for p in v.problems:
                log(f"        - {p}")
    except KeyboardInterrupt:
        interrupted = True
        log("corpus: interrupted")
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)

    # 4. Summary.
    total_s = time.monotonic() - started
    passed = [v for v in verdicts if v.status == "PASS"]
    failed = [v for v in verdicts if v.status == "FAIL"]
    skipped = [v for v in verdicts if v.status == "SKIP"]
    ok = sum(v.kind == "ok" for v in passed)
    copied = sum(v.kind == "ok" and bool(((v.result or {}).get("remux") or {}).get("used")) for v in passed)
    expected = sum(v.kind == "expected" for v in passed)
    refused: dict[str, int] = {}
    for v in passed:
        if v.kind == "refused" and v.error:
            key = f"{v.error.get('category')}/{v.error.get('code')}"
            refused[key] = refused.get(key, 0) + 1
    log("")
    names = [f"{p.name} {p.version}" for p in have]
    log("corpus: packages:")
    for i in range(0, len(names), 4):
        log("  " + ", ".join(names[i:i + 4]))
    missing = [p.name for p in packages if not p.root]
    if missing:
        log(f"corpus: packages unavailable: {', '.join(missing)}")
    log(f"corpus: {len(verdicts)} files in {total_s:.0f}s: {ok} transcoded ({copied} with the top rung copied), "
        f"{expected} media files refused as "
        f"expected-refusals.txt expects, {len(passed) - ok - expected} odd or broken files refused cleanly "
        f"({', '.join(f'{k} x{n}' for k, n in sorted(refused.items())) or 'none'}), {len(failed)} failed, {len(skipped)} skipped")
    unused = [r for r in refusals if not r.used]
    if unused and not args.filter and not skipped:
        log("corpus: expected-refusals.txt entries that matched no file (stale?): " + ", ".join(r.pattern for r in unused))
    warned = [v for v in verdicts if v.warnings and v.status != "SKIP"]
    if warned:
        log(f"corpus: {len(warned)} warnings:")
        for v in warned:
            log(f"  {v.item.label}: {'; '.join(v.warnings)}")
    if failed:
        internal = [v for v in failed if v.kind == "internal"]
        log(f"corpus: FAILURES ({len(failed)}, of which {len(internal)} internal errors):")
        for v in failed:
            log(f"  [{v.kind}] {v.item.label}" + (f"  ({v.item.note})" if v.item.note else ""))
            log(f"      file: {v.item.path}")
            log(f"      probe: {v.probe_rc}; transcode: {v.exit}")
            for p in v.problems:
                log(f"      - {p}")
            if v.stderr_tail:
                log("      stderr tail: " + v.stderr_tail.replace("\n", "\n        "))
            log(f"      reproduce: {v.reproduce}")
    if args.keep:
        log(f"corpus: outputs kept in {workroot}")

    if args.json:
        report = {
            "packages": [dataclasses.asdict(p) | {"deb": str(p.deb) if p.deb else None, "root": str(p.root) if p.root else None}
                         for p in packages],
            "seconds": total_s, "passed": len(passed), "failed": len(failed), "skipped": len(skipped),
            "interrupted": interrupted,
            "files": [{
                "label": v.item.label, "path": str(v.item.path), "kind": v.item.kind, "size": v.item.size,
                "note": v.item.note, "status": v.status, "outcome": v.kind, "probe_exit": v.probe_rc,
                "transcode_exit": v.exit, "seconds": round(v.seconds, 3), "problems": v.problems,
                "warnings": v.warnings, "duration": v.duration_line, "probe": v.probe, "probe_error": v.probe_error,
                "result": v.result, "error": v.error, "stderr_tail": v.stderr_tail, "reproduce": v.reproduce,
            } for v in verdicts],
        }
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")

    n_failed = len(failed) + (1 if interrupted else 0)
    log(f"corpus: {len(passed)} passed, {n_failed} failed")
    return 0 if n_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
