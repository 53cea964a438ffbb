"""No setting is accepted and then ignored (issue 11, item 3): every setting
`parallelrun run --help` lists (lib/plan/run_settings.cc AllSettings) either
has an e2e test here that proves its effect, or prints its documented "no
effect" warning when given, which this test checks by running a job with it.
A setting added without either fails
test_every_setting_proves_its_effect_or_says_it_has_none."""

import re
import unittest

from helpers import E2ETestCase

# Setting → the e2e test (module.Class.method) that proves its effect.
EFFECT = {
    "mini_batch_size": "test_run_files.RunFilesTest.test_parallel_component_nested_folder",
    "process_count_per_node": "test_run_files.RunFilesTest.test_parallel_component_nested_folder",
    "error_threshold":
        "test_failures.ThresholdTest.test_error_threshold_counts_failed_items_with_greater_than",
    "allowed_failed_count":
        "test_failures.ThresholdTest.test_allowed_failed_count_counts_failed_mini_batches",
    "allowed_failed_percent":
        "test_failures.ThresholdTest.test_allowed_failed_percent_is_checked_once_scheduling_finished",
    "run_invocation_timeout": "test_failures.TimeoutTest."
        "test_run_timeout_kills_the_process_group_and_the_retry_runs_in_a_new_worker",
    "run_max_try": "test_failures.RunExceptionTest."
        "test_run_exception_is_retried_until_run_max_try_and_the_worker_stays",
    "logging_level": "test_run_files.RunFilesTest.test_entry_script_helper_api",
    "output_action":
        "test_append_row.ListResultTest.test_append_row_file_name_and_the_output_action_flag",
    "append_row_file_name":
        "test_append_row.ListResultTest.test_append_row_file_name_and_the_output_action_flag",
    "partition_keys":
        "test_partitions.FilePartitionTest.test_hive_style_folders_and_the_partition_keys_flag",
    "task_overhead_timeout":
        "test_failures.InitFailureTest.test_init_that_hangs_is_stopped_and_the_job_ends",
    "progress_update_timeout":
        "test_failures.NoProgressTest.test_a_job_without_progress_stops_naming_what_every_worker_does",
    "resource_monitor_interval": "test_worker_settings.ResourceMonitorTest."
        "test_samples_at_start_every_interval_and_at_the_end",
    "profiling_module": "test_worker_settings.ProfileTest.test_cprofile",
    "nice": "test_worker_settings.NiceTest.test_workers_run_at_the_given_niceness",
    "first_task_creation_timeout": "test_first_task_creation.FirstTaskCreationTest."
        "test_a_first_mini_batch_that_takes_too_long_fails_the_job_naming_the_setting",
    "node_count": "test_multinode.NodeCountTest."
        "test_the_node_count_setting_with_explicit_ranks_forms_a_job",
    "straggler_factor":
        "test_stragglers.StragglerTest.test_second_attempt_wins_and_the_first_is_stopped",
}

# Setting → a value; given, the job says "setting <name> has no effect on a
# local run" and its --help says "no effect locally".
NO_EFFECT = {
    "copy_logs_to_parent": "True",
    "push_metrics_to_parent": "True",
    "metrics_name_prefix": "x",
    "cleanup_leaked_queues": "True",
}

SCRIPT = """
    def run(mini_batch):
        return mini_batch
    """


class SettingsWalkTest(E2ETestCase):

    def settings_from_help(self):
        run = self.run_parallelrun("run", "--help")
        self.assertExit(run, 0)
        group = run.stdout.split("Run settings (reference §1; both spellings):", 1)[1]
        group = re.split(r"\n\S", group, 1)[0]  # up to the next group's heading
        names = []
        for line in group.splitlines():
            m = re.match(r"\s+(--[\w-]+(?:,--[\w-]+)*)", line)
            if m:
                # The first spelling is the canonical name, dashed; the
                # other formats' names (aliases) follow it.
                names.append(m.group(1).split(",")[0][2:].replace("-", "_"))
        self.assertGreater(len(names), 20, run.stdout)
        return names, run.stdout

    def test_every_setting_proves_its_effect_or_says_it_has_none(self):
        names, help_text = self.settings_from_help()
        self.assertEqual(set(EFFECT) & set(NO_EFFECT), set())
        for listed in (EFFECT, NO_EFFECT):
            self.assertEqual(set(listed) - set(names), set(), "not settings any more")
        self.write("score.py", SCRIPT)
        self.make_files(self.tmp / "data", ["a"])
        spec = self.component_spec(entry="score.py")
        loader = unittest.defaultTestLoader
        for name in names:
            with self.subTest(setting=name):
                if name in EFFECT:
                    suite = loader.loadTestsFromName(EFFECT[name])
                    self.assertEqual(suite.countTestCases(), 1, EFFECT[name])
                elif name in NO_EFFECT:
                    # The flag, then its description (on the next line when
                    # the flag's names are long).
                    lines = help_text.splitlines()
                    at = [i for i, l in enumerate(lines) if "--" + name in l][0]
                    described = lines[at]
                    if at + 1 < len(lines) and not lines[at + 1].lstrip().startswith("--"):
                        described += lines[at + 1]
                    self.assertIn("no effect locally", described)
                    run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                                       "--%s" % name, NO_EFFECT[name], job_dir="job_" + name,
                                       progress="plain")
                    self.assertExit(run, 0)
                    self.assertIn("setting %s has no effect on a local run\n" % name, run.stderr)
                else:
                    self.fail("setting %s has neither a test proving its effect (EFFECT) nor a "
                              "'no effect' warning (NO_EFFECT) in %s" % (name, __file__))
