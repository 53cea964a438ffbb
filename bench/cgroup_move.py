#!/usr/bin/python3
"""How long a move into a cgroup takes, cold and right after another move (§7e).

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's
cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period unless
another move took it moments before (cgroup2 without favordynmods). Prints the
cost of a second move after a first one, by the gap between them. Needs a
writable cgroup2 hierarchy (root, or a delegated cgroup).

  /usr/bin/python3 bench/cgroup_move.py
"""
import os
import subprocess
import time


def main():
    mount = next(line.split()[4] for line in open("/proc/self/mountinfo")
                 if " - cgroup2 " in line)
    own = open("/proc/self/cgroup").read().split("0::")[1].split("\n")[0]
    root = mount + ("" if own == "/" else own) + "/prbench-cgroup-move-%d" % os.getpid()
    os.makedirs(root + "/a")
    os.makedirs(root + "/b")
    child = subprocess.Popen(["sleep", "60"])

    def move(to):
        t0 = time.perf_counter()
        with open(root + "/" + to + "/cgroup.procs", "w") as f:
            f.write(str(child.pid))
        return (time.perf_counter() - t0) * 1e3

    try:
        for gap in (0, 0.002, 0.005, 0.010, 0.020, 0.040, 0.100):
            costs = []
            for _ in range(5):
                time.sleep(0.2)
                move("a")
                time.sleep(gap)
                costs.append(move("b"))
            print("gap %5.1f ms: second move %s ms" % (gap * 1e3, " ".join("%.1f" % c for c in costs)))
    finally:
        child.kill()
        child.wait()
        time.sleep(0.05)
        os.rmdir(root + "/a")
        os.rmdir(root + "/b")
        os.rmdir(root)


if __name__ == "__main__":
    main()
