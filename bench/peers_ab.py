#!/usr/bin/python3
"""A/B on the peers harness (/work/shared/bench/peers.py): each round runs `peers.py run
mpool`, then `peers.py run parallelrun` with each binary (PARALLELRUN), interleaved; medians
of the wall time and of the process tree's CPU. BENCH_* variables as for peers.py.

  BENCH_WORKLOAD=noop BENCH_MB=10 BENCH_PROCS=2 \
    /usr/bin/python3 bench/peers_ab.py DIR ROUNDS BIN_A BIN_B ...
"""
import resource, os, statistics, subprocess, sys, time
HERE = os.environ.get("PEERS_DIR", "/work/shared/bench")
d = sys.argv[1]; reps = int(sys.argv[2]); bins = [os.path.abspath(b) for b in sys.argv[3:]]
n = sum(len(f) for _, _, f in os.walk(d))
names = ["mpool"] + bins
times = {k: [] for k in names}
cpus = {k: [] for k in names}
print("load average %.1f %.1f %.1f" % os.getloadavg())
for _ in range(reps):
    for k in names:
        env = dict(os.environ)
        runner = "mpool"
        if k != "mpool":
            env["PARALLELRUN"] = k; runner = "parallelrun"
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "peers.py"), "run", runner, d],
                             capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        assert out.returncode == 0 and int(out.stdout.split()[-1]) == n, out.stderr[-500:]
        times[k].append(dt)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus[k].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
base = statistics.median(times["mpool"])
print("workload=%s items=%d mb=%s procs=%s reps=%d" % (os.environ.get("BENCH_WORKLOAD"), n,
      os.environ.get("BENCH_MB"), os.environ.get("BENCH_PROCS"), reps))
for k in names:
    m = statistics.median(times[k])
    print("%-40s median %.3f s  min %.3f  ratio-to-mpool %.2f  cpu median %.3f s" % (k, m, min(times[k]), m / base, statistics.median(cpus[k])))
print("load average %.1f %.1f %.1f" % os.getloadavg())
