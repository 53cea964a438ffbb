"""The package under test is the installed wheel, not the source tree."""
import os
import shutil
import subprocess
import sys

import parallelrun

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_package_is_the_installed_one():
    here = os.path.realpath(os.path.dirname(parallelrun.__file__))
    assert not here.startswith(os.path.realpath(SOURCE) + os.sep + "python"), here
    assert os.path.realpath(sys.prefix) in here or "site-packages" in here, here


def test_command_is_on_path_of_the_venv_and_runs_the_cpp_main():
    exe = os.path.join(os.path.dirname(sys.executable), "parallelrun")
    assert os.path.exists(exe), exe
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "parallelrun " + parallelrun.__version__


def test_python_dash_m_is_the_same_command():
    out = subprocess.run([sys.executable, "-m", "parallelrun", "frobnicate"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("parallelrun: error: unknown subcommand 'frobnicate'")


def test_command_exit_code_of_a_usage_error_is_2(tmp_path):
    exe = shutil.which("parallelrun", path=os.path.dirname(sys.executable))
    out = subprocess.run([exe, "run", str(tmp_path / "missing.yaml")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "missing.yaml" in out.stderr


def test_command_runs_a_job(project):
    exe = os.path.join(os.path.dirname(sys.executable), "parallelrun")
    out = subprocess.run([exe, "run", project.spec, "-i", "data=" + project.data,
                          "-o", "sizes=" + project.out, "--progress", "none"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    with open(os.path.join(project.out, "parallel_run_step.txt")) as f:
        assert sorted(f.read().split()) == ["f0.txt,1", "f1.txt,2", "f2.txt,3", "f3.txt,4"]


# What the README's Install section says the wheel needs besides glibc and
# libstdc++: a library not listed here is one users would have to find out
# about. (libssl/libcrypto: the link's encryption may bring OpenSSL in; the
# README says so.)
ALLOWED = {"libyaml-cpp.so.0.7", "libfmt.so.9", "libboost_filesystem.so.1.81.0",
           "libssl.so.3", "libcrypto.so.3",
           "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2",
           "ld-linux-aarch64.so.1"}


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {line.split("[", 1)[1].split("]", 1)[0] for line in out.stdout.splitlines()
            if "(NEEDED)" in line}


def test_the_wheel_needs_only_the_libraries_the_readme_lists():
    if shutil.which("readelf") is None:
        import pytest
        pytest.skip("no readelf (binutils) to read the wheel's shared-library needs")
    from parallelrun import _core
    from parallelrun.__main__ import binary
    for path in (_core.__file__, binary()):
        libs = needed(path)
        assert "libyaml-cpp.so.0.7" in libs, (path, libs)
        assert libs <= ALLOWED, (path, sorted(libs - ALLOWED))
