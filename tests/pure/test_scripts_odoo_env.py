"""scripts/odoo_env.py: set-up problems are one line, never a traceback."""

import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import odoo_env  # noqa: E402


def test_odoo_tree_without_requirements_txt_is_one_line(tmp_path, capsys):
    assert odoo_env.odoo_requirements(str(tmp_path)) == []
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "has no requirements.txt" in out and str(tmp_path) in out


def test_odoo_requirements_are_read_when_present(tmp_path):
    (tmp_path / "requirements.txt").write_text("Babel==2.10.3\npython-ldap==3.4.0\n")
    lines = odoo_env.odoo_requirements(str(tmp_path))
    assert "Babel==2.10.3" in lines


def test_the_stamp_changes_with_each_requirement_file(tmp_path, monkeypatch):
    for name in odoo_env.REQUIREMENT_FILES:
        (tmp_path / name).write_text("a==1\n")
    monkeypatch.setattr(odoo_env, "ROOT", str(tmp_path))
    first = odoo_env.requirements_stamp(["x==1"])
    assert odoo_env.requirements_stamp(["x==1"]) == first
    assert odoo_env.requirements_stamp(["x==2"]) != first
    (tmp_path / "requirements-dev.txt").write_text("a==1\nb==2\n")
    assert odoo_env.requirements_stamp(["x==1"]) != first


@pytest.mark.parametrize("root", [True, False])
def test_no_browser_is_one_line_when_it_cannot_be_installed(monkeypatch, capsys, root):
    monkeypatch.setattr(odoo_env.shutil, "which", lambda name: None)
    monkeypatch.setattr(odoo_env.os, "geteuid", lambda: 0 if root else 1000)
    assert odoo_env.ensure_browser() is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Browser tours skipped")


def _fake_pip(wheel_members):
    """pip download: writes a wheel with these members into -d, or fails when None."""

    def run(cmd, **kwargs):
        if wheel_members is None:
            return subprocess.CompletedProcess(cmd, 1, "", "No matching distribution")
        target = cmd[cmd.index("-d") + 1]
        with zipfile.ZipFile(os.path.join(target, "odoo_addon_queue_job-19.0-py3.whl"), "w") as whl:
            for name in wheel_members:
                whl.writestr(name, "# " + name)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return run


def test_queue_job_unreachable_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(odoo_env, "EXTRA_ADDONS", str(tmp_path / "extra-addons"))
    monkeypatch.setattr(odoo_env.subprocess, "run", _fake_pip(None))
    assert odoo_env.ensure_queue_job() is False
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("queue_job skipped") and len(out) == 2  # "Fetching ..." first
    assert not (tmp_path / "extra-addons").exists()


def test_queue_job_is_unpacked_once_without_the_rest_of_the_wheel(tmp_path, monkeypatch):
    extra = tmp_path / "extra-addons"
    monkeypatch.setattr(odoo_env, "EXTRA_ADDONS", str(extra))
    members = [
        "odoo/addons/queue_job/__manifest__.py",
        "odoo/addons/queue_job/jobrunner/channels.py",
        "odoo/__init__.py",  # would shadow the Odoo tree's package
        "odoo_addon_queue_job-19.0.dist-info/METADATA",
    ]
    monkeypatch.setattr(odoo_env.subprocess, "run", _fake_pip(members))
    assert odoo_env.ensure_queue_job() is True
    files = sorted(str(p.relative_to(extra)) for p in extra.rglob("*") if p.is_file())
    assert files == ["queue_job/__manifest__.py", "queue_job/jobrunner/channels.py"]
    monkeypatch.setattr(odoo_env.subprocess, "run", _fake_pip(None))  # no second download
    assert odoo_env.ensure_queue_job() is True
