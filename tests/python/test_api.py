"""parallelrun.run / validate / resume / report / tune from Python."""
import glob
import os
import sys

import pytest

import parallelrun


def test_run_returns_a_job_with_counts_and_reports(project):
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="none")
    assert job.ok and job.exit_code == 0 and job.kind == "ok", job.message
    assert job.message == ""
    assert os.path.isdir(job.job_dir)
    assert job.job_dir.startswith(os.path.join(project.root, "parallelrun-jobs") + os.sep)
    assert job.counts == {"mini_batches": 2, "succeeded": 2, "failed": 0, "attempts": 2,
                          "items": 4, "items_succeeded": 4, "items_failed": 0}
    frame = job.mini_batches()
    assert sorted(frame["Mini-batch Id"].tolist()) == [0, 1]
    assert set(frame["Status"]) == {"RUN_DONE"}
    assert frame["Succeeded"].sum() == 4
    assert len(job.failures()) == 0
    assert len(job.processes()) >= 1
    assert "Job succeeded" in job.result()
    with open(os.path.join(project.out, "parallel_run_step.txt")) as f:
        assert sorted(f.read().split()) == ["f0.txt,1", "f1.txt,2", "f2.txt,3", "f3.txt,4"]


def test_workers_use_the_calling_interpreter(project):
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="none")
    assert job.ok, job.message
    # init() wrote sys.executable into EntryScript().output_dir (the output folder).
    written = glob.glob(os.path.join(project.out, "python-*.txt"))
    assert written
    for path in written:
        with open(path) as f:
            assert os.path.realpath(f.read()) == os.path.realpath(sys.executable)


def test_a_failed_job_is_a_job_with_its_failures(make_project):
    p = make_project(files=2, bad=2)
    job = parallelrun.run(p.spec, inputs={"data": p.data}, outputs={"sizes": p.out},
                          progress="none", error_threshold=0)
    assert not job.ok
    assert job.kind == "job_failed" and job.exit_code == 1, job.message
    failures = job.failures()
    assert len(failures) >= 1
    assert set(failures["Error Category"]) == {"ValueError"}
    assert failures["Error Message"].str.startswith("ValueError: cannot score bad").all()
    assert job.counts["failed"] >= 1
    assert job.counts["mini_batches"] == job.counts["succeeded"] + job.counts["failed"]


def test_settings_are_keyword_arguments(project):
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="none", mini_batch_size=1,
                          process_count_per_node=1)
    assert job.ok, job.message
    assert job.counts["mini_batches"] == 4
    assert set(job.processes()["Process"]) == {"process000"}


def test_an_unknown_keyword_is_an_error_with_a_suggestion(project):
    with pytest.raises(TypeError) as err:
        parallelrun.run(project.spec, inputs={"data": project.data}, mini_batch_sise=3)
    assert "unknown keyword argument 'mini_batch_sise'" in str(err.value)
    assert "did you mean 'mini_batch_size'?" in str(err.value)


def test_a_bad_setting_value_is_a_usage_error_and_nothing_runs(project):
    with pytest.raises(parallelrun.JobError) as err:
        parallelrun.run(project.spec, inputs={"data": project.data}, mini_batch_size="lots")
    assert err.value.exit_code == 2 and err.value.kind == "usage"
    assert "mini_batch_size" in str(err.value)
    assert not os.path.exists(os.path.join(project.root, "parallelrun-jobs"))


def test_a_missing_spec_is_a_usage_error(tmp_path):
    with pytest.raises(parallelrun.JobError) as err:
        parallelrun.run(str(tmp_path / "nope.yaml"))
    assert err.value.exit_code == 2
    assert "nope.yaml" in str(err.value)


def test_inputs_must_be_a_dict(project):
    with pytest.raises(TypeError, match="inputs must be a dict"):
        parallelrun.run(project.spec, inputs=[("data", project.data)])


def test_set_overrides_the_yaml_and_job_dir_is_used(project):
    job_dir = os.path.join(project.root, "my-job")
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="none", job_dir=job_dir,
                          set={"mini_batch_size": "4"})
    assert job.ok, job.message
    assert job.job_dir == job_dir
    assert job.counts["mini_batches"] == 1


def test_args_reach_the_entry_script(make_project):
    p = make_project(files=1, score="""\
        import sys
        def run(mini_batch):
            return [" ".join(sys.argv[1:3])] * len(mini_batch)
        """)
    job = parallelrun.run(p.spec, inputs={"data": p.data}, outputs={"sizes": p.out},
                          progress="none", args=["--threshold", "7"])
    assert job.ok, job.message
    with open(os.path.join(p.out, "parallel_run_step.txt")) as f:
        assert f.read().split("\n")[0] == "--threshold 7"


def test_dry_run_prints_the_plan_and_makes_no_job_dir(project, capsys):
    job = parallelrun.run(project.spec, inputs={"data": project.data}, dry_run=True)
    assert job.ok and job.job_dir is None
    assert "dry run: nothing was started or created" in job.plan
    assert "mini-batch 0 (2 files" in capsys.readouterr().out
    assert not os.path.exists(os.path.join(project.root, "parallelrun-jobs"))
    with pytest.raises(FileNotFoundError):
        job.mini_batches()


def test_progress_goes_to_sys_stderr(project, capsys):
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="plain")
    assert job.ok, job.message
    err = capsys.readouterr().err
    assert "parallelrun: job succeeded; job dir " + job.job_dir in err


def test_validate_describes_the_spec_and_lists_problems(project):
    text = parallelrun.validate(project.spec, inputs={"data": project.data})
    assert "valid v2 parallel spec 'sizes'" in text
    with pytest.raises(parallelrun.JobError) as err:
        parallelrun.validate(project.spec, inputs={"data": os.path.join(project.root, "none")})
    assert err.value.exit_code == 2
    assert "none" in str(err.value)


def test_report_and_tune_read_a_finished_job(project):
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="none")
    path = parallelrun.report(job.job_dir)
    assert path == os.path.join(job.job_dir, "report.html")
    with open(path) as f:
        assert f.read().startswith("<!DOCTYPE html>")
    assert "Suggested settings:" in parallelrun.tune(job.job_dir)
    with pytest.raises(parallelrun.JobError):
        parallelrun.tune(os.path.join(project.root, "not-a-job"))


def test_resume_of_a_finished_job_says_there_is_nothing_to_do(project):
    job = parallelrun.run(project.spec, inputs={"data": project.data},
                          outputs={"sizes": project.out}, progress="none")
    with pytest.raises(parallelrun.JobError) as err:
        parallelrun.resume(job.job_dir)
    assert "already succeeded" in str(err.value)
    again = parallelrun.resume(job.job_dir, rerun_failed=True, progress="none")
    assert again.ok and again.job_dir == job.job_dir
