// GpuSlots (one GPU per worker while they last, a released one to the next
// worker) and how the GPUs are found: CUDA_VISIBLE_DEVICES,
// AZ_BATCHAI_GPU_COUNT_FOUND, `nvidia-smi -L` (a fake one on PATH).
#include "node/gpu_slots.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>

#include "temp_dir.h"

namespace parallelrun {
namespace {

TEST_CASE("GpuSlots: the original's example, 2 GPUs and 4 workers", "[gpu_slots]") {
  GpuSlots slots({"0", "1"});
  CHECK(slots.Acquire("process000") == std::optional<std::string>("0"));
  CHECK(slots.Acquire("process001") == std::optional<std::string>("1"));
  CHECK(slots.Acquire("process002") == std::nullopt);
  CHECK(slots.Acquire("process003") == std::nullopt);
  CHECK(slots.free() == 0);
  // process000 ends: its GPU goes to the next worker started.
  slots.Release("process000");
  slots.Release("process002");  // had none: changes nothing
  CHECK(slots.free() == 1);
  CHECK(slots.Acquire("process004") == std::optional<std::string>("0"));
  CHECK(slots.Acquire("process005") == std::nullopt);
  slots.Release("process001");
  CHECK(slots.Acquire("process006") == std::optional<std::string>("1"));
}

TEST_CASE("GpuSlots: no GPUs, no slots", "[gpu_slots]") {
  GpuSlots slots({});
  CHECK(slots.Acquire("process000") == std::nullopt);
  CHECK(slots.size() == 0);
}

TEST_CASE("ParseNvidiaSmiList: the index of each GPU line, MIG lines skipped", "[gpu_slots]") {
  CHECK(ParseNvidiaSmiList("GPU 0: Tesla T4 (UUID: GPU-aaaa)\n"
                           "GPU 1: Tesla T4 (UUID: GPU-bbbb)\n"
                           "  MIG 1g.5gb Device 0: (UUID: MIG-cccc)\n"
                           "GPU 3: Tesla T4 (UUID: GPU-dddd)") ==
        std::vector<std::string>{"0", "1", "3"});
  CHECK(ParseNvidiaSmiList("No devices were found\n").empty());
}

TEST_CASE("FindGpus: CUDA_VISIBLE_DEVICES first, its entries as given", "[gpu_slots]") {
  GpuList l = FindGpus({"CUDA_VISIBLE_DEVICES=2, 3,GPU-abc", "AZ_BATCHAI_GPU_COUNT_FOUND=8"});
  CHECK(l.devices == std::vector<std::string>{"2", "3", "GPU-abc"});
  CHECK(l.source == "CUDA_VISIBLE_DEVICES=2, 3,GPU-abc");
  CHECK(FindGpus({"CUDA_VISIBLE_DEVICES="}).devices.empty());
  CHECK(FindGpus({"CUDA_VISIBLE_DEVICES=-1"}).devices.empty());
}

TEST_CASE("FindGpus: AZ_BATCHAI_GPU_COUNT_FOUND, the original's count", "[gpu_slots]") {
  GpuList l = FindGpus({"AZ_BATCHAI_GPU_COUNT_FOUND=3", "PATH=/nonexistent"});
  CHECK(l.devices == std::vector<std::string>{"0", "1", "2"});
  GpuList bad = FindGpus({"AZ_BATCHAI_GPU_COUNT_FOUND=two"});
  CHECK(bad.devices.empty());
  CHECK(bad.note == "AZ_BATCHAI_GPU_COUNT_FOUND 'two' is not a count of GPUs; no GPU is given "
                    "to the workers");
}

void WriteScript(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  REQUIRE(chmod(path.c_str(), 0755) == 0);
}

TEST_CASE("FindGpus: nvidia-smi -L on PATH", "[gpu_slots]") {
  TempDir dir("gpu_slots_test");
  WriteScript(dir.path() + "/nvidia-smi",
              "#!/bin/sh\n[ \"$1\" = -L ] || exit 9\n"
              "echo 'GPU 0: Fake GPU (UUID: GPU-0000)'\necho 'GPU 1: Fake GPU (UUID: GPU-1111)'\n");
  GpuList l = FindGpus({"PATH=/nonexistent:" + dir.path()});
  CHECK(l.devices == std::vector<std::string>{"0", "1"});
  CHECK(l.source == dir.path() + "/nvidia-smi -L");
  CHECK(l.note.empty());
  // Not on PATH: no GPU, nothing to say.
  GpuList none = FindGpus({"PATH=/nonexistent"});
  CHECK(none.devices.empty());
  CHECK(none.source.empty());
  CHECK(none.note.empty());
}

TEST_CASE("FindGpus: a failing nvidia-smi means no GPU, and says why", "[gpu_slots]") {
  TempDir dir("gpu_slots_test");
  WriteScript(dir.path() + "/nvidia-smi",
              "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate' >&2\nexit 9\n");
  GpuList l = FindGpus({"PATH=" + dir.path()});
  CHECK(l.devices.empty());
  CHECK(l.note == dir.path() + "/nvidia-smi -L exited with 9: NVIDIA-SMI has failed because it "
                               "could not communicate; no GPU is given to the workers");
}

}  // namespace
}  // namespace parallelrun
