// JobSecret: the key every node of one multi-node job shares, so that only
// the job's own agents can join its master (DESIGN.md §5). It never crosses
// the network: the link's greeting proves knowledge of it with an HMAC over a
// fresh nonce (link_codec.h).
//
// Where it comes from, first found wins; every node must find the same one:
//   1. PARALLELRUN_TOKEN              any non-empty text, used as given. The
//                                     strong choice: e.g. a Kubernetes Secret
//                                     or `export PARALLELRUN_TOKEN=$(openssl
//                                     rand -hex 32)` before srun/mpirun -x.
//   2. <job dir>/.parallelrun/token   when --job-dir names a folder on storage
//                                     every node sees; the file's first 4 KiB,
//                                     trailing white space removed. Create it
//                                     with mode 0600 before starting the job.
//   3. derived from the launcher      SHA-256 of the launcher's job identity:
//                                     SLURM_JOB_ID (+ SLURM_STEP_ID),
//                                     TORCHELASTIC_RUN_ID, PMIX_NAMESPACE,
//                                     OMPI_MCA_ess_base_jobid,
//                                     OMPI_MCA_orte_ess_jobid, AZUREML_RUN_ID,
//                                     AZ_BATCH_JOB_ID.
//                                     WEAK: anyone who can read the job's
//                                     environment or guess its id (Slurm ids are
//                                     sequential) can join. It keeps two jobs
//                                     that share a port from talking to each
//                                     other; it does not keep out an attacker on
//                                     the network. JobSecret::weak says so, and
//                                     the caller logs a warning.
// Nothing found is an error: a multi-node job without a secret would accept
// any peer. (A single node needs none: its link is in-process.)
#ifndef PARALLELRUN_LINK_SECRET_H_
#define PARALLELRUN_LINK_SECRET_H_

#include <string>

#include "link/role.h"
#include "parallelrun/status.h"

namespace parallelrun {

struct JobSecret {
  std::string key;     // the HMAC key: raw bytes, never logged
  std::string source;  // "PARALLELRUN_TOKEN", the token file's path, "SLURM_JOB_ID=812 …"
  bool weak = false;   // derived from launcher variables (see above)

  // One line for the node log, without the key: "job secret from
  // PARALLELRUN_TOKEN", or "… derived from SLURM_JOB_ID=812 (weak: …)".
  std::string Describe() const;
};

// `job_dir` is --job-dir as given ("" when none was: the default job dir is
// new on every node, so it holds no shared token). Reads the token file if it
// exists; Usage error if it exists but is empty or unreadable, or if no
// source gives a secret.
Result<JobSecret> ResolveJobSecret(const EnvironmentMap& env, const std::string& job_dir);

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_SECRET_H_
