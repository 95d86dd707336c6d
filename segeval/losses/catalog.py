"""The loss catalog: one explicit table of :class:`LossSpec` entries, registered in order.

The CLI's ``segeval losses`` table, ``docs/losses.md``'s summary and the conformance tests are all
generated from this table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from segeval.errors import UsageError
from segeval.losses import (
    boundary,
    compound,
    dice_focal,
    distribution,
    hausdorff,
    instance,
    region,
    skeleton,
    wasserstein,
)
from segeval.losses._args import LossModule
from segeval.losses._enums import Family, Mode, as_enum
from segeval.registry import Registry

__all__ = ["LossSpec", "catalog_markdown", "get_loss", "list_losses", "loss_spec"]


@dataclass(frozen=True)
class LossSpec:
    """One catalog entry.

    Attributes
    ----------
    name : str
        Canonical snake_case name (``get_loss(name)``).
    family : Family
        distribution, region, boundary or compound.
    summary : str
        One-line formula in plain text.
    defaults : str
        The defaults that matter, in short text.
    reference : str
        The paper (authors, venue, year).
    module : type[LossModule]
        The ``torch.nn.Module`` class; ``module(**options)`` builds it.
    aliases : tuple[str, ...]
        Other accepted names.
    function : Callable
        The functional form, ``function(input, target, **options)``.
    modes : tuple[Mode, ...]
        Modes the loss supports (all three for every loss of this catalog).
    default_mode : Mode
        The mode used when ``mode`` is not given.
    unreduced : str
        Shape returned with ``reduction="none"``.
    cpu_transform : bool
        True when every call runs a CPU distance transform (scipy) on the target or prediction.
    input_kind : str
        ``"logits"`` (probabilities with ``from_logits=False``), or ``"log-probabilities"`` (NLL).
    """

    name: str
    family: Family
    summary: str
    defaults: str
    reference: str
    module: type[LossModule]
    aliases: tuple[str, ...] = ()
    function: Callable[..., torch.Tensor] | None = field(default=None, repr=False)
    modes: tuple[Mode, ...] = (Mode.BINARY, Mode.MULTICLASS, Mode.MULTILABEL)
    default_mode: Mode = Mode.BINARY
    unreduced: str = ""
    cpu_transform: bool = False
    input_kind: str = "logits"

    def options(self) -> dict[str, Any]:
        """The module's options and their defaults."""
        return {
            p.name: p.default
            for p in inspect.signature(self.module.__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }


PIXEL = "per pixel: (B, *S) multiclass, (B, C, *S) binary/multilabel"
ELEMENT = "per element: (B, C, *S)"
REGION = "per image and class (B, K); (K,) with aggregation='batch'"
IMAGE = "per image (B,); 0-d with aggregation='batch'"
KMAP = "per element of the kept channels: (B, K, *S)"
CLASS = "per image and class (B, K)"
EACH_IMAGE = "per image (B,)"


def _spec(
    name: str,
    family: Family,
    module: type[LossModule],
    summary: str,
    defaults: str,
    reference: str,
    unreduced: str,
    *,
    aliases: tuple[str, ...] = (),
    cpu_transform: bool = False,
    input_kind: str = "logits",
) -> LossSpec:
    default_mode = inspect.signature(module.__init__).parameters["mode"].default
    return LossSpec(
        name=name,
        family=family,
        summary=summary,
        defaults=defaults,
        reference=reference,
        module=module,
        aliases=aliases,
        function=module.function,
        default_mode=Mode(default_mode),
        unreduced=unreduced,
        cpu_transform=cpu_transform,
        input_kind=input_kind,
    )


D, R, B, C = Family.DISTRIBUTION, Family.REGION, Family.BOUNDARY, Family.COMPOUND

_TABLE: tuple[LossSpec, ...] = (
    # ---- distribution
    _spec(
        "bce",
        D,
        distribution.BCELoss,
        "-mean[g ln p + (1-g) ln(1-p)]",
        "mode=binary; element-wise over channels",
        "classical; survey: Ma et al., Medical Image Analysis 2021",
        ELEMENT,
        aliases=("binary_cross_entropy",),
    ),
    _spec(
        "ce",
        D,
        distribution.CELoss,
        "sum_i w_y [-ln p_y] / sum_i w_y over non-ignored pixels",
        "mode=multiclass; weight=None; ignore_index=-100",
        "classical (torch semantics); survey: Ma et al., Medical Image Analysis 2021",
        PIXEL,
        aliases=("cross_entropy",),
    ),
    _spec(
        "nll",
        D,
        distribution.NLLLoss,
        "-sum_i w_y log p_y / sum_i w_y (input: log-probabilities)",
        "mode=multiclass; from_logits=False (log-probs); weight=None; ignore_index=-100",
        "classical (torch semantics); survey: Ma et al., Medical Image Analysis 2021",
        PIXEL,
        input_kind="log-probabilities",
    ),
    _spec(
        "wce",
        D,
        distribution.WeightedCELoss,
        "CE with w_c = N/(C n_c) (weighted mean); binary: -mean[b g ln p + (1-g) ln(1-p)], b = n_neg/n_pos",
        "weights from the batch unless weight / pos_weight given",
        "weighted CE; Jadon, CIBCB 2020 (binary form)",
        PIXEL,
        aliases=("weighted_ce",),
    ),
    _spec(
        "balanced_ce",
        D,
        distribution.BalancedCELoss,
        "-mean[b g ln p + (1-b)(1-g) ln(1-p)], b = 1 - sum(g)/N",
        "mode=binary; b over the batch",
        "Xie & Tu, HED, ICCV 2015",
        PIXEL,
        aliases=("bce_balanced",),
    ),
    _spec(
        "topk",
        D,
        distribution.TopKLoss,
        "mean of the k% largest pixel CE values",
        "k=10 (percent); pool=batch",
        "Wu, Shen, van den Hengel, arXiv:1605.06885 (2016)",
        PIXEL,
        aliases=("top_k",),
    ),
    _spec(
        "focal",
        D,
        distribution.FocalLoss,
        "-mean[alpha_t (1-p_t)^gamma ln p_t] per pixel",
        "alpha=0.25, gamma=2; mode=binary (sigmoid); softmax in multiclass",
        "Lin et al., RetinaNet, ICCV 2017",
        PIXEL,
    ),
    _spec(
        "dpce",
        D,
        distribution.DPCELoss,
        "mean[(1 + Phi) CE], Phi from the target's distance transform, 1 at boundaries",
        "spacing=None; fg/bg regions (binary)",
        "Caliva et al., MIDL 2019",
        PIXEL,
        aliases=("distance_penalized_ce",),
        cpu_transform=True,
    ),
    # ---- region
    _spec(
        "dice",
        R,
        region.DiceLoss,
        "1 - (2 sum pg + s)/(sum p + sum g + s)",
        "smooth=1e-5; per image; background included; squared=False",
        "Milletari et al., V-Net, 3DV 2016; Drozdzal et al., DLMIA 2016",
        REGION,
        aliases=("soft_dice",),
    ),
    _spec(
        "iou",
        R,
        region.IoULoss,
        "1 - (TP + s)/(TP + FP + FN + s)",
        "smooth=1e-5; per image",
        "Rahman & Wang, ISVC 2016",
        REGION,
        aliases=("jaccard",),
    ),
    _spec(
        "sens_spec",
        R,
        region.SensSpecLoss,
        "r sum (g-p)^2 g/(sum g + e) + (1-r) sum (g-p)^2 (1-g)/(sum (1-g) + e)",
        "r=0.05, e=1e-5; batch",
        "Brosch et al., MICCAI 2015",
        REGION,
        aliases=("sensitivity_specificity",),
    ),
    _spec(
        "tversky",
        R,
        region.TverskyLoss,
        "1 - (TP + s)/(TP + alpha FP + beta FN + s)",
        "alpha=0.3 (FP), beta=0.7 (FN), smooth=1e-5; per image",
        "Salehi et al., MLMI 2017",
        REGION,
    ),
    _spec(
        "focal_tversky",
        R,
        region.FocalTverskyLoss,
        "(1 - TI)^(1/gamma), TI = (TP + s)/(TP + alpha FP + beta FN + s)",
        "alpha=0.3 (FP), beta=0.7 (FN), gamma=4/3, smooth=1; batch",
        "Abraham & Khan, ISBI 2019",
        REGION,
    ),
    _spec(
        "generalized_dice",
        R,
        region.GeneralizedDiceLoss,
        "1 - (2 sum_c w_c sum pg + s)/(sum_c w_c sum(p + g) + s), w_c = 1/G_c^2",
        "w_type=square, smooth=1e-5; per image; absent class -> largest finite weight",
        "Sudre et al., DLMIA 2017",
        IMAGE,
        aliases=("gdl", "generalised_dice"),
    ),
    _spec(
        "log_cosh_dice", R, region.LogCoshDiceLoss, "ln cosh(1 - Dice)", "smooth=1; batch", "Jadon, CIBCB 2020", REGION
    ),
    _spec(
        "mcc",
        R,
        region.MCCLoss,
        "1 - (TP TN - FP FN)/sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN) + s); 0 where FP = FN = 0",
        "smooth=1e-5 under the root; per image",
        "Abhishek & Hamarneh, ISBI 2021",
        REGION,
    ),
    _spec(
        "focal_dice",
        R,
        region.FocalDiceLoss,
        "1 - Dice^(1/beta)",
        "beta=2, smooth=1e-5; per image; mode=multiclass",
        "Wang & Chung, DLMIA 2018",
        REGION,
    ),
    _spec(
        "lovasz",
        R,
        region.LovaszLoss,
        "Lovasz extension of the Jaccard loss at sorted errors (hinge on logits / |g - p|)",
        "per image; present classes (multiclass)",
        "Berman et al., CVPR 2018",
        IMAGE,
        aliases=("lovasz_softmax", "lovasz_hinge"),
    ),
    _spec(
        "cldice",
        R,
        region.ClDiceLoss,
        "(1-alpha)(1 - Dice) + alpha(1 - 2 Tprec Tsens/(Tprec + Tsens)) on soft skeletons",
        "alpha=0.5, iterations=3, smooth=1; batch; 2-D/3-D",
        "Shit et al., CVPR 2021",
        REGION,
        aliases=("soft_cldice",),
    ),
    _spec(
        "generalized_wasserstein_dice",
        R,
        wasserstein.GeneralizedWassersteinDiceLoss,
        "1 - 2TP/(2TP + sum_i W_i), W_i = sum_lc M_lc g_il p_ic, TP = sum_i sum_l g_il M_l0 (M_l0 - W_i)",
        "distance_matrix=None (the 0/1 matrix 1 - I, used by analyze/sweep/bench); smooth=1e-5; per image",
        "Fidon et al., BrainLes 2017",
        EACH_IMAGE,
        aliases=("gwdl", "generalised_wasserstein_dice", "wasserstein_dice"),
    ),
    _spec(
        "blob",
        R,
        instance.BlobLoss,
        "lambda_global (1 - Dice) + lambda_blob mean_n (1 - Dice(p mu_n, g_n)) over target components n",
        "lambda_global=2, lambda_blob=1, smooth=1e-5; components: full connectivity; per image",
        "Kofler et al., IPMI 2023",
        EACH_IMAGE,
        aliases=("blob_loss", "blob_dice"),
        cpu_transform=True,
    ),
    _spec(
        "skeleton_recall",
        R,
        skeleton.SkeletonRecallLoss,
        "1 - mean_k (sum p S_k + s)/(sum S_k + s), S_k the target's tubed skeleton",
        "smooth=1; skeleton (scikit-image, Lee) dilated twice; foreground classes; per image",
        "Kirchhoff et al., ECCV 2024",
        EACH_IMAGE,
        aliases=("skeleton_recall_loss", "skelrecall"),
        cpu_transform=True,
    ),
    # ---- boundary
    _spec(
        "boundary",
        B,
        boundary.BoundaryLoss,
        "mean[phi_G * p], phi_G signed distance to the target boundary (negative inside)",
        "spacing=None; background included",
        "Kervadec et al., MIDL 2019 / MedIA 2021",
        KMAP,
        aliases=("boundary_loss", "bd"),
        cpu_transform=True,
    ),
    _spec(
        "hausdorff_dt",
        B,
        boundary.HausdorffDTLoss,
        "mean[(p - g)^2 (d_p^alpha + d_g^alpha)]",
        "alpha=2; threshold 0.5; spacing=None",
        "Karimi & Salcudean, IEEE TMI 2019",
        KMAP,
        aliases=("hausdorff", "hd", "hd_dt"),
        cpu_transform=True,
    ),
    _spec(
        "log_hausdorff_dt",
        B,
        hausdorff.LogHausdorffDTLoss,
        "ln(1 + mean[(p - g)^2 (d_p^alpha + d_g^alpha)]) per image and class",
        "alpha=2; threshold 0.5; spacing=None",
        "Karimi & Salcudean, IEEE TMI 2019; MONAI LogHausdorffDTLoss",
        CLASS,
        aliases=("log_hausdorff", "log_hd"),
        cpu_transform=True,
    ),
    _spec(
        "erosion_hausdorff",
        B,
        hausdorff.ErosionHausdorffLoss,
        "mean[sum_k k^alpha (Delta eroded k times)], Delta = (p - g)^2, soft erosion by the cross",
        "alpha=2, erosions=10; 2-D and 3-D",
        "Karimi & Salcudean, IEEE TMI 2019",
        KMAP,
        aliases=("hausdorff_er", "hd_er", "erosion_hd"),
    ),
    _spec(
        "shape_aware",
        B,
        boundary.ShapeAwareLoss,
        "mean[(1 + E) CE], E = distance to the target contour on the predicted contour",
        "4/6-connected inner contours; p > 0.5 / argmax; spacing=None",
        "Al Arif, Knapp, Slabaugh, MICCAI-MSKI 2017",
        PIXEL,
        cpu_transform=True,
    ),
    # ---- compound
    _spec(
        "bce_dice",
        C,
        compound.BCEDiceLoss,
        "lambda_ce BCE + lambda_dice (1 - Dice)",
        "lambda_ce=1, lambda_dice=1, smooth=1e-5; per image",
        "Jadon, CIBCB 2020; MONAI DiceCELoss convention",
        IMAGE,
        aliases=("dice_bce",),
    ),
    _spec(
        "ce_dice",
        C,
        compound.CEDiceLoss,
        "lambda_ce CE + lambda_dice (1 - Dice)",
        "lambda_ce=1, lambda_dice=1, smooth=1e-5; per image",
        "Isensee et al., nnU-Net, Nature Methods 2021; MONAI DiceCELoss",
        IMAGE,
        aliases=("dice_ce",),
    ),
    _spec(
        "combo",
        C,
        compound.ComboLoss,
        "alpha(-mean[beta g ln p + (1-beta)(1-g) ln(1-p)]) - (1-alpha) Dice",
        "alpha=0.5, beta=0.5, smooth=1; batch",
        "Taghanaki et al., CMIG 2019",
        IMAGE,
    ),
    _spec(
        "exp_log",
        C,
        compound.ExpLogLoss,
        "w_dice E_c[(-ln Dice_c)^gamma_dice] + w_cross E_i[w_y (-ln p_y)^gamma_cross]",
        "w_dice=0.8, w_cross=0.2, gammas=0.3, smooth=1; batch",
        "Wong et al., MICCAI 2018",
        IMAGE,
        aliases=("exponential_logarithmic",),
    ),
    _spec(
        "unified_focal",
        C,
        compound.UnifiedFocalLoss,
        "lambda L_maF + (1 - lambda) L_aFT (asymmetric focal CE + focal Tversky)",
        "lambda_focal=0.5, delta=0.6, gamma=0.5; asymmetric; per image",
        "Yeung et al., CMIG 2022",
        IMAGE,
        aliases=("asymmetric_unified_focal",),
    ),
    _spec(
        "dice_focal",
        C,
        dice_focal.DiceFocalLoss,
        "lambda_dice (1 - Dice) + lambda_focal focal",
        "lambda_dice=1, lambda_focal=1, alpha=None, gamma=2, smooth=1e-5; per image",
        "Zhu et al., AnatomyNet, Medical Physics 2019; MONAI DiceFocalLoss",
        IMAGE,
    ),
    _spec(
        "generalized_dice_focal",
        C,
        dice_focal.GeneralizedDiceFocalLoss,
        "lambda_dice GDL + lambda_focal focal",
        "lambda_dice=1, lambda_focal=1, alpha=None, gamma=2, smooth=1e-5; per image",
        "Sudre et al., DLMIA 2017 + Lin et al., ICCV 2017; MONAI GeneralizedDiceFocalLoss",
        IMAGE,
        aliases=("gdl_focal", "generalised_dice_focal"),
    ),
)

_REGISTRY: Registry[LossSpec] = Registry("loss")
for _entry in _TABLE:
    _REGISTRY.register(_entry.name, _entry, aliases=_entry.aliases)


def list_losses(family: Family | str | None = None) -> list[str]:
    """Canonical loss names in catalog order, optionally of one family.

    Raises
    ------
    UnknownNameError
        For a family other than distribution, region, boundary, compound.
    """
    if family is None:
        return _REGISTRY.names()
    wanted = _family(family)
    return [spec.name for spec in _REGISTRY if spec.family is wanted]


def _family(family: Family | str) -> Family:
    from segeval.errors import UnknownNameError

    try:
        return as_enum(Family, family, "family")
    except UsageError as error:
        raise UnknownNameError(f"unknown loss family {family!r}", hint=error.message) from None


def loss_spec(name: str) -> LossSpec:
    """The :class:`LossSpec` of ``name`` (canonical name or alias, any case, ``-`` or ``_``).

    Raises
    ------
    UnknownNameError
        With "did you mean" suggestions and the list of known losses as a hint.
    """
    return _REGISTRY.get(name)


def get_loss(name: str, **options: Any) -> LossModule:
    """Build the loss module ``name`` with ``options`` (validated; see each loss's docstring).

    Every loss works with no options beyond ``mode=`` and ``from_logits=``, called as
    ``loss(input, target)``.

    Raises
    ------
    UnknownNameError
        Unknown loss name.
    UsageError
        Unknown option name, or an invalid value (the message names the loss and the option).
    """
    spec = loss_spec(name)
    valid = spec.options()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UsageError(
            f"{spec.name}: unknown option(s) {', '.join(repr(u) for u in unknown)}; "
            f"valid options are {', '.join(valid)}"
        )
    return spec.module(**options)


def catalog_markdown() -> str:
    """The catalog as a Markdown table (name, family, formula, defaults, reference).

    ``docs/losses.md`` embeds this table between ``<!-- catalog:start -->`` and
    ``<!-- catalog:end -->``; a test keeps the two identical.
    """
    rows = [
        "| name | family | formula | defaults | reference | `none` shape |",
        "|---|---|---|---|---|---|",
    ]
    for spec in _REGISTRY:
        cells = [
            f"`{spec.name}`" + (" (" + ", ".join(f"`{a}`" for a in spec.aliases) + ")" if spec.aliases else ""),
            spec.family.value,
            spec.summary.replace("|", "\\|"),
            spec.defaults.replace("|", "\\|") + ("; CPU distance transform" if spec.cpu_transform else ""),
            spec.reference,
            spec.unreduced,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
