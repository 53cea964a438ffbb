// The node's GPUs and which worker holds which (reference §3.7): each worker
// process gets one GPU, as its CUDA_VISIBLE_DEVICES, while GPUs are free;
// a worker started when none is free gets none and its CUDA_VISIBLE_DEVICES
// is left as the worker inherited it (the original sets no variable then);
// the GPU of a worker that ended (or was replaced) goes to the next worker
// started. Example (the original's): 2 GPUs, 4 workers → process000 0,
// process001 1, process002 and process003 none; process004, replacing
// process000, gets 0.
//
// Which GPUs there are (FindGpus), in this order:
//   - CUDA_VISIBLE_DEVICES, when the launcher set it: its entries (indices
//     or UUIDs), one per worker; set but empty (or -1) means none;
//   - AZ_BATCHAI_GPU_COUNT_FOUND=n, the original's variable: 0 … n-1;
//   - `nvidia-smi -L` on PATH: the index of each "GPU <i>: …" line;
//   - otherwise none.
#ifndef PARALLELRUN_NODE_GPU_SLOTS_H_
#define PARALLELRUN_NODE_GPU_SLOTS_H_

#include <optional>
#include <string>
#include <vector>

namespace parallelrun {

// GpuSlots is pure (no processes, no environment): the allocator alone.
class GpuSlots {
 public:
  // `devices` in the order they are handed out (lowest first).
  explicit GpuSlots(std::vector<std::string> devices) : devices_(std::move(devices)),
                                                        holders_(devices_.size()) {}

  // The first free device, now held by `holder`; nullopt when none is free.
  std::optional<std::string> Acquire(const std::string& holder);
  // `holder` no longer needs its device (if it had one).
  void Release(const std::string& holder);

  size_t size() const { return devices_.size(); }
  size_t free() const;

 private:
  std::vector<std::string> devices_;
  std::vector<std::string> holders_;  // "" = free
};

struct GpuList {
  std::vector<std::string> devices;  // CUDA_VISIBLE_DEVICES values, one per GPU
  std::string source;  // where they come from, for the log: "nvidia-smi -L", …
  std::string note;    // a problem finding them (nvidia-smi failed), or ""
};

// The "GPU <i>: …" lines of `nvidia-smi -L`'s output: their indices, in order.
std::vector<std::string> ParseNvidiaSmiList(const std::string& text);

// The GPUs of this machine, by the rules above, from `env` ("KEY=value", the
// launcher's environment; PATH is searched for nvidia-smi). Runs nvidia-smi
// (bounded by a deadline); call before the event loop starts.
GpuList FindGpus(const std::vector<std::string>& env);

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_GPU_SLOTS_H_
