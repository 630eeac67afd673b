"""Configs from TOML and flags: which source a bad key or value is reported against."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from medsegkit import config
from medsegkit.errors import UsageError
from medsegkit.lesion import config as lesion_config


@dataclass(frozen=True)
class Example:
    radius: int = 4
    beta: float = 2.0


def test_defaults_then_file_then_overrides(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("radius = 3\nbeta = 1.5\n")
    assert config.load(Example, None, {}, "x") == Example()
    assert config.load(Example, toml, {"beta": None}, "x") == Example(3, 1.5)
    assert config.load(Example, toml, {"beta": "0.5"}, "x") == Example(3, 0.5)


@pytest.mark.parametrize(
    ("text", "table", "expected"),
    [
        ("radius = 3\nsteps = 2\n", None, "--config {} does not take steps"),
        ('radius = "wide"\n', None, "--config {}: radius"),
        ("[refine]\nsteps = 2\n", "refine", "--config {} [refine] does not take steps"),
    ],
)
def test_a_bad_key_or_value_in_the_file_names_the_file(tmp_path, text, table, expected):
    toml = tmp_path / "c.toml"
    toml.write_text(text)
    with pytest.raises(UsageError) as caught:
        config.load(Example, toml, {}, "--refine", table=table)
    assert str(caught.value).startswith(expected.format(toml))


def test_a_bad_override_names_the_flag_and_an_overridden_file_value_is_not_checked(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('radius = "wide"\n')
    with pytest.raises(UsageError, match=r"^--refine does not take steps"):
        config.load(Example, None, {"steps": 1}, "--refine")
    assert config.load(Example, toml, {"radius": 5}, "--refine") == Example(radius=5)


@pytest.mark.parametrize(
    ("cls", "field", "good"),
    [
        (lesion_config.S3Config, "deform_impl", "torchvision"),
        (lesion_config.S3STNConfig, "spatial_on", "logits"),
        (lesion_config.KMeansConfig, "features", "rgb-xy"),
        (lesion_config.SelfTrainConfig, "object_scale", "fixed"),
        (lesion_config.SelfTrainConfig, "augment", "keep-scale"),
    ],
)
def test_a_literal_field_built_directly_takes_only_its_annotated_choices(cls, field, good):
    assert getattr(cls(**{field: good}), field) == good
    with pytest.raises(ValueError, match=f"{field} must be one of .*, got 'nonsense'"):
        cls(**{field: "nonsense"})
