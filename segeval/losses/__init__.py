"""The loss catalog: segmentation losses pinned to their papers, as functions and ``torch.nn`` modules.

>>> from segeval.losses import get_loss, list_losses, loss_spec
>>> loss = get_loss("dice", mode="multiclass")          # a torch.nn.Module
>>> list_losses("boundary")
['boundary', 'hausdorff_dt', 'log_hausdorff_dt', 'erosion_hausdorff', 'shape_aware']

Every loss is called as ``loss(input, target)`` or ``loss(input, target, mask)`` (pixels where the mask
is 0 count nowhere) and accepts ``mode=``, ``from_logits=`` and ``ignore_index=``.

Shapes (``S`` = one to three spatial axes; 2-D and 3-D images are the tested cases):

============  =======================================  ==================================================
mode          input                                    target
============  =======================================  ==================================================
binary        ``(B, 1, *S)``: one sigmoid channel      ``(B, 1, *S)`` or ``(B, *S)``, values in {0, 1}
multiclass    ``(B, C, *S)``, ``C >= 2``, softmax      ``(B, *S)`` integer class indices in [0, C), or
                                                       ``(B, C, *S)`` one-hot
multilabel    ``(B, C, *S)``: C sigmoid channels       ``(B, C, *S)``, values in {0, 1}
============  =======================================  ==================================================

- ``input`` holds logits (``from_logits=True``, the default everywhere except ``nll``, whose input
  is log-probabilities) or probabilities (``from_logits=False``). Soft targets in [0, 1] are
  accepted where a loss is defined for them; distance maps threshold targets at 0.5.
- Any floating dtype; float16/bfloat16 are computed in float32, float64 in float64. The result has
  the compute dtype. CPU and CUDA run the same code; the distance-based losses (``dpce``,
  ``boundary``, ``hausdorff_dt``, ``log_hausdorff_dt``, ``shape_aware``) compute their maps on the
  CPU with scipy; ``blob`` labels the target's components and ``skeleton_recall`` skeletonises it
  there too.
- ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``; the shape of ``none`` is stated per
  loss (``loss_spec(name).unreduced``).
- Options are validated when a module is built (and when a function is called); a bad value
  raises :class:`segeval.errors.UsageError` naming the loss, the option, the expectation and the
  value; an unknown name raises :class:`segeval.errors.UnknownNameError` with suggestions.

The conventions (region sums, background, smoothing, sign, empty classes) are stated in
:mod:`segeval.losses.region` and in ``docs/losses.md``.
"""

from segeval.losses._enums import Aggregation, Average, Family, Mode, Reduction, UnifiedVariant, WeightType
from segeval.losses.boundary import (
    BoundaryLoss,
    HausdorffDTLoss,
    ShapeAwareLoss,
    boundary_loss,
    hausdorff_dt_loss,
    shape_aware_loss,
)
from segeval.losses.catalog import LossSpec, get_loss, list_losses, loss_spec
from segeval.losses.compound import (
    BCEDiceLoss,
    CEDiceLoss,
    ComboLoss,
    ExpLogLoss,
    UnifiedFocalLoss,
    bce_dice_loss,
    ce_dice_loss,
    combo_loss,
    exp_log_loss,
    unified_focal_loss,
)
from segeval.losses.dice_focal import (
    DiceFocalLoss,
    GeneralizedDiceFocalLoss,
    dice_focal_loss,
    generalized_dice_focal_loss,
)
from segeval.losses.distribution import (
    BalancedCELoss,
    BCELoss,
    CELoss,
    DPCELoss,
    FocalLoss,
    NLLLoss,
    TopKLoss,
    WeightedCELoss,
    balanced_ce_loss,
    bce_loss,
    ce_loss,
    dpce_loss,
    focal_loss,
    nll_loss,
    topk_loss,
    wce_loss,
)
from segeval.losses.hausdorff import (
    ErosionHausdorffLoss,
    LogHausdorffDTLoss,
    erosion_hausdorff_loss,
    log_hausdorff_dt_loss,
)
from segeval.losses.instance import BlobLoss, blob_loss
from segeval.losses.region import (
    ClDiceLoss,
    DiceLoss,
    FocalDiceLoss,
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    IoULoss,
    LogCoshDiceLoss,
    LovaszLoss,
    MCCLoss,
    SensSpecLoss,
    TverskyLoss,
    cldice_loss,
    dice_loss,
    focal_dice_loss,
    focal_tversky_loss,
    generalized_dice_loss,
    iou_loss,
    log_cosh_dice_loss,
    lovasz_loss,
    mcc_loss,
    sens_spec_loss,
    soft_skeleton,
    tversky_loss,
)
from segeval.losses.skeleton import SkeletonRecallLoss, skeleton_recall_loss
from segeval.losses.wasserstein import GeneralizedWassersteinDiceLoss, generalized_wasserstein_dice_loss
from segeval.losses.wrappers import DeepSupervisionLoss, MaskedLoss

__all__ = [
    # catalog
    "Aggregation",
    "Average",
    "Family",
    "LossSpec",
    "Mode",
    "Reduction",
    "UnifiedVariant",
    "WeightType",
    "get_loss",
    "list_losses",
    "loss_spec",
    # distribution
    "BCELoss",
    "BalancedCELoss",
    "CELoss",
    "DPCELoss",
    "FocalLoss",
    "NLLLoss",
    "TopKLoss",
    "WeightedCELoss",
    "balanced_ce_loss",
    "bce_loss",
    "ce_loss",
    "dpce_loss",
    "focal_loss",
    "nll_loss",
    "topk_loss",
    "wce_loss",
    # region
    "ClDiceLoss",
    "DiceLoss",
    "FocalDiceLoss",
    "FocalTverskyLoss",
    "GeneralizedDiceLoss",
    "IoULoss",
    "LogCoshDiceLoss",
    "LovaszLoss",
    "MCCLoss",
    "SensSpecLoss",
    "TverskyLoss",
    "cldice_loss",
    "dice_loss",
    "focal_dice_loss",
    "focal_tversky_loss",
    "generalized_dice_loss",
    "iou_loss",
    "log_cosh_dice_loss",
    "lovasz_loss",
    "mcc_loss",
    "sens_spec_loss",
    "soft_skeleton",
    "tversky_loss",
    "BlobLoss",
    "GeneralizedWassersteinDiceLoss",
    "SkeletonRecallLoss",
    "blob_loss",
    "generalized_wasserstein_dice_loss",
    "skeleton_recall_loss",
    # boundary
    "BoundaryLoss",
    "HausdorffDTLoss",
    "ShapeAwareLoss",
    "boundary_loss",
    "hausdorff_dt_loss",
    "shape_aware_loss",
    "ErosionHausdorffLoss",
    "LogHausdorffDTLoss",
    "erosion_hausdorff_loss",
    "log_hausdorff_dt_loss",
    # compound
    "BCEDiceLoss",
    "CEDiceLoss",
    "ComboLoss",
    "ExpLogLoss",
    "UnifiedFocalLoss",
    "bce_dice_loss",
    "ce_dice_loss",
    "combo_loss",
    "exp_log_loss",
    "unified_focal_loss",
    "DiceFocalLoss",
    "GeneralizedDiceFocalLoss",
    "dice_focal_loss",
    "generalized_dice_focal_loss",
    # wrappers (not catalog entries)
    "DeepSupervisionLoss",
    "MaskedLoss",
]
