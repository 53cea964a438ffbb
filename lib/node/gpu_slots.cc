#include "node/gpu_slots.h"

#include <unistd.h>

#include <chrono>
#include <regex>

#include <fmt/format.h>

#include "node/supervised_process.h"

namespace parallelrun {

namespace {

std::optional<std::string> GetEnv(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& kv : env) {
    if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=') {
      return kv.substr(name.size() + 1);
    }
    if (kv == name + "=") return std::string();
  }
  return std::nullopt;
}

std::string SearchPath(const std::string& name, const std::string& path_var) {
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t end = path_var.find(':', start);
    if (end == std::string::npos) end = path_var.size();
    std::string dir = path_var.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") + 1 - b);
}

}  // namespace

std::optional<std::string> GpuSlots::Acquire(const std::string& holder) {
  for (size_t i = 0; i < devices_.size(); i++) {
    if (holders_[i].empty()) {
      holders_[i] = holder;
      return devices_[i];
    }
  }
  return std::nullopt;
}

void GpuSlots::Release(const std::string& holder) {
  for (auto& h : holders_) {
    if (h == holder) h.clear();
  }
}

size_t GpuSlots::free() const {
  size_t n = 0;
  for (const auto& h : holders_) n += h.empty() ? 1 : 0;
  return n;
}

std::vector<std::string> ParseNvidiaSmiList(const std::string& text) {
  // "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-…)"; MIG devices are indented
  // lines under their GPU and are not GPUs of their own here.
  static const std::regex kLine(R"(^GPU (\d+):)");
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    std::smatch m;
    if (std::regex_search(line, m, kLine)) out.push_back(m[1]);
    start = end + 1;
  }
  return out;
}

GpuList FindGpus(const std::vector<std::string>& env) {
  GpuList list;
  if (auto cvd = GetEnv(env, "CUDA_VISIBLE_DEVICES")) {
    list.source = "CUDA_VISIBLE_DEVICES=" + *cvd;
    std::string v = Trim(*cvd);
    // "-1" (or any negative index) hides every GPU from CUDA.
    if (v.empty() || v[0] == '-') return list;
    size_t start = 0;
    while (start <= v.size()) {
      size_t end = v.find(',', start);
      if (end == std::string::npos) end = v.size();
      std::string d = Trim(v.substr(start, end - start));
      if (!d.empty()) list.devices.push_back(d);
      start = end + 1;
    }
    return list;
  }
  if (auto count = GetEnv(env, "AZ_BATCHAI_GPU_COUNT_FOUND")) {
    list.source = "AZ_BATCHAI_GPU_COUNT_FOUND=" + *count;
    char* end = nullptr;
    long n = strtol(count->c_str(), &end, 10);
    if (count->empty() || *end != '\0' || n < 0 || n > 4096) {
      list.note = fmt::format("AZ_BATCHAI_GPU_COUNT_FOUND '{}' is not a count of GPUs; no GPU "
                              "is given to the workers", *count);
      return list;
    }
    for (long i = 0; i < n; i++) list.devices.push_back(std::to_string(i));
    return list;
  }
  std::string smi = SearchPath("nvidia-smi", GetEnv(env, "PATH").value_or(""));
  if (smi.empty()) return list;
  list.source = smi + " -L";
  int code = 0;
  std::string err;
  auto out = RunToCompletion(smi, {"-L"}, env, &code, &err, std::chrono::seconds(30),
                             "30 s (nvidia-smi -L)");
  if (!out.ok()) {
    list.note = fmt::format("{} -L failed: {}; no GPU is given to the workers", smi,
                            out.status().message());
  } else if (code != 0) {
    list.note = fmt::format("{} -L exited with {}{}; no GPU is given to the workers", smi, code,
                            Trim(err).empty() ? "" : ": " + Trim(err).substr(0, 300));
  } else {
    list.devices = ParseNvidiaSmiList(*out);
  }
  return list;
}

}  // namespace parallelrun
