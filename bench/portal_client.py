"""The lecture portal as the latency workload sees it: a child process on 127.0.0.1, its HTTP API
(POST /videos, PUT upload_url, GET /videos/{id}) and wrk against one of its URLs."""
import http.client
import json
import os
import re
import selectors
import signal
import subprocess
import threading
import time
import urllib.parse

LISTENING = re.compile(rb"^listening on http://127\.0\.0\.1:(\d+)\s*$")

# wrk's hooks: the figures as one JSON line, in microseconds, so nothing is parsed from its text.
# wrk puts an answer that came later than --timeout in `timeout`, not in its histogram, and does not
# count requests left unanswered when the run ends. So request() and response() count per thread,
# and a thread's unanswered requests are "stalled" when it had no answer for longer than the timeout
# at the end (os.time() has whole seconds; the rest were merely in flight). The percentiles are over
# the answered and stalled requests: late and stalled ones rank above the timeout, and a percentile
# that falls among them is -1 ("more than the timeout"); -2 when there is nothing to rank. wrk calls
# request() once more on its first thread before the run (to check for pipelining): not sent.
_WRK_LUA = r"""
local timeout_s = TIMEOUT_S
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) sent = 0; answered = 0; last = os.time() end
function request() sent = sent + 1; return wrk.format() end
DELAY_HOOK
function response(status, headers, body) answered = answered + 1; last = os.time() end
done = function(summary, latency, requests)
  local e = summary.errors
  local now = os.time()
  local sent, unanswered, stalled = 0, 0, 0
  for i, t in ipairs(threads) do
    local s = t:get("sent") - (i == 1 and 1 or 0)
    local pending = math.max(0, s - t:get("answered"))
    sent = sent + s
    unanswered = unanswered + pending
    if now - t:get("last") > timeout_s then stalled = stalled + pending end
  end
  local fast = summary.requests - e.timeout
  local total = fast + e.timeout + stalled
  local slow = total - fast
  local p = function(q)
    if total == 0 then return -2 end
    if slow > (1 - q / 100) * total then return -1 end
    return latency:percentile(math.min(100, q * total / fast))
  end
  local max = -2
  if slow > 0 then max = -1 elseif fast > 0 then max = latency.max end
  io.write(string.format('WRK_JSON {"sent":%d,"requests":%d,"unanswered":%d,"stalled":%d,"duration_us":%d,' ..
    '"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    sent, summary.requests, unanswered, stalled, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, p(50), p(90), p(99), max))
end
"""


def wrk_report_lua(timeout_s, delay_ms=0):
    """The hooks; with delay_ms each connection waits that long after an answer before its next request
    (wrk's delay() hook), which paces the load instead of sending as fast as the server answers."""
    hook = f"function delay() return {int(delay_ms)} end" if delay_ms > 0 else ""
    return _WRK_LUA.replace("TIMEOUT_S", str(int(timeout_s))).replace("DELAY_HOOK", hook)


class PortalError(RuntimeError):
    pass


def cpu_seconds(pid):
    """User + system CPU seconds of a live process, from /proc; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Portal:
    """One lecture-portal child: started, waited for until it prints its address, stopped by its pid."""

    def __init__(self, binary, data_dir, log_prefix, extra_args, start_timeout=60):
        os.makedirs(data_dir, exist_ok=True)
        self.argv = [binary, "--listen", "127.0.0.1:0", "--data", data_dir] + list(extra_args)
        self._out = open(log_prefix + ".stdout", "wb")
        self._err = open(log_prefix + ".stderr", "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err)
        self.port = None
        self.exit_code = None
        self.stop_note = ""
        self._pump = None
        try:
            self.port = self._wait_listening(start_timeout)
        except BaseException:
            self.stop(grace_s=2)
            raise
        # Keep reading stdout so that the child never blocks on a full pipe.
        self._pump = threading.Thread(target=self._copy_stdout, daemon=True)
        self._pump.start()

    def _wait_listening(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise PortalError(f"{self.argv[0]} exited before listening (status {self.proc.wait(5)})")
            self._out.write(chunk)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = LISTENING.match(line)
                if m:
                    self._out.flush()
                    return int(m.group(1))
        raise PortalError(f"no 'listening on http://127.0.0.1:PORT' line within {timeout} s")

    def _copy_stdout(self):
        for chunk in iter(lambda: os.read(self.proc.stdout.fileno(), 65536), b""):
            self._out.write(chunk)
        self._out.flush()

    def cpu_seconds(self):
        return cpu_seconds(self.proc.pid)

    def stop(self, grace_s=10):
        """SIGTERM, and SIGKILL when it has not exited after grace_s; says which in stop_note."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
                self.stop_note = f"exited {self.proc.returncode} on SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.stop_note = f"still running {grace_s} s after SIGTERM: SIGKILL"
        else:
            self.stop_note = f"had exited with {self.proc.returncode} before the stop"
        self.exit_code = self.proc.returncode
        if self._pump:
            self._pump.join(5)
        self.proc.stdout.close()
        self._out.close()
        self._err.close()
        return self.stop_note

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request_json(self, method, path, body=None, timeout=30, expect=(200,)):
        conn = self.connection(timeout)
        try:
            headers = {}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers = {"Content-Type": "application/json"}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status not in expect:
                raise PortalError(f"{method} {path}: {resp.status} {raw[:300]!r}")
            return json.loads(raw)
        finally:
            conn.close()

    def create_video(self, filename, size):
        answer = self.request_json("POST", "/videos", {"filename": filename, "size": size,
                                                       "content_type": "video/mp4"}, expect=(201,))
        for key in ("id", "upload_url"):
            if key not in answer:
                raise PortalError(f"POST /videos answered without {key!r}: {answer}")
        return answer

    def video(self, video_id, timeout=30):
        return self.request_json("GET", f"/videos/{video_id}", timeout=timeout)


class Upload(threading.Thread):
    """PUT of a file to an upload_url, in its own thread: `sent` is set once the whole body is written,
    `answered_at` (monotonic) once the answer arrived; `status`/`error` say how it went."""

    def __init__(self, portal, upload_url, path, timeout):
        super().__init__(daemon=True)
        self.portal, self.path, self.timeout = portal, path, timeout
        parts = urllib.parse.urlsplit(upload_url)
        self.target = parts.path + ("?" + parts.query if parts.query else "")
        self.sent = threading.Event()
        self.sent_at = self.answered_at = None
        self.status = None
        self.body = b""
        self.error = ""

    def run(self):
        conn = self.portal.connection(self.timeout)
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as f:
                conn.request("PUT", self.target, body=f,
                             headers={"Content-Length": str(size), "Content-Type": "video/mp4"})
            self.sent_at = time.monotonic()
            self.sent.set()
            resp = conn.getresponse()
            self.body = resp.read()
            self.status = resp.status
            self.answered_at = time.monotonic()
        except (OSError, http.client.HTTPException) as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.sent.set()
            conn.close()


def run_wrk(wrk, url, seconds, threads, connections, timeout_s, lua_path, log_path, delay_ms=0):
    """One wrk --latency run; its figures (milliseconds, counts) as a dict."""
    with open(lua_path, "w") as f:
        f.write(wrk_report_lua(timeout_s, delay_ms))
    argv = [wrk, "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", f"{timeout_s}s", "-s", lua_path, url]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds + 60)
    with open(log_path, "w") as f:
        f.write("$ " + " ".join(argv) + "\n" + proc.stdout + proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures = json.loads(line[len("WRK_JSON "):])
            figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status"))
            figures["timeout_s"] = timeout_s
            figures["over_timeout"] = []  # figures known only to exceed the timeout
            for k in ("p50", "p90", "p99", "max"):
                us = figures.pop(k + "_us")
                figures[k + "_ms"] = us / 1000.0 if us >= 0 else None
                if us == -1:
                    figures["over_timeout"].append(k + "_ms")
            figures["command"] = " ".join(argv)
            return figures
    raise PortalError(f"wrk exited {proc.returncode} without its report: {proc.stderr.strip()[:300]}")
