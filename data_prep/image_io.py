"""Reading any image file as an 8-bit, 3-channel BGR array, saying what had to be converted.

The boxes must match the image as the training loader sees it (mmcv/OpenCV ``IMREAD_COLOR``:
grey expanded to 3 channels, alpha dropped, 16 bits scaled to 8, EXIF orientation applied),
so :func:`read_image` produces the same geometry while recording every conversion for the
failures report.
"""
import os
from typing import List, Optional, Tuple

import cv2
import numpy as np


class ImageError(Exception):
    """An image that cannot be used; the message is the reason shown in the failures report."""


# ------------------------------------------------------------------------------- JPEG header
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, 0xD8} | set(range(0xD0, 0xD8))


def _exif_orientation(tiff: bytes) -> int:
    """Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 when absent."""
    if len(tiff) < 8 or tiff[:2] not in (b'II', b'MM'):
        return 1
    order = 'little' if tiff[:2] == b'II' else 'big'
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return 1
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i:ifd + 14 + 12 * i]
        if len(entry) < 12:
            break
        if int.from_bytes(entry[:2], order) == 0x0112:
            value = int.from_bytes(entry[8:10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def jpeg_info(data: bytes) -> Optional[dict]:
    """``width``, ``height``, ``components`` (1 grey, 3 colour, 4 CMYK/YCCK) and EXIF
    ``orientation`` from a JPEG's header; None when ``data`` is not a JPEG."""
    if data[:2] != b'\xff\xd8':
        return None
    info = dict(orientation=1)
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:  # markers must follow each other up to the scan: malformed header
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: header is over
            break
        length = int.from_bytes(data[i + 2:i + 4], 'big')
        segment = data[i + 4:i + 2 + length]
        if marker == 0xE1 and segment[:6] == b'Exif\x00\x00':
            info['orientation'] = _exif_orientation(segment[6:])
        elif marker in _SOF_MARKERS and len(segment) >= 6:
            info.update(height=int.from_bytes(segment[1:3], 'big'),
                        width=int.from_bytes(segment[3:5], 'big'), components=segment[5])
        i += 2 + length
    return info if 'width' in info else None


def apply_exif_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a decoded image upright the way OpenCV's ``IMREAD_COLOR`` does."""
    if orientation in (5, 6, 7, 8):
        img = cv2.transpose(img)
    flip = {2: 1, 3: -1, 4: 0, 6: 1, 7: -1, 8: 0}.get(orientation)
    if flip is not None:
        img = cv2.flip(img, flip)
    return img


# ------------------------------------------------------------------------------- decoding
def _to_uint8(img: np.ndarray, notes: List[str]) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        notes.append('16-bit')
        return cv2.convertScaleAbs(img, alpha=255.0 / 65535.0)
    if img.dtype == np.bool_:
        notes.append('1-bit')
        return img.astype(np.uint8) * 255
    notes.append(f'{img.dtype}')
    is_float = np.issubdtype(img.dtype, np.floating)
    img = img.astype(np.float64)
    img[~np.isfinite(img)] = 0
    if is_float and img.size and 0 <= img.min() and img.max() <= 1:
        img = img * 255.0
    else:
        lo, hi = (img.min(), img.max()) if img.size else (0, 1)
        img = (img - lo) * (255.0 / max(hi - lo, 1e-12))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def decode_image(data: bytes, name: str = '<bytes>') -> Tuple[np.ndarray, List[str]]:
    """Decode encoded image bytes to (H, W, 3) uint8 BGR, upright.

    Returns:
        tuple: The image and the conversions made (e.g. ``['grayscale']``, ``['cmyk']``,
        ``['16-bit', 'alpha']``), empty for an ordinary 8-bit colour image.

    Raises:
        ImageError: Empty, truncated, corrupt, unsupported or too large to decode.
    """
    if len(data) == 0:
        raise ImageError('empty file (0 bytes)')
    notes: List[str] = []
    jpeg = jpeg_info(data) if data[:2] == b'\xff\xd8' else None
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        if 'validateInputImageSize' in str(e):
            raise ImageError('too large to decode (beyond OpenCV\'s limit of 2^30 pixels or '
                             '2^20 pixels a side)') from None
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else 'OpenCV error'
        raise ImageError(f'cannot decode: {msg}') from None
    if img is None or img.size == 0:
        kind = 'JPEG' if jpeg is not None or data[:2] == b'\xff\xd8' else \
            'PNG' if data[:8] == b'\x89PNG\r\n\x1a\n' else 'image'
        raise ImageError(f'cannot decode {kind} data (corrupt, truncated, unsupported or too '
                         'large)')
    if jpeg is not None and jpeg.get('components') == 4:
        notes.append('cmyk')  # OpenCV has already converted CMYK/YCCK to BGR
    img = _to_uint8(img, notes)
    if img.ndim == 2 or img.shape[2] == 1:
        notes.append('grayscale')
        img = cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 2:
        notes.append('grayscale')
        notes.append('alpha')
        img = cv2.cvtColor(np.ascontiguousarray(img[..., 0]), cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        notes.append('alpha')
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] != 3:
        raise ImageError(f'unsupported number of channels: {img.shape[2]}')
    if jpeg is not None and jpeg['orientation'] != 1:
        notes.append('exif-orientation')
        img = apply_exif_orientation(img, jpeg['orientation'])
    return np.ascontiguousarray(img), notes


def read_image(path: str) -> Tuple[np.ndarray, List[str]]:
    """Read an image file as (H, W, 3) uint8 BGR, upright; see :func:`decode_image`."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f'cannot read file: {e.strerror or e}') from None
    return decode_image(data, name=os.fspath(path))


def read_image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of an image as :func:`read_image` would return it, from the header for
    JPEG and PNG (no decoding); None when the file cannot be read."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return None
    jpeg = jpeg_info(data)
    if jpeg is not None:
        w, h = jpeg['width'], jpeg['height']
        return (h, w) if jpeg['orientation'] in (5, 6, 7, 8) else (w, h)
    if data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR':
        return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
    try:
        img, _ = decode_image(data)
    except ImageError:
        return None
    return img.shape[1], img.shape[0]
