"""What the progressive-publish benchmarks share: `spool transcode` as a child killed by its pid, what a
cancelled job left behind, and medians over the rounds that measured something."""
import os
import signal
import statistics
import subprocess
import time


class BenchError(RuntimeError):
    pass


class Child:
    """spool transcode as a child in this process group (a suite that kills the group kills it too),
    reaped with wait4 for its rusage, and killed by its pid when the block is left any other way."""

    def __init__(self, argv, log_prefix):
        self.argv, self.log_prefix = argv, log_prefix
        self.exit_code = self.rusage = self.ended = None
        with open(log_prefix + ".stdout", "wb") as so, open(log_prefix + ".stderr", "wb") as se:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def poll(self):
        if self.exit_code is None:
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.ended = time.monotonic()
                self.exit_code = os.waitstatus_to_exitcode(status)
                self.proc.returncode, self.rusage = self.exit_code, ru
        return self.exit_code

    def wait(self, timeout_s, poll_s=0.02):
        deadline = time.monotonic() + timeout_s
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(poll_s)
        return self.exit_code

    def kill(self):
        if self.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.wait(30)

    def interrupt(self, grace_s):
        """SIGINT (spool cancels the job), SIGKILL when it has not exited after grace_s; what happened."""
        if self.poll() is not None:
            return f"had exited {self.exit_code}"
        os.kill(self.proc.pid, signal.SIGINT)
        if self.wait(grace_s) is not None:
            return f"exited {self.exit_code} on SIGINT"
        self.kill()
        return f"SIGKILL after {grace_s:g} s (exit {self.exit_code})"

    def stderr_tail(self, n=300):
        """The last line of its stderr (spool ends a failure with one JSON line), cut to n characters."""
        try:
            with open(self.log_prefix + ".stderr", errors="replace") as f:
                lines = [x.strip() for x in f.read().splitlines() if x.strip()]
        except OSError:
            return ""
        return lines[-1][:n] if lines else ""


def leftovers(root):
    """What a folder still holds: file count, and the playlists, manifests and result.json among them."""
    files = []
    for dirpath, _, names in os.walk(root):
        files += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    published = sorted(f for f in files if f.endswith((".m3u8", ".mpd")) or os.path.basename(f) == "result.json")
    return {"folder_exists": os.path.isdir(root), "files": len(files), "playlists": published[:20],
            "sample": sorted(files)[:10]}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
