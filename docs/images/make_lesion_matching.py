"""Draw docs/images/lesion-matching.png: how segeval matches lesions (``python docs/images/make_lesion_matching.py``).

A hand-made 2-D scene, scored by :func:`segeval.metrics.lesion.lesion_metrics` under two rule sets: any-overlap
matching (left) and one-to-one IoU > 0.5 matching (right). Reference lesions are outlined, predicted lesions
filled in the colour of their status; each reference lesion is labelled with its id, status and Dice.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from segeval.metrics.lesion import LesionOptions, LesionStatus, Side, lesion_metrics  # noqa: E402
from segeval.options import LesionMatching  # noqa: E402

SHAPE = (70, 100)


def disc(centre, radius) -> np.ndarray:
    y, x = np.ogrid[: SHAPE[0], : SHAPE[1]]
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


def scene() -> tuple[np.ndarray, np.ndarray]:
    """Reference and prediction: found, split, two merged, missed, a 3-pixel lesion and a false positive."""
    gt = disc((15, 15), 8) | disc((15, 45), 8) | disc((45, 15), 5) | disc((45, 28), 5) | disc((45, 55), 6)
    gt |= disc((15, 80), 1)
    pred = disc((16, 16), 8)  # found, shifted by a pixel
    split = disc((15, 45), 8)
    split[:, 44:47] = False  # the lesion found as two pieces
    pred |= split
    pred |= disc((45, 15), 6) | disc((45, 28), 6)  # two lesions found as one
    pred[43:48, 15:29] = True
    pred |= disc((45, 85), 5)  # a false positive; the lesion at (45, 55) is missed
    return gt, pred


COLOURS = {LesionStatus.MATCHED: "#4daf4a", LesionStatus.FALSE_POSITIVE: "#e41a1c", LesionStatus.IGNORED: "#999999"}


def draw(axis, gt, pred, options: LesionOptions, title: str) -> None:
    from segeval.metrics.lesion import _label

    result = lesion_metrics(pred, gt, (1.0, 1.0), options)
    labels = _label(pred, 8)
    status = {row.id: row.status for row in result.lesions if row.side is Side.PREDICTION}
    colour_index = {s: i + 1 for i, s in enumerate(COLOURS)}
    image = np.zeros(SHAPE, dtype=int)
    for lesion_id, lesion_status in status.items():
        image[labels == lesion_id] = colour_index[lesion_status]
    axis.imshow(image, cmap=ListedColormap(["white", *COLOURS.values()]), vmin=0, vmax=len(COLOURS), alpha=0.6)
    axis.contour(gt, levels=[0.5], colors="black", linewidths=1.2)
    for row in result.lesions:
        if row.side is Side.REFERENCE:
            y, x = row.centroid_index_zyx
            text = f"R{row.id}\n{row.status.value}"
            if row.status is LesionStatus.MATCHED:
                text += f"\nDice {row.dice:.2f}"
            axis.text(x, y + 10, text, ha="center", va="top", fontsize=6)
    values = result.values
    axis.set_title(
        f"{title}\nTP {result.tp}  FN {result.fn}  FP {result.fp}  merged {result.merged}  split {result.split}\n"
        f"lesion F1 {values['lesion_f1'][0]:.2f}  PQ {values['pq'][0]:.2f}  lesion Dice {values['lesion_dice'][0]:.2f}",
        fontsize=8,
    )
    axis.set_xticks([])
    axis.set_yticks([])


def main() -> None:
    gt, pred = scene()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    draw(axes[0], gt, pred, LesionOptions(min_voxels=5), "any overlap (WMH, BraTS), lesions of <= 5 px ignored")
    draw(axes[1], gt, pred, LesionOptions(matching=LesionMatching.IOU, min_voxels=5), "IoU > 0.5 (panoptic)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.6) for c in COLOURS.values()]
    figure.legend(
        handles + [plt.Line2D([0], [0], color="black")],
        [f"predicted lesion: {s.value}" for s in COLOURS] + ["reference lesion (outline)"],
        loc="lower center",
        ncol=4,
        fontsize=7,
        frameon=False,
    )
    figure.tight_layout(rect=(0, 0.06, 1, 0.98))
    figure.subplots_adjust(top=0.82)
    path = Path(__file__).with_name("lesion-matching.png")
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
