"""The catalog's public face: list_losses, get_loss, loss_spec, LossSpec, buffers, docs and doctests.

The per-loss checks of each catalog entry (spec, defaults text, constructor contract) are in
``test_loss_conformance.test_wiring``."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import math
import pathlib
import re

import pytest
import torch
from loss_cases import Failures, make_case

from segeval.losses import Family, LossSpec, get_loss, list_losses, loss_spec
from segeval.losses.catalog import catalog_markdown

ISSUE_NAMES = [
    "bce",
    "ce",
    "nll",
    "wce",
    "balanced_ce",
    "topk",
    "focal",
    "dpce",
    "dice",
    "iou",
    "sens_spec",
    "tversky",
    "focal_tversky",
    "generalized_dice",
    "log_cosh_dice",
    "boundary",
    "hausdorff_dt",
    "shape_aware",
    "bce_dice",
    "ce_dice",
    "combo",
    "exp_log",
    "lovasz",
    "cldice",
    "mcc",
    "focal_dice",
    "unified_focal",
    # issue 12
    "generalized_wasserstein_dice",
    "blob",
    "skeleton_recall",
    "log_hausdorff_dt",
    "erosion_hausdorff",
    "dice_focal",
    "generalized_dice_focal",
]

FAMILIES = {
    "distribution": {"bce", "ce", "nll", "wce", "balanced_ce", "topk", "focal", "dpce"},
    "region": {
        "dice",
        "iou",
        "sens_spec",
        "tversky",
        "focal_tversky",
        "generalized_dice",
        "log_cosh_dice",
        "mcc",
        "focal_dice",
        "lovasz",
        "cldice",
        "generalized_wasserstein_dice",
        "blob",
        "skeleton_recall",
    },
    "boundary": {"boundary", "hausdorff_dt", "shape_aware", "log_hausdorff_dt", "erosion_hausdorff"},
    "compound": {"bce_dice", "ce_dice", "combo", "exp_log", "unified_focal", "dice_focal", "generalized_dice_focal"},
}

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "losses.md"


def test_every_issue_name_is_in_the_catalog():
    assert sorted(list_losses()) == sorted(ISSUE_NAMES)
    assert len(set(list_losses())) == len(list_losses())


def test_list_losses_by_family():
    failures = Failures()
    for family, names in FAMILIES.items():
        with failures.case(family):
            assert set(list_losses(family)) == names
            assert list_losses(Family(family)) == list_losses(family)
            assert list_losses(family.upper()) == list_losses(family)
            for name in names:
                assert loss_spec(name).family == family, name
    failures.check()


def test_list_losses_keeps_catalog_order():
    everything = list_losses()
    for family in FAMILIES:
        subset = list_losses(family)
        assert subset == [n for n in everything if n in subset]


def test_aliases_and_normalised_names():
    failures = Failures()
    for alias, name in [
        ("jaccard", "iou"),
        ("GDL", "generalized_dice"),
        ("hd", "hausdorff_dt"),
        ("Focal-Tversky", "focal_tversky"),
        ("cross entropy", "ce"),
        ("lovasz_softmax", "lovasz"),
        ("dice_ce", "ce_dice"),
    ]:
        with failures.case(alias):
            assert loss_spec(alias).name == name
            assert isinstance(get_loss(alias), loss_spec(name).module)
    failures.check()


def test_loss_spec_is_frozen():
    spec = loss_spec("dice")
    assert isinstance(spec, LossSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]


def test_specs_say_which_losses_run_cpu_transforms():
    assert {n for n in list_losses() if loss_spec(n).cpu_transform} == {
        "dpce",
        "boundary",
        "hausdorff_dt",
        "shape_aware",
        "log_hausdorff_dt",  # distance transforms
        "blob",  # connected components
        "skeleton_recall",  # skeletonisation
    }
    assert {n for n in list_losses() if loss_spec(n).input_kind != "logits"} == {"nll"}


# ----------------------------------------------------------------------------- buffers


def test_class_weights_are_registered_buffers():
    loss = get_loss("ce", weight=[1.0, 2.0, 3.0])
    assert "weight" in dict(loss.named_buffers())
    assert "weight" in loss.state_dict()
    z, t, _ = make_case("multiclass", seed=4)
    before = loss(z, t)
    loss.weight.mul_(0).add_(torch.tensor([1.0, 1.0, 1.0], dtype=loss.weight.dtype))
    torch.testing.assert_close(loss(z, t), torch.nn.functional.cross_entropy(z, t))
    assert not torch.isclose(before, loss(z, t))


def test_buffers_follow_module_conversions_and_state_dict_round_trips():
    loss = get_loss("focal", mode="multiclass", alpha=[0.2, 0.3, 0.5]).to(torch.float32)
    assert loss.alpha.dtype == torch.float32
    clone = get_loss("focal", mode="multiclass", alpha=[1.0, 1.0, 1.0])
    clone.load_state_dict(loss.state_dict())
    z, t, _ = make_case("multiclass", seed=5)
    torch.testing.assert_close(clone(z, t), loss(z, t))


def test_scalar_alpha_and_no_weight_leave_no_buffer_in_the_state_dict():
    assert get_loss("focal").state_dict() == {}
    assert get_loss("ce").state_dict() == {}


def test_module_repr_shows_the_options():
    text = repr(get_loss("tversky", alpha=0.4, beta=0.6))
    assert text.startswith("TverskyLoss(") and "alpha=0.4" in text and "beta=0.6" in text and "mode='binary'" in text


def test_modules_are_deterministic():
    z, t, _ = make_case("multiclass", seed=6)
    for name in list_losses():
        loss = get_loss(name, mode="multiclass", from_logits=True)
        assert torch.equal(loss(z, t), loss(z, t)), name


# ----------------------------------------------------------------------------- docs and doctests


MODULES = [
    "segeval.losses",
    "segeval.losses.distribution",
    "segeval.losses.region",
    "segeval.losses.boundary",
    "segeval.losses.compound",
]


def test_doctests():
    failures = Failures()
    for module in MODULES:
        with failures.case(module):
            result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
            assert result.attempted > 0
            assert result.failed == 0
    failures.check()


def test_docs_embed_the_catalog_table():
    text = DOCS.read_text(encoding="utf-8")
    start, end = "<!-- catalog:start -->\n", "<!-- catalog:end -->"
    embedded = text[text.index(start) + len(start) : text.index(end)]
    assert embedded == catalog_markdown(), "regenerate the table with segeval.losses.catalog.catalog_markdown()"


def test_docs_have_a_section_per_loss():
    text = DOCS.read_text(encoding="utf-8")
    for name in list_losses():
        assert re.search(rf"^### .*`{name}`", text, flags=re.MULTILINE), name


def test_docs_state_the_conventions_and_the_deferred_losses():
    text = DOCS.read_text(encoding="utf-8")
    for axis in ("input", "target", "region sums", "background", "smoothing", "sign", "empty class"):
        assert re.search(rf"^\| {axis} \|", text, flags=re.MULTILINE), axis
    assert "## Deferred" in text


def test_loss_values_are_python_floats_friendly():
    z, t, _ = make_case("binary", seed=7)
    value = get_loss("dice")(z, t).item()
    assert isinstance(value, float) and math.isfinite(value)
