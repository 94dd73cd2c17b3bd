"""What a bench run records about where it ran: the machine (CPU, cores, memory, load) and the
versions (spool, its git commit, FFmpeg's libraries, the compiler, the tools)."""
import os
import platform
import re
import subprocess


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _run(argv, cwd=None):
    """First line of a short command's output; empty when it cannot run."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return ""
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0].strip() if text else ""


def loadavg():
    return " ".join(_read("/proc/loadavg").split()[:3])


def machine():
    cpu = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    return {"cpu_model": cpu.group(1).strip() if cpu else "", "cores": os.cpu_count(),
            "mem_gb": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
            "kernel": platform.release(), "os": _os_name()}


def _os_name():
    m = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    return m.group(1) if m else platform.system()


def _cmake_cache(build, key):
    m = re.search(rf"^{key}:[A-Z]+=(.*)$", _read(os.path.join(build, "CMakeCache.txt")), re.M)
    return m.group(1) if m else ""


def versions(source_dir, build, spool_binary, wrk="wrk"):
    compiler = _cmake_cache(build, "CMAKE_CXX_COMPILER")
    ffmpeg_libs = {}
    for lib in ("libavcodec", "libavformat", "libavfilter", "libavutil", "libswscale", "libswresample"):
        ffmpeg_libs[lib] = _run(["pkg-config", "--modversion", lib])
    commit = _run(["git", "rev-parse", "--short=12", "HEAD"], cwd=source_dir)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source_dir)
    return {"spool": _run([spool_binary, "--version"]), "git_commit": commit + ("+changes" if dirty else ""),
            "build_type": _cmake_cache(build, "CMAKE_BUILD_TYPE"), "compiler": _run([compiler, "--version"])
            if compiler else "", "ffmpeg_libraries": ffmpeg_libs, "ffmpeg_cli": _run(["ffmpeg", "-version"]),
            "wrk": _run([wrk, "--version"]), "gnuplot": _run(["gnuplot", "--version"]),
            "python": platform.python_version()}
