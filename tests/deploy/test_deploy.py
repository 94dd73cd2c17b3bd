#!/usr/bin/env python3
"""deploy/ and scripts/install-spool.sh, exercised the way the image and the systemd unit use them.

    test_deploy.py install   scripts/install-spool.sh --reuse on CI's build into SPOOL_DEPLOY_PREFIX; the
                             installed tool, its shared libraries against install-deps.sh's runtime list,
                             and the image's command run by sh
    test_deploy.py systemd   systemd-analyze verify on the unit (exit 77, skipped, without systemd), its
                             stop timeout against the drain grace, and its ExecStart run for real
    test_deploy.py scaling   a real queue state (jobs waiting, three being encoded) read by `spool queue stats`,
                             and the worker counts deploy/scaling's ECS and KEDA settings ask for in it
    test_deploy.py docker    docker build and run (exit 77, skipped, when no Docker daemon answers)

Environment (tests/deploy/CMakeLists.txt): SPOOL_SOURCE_DIR, SPOOL_BUILD_DIR, SPOOL_DEPLOY_PREFIX,
SPOOL_VERSION (CMake's, read from include/spool/version.hpp); for `scaling`, SPOOL_CLI and SPOOL_MAKE_SAMPLE.
"""
import glob
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
import unittest

SRC = os.environ.get("SPOOL_SOURCE_DIR", "")
BUILD = os.environ.get("SPOOL_BUILD_DIR", "")
PREFIX = os.environ.get("SPOOL_DEPLOY_PREFIX", "")
VERSION = os.environ.get("SPOOL_VERSION", "")
SKIPPED = 77  # the tests' SKIP_RETURN_CODE
UNIT = "deploy/systemd/spool-worker@.service"


def run(args, timeout=120, env=None, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=env, **kw)


def read_text(path):
    with open(path) as f:
        return f.read()


def installed_spool():
    return os.path.join(PREFIX, "bin", "spool")


def runtime_packages():
    env = dict(os.environ, SPOOL_DEPS_LIST="1")
    r = run([os.path.join(SRC, "scripts/install-deps.sh"), "runtime"], env=env)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return set(r.stdout.split())


def package_of(path):
    """The Debian package that owns a library file, trying the path as given and as resolved (usrmerge)."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/lib"):
            candidates.append("/usr" + p)
        elif p.startswith("/usr/lib"):
            candidates.append(p[len("/usr"):])
    for p in candidates:
        r = run(["dpkg-query", "-S", p], timeout=60)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def unit_settings(text):
    """Key -> list of values of the [Service] section."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def env_assignments(words):
    return dict(w.split("=", 1) for w in words)


class Install(unittest.TestCase):
    def test_install_script_on_the_existing_build(self):
        shutil.rmtree(PREFIX, ignore_errors=True)
        r = run([os.path.join(SRC, "scripts/install-spool.sh"), "--reuse", "--build-dir", BUILD, "--prefix", PREFIX,
                 "--jobs", "2"], timeout=1800)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        version = run([installed_spool(), "--version"])
        self.assertEqual(version.returncode, 0, version.stderr)
        self.assertIn(VERSION, version.stdout)
        self.assertIn(version.stdout.strip(), r.stdout, "the script does not end with the installed version")
        help_text = run([installed_spool(), "worker", "--help"])
        self.assertEqual(help_text.returncode, 0, help_text.stderr)
        for word in ("--queue", "--grace", "SIGTERM"):
            self.assertIn(word, help_text.stdout)
        # What a consumer's find_package(spool) needs came along.
        self.assertTrue(os.path.isfile(os.path.join(PREFIX, "include/spool/spool.hpp")))
        self.assertTrue(glob.glob(os.path.join(PREFIX, "lib*/**/cmake/spool/spoolConfig.cmake"), recursive=True))

    def test_reuse_refuses_a_folder_that_is_no_build(self):
        with tempfile.TemporaryDirectory() as empty:
            r = run([os.path.join(SRC, "scripts/install-spool.sh"), "--reuse", "--build-dir", empty, "--prefix",
                     os.path.join(empty, "prefix")])
            self.assertEqual(r.returncode, 1)
            self.assertIn("not a configured build", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(empty, "prefix")))

    def test_runtime_packages_cover_the_installed_tool(self):
        # The image's last stage installs only `install-deps.sh runtime` (and what apt pulls in with
        # it): every library the tool names itself (DT_NEEDED) must come from one of those packages.
        self.assertTrue(os.path.isfile(installed_spool()), "run the install test first")
        ldd = run(["ldd", installed_spool()])
        self.assertEqual(ldd.returncode, 0, ldd.stderr)
        self.assertNotIn("not found", ldd.stdout)
        resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd.stdout, re.M))
        # The dynamic loader is listed by its path alone.
        resolved.update((os.path.basename(p), p) for p in re.findall(r"^\s*(/\S+) \(", ldd.stdout, re.M))
        dynamic = run(["readelf", "-d", installed_spool()])
        self.assertEqual(dynamic.returncode, 0, dynamic.stderr)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic.stdout)
        self.assertIn("libavcodec.so.59", needed)
        owners = {soname: package_of(resolved[soname]) for soname in needed}
        self.assertEqual([s for s, pkg in owners.items() if pkg is None], [], "libraries no package owns")
        missing = sorted({pkg.split(":")[0] for pkg in owners.values()} - runtime_packages())
        self.assertEqual(missing, [], "install-deps.sh runtime lacks packages the tool links")

    def test_image_command_runs_the_worker(self):
        dockerfile = read_text(os.path.join(SRC, "deploy/Dockerfile"))
        cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
        self.assertEqual(cmd[:2], ["/bin/sh", "-c"])
        defaults = env_assignments(re.search(r"^ENV (.*)$", dockerfile, re.M).group(1).replace('"', "").split())
        # The image's PATH finds spool in /usr/local/bin; here the installed one.
        env = dict(os.environ, **defaults, PATH=os.path.dirname(installed_spool()) + ":/usr/bin:/bin")
        # As `docker run -e SPOOL_QUEUE=... -e SPOOL_WORKER_ARGS=--exit-when-idle IMAGE`.
        ok = run(cmd, env=dict(env, SPOOL_QUEUE="mem://image", SPOOL_WORKER_ARGS="--exit-when-idle --max-attempts 8"))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn('"summary"', ok.stdout)
        unset = run(cmd, env=dict(env, SPOOL_WORKER_ARGS="--exit-when-idle"))
        self.assertNotEqual(unset.returncode, 0)
        self.assertIn("set SPOOL_QUEUE", unset.stderr)


class Systemd(unittest.TestCase):
    def setUp(self):
        self.text = read_text(os.path.join(SRC, UNIT))
        self.settings = unit_settings(self.text)

    def test_verify(self):
        self.assertTrue(os.path.isfile(installed_spool()), "Deploy::Install installs the tool first")
        with tempfile.TemporaryDirectory() as d:
            # verify checks that ExecStart's program exists: point it at the tool just installed.
            unit = os.path.join(d, os.path.basename(UNIT))
            with open(unit, "w") as f:
                f.write(self.text.replace("/usr/local/bin/spool", installed_spool()))
            r = run(["systemd-analyze", "verify", "--man=no", unit], timeout=120, cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", "systemd-analyze warns")

    def test_stop_timeout_outlasts_the_drain(self):
        self.assertEqual(self.settings["KillSignal"], ["SIGTERM"])
        self.assertEqual(self.settings["KillMode"], ["mixed"])
        (timeout,) = self.settings["TimeoutStopSec"]
        defaults = env_assignments(" ".join(self.settings["Environment"]).split())
        env_file = env_assignments(l for l in read_text(os.path.join(SRC, "deploy/systemd/worker.env")).splitlines()
                                   if l and not l.startswith("#"))
        for where, grace in (("the unit", defaults["SPOOL_GRACE"]), ("worker.env", env_file["SPOOL_GRACE"])):
            # Room after the grace for cancelled encodes to stop and their jobs to be released.
            self.assertGreaterEqual(int(timeout), int(grace) + 15, where + "'s SPOOL_GRACE")

    def test_exec_start_is_a_valid_worker_command(self):
        self.assertTrue(os.path.isfile(installed_spool()), "Deploy::Install installs the tool first")
        (line,) = self.settings["ExecStart"]
        env = env_assignments(" ".join(self.settings["Environment"]).split())
        env["SPOOL_QUEUE"] = "mem://unit"
        words = [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], w) for w in line.split()]
        self.assertEqual(words[:2], ["/usr/local/bin/spool", "worker"])
        r = run([installed_spool(), *words[1:], "--exit-when-idle"], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)


class Scaling(unittest.TestCase):
    """The autoscalers' settings, applied to a queue spool measured, ask for spool's worker count."""

    IN_FLIGHT, WAITING = 3, 37

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spool-scaling-")
        self.worker = None

    def tearDown(self):
        if self.worker and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def stats(self, queue, jobs_per_worker):
        r = run([os.environ["SPOOL_CLI"], "queue", "stats", "--queue", queue, "--jobs-per-worker",
                 str(jobs_per_worker)])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def measured_queue(self, jobs_per_worker):
        """40 jobs, three of them leased by a worker that is encoding them: the stats at that moment."""
        clip = os.path.join(self.dir, "lecture.mp4")
        subprocess.run([os.environ["SPOOL_MAKE_SAMPLE"], clip, "--duration", "120", "--width", "640", "--height",
                        "360", "--preset", "ultrafast"], check=True, timeout=300)
        queue = "file://" + os.path.join(self.dir, "jobs.db")
        for n in range(self.IN_FLIGHT + self.WAITING):
            r = run([os.environ["SPOOL_CLI"], "submit", "--queue", queue, "--input", clip, "--output",
                     os.path.join(self.dir, "out", str(n))])
            self.assertEqual(r.returncode, 0, r.stderr)
        self.worker = subprocess.Popen([os.environ["SPOOL_CLI"], "worker", "--queue", queue, "--concurrency",
                                        str(self.IN_FLIGHT), "--grace", "0", "--quiet"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            st = self.stats(queue, jobs_per_worker)
            if st["in_flight"] == self.IN_FLIGHT:
                break
            self.assertLess(time.monotonic(), deadline, "the worker never had three jobs at once: %s" % st)
            time.sleep(0.1)
        self.worker.send_signal(signal.SIGTERM)
        self.assertEqual(self.worker.wait(timeout=120), 0)
        return st

    def test_ecs_and_keda_ask_for_what_spool_recommends(self):
        ecs = json.loads(read_text(os.path.join(SRC, "deploy/scaling/ecs-target-tracking.json")))
        params = {k: v.get("Default") for k, v in ecs["Parameters"].items()}
        policy = ecs["Resources"]["BacklogPerTaskPolicy"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        target = params[policy["TargetValue"]["Ref"]]
        scalable = ecs["Resources"]["WorkerScalableTarget"]["Properties"]
        ecs_min, ecs_max = params[scalable["MinCapacity"]["Ref"]], params[scalable["MaxCapacity"]["Ref"]]
        queries = policy["CustomizedMetricSpecification"]["Metrics"]
        (expression,) = [q["Expression"] for q in queries if q.get("ReturnData")]
        sqs_metric = {q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in queries if "MetricStat" in q}

        keda = read_text(os.path.join(SRC, "deploy/scaling/keda-scaledobject.yaml"))
        setting = lambda key: re.search(r"^\s*%s:\s*\"?([\w.]+)\"?" % key, keda, re.M).group(1)
        queue_length = int(setting("queueLength"))
        self.assertEqual(queue_length, target, "ECS and KEDA carry different jobs per worker")

        st = self.measured_queue(target)
        self.assertEqual((st["visible"], st["in_flight"]), (self.WAITING, self.IN_FLIGHT))
        spool_says = st["recommended_workers"]

        # SQS's names for what spool counts.
        sqs = {"ApproximateNumberOfMessagesVisible": st["visible"], "ApproximateNumberOfMessagesNotVisible":
               st["in_flight"], "ApproximateNumberOfMessagesDelayed": st["delayed"]}
        # ECS target tracking settles on the fewest tasks that bring the metric to the target or below.
        def metric(tasks):
            values = {i: sqs[name] for i, name in sqs_metric.items() if name in sqs}
            values.update({i: tasks for i, name in sqs_metric.items() if name == "RunningTaskCount"})
            return eval(expression, {}, values)
        ecs_tasks = next(n for n in range(ecs_min, ecs_max + 1) if metric(n) <= target)
        # KEDA hands the HPA the queue's count, with an average target of queueLength per pod.
        counted = st["visible"] + (st["in_flight"] if setting("scaleOnInFlight") == "true" else 0) + \
            (st["delayed"] if setting("scaleOnDelayed") == "true" else 0)
        keda_pods = min(max(math.ceil(counted / queue_length), int(setting("minReplicaCount"))),
                        int(setting("maxReplicaCount")))
        self.assertEqual((ecs_tasks, keda_pods), (spool_says, spool_says))


def docker():
    if shutil.which("docker") is None or run(["docker", "info"], timeout=60).returncode != 0:
        print("skipped: no Docker daemon answers here (docker info fails); Deploy::Install runs the image's "
              "build scripts on this build instead")
        return SKIPPED
    tag = "spool-worker:ctest"
    b = run(["docker", "build", "-f", "deploy/Dockerfile", "-t", tag, "."], timeout=3600, cwd=SRC)
    if b.returncode != 0:
        print(b.stdout[-5000:], b.stderr[-5000:])
        return 1
    r = run(["docker", "run", "--rm", "-e", "SPOOL_QUEUE=mem://image", "-e", "SPOOL_WORKER_ARGS=--exit-when-idle", tag],
            timeout=300)
    print(r.stdout, r.stderr)
    return 0 if r.returncode == 0 and '"summary"' in r.stdout else 1


if __name__ == "__main__":
    for name, value in (("SPOOL_SOURCE_DIR", SRC), ("SPOOL_BUILD_DIR", BUILD), ("SPOOL_DEPLOY_PREFIX", PREFIX),
                        ("SPOOL_VERSION", VERSION)):
        if not value:
            sys.exit(name + " is not set")
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "docker":
        sys.exit(docker())
    if what == "systemd" and shutil.which("systemd-analyze") is None:
        print("skipped: systemd-analyze is not installed (Debian's systemd package); the unit is not verified")
        sys.exit(SKIPPED)
    if what == "scaling" and not (os.environ.get("SPOOL_CLI") and os.environ.get("SPOOL_MAKE_SAMPLE")):
        print("skipped: SPOOL_CLI and SPOOL_MAKE_SAMPLE are not set (spool-make-sample is built with the benches)")
        sys.exit(SKIPPED)
    classes = {"install": Install, "systemd": Systemd, "scaling": Scaling}
    if what not in classes:
        sys.exit("usage: test_deploy.py install|systemd|scaling|docker")
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(classes[what])
    # The install test fills the prefix the others read: in the order written.
    suite = unittest.TestSuite(sorted(suite, key=lambda t: list(vars(classes[what])).index(t._testMethodName)))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
