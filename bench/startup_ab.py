#!/usr/bin/python3
"""Start-up A/B (issue 13): bench/startup.py's 10-file job (noop_entry.py, mb 10, 2
workers, fork) with each binary in turn, interleaved with `python3 -c pass`; per binary the
median, over the rounds, of each node-log event's time after launch (ms), the wall time and
the CPU of the process tree.

  /usr/bin/python3 bench/startup_ab.py ROUNDS BIN_A BIN_B ...
"""
import datetime, os, resource, shutil, statistics, subprocess, sys, tempfile, time
runs = int(sys.argv[1]); bins = [os.path.abspath(b) for b in sys.argv[2:]]
HERE = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="prstartup-ab-")
shutil.copy(os.path.join(HERE, "noop_entry.py"), tmp)
shutil.copy(os.path.join(HERE, "noop_spec.yaml"), tmp)
os.mkdir(os.path.join(tmp, "files"))
for i in range(10):
    open(os.path.join(tmp, "files", "f%02d" % i), "w").close()
keys = [("role", "role:"), ("zyg_imports", "imports the entry script"), ("zyg_ready", "zygote ready"),
        ("p0_started", "process000 started"), ("p1_started", "process001 started"),
        ("p0_init", "process000 init() done"), ("p1_init", "process001 init() done"),
        ("shutdown", "shutting workers down"), ("p1_exit", "process001 exits"), ("all_exited", "all workers have exited"),
        ("over", "the job is over")]
res = {b: {} for b in bins}; res["python"] = {}
print("load average %.1f %.1f %.1f" % os.getloadavg())
def stamp(line):
    return datetime.datetime.fromisoformat(line.split("|", 1)[0].replace("Z", "")).replace(tzinfo=datetime.timezone.utc).timestamp()
for _ in range(runs):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time(); subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)
    res["python"].setdefault("wall", []).append(time.time() - t0)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res["python"].setdefault("cpu", []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    for b in bins:
        jd = os.path.join(tmp, "job"); shutil.rmtree(jd, ignore_errors=True)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        subprocess.run([b, "run", "noop_spec.yaml", "-i", "data=files", "-o", "out=out", "--job-dir", jd,
                        "--progress", "none", "--mini_batch_size", "10", "--process_count_per_node", "2",
                        "--start-method", "fork"], cwd=tmp, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=dict(os.environ, PARALLELRUN_PYTHON="/usr/bin/python3"))
        wall = time.time() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res[b].setdefault("wall", []).append(wall)
        res[b].setdefault("cpu", []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        for line in open(os.path.join(jd, "logs/sys/node/0/_main.txt")):
            for k, pat in keys:
                if pat in line:
                    res[b].setdefault(k, []).append(stamp(line) - t0)
base = statistics.median(res["python"]["wall"])
print("python -c pass %.1f ms wall, %.1f ms cpu" % (base * 1e3, statistics.median(res["python"]["cpu"]) * 1e3))
names = [k for k, _ in keys] + ["wall", "cpu"]
print("%-14s" % "event" + "".join("%14s" % os.path.basename(os.path.dirname(b)) [:13] for b in bins))
for k in names:
    print("%-14s" % k + "".join("%14s" % ("%.1f" % (statistics.median(res[b][k]) * 1e3) if res[b].get(k) else "-") for b in bins))
spans = [("launch→role", None, "role"), ("role→zygote ready", "role", "zyg_ready"),
         ("ready→p0 started", "zyg_ready", "p0_started"), ("p0 started→init", "p0_started", "p0_init"),
         ("p0 init→over", "p0_init", "over")]
print("medians of each run's span (ms):")
for name, a, z in spans:
    row = []
    for b in bins:
        r = res[b]
        n = min(len(r.get(z, [])), len(r.get(a, [])) if a else len(r.get(z, [])))
        d = [r[z][i] - (r[a][i] if a else 0) for i in range(n)]
        row.append("%14s" % ("%.1f" % (statistics.median(d) * 1e3) if d else "-"))
    print("%-22s" % name + "".join(row))
for b in bins:
    print(b, "wall/python = %.2f" % (statistics.median(res[b]["wall"]) / base))
print("load average %.1f %.1f %.1f" % os.getloadavg())
shutil.rmtree(tmp, ignore_errors=True)
