from __future__ import annotations

import json

import pytest

from medsegkit import registry
from medsegkit.cli import app
from medsegkit.errors import MedsegkitError, UsageError

BUILTIN_READERS = {
    "ph2",
    "dofe-fundus",
    "drishti-gs",
    "refuge",
    "origa",
    "folder",
    "synthetic-dermoscopy",
    "synthetic-fundus",
}

READER_MODULE = {
    "extra_reader": """
        from medsegkit.data.synthetic.dermoscopy import SyntheticDermoscopy

        class Reader(SyntheticDermoscopy):
            default_name = "extra"
    """
}


def test_builtins_are_entry_points_of_medsegkit():
    found = {c.name: c for c in registry.components("datasets")}
    assert BUILTIN_READERS <= set(found)
    assert all(found[n].dist == "medsegkit" for n in BUILTIN_READERS)
    assert all(registry.check(found[n]).ok for n in BUILTIN_READERS)


def test_unknown_name_lists_known_names():
    with pytest.raises(UsageError, match=r"unknown reader 'nope'; known: .*dofe-fundus.*ph2"):
        registry.load("datasets", "nope")


def test_unknown_kind_is_rejected():
    with pytest.raises(UsageError, match="unknown component kind 'widgets'"):
        registry.components("widgets")


def test_loading_is_lazy_until_asked(fake_dist):
    fake_dist("lazy-plugin", "[medsegkit.models]\nlazy = lazy_mod_never_imported:thing\n")
    assert "lazy" in registry.names("models")  # metadata only: the module does not exist
    with pytest.raises(MedsegkitError, match="from 'lazy-plugin'.*failed to import: ModuleNotFoundError"):
        registry.load("models", "lazy")


def test_broken_plugin_is_reported_and_does_not_break_other_verbs(fake_dist, runner, tmp_path):
    fake_dist(
        "broken-plugin",
        "[medsegkit.datasets]\nbroken = broken_mod:Reader\n",
        {"broken_mod": "raise RuntimeError('boom at import')\n"},
    )
    result = runner.invoke(app, ["plugins", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["broken"]["status"] == "broken"
    assert "boom at import" in rows["broken"]["reason"]
    assert rows["ph2"]["status"] == "ok"

    check = runner.invoke(app, ["plugins", "check"])
    assert check.exit_code == 1
    assert "broken-plugin:broken" in check.stderr

    made = runner.invoke(
        app, ["prepare", "synthetic-dermoscopy", "--count", "2", "--size", "32", "--out", str(tmp_path / "d")]
    )
    assert made.exit_code == 0, made.output

    used = runner.invoke(app, ["prepare", "broken", "--out", str(tmp_path / "b")])
    assert used.exit_code == 1
    assert "boom at import" in used.stderr
    assert "Traceback" not in used.output


def test_collision_names_both_and_qualified_name_picks(fake_dist, runner, tmp_path):
    fake_dist("other-dist", "[medsegkit.datasets]\nsynthetic-dermoscopy = extra_reader:Reader\n", READER_MODULE)
    with pytest.raises(
        UsageError, match=r"registered by both 'medsegkit' and 'other-dist'.*'medsegkit:synthetic-dermoscopy'"
    ):
        registry.resolve("datasets", "synthetic-dermoscopy")
    assert registry.resolve("datasets", "other-dist:synthetic-dermoscopy").dist == "other-dist"
    assert registry.resolve("datasets", "medsegkit:synthetic-dermoscopy").dist == "medsegkit"

    bare = runner.invoke(
        app, ["prepare", "synthetic-dermoscopy", "--count", "1", "--size", "32", "--out", str(tmp_path / "a")]
    )
    assert bare.exit_code == 2
    assert "other-dist" in bare.stderr and "medsegkit" in bare.stderr
    picked = runner.invoke(
        app,
        ["prepare", "other-dist:synthetic-dermoscopy", "--count", "1", "--size", "32", "--out", str(tmp_path / "b")],
    )
    assert picked.exit_code == 0, picked.output
    assert (
        json.loads((tmp_path / "b" / "dataset.json").read_text())["source"]["reader"]
        == "other-dist:synthetic-dermoscopy"
    )

    listed = runner.invoke(app, ["plugins", "list", "--format", "json"])
    statuses = [r for r in json.loads(listed.stdout) if r["name"] == "synthetic-dermoscopy"]
    assert len(statuses) == 2
    assert all("also registered by" in r["reason"] for r in statuses)


def test_third_party_reader_is_usable(fake_dist, runner, tmp_path):
    fake_dist("extra-dist", "[medsegkit.datasets]\nextra = extra_reader:Reader\n", READER_MODULE)
    result = runner.invoke(app, ["prepare", "extra", "--count", "1", "--size", "32", "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e" / "images" / "derm0000.png").is_file()


def test_kill_switch_keeps_builtins_only(fake_dist, monkeypatch, runner):
    fake_dist("extra-dist", "[medsegkit.datasets]\nextra = extra_reader:Reader\n", READER_MODULE)
    assert "extra" in registry.names("datasets")
    monkeypatch.setenv("MEDSEGKIT_DISABLE_PLUGINS", "1")
    assert "extra" not in registry.names("datasets")
    assert BUILTIN_READERS <= set(registry.names("datasets"))
    result = runner.invoke(app, ["plugins", "list", "--format", "json"])
    assert {r["distribution"] for r in json.loads(result.stdout)} == {"medsegkit"}


def test_old_group_and_kind_names_still_work(fake_dist, runner):
    """Plugins installed against earlier releases register in medsegkit.datasets / medsegkit.methods."""
    fake_dist("old-dist", "[medsegkit.datasets]\nold-reader = extra_reader:Reader\n", READER_MODULE)
    assert registry.resolve("readers", "old-reader").kind == "readers"
    assert {c.name for c in registry.components("datasets")} == {c.name for c in registry.components("readers")}
    listed = runner.invoke(app, ["plugins", "list", "--kind", "datasets", "--format", "json"])
    assert listed.exit_code == 0 and {"old-reader", "ph2"} <= {r["name"] for r in json.loads(listed.stdout)}
    assert all(r["kind"] == "readers" for r in json.loads(listed.stdout))
