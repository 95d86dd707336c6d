"""Read one image file into a NumPy array plus its geometry.

Formats, chosen by file extension:

- PNG, TIFF, BMP through Pillow. Grayscale, 16-bit, float and palette ("P") images are read as
  they are stored (for a palette image the palette *index* is the label). Multi-page TIFFs are
  stacked into a 3-D array. RGB(A) images are label maps only through a palette file (see
  :func:`segeval.io.palette.read_palette`). These formats carry no spacing.
- NIfTI (``.nii``, ``.nii.gz``), MetaImage (``.mha``, ``.mhd``) and NRRD (``.nrrd``, ``.nhdr``)
  through SimpleITK, with spacing, origin and direction. SimpleITK reports them in (x, y, z)
  order while arrays are (z, y, x); they are reversed here, once, so that everywhere else in
  segeval ``spacing_mm[i]`` is the spacing of array axis ``i``.
- NumPy ``.npy`` and ``.npz`` through ``numpy.load(allow_pickle=False)``. An ``.npz`` with several
  arrays must hold one of the keys in :data:`NPZ_KEYS`.

Every failure is an :class:`~segeval.errors.InputError` whose message names the file.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segeval.errors import InputError

PILLOW_SUFFIXES = (".png", ".tif", ".tiff", ".bmp")
SITK_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr")
NUMPY_SUFFIXES = (".npy", ".npz")
SUPPORTED_SUFFIXES = SITK_SUFFIXES + PILLOW_SUFFIXES + NUMPY_SUFFIXES

NPZ_KEYS = ("probabilities", "softmax", "probs", "logits", "pred", "seg", "label", "mask", "arr_0")
"""Keys looked up, in this order, in an ``.npz`` file that holds more than one array."""


@dataclass(frozen=True)
class ImageData:
    """An image as read from disk.

    Attributes
    ----------
    path : Path
        The file it came from.
    array : numpy.ndarray
        Pixel data in NumPy axis order, (z, y, x) for volumes; may carry a channel axis.
    format : str
        ``"image"`` (Pillow), ``"sitk"`` (NIfTI/MHA/NRRD) or ``"numpy"``.
    spacing_mm : tuple of float or None
        Spacing of each *spatial* array axis in mm; ``None`` when the format stores none.
    origin_mm, direction : tuple of float or None
        Physical origin (array-axis order) and direction cosines (flattened, as SimpleITK gives
        them) of SimpleITK images; ``None`` otherwise.
    channel_axis : int or None
        The axis the format itself marks as channels: the 4th NIfTI dimension (array axis 0,
        since SimpleITK arrays are reversed) or the components of a vector image (last axis).
    """

    path: Path
    array: np.ndarray
    format: str
    spacing_mm: tuple[float, ...] | None = None
    origin_mm: tuple[float, ...] | None = None
    direction: tuple[float, ...] | None = None
    channel_axis: int | None = None


def format_suffix(path: Path) -> str | None:
    """The supported suffix ``path`` ends with (``".nii.gz"`` counts as one), or ``None``."""
    name = path.name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def read_image(path: str | Path, *, palette: dict[tuple[int, ...], int] | None = None) -> ImageData:
    """Read ``path`` with the library made for its format.

    Parameters
    ----------
    path : str or Path
        A file with one of :data:`SUPPORTED_SUFFIXES`.
    palette : dict, optional
        Colour → label map used to turn RGB(A) images into label maps.

    Raises
    ------
    InputError
        Unknown extension, missing, unreadable or corrupt file, unsupported pixel mode.
    """
    path = Path(path)
    suffix = format_suffix(path)
    if suffix is None:
        raise InputError(f"{path}: unknown file extension; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if suffix in PILLOW_SUFFIXES:
        return _read_pillow(path, palette)
    if suffix in SITK_SUFFIXES:
        return _read_sitk(path)
    return _read_numpy(path)


def _read_pillow(path: Path, palette: dict[tuple[int, ...], int] | None) -> ImageData:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            frames = [_pillow_frame_to_array(path, frame, palette) for frame in ImageSequence.Iterator(image)]
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (corrupt or not really {path.suffix})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: cannot decode image ({exc})") from None
    if len({frame.shape for frame in frames}) > 1:
        raise InputError(f"{path}: pages of different sizes {sorted({f.shape for f in frames})} cannot form a volume")
    array = frames[0] if len(frames) == 1 else np.stack(frames)
    return ImageData(path=path, array=array, format="image")


def _pillow_frame_to_array(path: Path, frame, palette: dict[tuple[int, ...], int] | None) -> np.ndarray:
    mode = frame.mode
    if mode in ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "F"):
        return np.array(frame)  # a writable array, so that torch can take it without another copy
    if mode in ("RGB", "RGBA"):
        if palette is None:
            raise InputError(
                f"{path}: {mode} colour image; segeval needs a label map "
                "(grayscale, 16-bit or palette PNG), or a colour→label map given with --palette"
            )
        from segeval.io.palette import colours_to_labels

        return colours_to_labels(path, np.asarray(frame.convert("RGB")), palette)
    raise InputError(f"{path}: unsupported image mode {mode!r} for a label or probability map")


def _read_sitk(path: Path) -> ImageData:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read image ({_itk_reason(exc)})") from None
    array = sitk.GetArrayFromImage(image)
    if format_suffix(path) in (".nii", ".nii.gz"):
        from segeval.io.nifti_check import check_nifti

        non_finite = check_nifti(path)
        if non_finite is not None:
            if image.GetNumberOfComponentsPerPixel() != 1 or not np.issubdtype(array.dtype, np.floating):
                raise InputError(f"{path}: {non_finite[0].size} NaN or infinite voxel values")
            array.reshape(-1)[non_finite[0]] = non_finite[1]  # niftilib read them as 0
    dim = image.GetDimension()
    spacing = tuple(reversed(image.GetSpacing()))
    origin = tuple(reversed(image.GetOrigin()))
    direction = tuple(image.GetDirection())
    channel_axis = None
    if image.GetNumberOfComponentsPerPixel() > 1:
        channel_axis = array.ndim - 1
    elif dim == 4:
        # A 4-D NIfTI stores channels in its 4th dimension (x, y, z, c) → array axis 0.
        channel_axis = 0
        spacing, origin = spacing[1:], origin[1:]
        direction = _spatial_direction(direction, 4)
    return ImageData(
        path=path,
        array=array,
        format="sitk",
        spacing_mm=tuple(float(s) for s in spacing),
        origin_mm=tuple(float(o) for o in origin),
        direction=tuple(float(d) for d in direction),
        channel_axis=channel_axis,
    )


def _itk_reason(exc: RuntimeError) -> str:
    """The informative line of an ITK exception (its description, not the file/line banner)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    described = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("itk::error")]
    return (described or lines or ["unreadable"])[-1]


def _spatial_direction(direction: tuple[float, ...], dim: int) -> tuple[float, ...]:
    """The upper-left (dim-1)×(dim-1) block of a flattened dim×dim direction matrix."""
    matrix = np.asarray(direction, dtype=float).reshape(dim, dim)
    return tuple(matrix[: dim - 1, : dim - 1].ravel())


def _read_numpy(path: Path) -> ImageData:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: cannot load NumPy file ({exc})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            if len(keys) == 1:
                key = keys[0]
            else:
                key = next((k for k in NPZ_KEYS if k in keys), None)
                if key is None:
                    raise InputError(f"{path}: .npz holds arrays {keys}; segeval reads one of {list(NPZ_KEYS)}")
            try:
                array = loaded[key]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise InputError(f"{path}: cannot load array {key!r} ({exc})") from None
    else:
        array = loaded
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InputError(f"{path}: array of dtype {array.dtype} is not a label or probability map")
    return ImageData(path=path, array=array, format="numpy", channel_axis=0)
