"""examples/kubernetes/job.yaml without a Kubernetes (issue 12, item 9): each
"pod" is a parallelrun process on this machine given what Kubernetes would
give it — the manifest's env (the node count, the subdomain, the token from
the Secret), JOB_COMPLETION_INDEX and the hostname <job>-<index> — and
`--dry-run` must print the role the pod would play, master address
included; then the three form one job over loopback. Only the master's
address is overridden for that job (--master-addr 127.0.0.1): the pods' DNS
names exist only inside a cluster. kubernetes_manifest_test.cc checks the
same manifest's roles in the unit tests.
"""

import unittest

import helpers
import test_multinode as mn

MANIFEST = helpers.SOURCE_DIR / "examples" / "kubernetes" / "job.yaml"


class KubernetesManifestTest(mn.MultiNodeBase):

    def setUp(self):
        super().setUp()
        try:
            import yaml
        except ImportError:
            self.skipTest("SKIPPED: %s has no yaml module to read the manifest with"
                          % helpers.PYTHON)
        docs = list(yaml.safe_load_all(MANIFEST.read_text()))
        job = next(d for d in docs if d["kind"] == "Job")
        self.name = job["metadata"]["name"]
        self.completions = job["spec"]["completions"]
        pod = job["spec"]["template"]["spec"]
        self.subdomain = pod["subdomain"]
        container = pod["containers"][0]
        self.port = next(p["containerPort"] for p in container["ports"] if p["name"] == "link")
        self.pod_env = {}
        for e in container["env"]:
            if "value" in e:
                self.pod_env[e["name"]] = str(e["value"])
            elif e["name"] == "PARALLELRUN_TOKEN":
                self.pod_env[e["name"]] = "the-secret-from-prun-score-token"  # what the Secret holds
        self.assertIn("PARALLELRUN_TOKEN", self.pod_env)

    def pod(self, index, mode="all"):
        """The environment of the manifest's pod `index`."""
        env = self.env(mode=mode, nodes=self.completions)
        env.update(self.pod_env)
        env.update({"JOB_COMPLETION_INDEX": str(index), "HOSTNAME": "%s-%d" % (self.name, index)})
        return env

    def test_dry_run_of_every_pod_prints_its_role(self):
        master = "%s-0.%s:%d" % (self.name, self.subdomain, self.port)
        for index in range(self.completions):
            run = self.run_parallelrun(*self.run_args("dry"), "--dry-run", env=self.pod(index))
            self.assertExit(run, 0)
            what = ("master, listening on %s" % master if index == 0 else
                    "agent of master %s" % master)
            self.assertIn("\nrole: node %d of %d (%s) from Kubernetes Indexed Job variables "
                          % (index, self.completions, what), run.stdout, repr(run))
            self.assertIn(" JOB_COMPLETION_INDEX=%d " % index, run.stdout)

    def test_the_pods_form_one_job(self):
        self.assertEqual(self.completions, 3, "check_job below expects three nodes")
        port = mn.free_port()
        args = self.run_args("job", "--master-addr", "127.0.0.1", "--master-port", str(port))
        nodes = [self.start("pod%d" % i, [self.parallelrun] + args, self.pod(i))
                 for i in range(self.completions)]
        for node in nodes:
            self.assertExits(node, 0)
        self.check_job()
        for index in range(self.completions):
            first = self.first_log_line(self.job_dir, index)
            self.assertRegex(first, r"^role: node %d of 3 \(.*\) from Kubernetes Indexed Job "
                                    r"variables .*JOB_COMPLETION_INDEX=%d\b" % (index, index))


if __name__ == "__main__":
    unittest.main()
