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
- NumPy ``.npy`` and ``.npz`` through ``numpy.lib.format`` (never unpickling). An ``.npz`` with
  several arrays must hold one of the keys in :data:`NPZ_KEYS`.

Sizes come from the header first (:func:`read_header`: a PNG's IHDR chunk, else Pillow's lazy open, SimpleITK's
image-information read, the NPY header, the header of the ``.npz`` member), and are checked
against the file's size where the format is uncompressed and against ``max_voxels`` before any
pixel is decoded. Every failure is an :class:`~segeval.errors.InputError` whose message names the file.
"""

from __future__ import annotations

import io
import lzma
import math
import mmap
import os
import struct
import threading
import tokenize
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segeval.errors import InputError
from segeval.io.nifti_check import NiftiLayout, check_nifti_size, float_voxels, non_finite_voxels
from segeval.options import BY_NAME

PILLOW_SUFFIXES = (".png", ".tif", ".tiff", ".bmp")
SITK_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr")
NUMPY_SUFFIXES = (".npy", ".npz")
SUPPORTED_SUFFIXES = SITK_SUFFIXES + PILLOW_SUFFIXES + NUMPY_SUFFIXES

NPZ_KEYS = ("probabilities", "softmax", "probs", "logits", "pred", "seg", "label", "mask", "arr_0")
"""Keys looked up, in this order, in an ``.npz`` file that holds more than one array."""

DEFAULT_MAX_VOXELS: int = BY_NAME["max_voxels"].default
"""Default of ``--max-voxels``: the most values (voxels × channels) read from one file."""

_NUMERIC_KINDS = "biuf"
_ZIP_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
)
"""What reading a damaged ``.npz`` raises (``NotImplementedError``: an unknown compression method,
``RuntimeError``: an encrypted member)."""
_DEFLATE_MAX_RATIO = 1032
"""Deflate expands data at most 1032-fold: a PNG cannot hold more raw bytes than that times its size."""
_PNG_IN_MEMORY = 1 << 24
"""PNG files up to 16 MiB are read into memory once: the chunk check and the decode share the bytes. Larger
ones are checked through a memory map, then decoded from the file."""
_PILLOW_OPEN = threading.Lock()
"""Serialises Pillow's header read, whose decompression-bomb warning is silenced (not thread-safe)."""


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


def format_suffix(path: str | Path) -> str | None:
    """The supported suffix the file name of ``path`` ends with (``".nii.gz"`` counts as one), or ``None``."""
    name = os.path.basename(path).lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says about the array :func:`read_image` would return.

    Attributes
    ----------
    path : Path
        The file.
    shape : tuple of int
        Shape of the array, in NumPy axis order.
    channel_axis : int or None
        As in :class:`ImageData`.
    member : str or None
        The array an ``.npz`` is read from (one of :data:`NPZ_KEYS`, or its only array).
    nifti : NiftiLayout or None
        Where a NIfTI file's voxels are (:mod:`segeval.io.nifti_check`), read once with the header.
    """

    path: Path
    shape: tuple[int, ...]
    channel_axis: int | None = None
    member: str | None = None
    nifti: NiftiLayout | None = None
    content: bytes | None = field(default=None, repr=False)
    """The whole file, when the header check read it (a PNG up to :data:`_PNG_IN_MEMORY`): decoded from here."""

    @property
    def values(self) -> int:
        """Number of values in the array (voxels × channels)."""
        return math.prod(self.shape)


def read_header(path: str | Path, *, max_voxels: int = DEFAULT_MAX_VOXELS) -> ImageHeader:
    """Read the size of ``path`` from its header, without decoding any pixel.

    Raises
    ------
    InputError
        Unknown extension, missing or unreadable file, a header that the file's size cannot hold,
        or more than ``max_voxels`` values.
    """
    path = Path(path)
    suffix = format_suffix(path)
    if suffix is None:
        raise InputError(f"{path}: unknown file extension; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"{path}: is a folder, not a file" if path.is_dir() else f"{path}: file not found")
    if suffix in PILLOW_SUFFIXES:
        header = _pillow_header(path)
    elif suffix in SITK_SUFFIXES:
        header = _sitk_header(path)
    elif suffix == ".npy":
        header = _npy_header(path)
    else:
        header = _npz_header(path)
    if header.values > max_voxels:
        raise InputError(
            f"{path}: shape {header.shape} holds {header.values:,} values, more than --max-voxels {max_voxels:,}"
        )
    return header


def read_image(
    path: str | Path,
    *,
    palette: dict[tuple[int, ...], int] | None = None,
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> ImageData:
    """Read ``path`` with the library made for its format.

    Parameters
    ----------
    path : str or Path
        A file with one of :data:`SUPPORTED_SUFFIXES`.
    palette : dict, optional
        Colour → label map used to turn RGB(A) images into label maps.
    max_voxels : int
        The most values (voxels × channels) the file may hold; checked on the header, before decoding.

    Raises
    ------
    InputError
        Unknown extension, missing, unreadable, corrupt or too large file, unsupported pixel mode.
    """
    return decode_image(read_header(path, max_voxels=max_voxels), palette=palette)


def decode_image(header: ImageHeader, *, palette: dict[tuple[int, ...], int] | None = None) -> ImageData:
    """Decode the file whose ``header`` :func:`read_header` read (and checked); the pixels must match it."""
    path = header.path
    suffix = format_suffix(path)
    if suffix in PILLOW_SUFFIXES:
        image = _read_pillow(header, palette)
    elif suffix in SITK_SUFFIXES:
        image = _read_sitk(header)
    else:
        image = _read_numpy(header)
    if image.array.shape != header.shape:
        raise InputError(f"{path}: decoded shape {image.array.shape} differs from the header's {header.shape}")
    return image


def _open_pillow(path: Path, content: bytes | None = None):
    """``PIL.Image.open`` of ``path``, or of its ``content`` already read (lazy: the header only); segeval's own
    limit replaces Pillow's bomb warning."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _PILLOW_OPEN, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path if content is None else io.BytesIO(content))
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (corrupt or not really {path.suffix})") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: refused by Pillow: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: cannot decode image ({exc})") from None


def _png_chunks(path: Path) -> tuple[tuple[int, int] | None, int, bytes | None]:
    """(:func:`_png_size` of ``path``, its size in bytes, its bytes when at most :data:`_PNG_IN_MEMORY`): one open,
    then one read call (small files) or a memory map (larger ones); no read call per chunk."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= _PNG_IN_MEMORY:
            content = handle.read()
            return _png_size(path, content), len(content), content
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _png_size(path, data), size, None


def _png_size(path: Path, data: bytes | mmap.mmap) -> tuple[int, int] | None:
    """(height, width) of the PNG whose bytes are ``data``, from its IHDR chunk, once every chunk is checked to fit
    in the file (Pillow allocates a chunk's declared length before reading it).

    ``None`` when Pillow reads the header instead: not a PNG inside (Pillow says what it is not), an animated
    PNG, a first chunk that is not an IHDR of 1 to ``MAX_IMAGE_PIXELS`` pixels (larger ones: Pillow's limits
    decide). Only the chunk headers are read, no chunk data.
    """
    from PIL import Image

    size = len(data)
    if size < 8 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    found, animated, position = None, False, 8
    while position + 8 <= size:
        length, kind = struct.unpack_from(">I4s", data, position)
        if position + 12 + length > size:
            raise InputError(
                f"{path}: truncated or corrupt PNG: chunk {kind.decode('latin-1')!r} declares {length:,} "
                f"bytes, the file has {max(0, size - position - 12):,} left"
            )
        if position == 8 and kind == b"IHDR" and length >= 8:
            width, height = struct.unpack_from(">II", data, 16)
            found = (height, width) if 0 < width * height <= Image.MAX_IMAGE_PIXELS else None
        animated |= kind == b"acTL"
        if kind == b"IEND":
            break
        position += 12 + length
    return None if animated else found


def _pillow_header(path: Path) -> ImageHeader:
    """The shape from the PNG chunks (:func:`_png_chunks`), else from Pillow's lazy open."""
    size, file_size, content = _png_chunks(path) if format_suffix(path) == ".png" else (None, None, None)
    if size is not None:
        (height, width), pages, is_png = size, 1, True
    else:
        content = None  # Pillow reads this one (not a PNG inside, animated, or too large for the chunk check)
        with _open_pillow(path) as image:
            try:
                pages = getattr(image, "n_frames", 1)
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise InputError(f"{path}: cannot decode image ({exc})") from None
            (width, height), is_png = image.size, image.format == "PNG"
    least = height * (1 + math.ceil(width / 8))  # the raw rows at 1 bit per pixel, one filter byte each
    if is_png:
        file_size = os.path.getsize(path) if file_size is None else file_size
        if least > _DEFLATE_MAX_RATIO * file_size:
            raise InputError(f"{path}: truncated PNG: {file_size:,} bytes cannot hold {width}×{height} pixels")
    return ImageHeader(path=path, shape=(height, width) if pages == 1 else (pages, height, width), content=content)


def _read_pillow(header: ImageHeader, palette: dict[tuple[int, ...], int] | None) -> ImageData:
    from PIL import ImageSequence

    path = header.path
    with _open_pillow(path, header.content) as image:
        try:
            frames = [_pillow_frame_to_array(path, frame, palette) for frame in ImageSequence.Iterator(image)]
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
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


def _simpleitk():
    """SimpleITK, with ITK's own warnings off: they print raw file names on stderr; segeval reports problems itself."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    return sitk


def _sitk_header(path: Path) -> ImageHeader:
    sitk = _simpleitk()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read image ({_itk_reason(exc)})") from None
    layout = check_nifti_size(path) if format_suffix(path) in (".nii", ".nii.gz") else None
    shape = tuple(reversed(reader.GetSize()))
    components = reader.GetNumberOfComponents()
    if components > 1:
        return ImageHeader(path=path, shape=(*shape, components), channel_axis=len(shape), nifti=layout)
    return ImageHeader(path=path, shape=shape, channel_axis=0 if len(shape) == 4 else None, nifti=layout)


def _read_sitk(header: ImageHeader) -> ImageData:
    """Decode with SimpleITK, the voxels once: unscaled float NIfTI voxels are read by
    :func:`~segeval.io.nifti_check.float_voxels` (niftilib would zero their NaN and infinite values) and
    SimpleITK reads only the geometry."""
    sitk = _simpleitk()
    path, layout = header.path, header.nifti
    own = layout is not None and layout.plain_float and layout.n_voxels == math.prod(header.shape)
    try:
        if own:
            source = sitk.ImageFileReader()
            source.SetFileName(str(path))
            source.ReadImageInformation()
            components = source.GetNumberOfComponents()
            array = float_voxels(path, layout).reshape(header.shape)
        else:
            source = sitk.ReadImage(str(path))
            components = source.GetNumberOfComponentsPerPixel()
            array = sitk.GetArrayFromImage(source)
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read image ({_itk_reason(exc)})") from None
    if layout is not None and not own:
        non_finite = non_finite_voxels(path, layout)
        if non_finite is not None:
            if components != 1 or not np.issubdtype(array.dtype, np.floating):
                raise InputError(f"{path}: {non_finite[0].size} NaN or infinite voxel values")
            if non_finite[0].max() >= array.size:
                raise InputError(f"{path}: the NIfTI header and SimpleITK disagree on the number of voxels")
            array.reshape(-1)[non_finite[0]] = non_finite[1]  # niftilib read them as 0
    dim = source.GetDimension()
    spacing = tuple(reversed(source.GetSpacing()))
    origin = tuple(reversed(source.GetOrigin()))
    direction = tuple(source.GetDirection())
    channel_axis = None
    if components > 1:
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


def _array_header(path: Path, stream, what: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data bytes) from the NPY header at the start of ``stream``; never unpickles."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"format version {version}")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
        if any(n < 0 for n in shape):
            raise ValueError(f"shape {shape}")
    except (*_ZIP_ERRORS, TypeError, SyntaxError, tokenize.TokenError):  # numpy parses the header as Python
        raise InputError(f"{path}: cannot load NumPy file ({what} has no valid .npy header)") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise InputError(f"{path}: array of dtype {dtype} is not a label or probability map")
    return tuple(shape), dtype, math.prod(shape) * dtype.itemsize


def _npy_header(path: Path) -> ImageHeader:
    with open(path, "rb") as stream:
        shape, _, n_bytes = _array_header(path, stream, "the file")
        available = os.path.getsize(path) - stream.tell()
    if available < n_bytes:
        raise InputError(
            f"{path}: cannot load NumPy file (truncated: {available:,} bytes of data, shape {shape} needs {n_bytes:,})"
        )
    return ImageHeader(path=path, shape=shape, channel_axis=0)


def _npz_header(path: Path) -> ImageHeader:
    """The header of the array segeval reads from an ``.npz`` (its member name included)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
            key = names[0] if len(names) == 1 else next((k for k in NPZ_KEYS if k in names), None)
            if key is None:
                raise InputError(f"{path}: .npz holds arrays {_few(names)}; segeval reads one of {list(NPZ_KEYS)}")
            member = archive.getinfo(key + ".npy")
            with archive.open(member) as stream:
                shape, _, n_bytes = _array_header(path, stream, f"member {key!r}")
                needed = stream.tell() + n_bytes
    except _ZIP_ERRORS as exc:
        raise InputError(f"{path}: cannot load NumPy file ({exc})") from None
    if member.file_size < needed:
        raise InputError(
            f"{path}: cannot load NumPy file (member {key!r} declares {member.file_size:,} bytes, shape {shape} needs {needed:,})"
        )
    return ImageHeader(path=path, shape=shape, channel_axis=0, member=key)


def _few(names: list[str], count: int = 5) -> str:
    """Up to ``count`` names, and how many there are in all when there are more."""
    shown = ", ".join(repr(name) for name in names[:count])
    return f"[{shown}]" if len(names) <= count else f"[{shown}, ...] ({len(names)} in all)"


def _read_numpy(header: ImageHeader) -> ImageData:
    path = header.path
    try:
        if header.member is None:
            array = np.load(path, allow_pickle=False)
        else:
            with zipfile.ZipFile(path) as archive, archive.open(header.member + ".npy") as stream:
                array = np.lib.format.read_array(stream, allow_pickle=False)
    except _ZIP_ERRORS as exc:
        raise InputError(f"{path}: cannot load NumPy file ({exc})") from None
    return ImageData(path=path, array=array, format="numpy", channel_axis=0)
