// AppendRowTarget: where output_action append_row puts its rows, as the plan
// resolves it (the output folder and file name) and where the parts of each
// attempt wait until the job ends. master/append_row_output.h writes it.
#ifndef PARALLELRUN_PLAN_APPEND_ROW_TARGET_H_
#define PARALLELRUN_PLAN_APPEND_ROW_TARGET_H_

#include <string>

namespace parallelrun {

struct AppendRowTarget {
  std::string output_dir;  // the output folder (exists when the job starts)
  std::string file_name = "parallel_run_step.txt";
  // Where part files go: on a file system the workers can write, e.g.
  // "<job dir>/append_row". Created by AppendRowOutput::Prepare().
  std::string parts_dir;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_APPEND_ROW_TARGET_H_
