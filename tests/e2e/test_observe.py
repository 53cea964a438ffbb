"""Seeing and tuning a job: the timeline (logs/sys/trace.json), `parallelrun
report` (one self-contained HTML page, also rendered in headless Chromium when
the machine has it), `parallelrun tune`, the live line on a terminal (a pty of
80 columns, then resized) and the summary at the end, checked against the
CSVs."""

import csv
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import termios
import fcntl
import time
import unittest
import zlib

import helpers
from helpers import E2ETestCase, PYTHON

SLEEPY_SCRIPT = """
    import time

    def init():
        pass

    def run(mini_batch):
        time.sleep(0.05)
        return list(mini_batch)
    """


def last_rows(rows):
    """{mini-batch id: its row with the highest Picked Count}."""
    last = {}
    for r in rows:
        i = int(r["Mini-batch Id"])
        if i not in last or int(r["Picked Count"]) >= int(last[i]["Picked Count"]):
            last[i] = r
    return last


def png_pixels(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG,
    read with zlib: just enough of the format for a screenshot."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        prev = line
    return width, height, rows


class Screen:
    """A terminal of `width` columns, enough of one for a progress line: text,
    CR, LF, ESC [ K (clear to the end of the line) and wrapping at the edge."""

    def __init__(self, width):
        self.width = width
        self.lines = [""]
        self.col = 0
        self.wrapped = 0

    def feed(self, text):
        i = 0
        while i < len(text):
            ch = text[i]
            if text.startswith("\x1b[K", i):
                self.lines[-1] = self.lines[-1][:self.col]
                i += 3
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.lines.append("")
                self.col = 0
            else:
                if self.col >= self.width:  # the terminal wraps
                    self.wrapped += 1
                    self.lines.append("")
                    self.col = 0
                line = self.lines[-1].ljust(self.col)
                self.lines[-1] = line[:self.col] + ch + line[self.col + 1:]
                self.col += 1
            i += 1


class ObserveTest(E2ETestCase):

    def small_job(self, files=12, script=SLEEPY_SCRIPT, *args):
        self.write("score.py", script)
        self.make_files(self.tmp / "data", ["f%02d.txt" % i for i in range(files)])
        spec = self.component_spec(entry="score.py")
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--mini_batch_size", "2",
                           "--process_count_per_node", "2", *args)
        return run

    def failing_job(self):
        """5 mini-batches of 20 files, 2 of them with a bad item; 3 tries."""
        items = {}
        for i in range(100):
            items["f%03d.txt" % i] = "raise" if i in (5, 47) else "ok"
        spec = self.faulty_job(items)
        run = self.run_job(spec, "-i", "data=in", "-o", "out=out", "--mini_batch_size", "20",
                           "--process_count_per_node", "2", "--run_max_try", "3",
                           "--error_threshold", "-1",
                           env={"FAULTY_STATE": str(self.state)})
        return run

    # ---- the timeline -------------------------------------------------------

    def test_trace_has_one_slice_per_attempt(self):
        run = self.failing_job()
        self.assertExit(run, 0)
        rows = self.mini_batch_rows()
        trace = json.loads((self.logs() / "sys" / "trace.json").read_text())
        events = trace["traceEvents"]
        for e in events:
            self.assertIn(e["ph"], ("X", "M"), e)
            self.assertIsInstance(e["pid"], int)
            self.assertIsInstance(e["tid"], int)
            if e["ph"] == "X":
                self.assertGreaterEqual(e["ts"], 0, e)
                self.assertGreater(e["dur"], 0, e)
        slices = sorted((e["args"]["mini_batch"], e["args"]["attempt"], e["args"]["status"],
                         e["args"]["items"], e["pid"], e["tid"])
                        for e in events if e["ph"] == "X" and e.get("cat") == "mini-batch")
        expected = sorted((int(r["Mini-batch Id"]), int(r["Picked Count"]), r["Status"],
                           int(r["Total"]), int(r["Node"]), int(r["Process"][len("process"):]))
                          for r in rows)
        self.assertEqual(slices, expected)
        # Every worker track is named, and has its life, init() and shutdown.
        names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
                 if e["ph"] == "M" and e["name"] == "thread_name"}
        for r in rows:
            self.assertEqual(names[(0, int(r["Process"][7:]))], r["Process"])
        workers = [e for e in events if e.get("cat") == "worker"]
        self.assertLessEqual({"start and init()", "shutdown"} |
                             {"worker " + r["Process"] for r in rows},
                             {e["name"] for e in workers})
        self.assertLogsAsReadmeSays()

    # ---- report ---------------------------------------------------------------

    def test_report_is_one_self_contained_page(self):
        run = self.failing_job()
        self.assertExit(run, 0)
        report = self.run_parallelrun("report", self.job_dir)
        self.assertExit(report, 0)
        page = self.job_dir / "report.html"
        self.assertEqual(report.stdout, "parallelrun: report written to %s\n" % page)
        html = page.read_text()
        for banned in ("<script", "src=", "href=", "url(", "@import"):
            self.assertNotIn(banned, html)
        for section in ("summary", "progress", "throughput", "busy", "durations", "failures",
                        "slowest", "resources", "profile"):
            self.assertIn('<h2 id="%s">' % section, html)
        rows = self.mini_batch_rows()
        last = last_rows(rows)
        ok = [r for r in last.values() if r["Status"] == "RUN_DONE"]
        self.assertIn("<tr><td>succeeded</td><td>%d</td><td>%d</td></tr>"
                      % (len(ok), sum(int(r["Succeeded"]) for r in ok)), html)
        self.assertIn("<tr><td>failed</td><td>2</td><td>40</td></tr>", html)
        self.assertIn("<tr><td>attempts</td><td>%d</td>" % len(rows), html)
        # Failures grouped by message: each bad item's message, 3 attempts of 1 mini-batch.
        for name in ("f005.txt", "f047.txt"):
            self.assertIn("<td>RUN_EXCEPTION</td><td>ValueError: bad item %s</td><td>3</td>"
                          "<td>1</td>" % name, html)
        # The resource monitor's start and end samples (logs/sys/perf) are drawn.
        self.assertIn("CPU percent per node", html)
        self.assertGreaterEqual(html.count("<svg"), 5)

    def test_report_draws_cpu_and_memory_from_perf_files(self):
        run = self.small_job()
        self.assertExit(run, 0)
        perf = self.logs() / "sys" / "perf" / "0"
        perf.mkdir(parents=True, exist_ok=True)
        columns = ["Utc Time", "Cpu Percent", "Memory Total (MB)", "Memory Available (MB)",
                   "Memory Used (MB)", "Memory Used Percent", "Disk Io Read Count",
                   "Disk Io Write Count", "Disk Io Read (MB)", "Disk Io Write (MB)",
                   "Network Sent (MB)", "Network Recv (MB)", "# of TCP Connections",
                   "# of UDP Connections"]
        with open(perf / "node_resource_usage.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for i in range(5):
                w.writerow(["2026-12-01T00:00:%02d.000000" % i, 10 * i, 8000, 6000 - i,
                            2000 + i, 25 + i] + [0] * 8)
        out = self.tmp / "r.html"
        self.assertExit(self.run_parallelrun("report", self.job_dir, "-o", out), 0)
        html = out.read_text()
        self.assertNotIn("Not measured", html)
        self.assertIn("CPU percent per node", html)
        self.assertIn("Memory used (MB) per node", html)

    def test_report_of_a_folder_that_is_no_job(self):
        run = self.run_parallelrun("report", self.tmp / "nothing")
        self.assertExit(run, 2)
        self.assertRegex(run.stderr, r"^parallelrun: error: \S+/nothing does not look like a "
                                     r"parallelrun job dir: cannot read \S+processed_mini-batches"
                                     r"\.csv: No such file or directory\n$")

    def test_report_renders_in_headless_chromium(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            self.skipTest("SKIPPED: no chromium on this machine (scripts/install-deps installs "
                          "Debian's package chromium)")
        run = self.failing_job()
        self.assertExit(run, 0)
        self.assertExit(self.run_parallelrun("report", self.job_dir), 0)
        shot = self.tmp / "shot.png"
        profile = self.tmp / "chromium-profile"
        proc = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--user-data-dir=%s" % profile, "--screenshot=%s" % shot, "--window-size=1000,1400",
             "file://%s" % (self.job_dir / "report.html")],
            capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertTrue(shot.is_file(), proc.stderr.decode(errors="replace")[-2000:])
        width, height, rows = png_pixels(shot)
        self.assertEqual((width, height), (1000, 1400))
        white = (255, 255, 255)
        non_white = sum(1 for row in rows for px in row if px != white)
        colours = {px for row in rows[::4] for px in row[::4]}
        # Text alone gives grey shades; the charts add the palette's colours.
        self.assertGreater(non_white, width * height // 50, "the screenshot is nearly blank")
        palette = [(0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e)]
        self.assertTrue(any(px in colours for px in palette), "no chart colour on the page")
        self.assertGreater(len(colours), 20)

    # ---- tune -----------------------------------------------------------------

    def test_tune_suggests_settings_with_reasons(self):
        run = self.small_job(24)
        self.assertExit(run, 0)
        tune = self.run_parallelrun("tune", self.job_dir)
        self.assertExit(tune, 0)
        out = tune.stdout
        rows = self.mini_batch_rows()
        self.assertRegex(out, r"^Measured: %d attempts of 12 mini-batches \(24 items, 2\.0 per "
                              r"mini-batch\) on 1 node\(s\), 2 processes, in \d+\.\d s\.\n"
                         % len(rows))
        self.assertIn("  settings: mini_batch_size 2, process_count_per_node 2, "
                      "run_invocation_timeout 60; this machine: %d cores" % os.cpu_count(), out)
        # 0.05-s mini-batches are far below the guide's 10 s.
        m = re.search(r"^- mini_batch_size: 2 → (\d+)\n    why: a mini-batch takes \S+ m?s "
                      r"\(median\)", out, re.M)
        self.assertIsNotNone(m, out)
        self.assertGreater(int(m.group(1)), 2)
        self.assertIn("- node_count: ", out)
        # sleep() is not CPU: the processes wait.
        self.assertRegex(out, r"- process_count_per_node: 2 → \d+\n    why: Process Seconds / "
                              r"Elapsed Seconds is \d+ %")

    def test_tune_of_a_folder_that_is_no_job(self):
        run = self.run_parallelrun("tune", self.tmp)
        self.assertExit(run, 2)
        self.assertIn("does not look like a parallelrun job dir", run.stderr)

    # ---- the terminal -------------------------------------------------------

    def test_summary_agrees_with_the_csvs(self):
        run = self.failing_job()
        self.assertExit(run, 0)
        lines = run.stderr.splitlines()
        start = lines.index("parallelrun: summary            mini-batches       items")
        table = {}
        for line in lines[start + 1:]:
            m = re.match(r"^parallelrun:   (succeeded|failed|not processed|total|retried) +"
                         r"(\d+) +(\d+)$", line)
            if not m:
                break
            table[m.group(1)] = (int(m.group(2)), int(m.group(3)))
        rows = self.mini_batch_rows()
        last = last_rows(rows)
        ok = [r for r in last.values() if r["Status"] == "RUN_DONE"]
        bad = [r for r in last.values() if r["Status"] != "RUN_DONE"]
        retried = {r["Mini-batch Id"] for r in rows if int(r["Picked Count"]) > 1}
        self.assertEqual(table["succeeded"], (len(ok), sum(int(r["Succeeded"]) for r in ok)))
        self.assertEqual(table["failed"], (len(bad), sum(int(r["Failed"]) for r in last.values())))
        self.assertEqual(table["total"], (len(last), sum(int(r["Total"]) for r in last.values())))
        self.assertEqual(table["retried"], (len(retried), sum(int(last[int(i)]["Total"])
                                                              for i in retried)))
        self.assertNotIn("not processed", table)
        self.assertEqual(table["failed"], (2, 40))
        self.assertEqual(table["total"], (5, 100))
        self.assertRegex(lines[start + 5], r"^parallelrun:   attempts %d, elapsed \d:\d\d:\d\d, "
                                           r"throughput \d+\.\d\d mini-batches/s, \d+\.\d\d "
                                           r"items/s$" % len(rows))
        # Failures by kind and message, one traceback each.
        for name in ("f005.txt", "f047.txt"):
            self.assertRegex(run.stderr, r"\n- RUN_EXCEPTION ValueError: bad item %s — 1 "
                                         r"mini-batch \(3 attempts\); first: mini-batch \d+ \(\S+"
                                         % re.escape(name))
        self.assertEqual(run.stderr.count("    ValueError: bad item f0"), 2, run.stderr)
        self.assertEqual(lines[-1],
                         "parallelrun: job succeeded with 40 failed items (2 mini-batches failed "
                         "after all tries; within error_threshold -1, allowed_failed_count -1, "
                         "allowed_failed_percent 100); job dir %s" % self.job_dir)
        summary = self.summary_rows("process_summary.csv")
        self.assertEqual(sum(int(r["Attempts"]) for r in summary), len(rows))

    def run_in_pty(self, args, env, columns, on_output):
        """Runs parallelrun on a pty of `columns` columns; calls on_output(text so
        far, master fd) after each read; returns (exit code, all output)."""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.chdir(str(self.tmp))
                os.execve(self.parallelrun, [self.parallelrun] + [str(a) for a in args], env)
            finally:
                os._exit(127)
        self.addCleanup(lambda: os.path.exists("/proc/%d" % pid) and os.kill(pid, signal.SIGKILL))
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        out = b""
        deadline = time.monotonic() + helpers.RUN_TIMEOUT
        while True:
            if time.monotonic() > deadline:
                self.fail("parallelrun on a pty did not finish; output so far:\n%r" % out[-3000:])
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the pty
                    break
                if not chunk:
                    break
                out += chunk
                on_output(out.decode(errors="replace"), fd)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    def test_live_line_fits_the_terminal_and_follows_a_resize(self):
        self.copy_script("wait_for_release.py")
        self.make_files(self.tmp / "data", ["f%02d.txt" % i for i in range(8)])
        spec = self.component_spec(entry="wait_for_release.py")
        release = self.tmp / "release"
        env = dict(os.environ, PARALLELRUN_PYTHON=PYTHON, E2E_RELEASE_FILE=str(release),
                   TERM="xterm")
        # A long job dir makes the lines long.
        job = self.tmp / ("job-with-a-long-name-" + "x" * 60)
        draws = "\r\x1b[K"
        state = {"resized_at": None}

        def live_lines(text):
            """The redraws of the live line in `text` (not the lines said
            after a clear, which start with "parallelrun: ")."""
            return [s.split("\r")[0] for s in text.split(draws)[1:]
                    if s and not s.startswith("parallelrun: ")]

        def on_output(text, fd):
            if state["resized_at"] is None and len(live_lines(text)) >= 2:
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 50, 0, 0))
                state["resized_at"] = len(text)
            # Two redraws after the one that may have been on its way: release.
            if (state["resized_at"] is not None and
                    len(live_lines(text[state["resized_at"]:])) >= 3):
                release.touch()

        code, out = self.run_in_pty(
            ["run", self.tmp / "component.yaml", "-i", "data=data", "-o", "out=out",
             "--job-dir", job, "--progress", "bar", "--mini_batch_size", "1",
             "--process_count_per_node", "2"], env, 80, on_output)
        self.assertEqual(code, 0, out)
        self.assertTrue(release.exists(), out)
        # Every redraw of the live line fits in one row: at most 79 columns
        # before the resize, 49 after it (but the first, which may have been
        # drawn before it).
        before = live_lines(out[:state["resized_at"]])
        after = live_lines(out[state["resized_at"]:])
        for line in before + after:
            self.assertRegex(line, r"^(\[[#.]+\] )?\d:\d\d:\d\d \d+/(8|\d+\+ \(listing\)) "
                                   r"mini-batches")
            self.assertLessEqual(len(line), 79, line)
        self.assertGreaterEqual(len(after), 3)
        for line in after[1:]:
            self.assertLessEqual(len(line), 49, line)
        self.assertTrue(any("workers: " in line for line in before), before)
        self.assertTrue(any(len(line) > 49 for line in before), before)
        # On the screen, nothing of the live line is left, and nothing wrapped.
        screen = Screen(80)
        screen.feed(out[:state["resized_at"]].replace("\r\n", "\n"))
        screen.width = 50
        screen.feed(out[state["resized_at"]:].replace("\r\n", "\n"))
        stale = [l for l in screen.lines if re.match(r"^(\[[#.]*\] )?\d:\d\d:\d\d \d+/", l)]
        self.assertEqual(stale, [], screen.lines)
        self.assertTrue(any(l.startswith("parallelrun: job succeeded; job dir") for l in
                            screen.lines), screen.lines)


if __name__ == "__main__":
    unittest.main()
