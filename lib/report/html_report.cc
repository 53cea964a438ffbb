#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/text.h"
#include "report/progress.h"

namespace parallelrun {

namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kWidth = 760, kHeight = 260, kLeft = 64, kRight = 150, kTop = 30, kBottom = 40;

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
  bool dots = false;                              // a scatter, not a line
};

std::string Num(double v) {
  if (std::fabs(v) >= 1000) return fmt::format("{:.0f}", v);
  if (std::fabs(v) >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

// An SVG chart of `series` over a shared x axis; x in seconds since the start.
std::string Chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<Series>& series, double y_min = 0) {
  double x0 = 1e300, x1 = -1e300, y0 = y_min, y1 = -1e300;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (x0 > x1) return "<p class=\"none\">" + HtmlEscape(title) + ": no data.</p>\n";
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const int w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * w; };
  auto py = [&](double y) { return kTop + h - (y - y0) / (y1 - y0) * h; };
  std::string svg = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n"
      "<text x=\"{}\" y=\"18\" class=\"title\">{}</text>\n",
      kWidth, kHeight, kWidth, kHeight, HtmlEscape(title), kLeft, HtmlEscape(title));
  for (int i = 0; i <= 4; i++) {
    double y = y0 + (y1 - y0) * i / 4, x = x0 + (x1 - x0) * i / 4;
    svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>\n",
                       kLeft, kLeft + w, py(y), py(y), kLeft - 6, py(y) + 4, Num(y));
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>\n",
                       px(x), kTop + h + 16, Num(x));
  }
  svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"axis\"/>"
                     "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"axis\"/>\n",
                     kLeft, kLeft + w, kTop + h, kTop + h, kLeft, kLeft, kTop, kTop + h);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>\n",
                     kLeft + w / 2, kHeight - 6, HtmlEscape(x_label));
  svg += fmt::format("<text x=\"14\" y=\"{}\" class=\"tick\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 14 {})\">{}</text>\n",
                     kTop + h / 2, kTop + h / 2, HtmlEscape(y_label));
  for (size_t i = 0; i < series.size(); i++) {
    const Series& s = series[i];
    const char* color = kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
    if (s.dots) {
      for (const auto& [x, y] : s.points) {
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", px(x), py(y), color);
      }
    } else {
      std::string d;
      for (const auto& [x, y] : s.points) {
        d += fmt::format("{}{:.1f},{:.1f}", d.empty() ? "M" : " L", px(x), py(y));
      }
      svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>", d, color);
    }
    svg += fmt::format("\n<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>\n",
                       kLeft + w + 12, kTop + 18 * static_cast<int>(i), color, kLeft + w + 28,
                       kTop + 18 * static_cast<int>(i) + 10, HtmlEscape(s.name));
  }
  return svg + "</svg>\n";
}

// Vertical bars, one per label.
std::string Bars(const std::string& title, const std::string& y_label,
                 const std::vector<std::pair<std::string, double>>& bars, double reference = -1,
                 const std::string& reference_label = "") {
  if (bars.empty()) return "<p class=\"none\">" + HtmlEscape(title) + ": no data.</p>\n";
  double top = reference;
  for (const auto& b : bars) top = std::max(top, b.second);
  if (top <= 0) top = 1;
  const int w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  double slot = static_cast<double>(w) / static_cast<double>(bars.size());
  std::string svg = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n"
      "<text x=\"{}\" y=\"18\" class=\"title\">{}</text>\n",
      kWidth, kHeight, kWidth, kHeight, HtmlEscape(title), kLeft, HtmlEscape(title));
  for (int i = 0; i <= 4; i++) {
    double y = top * i / 4;
    double yy = kTop + h - y / top * h;
    svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>\n",
                       kLeft, kLeft + w, yy, yy, kLeft - 6, yy + 4, Num(y));
  }
  for (size_t i = 0; i < bars.size(); i++) {
    double bh = bars[i].second / top * h;
    double x = kLeft + slot * static_cast<double>(i);
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                       "fill=\"{}\"><title>{}: {}</title></rect>\n",
                       x + slot * 0.1, kTop + h - bh, slot * 0.8, bh, kPalette[0],
                       HtmlEscape(bars[i].first), Num(bars[i].second));
    if (bars.size() <= 24) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>\n",
                         x + slot / 2, kTop + h + 16, HtmlEscape(bars[i].first));
    }
  }
  if (reference > 0) {
    double yy = kTop + h - reference / top * h;
    svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"ref\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" class=\"tick\">{}</text>\n",
                       kLeft, kLeft + w, yy, yy, kLeft + w + 6, yy + 4, HtmlEscape(reference_label));
  }
  svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" class=\"axis\"/>\n", kLeft,
                     kLeft + w, kTop + h, kTop + h);
  svg += fmt::format("<text x=\"14\" y=\"{}\" class=\"tick\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 14 {})\">{}</text>\n",
                     kTop + h / 2, kTop + h / 2, HtmlEscape(y_label));
  return svg + "</svg>\n";
}

std::string Row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string out = "<tr>";
  for (const auto& c : cells) out += fmt::format("<{}>{}</{}>", tag, HtmlEscape(c), tag);
  return out + "</tr>\n";
}

constexpr const char* kStyle = R"(<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}
svg.chart{display:block;margin:8px 0;background:#fcfcfc;border:1px solid #e5e5e5}
.title{font-size:13px;font-weight:600}.tick{font-size:11px;fill:#444}
.grid{stroke:#e3e3e3}.axis{stroke:#555}.ref{stroke:#d62728;stroke-dasharray:5,4}
.none{color:#777;font-style:italic}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;font-size:12px}
</style>
)";

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string HtmlReport(const JobReports& r) {
  const auto& rows = r.attempts;
  double t0 = 1e300, t1 = 0;
  for (const auto& a : rows) {
    t0 = std::min(t0, a.start);
    t1 = std::max(t1, a.end());
  }
  if (rows.empty()) t0 = t1 = 0;

  // Each mini-batch's fate: its last attempt (rows are in finishing order).
  std::map<uint64_t, const AttemptRow*> last;
  for (const auto& a : rows) {
    auto& l = last[a.id];
    if (!l || a.attempt >= l->attempt) l = &a;
  }
  uint64_t done = 0, failed = 0, items = 0, items_ok = 0, retried = 0;
  std::set<uint64_t> retried_ids;
  for (const auto& a : rows) if (a.attempt > 1) retried_ids.insert(a.id);
  retried = retried_ids.size();
  for (const auto& [id, a] : last) {
    (a->ok() ? done : failed)++;
    items += a->total;
    items_ok += a->ok() ? a->succeeded : 0;
  }
  double wall = t1 - t0;

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                     "<title>parallelrun report: " + HtmlEscape(Printable(r.job_dir)) +
                     "</title>\n" + kStyle + "</head><body>\n";
  html += "<h1>parallelrun job report</h1>\n<p>Job dir: <code>" + HtmlEscape(Printable(r.job_dir)) +
          "</code></p>\n";
  if (!r.result.empty()) {
    // Line by line: Printable() would show the newlines as "\n".
    std::string text;
    size_t start = 0;
    while (start < r.result.size() && text.size() < 4000) {
      size_t end = r.result.find('\n', start);
      if (end == std::string::npos) end = r.result.size();
      text += Printable(r.result.substr(start, end - start)) + "\n";
      start = end + 1;
    }
    html += "<pre id=\"result\">" + HtmlEscape(text) + "</pre>\n";
  }
  html += "<h2 id=\"summary\">Summary</h2>\n<table>\n";
  html += Row({"", "mini-batches", "items"}, "th");
  html += Row({"processed", std::to_string(last.size()), std::to_string(items)});
  html += Row({"succeeded", std::to_string(done), std::to_string(items_ok)});
  html += Row({"failed", std::to_string(failed), std::to_string(items - items_ok)});
  html += Row({"retried", std::to_string(retried), ""});
  html += Row({"attempts", std::to_string(rows.size()), ""});
  html += Row({"elapsed", Progress::Duration(wall), ""});
  html += Row({"throughput", wall > 0 ? fmt::format("{:.2f}/s", last.size() / wall) : "",
               wall > 0 ? fmt::format("{:.2f}/s", items / wall) : ""});
  html += "</table>\n";

  // Progress: mini-batches finished (for good) over time, per node and all.
  html += "<h2 id=\"progress\">Progress over time</h2>\n";
  {
    std::map<uint32_t, std::vector<double>> ends;
    std::vector<double> all;
    for (const auto& [id, a] : last) {
      ends[a->node].push_back(a->end() - t0);
      all.push_back(a->end() - t0);
    }
    std::vector<Series> series;
    auto cumulative = [](std::string name, std::vector<double> v) {
      std::sort(v.begin(), v.end());
      Series s{std::move(name), {{0, 0}}};
      for (size_t i = 0; i < v.size(); i++) s.points.emplace_back(v[i], static_cast<double>(i + 1));
      return s;
    };
    if (ends.size() > 1) series.push_back(cumulative("all nodes", all));
    for (auto& [node, v] : ends) series.push_back(cumulative("node " + std::to_string(node), v));
    html += Chart("Mini-batches finished", "seconds since the first mini-batch started",
                  "mini-batches", series);
  }

  // Throughput: items finished per time bin.
  html += "<h2 id=\"throughput\">Throughput</h2>\n";
  {
    int bins = static_cast<int>(std::min<double>(40, std::max<double>(1, rows.size() / 2.0)));
    double width = wall > 0 ? wall / bins : 1;
    std::vector<double> per(static_cast<size_t>(bins), 0);
    for (const auto& a : rows) {
      if (!a.ok()) continue;
      int b = std::min(bins - 1, static_cast<int>((a.end() - t0) / width));
      per[static_cast<size_t>(std::max(0, b))] += static_cast<double>(a.succeeded);
    }
    Series s{"items/s", {}};
    for (int b = 0; b < bins; b++) s.points.emplace_back((b + 0.5) * width, per[static_cast<size_t>(b)] / width);
    html += Chart(fmt::format("Items succeeded per second (bins of {:.3g} s)", width),
                  "seconds since the first mini-batch started", "items/s", {s});
  }

  // Busy ratio per process.
  html += "<h2 id=\"busy\">Busy ratio per process</h2>\n<p>Process Seconds / Elapsed Seconds of "
          "each worker process's mini-batches: CPU time over wall time. The tuning guide keeps "
          "it below ~70 % per core for CPU-bound work; far lower means run() waits (I/O, "
          "network).</p>\n";
  {
    std::vector<std::pair<std::string, double>> bars;
    std::string table = "<table>\n" + Row({"node", "process", "attempts", "items", "elapsed s",
                                           "process s", "busy", "init s", "exit"}, "th");
    for (const auto& p : r.processes) {
      double busy = p.elapsed > 0 ? p.cpu / p.elapsed : 0;
      if (p.attempts > 0) bars.emplace_back(fmt::format("{}/{}", p.node, ProcessNumber(p.process)), busy * 100);
      table += Row({std::to_string(p.node), p.process, std::to_string(p.attempts),
                    std::to_string(p.items), Num(p.elapsed), Num(p.cpu),
                    fmt::format("{:.0f} %", busy * 100), Num(p.init_seconds), p.exit});
    }
    html += Bars("Busy ratio (%) per process (node/process)", "%", bars, 70, "70 %");
    html += table + "</table>\n";
  }

  // Durations: histogram and over time.
  html += "<h2 id=\"durations\">Mini-batch durations</h2>\n";
  {
    std::vector<double> d;
    for (const auto& a : rows) d.push_back(a.elapsed);
    std::sort(d.begin(), d.end());
    std::vector<std::pair<std::string, double>> hist;
    if (!d.empty()) {
      double lo = d.front(), hi = d.back();
      int bins = hi > lo ? 20 : 1;
      double width = hi > lo ? (hi - lo) / bins : 1;
      std::vector<double> counts(static_cast<size_t>(bins), 0);
      for (double v : d) counts[static_cast<size_t>(std::min(bins - 1, static_cast<int>((v - lo) / width)))]++;
      for (int b = 0; b < bins; b++) hist.emplace_back(Num(lo + width * b), counts[static_cast<size_t>(b)]);
    }
    html += Bars("Histogram of Elapsed Seconds (bin start, s)", "attempts", hist);
    // Trend: each attempt by its start, and the running median of 9.
    Series dots{"attempts", {}, true}, trend{"running median", {}};
    std::vector<const AttemptRow*> by_start;
    for (const auto& a : rows) by_start.push_back(&a);
    std::sort(by_start.begin(), by_start.end(), [](auto x, auto y) { return x->start < y->start; });
    for (size_t i = 0; i < by_start.size(); i++) {
      dots.points.emplace_back(by_start[i]->start - t0, by_start[i]->elapsed);
      size_t from = i >= 4 ? i - 4 : 0, to = std::min(by_start.size(), i + 5);
      std::vector<double> window;
      for (size_t j = from; j < to; j++) window.push_back(by_start[j]->elapsed);
      std::sort(window.begin(), window.end());
      trend.points.emplace_back(by_start[i]->start - t0, window[window.size() / 2]);
    }
    html += Chart("Elapsed Seconds over the job (degradation check: the line should stay flat)",
                  "start, seconds since the first mini-batch started", "seconds", {dots, trend});
  }

  // Statuses and failures.
  html += "<h2 id=\"failures\">Statuses and failures</h2>\n";
  {
    std::map<std::string, uint64_t> statuses;
    struct Group { uint64_t attempts = 0; std::set<uint64_t> ids; };
    std::map<std::pair<std::string, std::string>, Group> groups;
    for (const auto& a : rows) {
      statuses[a.status]++;
      if (a.ok()) continue;
      Group& g = groups[{a.status, Printable(a.message)}];
      g.attempts++;
      g.ids.insert(a.id);
    }
    html += "<table>\n" + Row({"status", "attempts"}, "th");
    for (const auto& [s, n] : statuses) html += Row({s, std::to_string(n)});
    html += "</table>\n";
    if (groups.empty()) {
      html += "<p class=\"none\">No attempt failed.</p>\n";
    } else {
      html += "<table>\n" + Row({"status", "message", "attempts", "mini-batches", "first ids"}, "th");
      for (const auto& [key, g] : groups) {
        std::string ids;
        int n = 0;
        for (uint64_t id : g.ids) {
          if (n++ == 5) { ids += ", …"; break; }
          ids += (ids.empty() ? "" : ", ") + std::to_string(id);
        }
        html += Row({key.first, key.second, std::to_string(g.attempts), std::to_string(g.ids.size()), ids});
      }
      html += "</table>\n";
    }
  }

  html += "<h2 id=\"slowest\">Slowest mini-batches</h2>\n";
  {
    std::vector<const AttemptRow*> slow;
    for (const auto& a : rows) slow.push_back(&a);
    std::sort(slow.begin(), slow.end(), [](auto x, auto y) { return x->elapsed > y->elapsed; });
    if (slow.size() > 10) slow.resize(10);
    html += "<table>\n" + Row({"mini-batch", "attempt", "node", "process", "items", "elapsed s",
                               "run() s", "process s", "status"}, "th");
    for (const AttemptRow* a : slow) {
      html += Row({std::to_string(a->id), std::to_string(a->attempt), std::to_string(a->node),
                   a->process, std::to_string(a->total), Num(a->elapsed), Num(a->run), Num(a->cpu),
                   a->status});
    }
    html += "</table>\n";
  }

  html += "<h2 id=\"resources\">CPU and memory</h2>\n";
  if (r.perf.empty()) {
    html += "<p class=\"none\">Not measured: the job dir has no "
            "logs/sys/perf/&lt;node&gt;/node_resource_usage.csv.</p>\n";
  } else {
    double p0 = 1e300;
    for (const auto& [node, samples] : r.perf) for (const auto& s : samples) p0 = std::min(p0, s.time);
    std::vector<Series> cpu, mem;
    for (const auto& [node, samples] : r.perf) {
      Series c{"node " + std::to_string(node), {}}, m{"node " + std::to_string(node), {}};
      for (const auto& s : samples) {
        c.points.emplace_back(s.time - p0, s.cpu_percent);
        m.points.emplace_back(s.time - p0, s.memory_used_mb);
      }
      cpu.push_back(std::move(c));
      mem.push_back(std::move(m));
    }
    html += Chart("CPU percent per node", "seconds since the first sample", "%", cpu);
    html += Chart("Memory used (MB) per node", "seconds since the first sample", "MB", mem);
  }

  html += "<h2 id=\"profile\">Profile</h2>\n";
  if (r.profiles.empty()) {
    html += "<p class=\"none\">No profiles: the job dir has no *.prof or *.profile files under logs/ (profiling_module).</p>\n";
  } else {
    if (r.profile_top.empty()) {
      html += "<p>The profiles have no top lists (*.profile.top.tsv) beside them; see the top "
              "functions with <code>python3 -m pstats FILE</code> (then <code>sort tottime</code>, "
              "<code>stats 20</code>).</p>\n";
    } else {
      double total = 0;
      for (const auto& f : r.profile_top) total += f.own_seconds;
      html += "<p>Functions with the most own time (pstats' <code>tottime</code>), summed over "
              "the workers' profiles; each worker lists its 40 first. Load one in pstats or "
              "snakeviz for the callers.</p>\n<table>\n" +
              Row({"function", "file:line", "calls", "own s", "share", "cumulative s", "workers"},
                  "th");
      size_t shown = 0;
      for (const auto& f : r.profile_top) {
        if (shown++ == 20) break;
        html += Row({Printable(f.function), Printable(f.file) + ":" + std::to_string(f.line),
                     std::to_string(f.calls), Num(f.own_seconds),
                     total > 0 ? fmt::format("{:.1f} %", 100 * f.own_seconds / total) : "",
                     Num(f.cumulative_seconds), std::to_string(f.workers)});
      }
      html += "</table>\n";
    }
    html += "<p>The profiles (cProfile's format: <code>python3 -m pstats FILE</code>):</p>\n<ul>\n";
    for (const auto& p : r.profiles) html += "<li><code>" + HtmlEscape(Printable(p)) + "</code></li>\n";
    html += "</ul>\n";
  }
  html += "<p class=\"none\">Timeline: open logs/sys/trace.json in https://ui.perfetto.dev or "
          "chrome://tracing.</p>\n</body></html>\n";
  return html;
}

Status WriteHtmlReport(const std::string& job_dir, const std::string& path) {
  auto reports = ReadJobReports(job_dir);
  if (!reports.ok()) return reports.status();
  Status s = WriteFileAtomically(path, HtmlReport(reports.value()), Durability::kProcessCrash);
  if (!s.ok()) return Status::Usage("cannot write the report " + s.message());
  return Status::Ok();
}

}  // namespace parallelrun
