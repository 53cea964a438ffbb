// JobSecret: the key every node of one multi-node job shares, so that only
// the job's own agents can join its master (DESIGN.md §5). It never crosses
// the network: the link's greeting proves knowledge of it with an HMAC over a
// fresh nonce (link_codec.h).
//
// Where it comes from, first found wins; every node must find the same one:
//   1. PARALLELRUN_TOKEN              any non-empty text, used as given: e.g.
//                                     a Kubernetes Secret, or `export
//                                     PARALLELRUN_TOKEN=$(openssl rand -hex
//                                     32)` before srun / mpirun -x.
//   2. --token-file FILE, or          the file's first 4 KiB, trailing white
//      PARALLELRUN_TOKEN_FILE         space removed; it must exist.
//   3. <job dir>/.parallelrun/token   when --job-dir names a folder on storage
//                                     every node sees. When no node has
//                                     written one, the master makes one (32
//                                     random bytes, hex, mode 0600, created
//                                     exclusively) and agents wait for it.
//   4. --insecure-derived-secret      SHA-256 of the launcher's job identity
//                                     (SLURM_JOB_ID + SLURM_STEP_ID,
//                                     TORCHELASTIC_RUN_ID, PMIX_NAMESPACE, …):
//                                     only when asked for by that name, as
//                                     anyone who can guess the id (Slurm ids
//                                     are sequential, torchrun's default is
//                                     "none") can join. JobSecret::weak says
//                                     so, and the caller logs a warning.
// A token file (2, 3) that its group or others may read or write is refused:
// others on the machine could join, or swap the key. Nothing found is an
// error that says how to make a secret: a multi-node job without one would
// accept any peer. (A single node needs none: its link is in-process.)
#ifndef PARALLELRUN_LINK_SECRET_H_
#define PARALLELRUN_LINK_SECRET_H_

#include <chrono>
#include <string>

#include "link/role.h"
#include "parallelrun/status.h"

namespace parallelrun {

struct JobSecret {
  std::string key;     // the HMAC key: raw bytes, never logged
  std::string source;  // "PARALLELRUN_TOKEN", the token file's path, "SLURM_JOB_ID=812 …"
  bool weak = false;   // derived from launcher variables (see above)
  bool generated = false;  // this node (the master) wrote it into the job dir

  // One line for the node log, without the key: "job secret from
  // PARALLELRUN_TOKEN", or "… derived from SLURM_JOB_ID=812 (insecure: …)".
  std::string Describe() const;
};

struct SecretOptions {
  // --job-dir as given ("" when none was: the default job dir is made on
  // each node, so it holds no token the others could read).
  std::string job_dir;
  std::string token_file;         // --token-file (else PARALLELRUN_TOKEN_FILE)
  bool insecure_derived = false;  // --insecure-derived-secret
  bool is_master = false;         // may write a new token into job_dir
  // An agent waits this long for the master to write the job dir's token.
  std::chrono::milliseconds wait_for_token{0};
};

// Errors are Usage: a token file that cannot be read, is empty or is open
// to others; no source at all (the message shows how to make a secret); an
// agent whose job dir got no token within wait_for_token.
Result<JobSecret> ResolveJobSecret(const EnvironmentMap& env, const SecretOptions& options);

// The launcher's name for this job, the same on all of its nodes and not
// secret ("SLURM_JOB_ID=812 SLURM_STEP_ID=0"); "" when there is none that
// tells jobs apart (torchrun's default run id "none" does not).
std::string LauncherJobIdentity(const EnvironmentMap& env);

}  // namespace parallelrun

#endif  // PARALLELRUN_LINK_SECRET_H_
