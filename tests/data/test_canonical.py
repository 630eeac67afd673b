from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from medsegkit.data import canonical
from medsegkit.data.dataset import Dataset, data_root, resolve_dataset
from medsegkit.data.prepare import make_reader, prepare
from medsegkit.errors import DataError, UsageError


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_hashes_and_reopen(tmp_path):
    out, manifest = prepare("synthetic-fundus", None, tmp_path / "syn", tmp_path, {"count": 4, "size": 40})
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "images", "masks"]
    ds = Dataset.open(out)
    assert ds.task.name == "fundus" and ds.case_ids("test") == ["fundus0003"]
    for cid, record in manifest["cases"].items():
        for key in ("image", "mask"):
            assert hashlib.sha256((out / record[key]).read_bytes()).hexdigest() == record["sha256"][key]
        assert ds.image(cid).shape == (40, 40, 3) and ds.mask(cid).dtype == np.uint8
    with pytest.raises(UsageError, match="has no split 'val'; it has train, test, all"):
        ds.case_ids("val")


def test_rerun_is_idempotent(tmp_path):
    out, _ = prepare("synthetic-dermoscopy", None, tmp_path / "d", tmp_path, {"count": 3, "size": 32})
    first = tree(out)
    prepare("synthetic-dermoscopy", None, tmp_path / "d", tmp_path, {"count": 3, "size": 32})
    assert tree(out) == first
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_failure_leaves_previous_dataset_untouched(tmp_path, monkeypatch):
    out, _ = prepare("synthetic-dermoscopy", None, tmp_path / "d", tmp_path, {"count": 3, "size": 32})
    before = tree(out)
    reader = make_reader("synthetic-dermoscopy", {"count": 5, "size": 32})
    calls = {"n": 0}
    original = reader.load

    def interrupted(case):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(case)

    monkeypatch.setattr(reader, "load", interrupted)
    with pytest.raises(KeyboardInterrupt):
        canonical.write_dataset(reader, None, out)
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no temporary folder left behind


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="is not empty and holds no dataset.json; refusing"):
        prepare("synthetic-dermoscopy", None, precious, tmp_path, {"count": 1, "size": 32})
    assert (precious / "notes.txt").read_text() == "keep me"


def test_case_ids_must_be_file_names():
    with pytest.raises(DataError, match="case id '../x' cannot be a file name"):
        canonical._check_case_id("../x", "here")


def test_data_root_precedence(monkeypatch, tmp_path):
    assert data_root(None) == Path("data")
    monkeypatch.setenv("MEDSEGKIT_DATA", str(tmp_path))
    assert data_root(None) == tmp_path
    assert data_root(Path("/elsewhere")) == Path("/elsewhere")


def test_resolve_by_path_name_and_alias(tmp_path):
    prepare("synthetic-fundus", None, tmp_path / "drishti-gs", tmp_path, {"count": 1, "size": 32})
    prepare("synthetic-fundus", None, tmp_path / "domain2", tmp_path, {"count": 1, "size": 32})
    assert resolve_dataset(str(tmp_path / "drishti-gs"), Path("/nowhere")) == tmp_path / "drishti-gs"
    assert resolve_dataset("drishti-gs", tmp_path) == tmp_path / "drishti-gs"
    assert resolve_dataset("Domain1", tmp_path) == tmp_path / "drishti-gs"
    assert resolve_dataset("rim-one", tmp_path) == tmp_path / "domain2"
    with pytest.raises(UsageError, match=r"dataset 'refuge' not found.*MEDSEGKIT_DATA"):
        resolve_dataset("refuge", tmp_path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="plain: no dataset.json"):
        resolve_dataset(str(tmp_path / "plain"), tmp_path)


def test_open_rejects_foreign_json(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="expected format medsegkit-dataset version 1"):
        Dataset.open(tmp_path)
    (tmp_path / "dataset.json").write_text("{broken")
    with pytest.raises(DataError, match="not valid JSON"):
        Dataset.open(tmp_path)
