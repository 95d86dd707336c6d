"""Readers (one per format family) and the pairing of prediction and ground-truth files."""

from segeval.io.pairing import CasePair, Pairing, discover_pairs, read_manifest
from segeval.io.readers import SUPPORTED_SUFFIXES, ImageData, read_image

__all__ = ["CasePair", "Pairing", "discover_pairs", "read_manifest", "ImageData", "read_image", "SUPPORTED_SUFFIXES"]
