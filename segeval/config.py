"""ScoreConfig: the options that shape the numbers of ``segeval score``, built and validated once.

Its fields are the ``config=True`` rows of the option table (:data:`segeval.options.OPTIONS`), with
their defaults; each value is coerced and checked by its option, whatever its source. The CLI,
the settings file and :func:`segeval.score` all end in one ``ScoreConfig``; ``summary.json`` records
it whole, so a report says how its numbers were made. The compute device is a name here; it is
resolved where the run starts (a config for a GPU machine can be built on a laptop).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
from pathlib import Path

from segeval.errors import UsageError
from segeval.options import BY_NAME, CONFIG_OPTIONS, EMPTY_PRESETS, PredKind


class _ScoreConfigMethods:
    """Checks across options and derived views of a :class:`ScoreConfig`."""

    def __post_init__(self) -> None:
        for option in CONFIG_OPTIONS:
            value = option.coerce(getattr(self, option.name))
            object.__setattr__(self, option.name, option.default if value is None else value)
        self._apply_empty_policy()
        dataset = self._read_dataset_json()
        self._check_labels()
        self._define_regions(dataset)
        if self.pred_kind is PredKind.PROBS and self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise UsageError(f"--threshold must be in (0, 1) for probabilities, got {self.threshold!r}")
        if self.skip_missing and not self.allow_missing:
            object.__setattr__(self, "allow_missing", True)
        if (self.max_drop or self.max_rise) and self.baseline is None:
            raise UsageError("--max-drop/--max-rise need --baseline")
        self.distance_metrics()  # fail fast on a bad metric or gate, before any file is read
        if self.lesion_metrics():
            self.lesion_options()  # and on lesion options that do not fit together
        self.parsed_limits()

    def _apply_empty_policy(self) -> None:
        """``empty_score`` and ``distance_empty`` left unset take the value of ``empty_policy``'s preset."""
        preset = EMPTY_PRESETS[self.empty_policy]
        filled = tuple(name for name in ("empty_score", "distance_empty") if getattr(self, name) is None)
        for name in filled:
            object.__setattr__(self, name, getattr(preset, name))
        object.__setattr__(self, "_policy_filled", filled)

    def empty_preset(self):
        """The :class:`segeval.options.EmptyPreset` of ``empty_policy``, with this run's ``empty_score`` and
        ``distance_empty`` (an explicit option wins over the preset)."""
        return dataclasses.replace(
            EMPTY_PRESETS[self.empty_policy], empty_score=self.empty_score, distance_empty=self.distance_empty
        )

    def _check_labels(self) -> None:
        if self.num_classes is not None:
            implied = tuple(range(self.num_classes))
            if self.labels is not None and tuple(sorted(self.labels)) != implied:
                raise UsageError("give either --labels or --num-classes, not both")
            object.__setattr__(self, "labels", implied)
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(sorted(self.labels)))
            if self.ignore_index is not None and self.ignore_index in self.labels:
                raise UsageError(f"--ignore-index {self.ignore_index} is also one of --labels")

    def _read_dataset_json(self):
        """``dataset_json`` read (its ignore label sets ``ignore_index`` when that is unset), or ``None``."""
        from segeval.regions import read_dataset_json

        dataset = read_dataset_json(self.dataset_json) if self.dataset_json is not None else None
        if dataset is not None and dataset.ignore_label is not None and self.ignore_index is None:
            object.__setattr__(self, "ignore_index", dataset.ignore_label)
        object.__setattr__(self, "_dataset_names", dataset.class_names if dataset is not None else {})
        return dataset

    def _define_regions(self, dataset) -> None:
        """The regions of ``regions`` then ``dataset_json``, checked against the labels, names and tolerances."""
        from segeval.regions import check_regions, parse_region

        regions = [parse_region(text) for text in self.regions] + list(dataset.regions if dataset else ())
        names = [item.split("=", 1)[-1].strip() for item in self.class_names or ()]
        check_regions(
            regions,
            class_names=names + list(self._dataset_names.values()),
            labels=self.labels,
            ignore_index=self.ignore_index,
        )
        if regions and isinstance(self.nsd_tolerance, tuple) and "nsd" in self.distance_metrics():
            tolerances = dict(self.nsd_tolerance)
            for region in regions:
                if len({tolerances.get(v) for v in region.labels}) != 1 or region.labels[0] not in tolerances:
                    raise UsageError(
                        f"--nsd-tolerance gives the labels of region {region.text!r} no single tolerance",
                        hint="give its labels one tolerance, or give one tolerance for every class",
                    )
        object.__setattr__(self, "_regions", tuple(regions))

    def region_definitions(self) -> tuple:
        """The :class:`segeval.regions.Region` of the run: ``regions``, then the regions of ``dataset_json``."""
        return self._regions

    def counted_metrics(self) -> tuple:
        """The opt-in metrics of the confusion matrices to compute, in order: named in ``metrics`` (or their family,
        ``cm``) or a gate (:func:`segeval.metrics.catalog.expand_metrics`)."""
        from segeval.metrics.catalog import expand_metrics

        names = list(self.metrics or ()) + [gate.metric for gate in self.parsed_gates() if gate.is_metric]
        return tuple(spec for spec in expand_metrics(names) if spec.opt_in and spec.compute is not None)

    def distance_metrics(self) -> list[str]:
        """Distance metrics to compute, in order: from ``metrics``, ``hd_percentile`` and the gates."""
        from segeval.metrics.catalog import expand_metrics, resolve_metric

        names = list(self.metrics or ())
        if self.hd_percentile is not None:
            names.append(f"hd{self.hd_percentile:g}")
        specs = expand_metrics(names)  # a metric or a family (cm, distance); an unknown name is a did-you-mean error
        specs += [resolve_metric(gate.metric) for gate in self.parsed_gates() if gate.is_metric]
        wanted: list[str] = []
        for spec in specs:
            if spec.needs_distances and spec.name not in wanted:
                wanted.append(spec.name)
        return wanted

    def distance_options(self, device: str = "cpu"):
        """The :class:`segeval.metrics.distance.DistanceOptions` of this run on ``device``."""
        from segeval.metrics.distance import DistanceOptions

        tolerance = dict(self.nsd_tolerance) if isinstance(self.nsd_tolerance, tuple) else self.nsd_tolerance
        return DistanceOptions(
            convention=self.convention,
            percentile=self.hd_percentile or 95.0,
            nsd_tolerance_mm=tolerance,
            boundary_iou_width_mm=self.boundary_iou_width,
            empty_policy=self.distance_empty.value,
            device=device,
        )

    def lesion_metrics(self) -> list[str]:
        """Lesion-wise metrics to compute, in catalog order: named in ``metrics`` (``lesion``: all of them) or a gate."""
        from segeval.metrics.catalog import CATALOG, expand_metrics

        names = list(self.metrics or ()) + [gate.metric for gate in self.parsed_gates() if gate.is_metric]
        wanted = {spec.name for spec in expand_metrics(names)}  # a metric or a family (lesion, cm, distance)
        return [spec.name for spec in CATALOG if spec.needs_lesions and spec.name in wanted]

    def lesion_options(self):
        """The :class:`segeval.metrics.lesion.LesionOptions` of this run: ``lesion_preset``, then the lesion options
        given (a physical dilation or size limit replaces the preset's voxel one)."""
        from segeval.metrics.lesion import LesionOptions

        given = {
            field: getattr(self, name)
            for field, name in (
                ("matching", "lesion_matching"),
                ("connectivity", "lesion_connectivity"),
                ("dilation_iterations", "lesion_dilation"),
                ("dilation_mm", "lesion_dilation_mm"),
                ("min_voxels", "lesion_min_voxels"),
                ("min_mm3", "lesion_min_mm3"),
            )
            if getattr(self, name) is not None
        }
        if "dilation_mm" in given:
            given.setdefault("dilation_iterations", 0)
        if "min_mm3" in given:
            given.setdefault("min_voxels", 0)
        given.update(unmatched_distance=self.lesion_unmatched_hd, empty_score=self.empty_score)
        if self.lesion_preset.value == "none":
            given["convention"] = self.convention
        return LesionOptions.preset(self.lesion_preset, **given)

    def parsed_gates(self) -> list:
        """The gates as :class:`segeval.quality.gates.Gate` objects."""
        from segeval.quality.gates import parse_gate

        return [parse_gate(text, source=self.sources.get("gates", "library")) for text in self.gates]

    def parsed_limits(self) -> list:
        """``max_drop`` and ``max_rise`` as gates on the change of the mean."""
        from segeval.quality.gates import parse_limits

        return parse_limits(self.max_drop, "drop") + parse_limits(self.max_rise, "rise")

    def named_classes(self, labels: list[int]) -> list[str]:
        """A name for each of ``labels``: from ``class_names``, else ``dataset_json``, else ``"class_<value>"``."""
        names = {value: self._dataset_names.get(value, f"class_{value}") for value in labels}
        if self.class_names is None:
            return [names[v] for v in labels]
        items = list(self.class_names)
        if all("=" in item for item in items):
            for item in items:
                value, name = item.split("=", 1)
                try:
                    names[int(value)] = name.strip()
                except ValueError:
                    raise UsageError(f"--class-names item {item!r} is not VALUE=NAME") from None
        elif len(items) == len(labels):
            names = dict(zip(labels, items))
        else:
            raise UsageError(
                f"--class-names gives {len(items)} names for {len(labels)} labels {labels};"
                " give one per label or VALUE=NAME items"
            )
        return [names[v] for v in labels]

    def as_dict(self) -> dict[str, object]:
        """Every option as JSON-ready values (paths as strings, NaN as None, enums by value)."""
        out: dict[str, object] = {}
        for option in CONFIG_OPTIONS:
            value = getattr(self, option.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, float) and math.isnan(value):
                value = None
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[option.name] = value
        return out


ScoreConfig = dataclasses.make_dataclass(
    "ScoreConfig",
    [(option.name, object, dataclasses.field(default=option.default)) for option in CONFIG_OPTIONS]
    + [("sources", dict, dataclasses.field(default_factory=dict, compare=False))],
    bases=(_ScoreConfigMethods,),
    frozen=True,
)
ScoreConfig.__module__ = __name__
ScoreConfig.__doc__ = (
    "Options of :func:`segeval.score` that shape the numbers, one field per ``config`` row of the option "
    "table (see ``segeval score --help``); ``sources`` says where each setting came from (``cli`` or a "
    "settings file)."
)


def build_config(base: ScoreConfig | None = None, **overrides) -> ScoreConfig:
    """``base`` (or the defaults) with ``overrides``; an unknown name is a usage error with a suggestion."""
    fields = {option.name for option in CONFIG_OPTIONS} | {"sources"}
    for name in overrides:
        if name not in fields:
            close = difflib.get_close_matches(name, sorted(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            run_option = " (an option of the command, not of the scores)" if name in BY_NAME else ""
            raise UsageError(f"unknown score option {name!r}{run_option}{hint}")
    if base is None:
        return ScoreConfig(**overrides)
    refill = {name: None for name in base._policy_filled if name not in overrides}  # the (new) preset fills them
    return dataclasses.replace(base, **refill, **overrides)


def default_workers() -> int:
    """Loader threads when ``workers`` is not set: min(4, CPU count)."""
    import os

    return max(1, min(4, os.cpu_count() or 1))


__all__ = ["ScoreConfig", "build_config", "default_workers"]
