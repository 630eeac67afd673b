"""Every registered component of every kind keeps its kind's contract, the example plugin's included; a component
that breaks it is one line naming the contract, found before any work."""

from __future__ import annotations

import json

import pytest

from medsegkit import contracts, registry
from medsegkit.cli import app
from medsegkit.cli.plugins import bases
from medsegkit.errors import UsageError
from medsegkit.losses import create_loss

ALL = [pytest.param(c, id=f"{c.kind}/{c.qualified_name}") for c in registry.components()]

WRONG_LOSS = {
    "wrong_loss": """
        import torch

        class TwoArgs(torch.nn.Module):
            def forward(self, logits, labels):
                return logits.mean()

        class NotScalar(torch.nn.Module):
            def forward(self, logits, target, weight=None):
                return logits
    """
}


def test_every_kind_has_a_contract():
    assert set(contracts.CONTRACTS) == set(registry.KINDS)


@pytest.mark.parametrize("component", ALL)
def test_registered_component_keeps_its_contract(component):
    status = registry.check(component, exercise=True, base=bases().get(component.kind))
    assert status.ok, status.reason


def test_core_kinds_are_all_populated():
    assert {c.kind for c in registry.components() if c.dist == "medsegkit"} == set(registry.KINDS)


def test_a_loss_with_another_signature_is_refused_at_lookup(fake_dist):
    fake_dist(
        "wrong-dist",
        "[medsegkit.losses]\ntwo-args = wrong_loss:TwoArgs\nnot-scalar = wrong_loss:NotScalar\n",
        WRONG_LOSS,
    )
    with pytest.raises(UsageError, match=r"loss 'two-args' breaks the losses contract .*expected factory\(\) -> loss"):
        create_loss("two-args")
    create_loss("not-scalar")  # the signature fits; only running it shows the wrong output
    status = {
        s.component.name: s for s in map(lambda c: registry.check(c, exercise=True), registry.components("losses"))
    }
    assert not status["two-args"].ok and not status["not-scalar"].ok
    assert "returned a tensor of shape (2, 2, 16, 16)" in status["not-scalar"].reason
    assert status["masked-bce"].ok


def test_plugins_check_exercises_and_names_the_contract(fake_dist, runner):
    fake_dist("wrong-dist", "[medsegkit.losses]\nnot-scalar = wrong_loss:NotScalar\n", WRONG_LOSS)
    listed = runner.invoke(app, ["plugins", "list", "--kind", "losses"])
    assert listed.exit_code == 0  # listing only imports; the wrong output is found by check
    checked = runner.invoke(app, ["plugins", "check", "--kind", "losses"], env={"COLUMNS": "300"})
    assert checked.exit_code == 1 and "wrong-dist:not-scalar" in checked.stderr
    assert "breaks the losses contract" in checked.stdout


def test_the_s3_objectives_are_not_losses_of_the_registry():
    # they take two predictions and an affine, or the image: not (logits, target, weight)
    assert not {"self-label", "affine-consistency", "spatial-consistency", "boundary"} & set(registry.names("losses"))


NOT_A_MODULE = {
    "bad_attention": """
        import torch

        class NotAModule:
            def __init__(self, channels):
                self.channels = channels

        def returns_a_tensor(channels):
            return torch.zeros(channels)
    """
}


def test_an_attention_class_that_is_no_module_is_broken_in_the_list_and_refused_in_one_line(
    fake_dist, runner, tmp_path
):
    fake_dist("bad-dist", "[medsegkit.attention]\nbad = bad_attention:NotAModule\n", NOT_A_MODULE)
    listed = runner.invoke(app, ["plugins", "list", "--kind", "attention", "--format", "json"])
    status = {r["name"]: r for r in json.loads(listed.stdout)}
    assert status["bad"]["status"] == "broken" and "not a torch.nn.Module" in status["bad"]["reason"]
    assert status["ilka"]["status"] == "ok"
    images = tmp_path / "images"
    images.mkdir()
    used = runner.invoke(app, ["cluster", str(images), "--attention", "bad", "--out", str(tmp_path / "run")])
    assert used.exit_code == 2, used.output
    assert "attention 'bad' breaks the attention contract" in used.stderr and "Traceback" not in used.output
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_factory_that_builds_no_module_is_refused_when_it_is_built(fake_dist):
    from medsegkit.models import create_attention

    fake_dist("bad-dist", "[medsegkit.attention]\nfn = bad_attention:returns_a_tensor\n", NOT_A_MODULE)
    assert registry.check(registry.resolve("attention", "fn")).ok  # a function: only calling it shows what it builds
    with pytest.raises(contracts.ContractError, match="returned a Tensor, not a torch.nn.Module"):
        create_attention("fn", 8)
    assert not registry.check(registry.resolve("attention", "fn"), exercise=True).ok


def test_readers_and_clusterers_are_checked_against_the_base_class_their_caller_passes(fake_dist):
    from medsegkit.lesion.clustering.base import Clusterer

    fake_dist(
        "odd-dist",
        "[medsegkit.clusterers]\nodd = odd_clusterer:NotAClusterer\n",
        {"odd_clusterer": "class NotAClusterer:\n    pass\n"},
    )
    component = registry.resolve("clusterers", "odd")
    assert registry.check(component).ok  # without a base class a callable is all the registry can ask
    status = registry.check(component, base=Clusterer)
    assert not status.ok and "not a subclass of medsegkit.lesion.clustering.base.Clusterer" in status.reason
    with pytest.raises(contracts.ContractError, match="breaks the clusterers contract"):
        registry.load("clusterers", "odd", Clusterer)
