"""The proposals file: one plain, uncompressed ``.npz`` per image collection, read by memory map.

Layout (``np.load(path)`` shows it; every member is an ordinary ``.npy``)::

    paths    |S<L>  (N,)     image paths relative to the collection root, UTF-8, '/'-separated,
                             sorted bytewise (so a lookup is one ``np.searchsorted``)
    offsets  int64  (N + 1,) boxes of image i are rows offsets[i]:offsets[i + 1] of ``boxes``
    boxes    uint16 or float32 (M, 4)
                             x1, y1, x2, y2 in pixels of the original image (x2, y2 exclusive);
                             uint16 when every coordinate is a whole number <= 65535, else float32
    sizes    int32  (N, 2)   (width, height) of the original image; (0, 0) when unknown
    levels   uint8  (N,)     which filter produced the image's boxes (see ``LEVEL_NAMES``)
    meta     uint8  (J,)     UTF-8 JSON: format name and version, how the boxes were made, counts,
                             and ``members``: the byte offset of each array member's ``.npy``

The members are stored, not compressed, so :meth:`ProposalStore.load` maps the file and views
each member in place: opening a 1.28M-image file reads a few kilobytes, and the pages of an
image's boxes are read when that image is looked up.  The writer records where each member's
``.npy`` starts (``meta.members``); the reader checks that numpy's own header reader finds a
header there that fills exactly that zip member, and views the data after it.  Nothing parses
zip headers by hand.  A member that cannot be mapped this way (a version-1 file, or a file
re-saved by another tool) is read into memory instead, with a warning naming the upgrade
command (``python -m data_prep.storage --upgrade FILE``).  Forked data-loader workers share the
mapping through the page cache; a pickled store reopens the file instead of copying the arrays.

This module needs numpy only (and the standard library), so a training job can read proposals
without OpenCV.  Importing and exporting the original SoCo JSON lives in
:mod:`data_prep.soco_json`.
"""
import argparse
import json
import mmap
import os
import os.path as osp
import sys
import warnings
import zipfile
from collections.abc import Sequence
from typing import Iterable, Iterator, Optional, Tuple

import numpy as np

from data_prep.atomic_write import atomic_write

FORMAT_NAME = 'mmsoco-proposals'
FORMAT_VERSION = 2  # 2: meta.members holds the byte offset of each member's .npy

# levels (data_prep.filters): 0 the paper's filter kept boxes; 1 nothing passed it, the minimum
# side and aspect-ratio tests did; 2 nothing passed those either, the minimum side alone did;
# 3 no box left (none at all, or none with both sides >= the minimum side);
# 255 unknown (imported from another format).
LEVEL_NAMES = {0: 'filtered', 1: 'ratio_only', 2: 'unfiltered', 3: 'empty', 255: 'unknown'}
LEVEL_UNKNOWN = 255

_ARRAYS = ('paths', 'offsets', 'boxes', 'sizes', 'levels')
_MEMBERS = _ARRAYS + ('meta', )
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}
_UINT16_MAX = np.iinfo(np.uint16).max


def encode_path(rel_path: str) -> bytes:
    """The stored form of a relative path: posix separators, UTF-8."""
    if not isinstance(rel_path, str):
        raise TypeError(f'image paths are str, got {type(rel_path).__name__}: {rel_path!r}')
    key = rel_path.replace('\\', '/')
    while key.startswith('./'):
        key = key[2:]
    if not key or '\x00' in key:
        raise ValueError(f'invalid image path {rel_path!r}')
    return key.encode('utf-8')


def _boxes_dtype(boxes: np.ndarray) -> np.dtype:
    """uint16 when the boxes are whole pixels that fit, else float32 (lossless either way)."""
    if boxes.size == 0:
        return np.dtype(np.uint16)
    if (np.all(np.isfinite(boxes)) and boxes.min() >= 0 and boxes.max() <= _UINT16_MAX
            and np.all(boxes == np.round(boxes))):
        return np.dtype(np.uint16)
    return np.dtype(np.float32)


class _KeysView(Sequence):
    """The relative paths of a store, decoded on access (no 1.28M-string list up front)."""

    def __init__(self, paths: np.ndarray, store: 'ProposalStore') -> None:
        self._paths = paths
        self._store = store

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [p.decode('utf-8') for p in self._paths[i]]
        return self._paths[i].decode('utf-8')

    def __iter__(self) -> Iterator[str]:
        chunk = 65536
        for start in range(0, len(self._paths), chunk):
            for p in self._paths[start:start + chunk].tolist():
                yield p.decode('utf-8')

    def __contains__(self, rel_path) -> bool:
        return rel_path in self._store  # binary search, not Sequence's linear scan

    def __repr__(self) -> str:
        head = ', '.join(repr(k) for k in self[:3])
        more = ', ...' if len(self) > 3 else ''
        return f'keys([{head}{more}]) ({len(self)} paths)'


class ProposalStore:
    """Object proposals of an image collection, keyed by relative image path.

    Example::

        store = ProposalStore.load('data/imagenet/proposals_train.npz')
        boxes = store['n01440764/n01440764_10026.JPEG']   # float32 (n, 4), x1, y1, x2, y2
        width, height = store.image_size('n01440764/n01440764_10026.JPEG')

    Use :meth:`load` to open a file and :meth:`write` to make one; the constructor takes the
    member arrays (memory-mapped or in memory).
    """

    def __init__(self, arrays: dict, path: Optional[str] = None, _mmap=None) -> None:
        self._paths = arrays['paths']
        self._offsets = arrays['offsets']
        self._boxes = arrays['boxes']
        self._sizes = arrays['sizes']
        self._levels = arrays['levels']
        self._meta_bytes = bytes(np.asarray(arrays['meta'], dtype=np.uint8))
        self.path = path
        self._mmap = _mmap
        self.mapped = _mmap is not None  # False when members were read into memory
        n = len(self._paths)
        if len(self._offsets) != n + 1 or len(self._sizes) != n or len(self._levels) != n:
            raise ValueError(f'{path or "proposal store"}: member lengths disagree '
                             f'({n} paths, {len(self._offsets)} offsets, {len(self._sizes)} '
                             f'sizes, {len(self._levels)} levels)')
        if n and int(self._offsets[-1]) != len(self._boxes):
            raise ValueError(f'{path or "proposal store"}: offsets end at '
                             f'{int(self._offsets[-1])} but there are {len(self._boxes)} boxes')

    # ---------------------------------------------------------------------------------- reading
    @classmethod
    def load(cls, path: str) -> 'ProposalStore':
        """Open a proposals file without reading its arrays (memory map).

        Args:
            path (str): A file written by :meth:`write` (or any ``.npz`` with the same members).

        Returns:
            ProposalStore: Arrays are views into the mapped file. Members that cannot be mapped
            (a version-1 file, compressed or re-saved members) are read into memory instead,
            with a warning; :attr:`mapped` tells which happened.
        """
        path = os.fspath(path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'proposals file {path!r} not found')
        with open(path, 'rb') as f:
            try:
                zf = zipfile.ZipFile(f)
            except zipfile.BadZipFile as e:
                raise ValueError(f'{path!r} is not a complete proposals file ({e}); a file '
                                 'whose writer was killed is incomplete: regenerate it') from e
            with zf:
                infos = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith('.npy')}
                missing = [m for m in _MEMBERS if m not in infos]
                if missing:
                    raise ValueError(f'{path!r} is not a proposals file: no member(s) {missing} '
                                     f'(has {sorted(infos)})')
                meta_arr = _read_member(zf, infos['meta'], path)
                meta = _check_meta(meta_arr, path)
                size = os.fstat(f.fileno()).st_size
                mm = None
                if size:
                    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    if hasattr(mm, 'madvise') and hasattr(mmap, 'MADV_RANDOM'):
                        # lookups hit random images: read the pages asked for, not the
                        # neighbouring ones (the kernel's read-ahead would pull in ~128 KiB
                        # per lookup from a cold cache)
                        mm.madvise(mmap.MADV_RANDOM)
                # a member's .npy lies between its zip header and the next member's
                starts = sorted(i.header_offset for i in zf.infolist()) + [size]
                ends = {i.header_offset: starts[starts.index(i.header_offset) + 1]
                        for i in infos.values()}
                layout = meta.get('members')
                layout = layout if isinstance(layout, dict) else {}
                arrays, copied = dict(meta=meta_arr), []
                for name in _ARRAYS:
                    info = infos[name]
                    arr = _mapped_member(f, mm, info, layout.get(name), ends[info.header_offset])
                    if arr is None:
                        arr = _read_member(zf, info, path)
                        copied.append(name)
                    arrays[name] = arr
        if copied:
            warnings.warn(f'{path}: member(s) {copied} cannot be memory-mapped (a version-1 '
                          'file, or one re-saved by another tool) and were read into memory; '
                          f'`python -m data_prep.storage --upgrade {path}` rewrites it mappable',
                          stacklevel=2)
        store = cls(arrays, path=path, _mmap=mm)
        store.mapped = not copied
        return store

    def __getstate__(self):
        if self.path is None:
            return self.__dict__
        return {'path': self.path}  # reopen (map) in the receiving process, copy nothing

    def __setstate__(self, state):
        if set(state) == {'path'}:
            self.__dict__.update(ProposalStore.load(state['path']).__dict__)
        else:
            self.__dict__.update(state)

    @property
    def meta(self) -> dict:
        """How the file was made: generator settings, counts, format version."""
        return json.loads(self._meta_bytes.decode('utf-8')) if self._meta_bytes else {}

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return (f'ProposalStore({self.path!r}, {len(self)} images, {len(self._boxes)} boxes, '
                f'{self._boxes.dtype})')

    def index(self, rel_path: str) -> int:
        """Row of ``rel_path`` in the sorted paths; -1 when absent."""
        try:
            key = encode_path(rel_path)
        except (TypeError, ValueError):
            return -1
        if len(key) > self._paths.dtype.itemsize:
            return -1
        i = int(np.searchsorted(self._paths, key))
        if i < len(self._paths) and self._paths[i] == key:
            return i
        return -1

    def find(self, rel_paths: Iterable[str]) -> np.ndarray:
        """Rows of many paths at once (vectorized); int64 array with -1 for absent paths."""
        keys = [encode_path(p) for p in rel_paths]
        if not keys or not len(self._paths):
            return np.full(len(keys), -1, dtype=np.int64)
        width = self._paths.dtype.itemsize
        too_long = np.array([len(k) > width for k in keys])
        query = np.array([k[:width] for k in keys], dtype=self._paths.dtype)
        rows = np.searchsorted(self._paths, query)
        found = rows < len(self._paths)
        found[found] = self._paths[rows[found]] == query[found]
        found &= ~too_long
        return np.where(found, rows, -1).astype(np.int64)

    def __contains__(self, rel_path) -> bool:
        return isinstance(rel_path, str) and self.index(rel_path) >= 0

    def keys(self) -> _KeysView:
        """Relative image paths (posix separators), sorted, decoded lazily."""
        return _KeysView(self._paths, self)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def key_at(self, i: int) -> str:
        """The relative path of row ``i``."""
        return self._paths[i].decode('utf-8')

    def boxes_at(self, i: int) -> np.ndarray:
        """float32 (n, 4) x1, y1, x2, y2 boxes of row ``i``."""
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return np.array(self._boxes[start:end], dtype=np.float32).reshape(-1, 4)

    def _row(self, rel_path: str) -> int:
        i = self.index(rel_path)
        if i < 0:
            raise KeyError(rel_path)
        return i

    def __getitem__(self, rel_path: str) -> np.ndarray:
        """float32 (n, 4) x1, y1, x2, y2 boxes in original image pixels; n may be 0."""
        return self.boxes_at(self._row(rel_path))

    def get(self, rel_path: str, default=None):
        i = self.index(rel_path)
        return default if i < 0 else self.boxes_at(i)

    def image_size(self, rel_path: str) -> Tuple[int, int]:
        """(width, height) of the original image the boxes refer to; (0, 0) when unknown."""
        w, h = self._sizes[self._row(rel_path)]
        return int(w), int(h)

    def level(self, rel_path: str) -> str:
        """Which filter produced the boxes: one of ``LEVEL_NAMES``' values."""
        return LEVEL_NAMES.get(int(self._levels[self._row(rel_path)]), 'unknown')

    @property
    def num_boxes(self) -> int:
        return len(self._boxes)

    def arrays(self) -> dict:
        """The member arrays (views), for bulk work such as merging files."""
        return dict(paths=self._paths, offsets=self._offsets, boxes=self._boxes,
                    sizes=self._sizes, levels=self._levels)

    # ---------------------------------------------------------------------------------- writing
    @staticmethod
    def write(path: str,
              items: Iterable[Tuple[str, np.ndarray, Tuple[int, int]]],
              meta: Optional[dict] = None,
              levels: Optional[dict] = None) -> int:
        """Write a proposals file (to a temporary name, then renamed into place).

        Args:
            path (str): Output file (``.npz``).
            items (iterable): ``(rel_path, boxes, (width, height))`` per image; ``boxes`` is an
                (n, 4) array of x1, y1, x2, y2 in original image pixels (n may be 0). Any order;
                the file is sorted by path. An item may carry a fourth element, the level (see
                ``LEVEL_NAMES``); otherwise ``levels`` (path -> level) or "unknown" is used.
            meta (dict, optional): Extra JSON-serialisable description stored in the file.

        Returns:
            int: Number of images written.
        """
        keys, counts, chunks, sizes, lvls = [], [], [], [], []
        for item in items:
            rel_path, boxes, size = item[:3]
            key = encode_path(rel_path)
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            if len(item) > 3:
                lvl = int(item[3])
            elif levels is not None:
                lvl = int(levels.get(rel_path, LEVEL_UNKNOWN))
            else:
                lvl = LEVEL_UNKNOWN
            keys.append(key)
            counts.append(len(boxes))
            chunks.append(boxes)
            sizes.append((int(size[0]), int(size[1])))
            lvls.append(lvl)
        n = len(keys)
        order = sorted(range(n), key=keys.__getitem__)
        for a, b in zip(order, order[1:]):
            if keys[a] == keys[b]:
                raise ValueError(f'image path {keys[a].decode()!r} appears twice')
        paths = np.array([keys[i] for i in order], dtype=f'S{max(map(len, keys), default=1)}')
        counts_arr = np.array([counts[i] for i in order], dtype=np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts_arr, out=offsets[1:])
        boxes = (np.concatenate([chunks[i] for i in order]) if n else np.zeros((0, 4)))
        boxes = boxes.reshape(-1, 4)
        arrays = dict(
            paths=paths,
            offsets=offsets,
            boxes=boxes.astype(_boxes_dtype(boxes)),
            sizes=np.array([sizes[i] for i in order], dtype=np.int32).reshape(n, 2),
            levels=np.array([lvls[i] for i in order], dtype=np.uint8))
        write_arrays(path, [arrays], meta)
        return n


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> np.ndarray:
    """A member decoded into memory by numpy (the fallback when it cannot be mapped)."""
    try:
        with zf.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise ValueError(f'{path!r} is not a complete proposals file (member {info.filename}: '
                         f'{e}); a file whose writer was killed is incomplete: regenerate it'
                         ) from e


def _check_meta(meta_arr: np.ndarray, path: str) -> dict:
    """The parsed ``meta`` member, after checking the format name and version."""
    try:
        meta = json.loads(bytes(np.asarray(meta_arr, dtype=np.uint8)).decode('utf-8'))
    except ValueError as e:
        raise ValueError(f'{path!r}: the meta member is not UTF-8 JSON ({e})') from e
    if not isinstance(meta, dict) or meta.get('format') != FORMAT_NAME:
        found = meta.get('format') if isinstance(meta, dict) else meta
        raise ValueError(f'{path!r}: meta.format is {found!r}, expected {FORMAT_NAME!r}')
    if int(meta.get('version', 0)) > FORMAT_VERSION:
        raise ValueError(f'{path!r}: format version {meta.get("version")} is newer than this '
                         f'reader ({FORMAT_VERSION}); update mmsoco')
    return meta


def _mapped_member(f, mm, info: zipfile.ZipInfo, start, end: int) -> Optional[np.ndarray]:
    """A read-only view of a stored member's array inside the mapping, or None.

    ``start`` is where the writer put the member's ``.npy`` (``meta.members``). It is used only
    when it lies inside the member's zip entry, numpy's header reader finds a plain C-ordered
    array header there, and header plus data fill exactly the member's stored size.
    """
    if mm is None or not isinstance(start, int) or info.compress_type != zipfile.ZIP_STORED:
        return None
    if not info.header_offset < start <= end - info.file_size:
        return None
    f.seek(start)
    try:
        read_header = _HEADER_READERS.get(np.lib.format.read_magic(f))
        if read_header is None:
            return None
        shape, fortran, dtype = read_header(f)
    except ValueError:
        return None
    data = f.tell()
    count = int(np.prod(shape)) if shape else 1
    if fortran or dtype.hasobject or data - start + count * dtype.itemsize != info.file_size:
        return None
    return np.frombuffer(mm, dtype=dtype, count=count, offset=data).reshape(shape)


def write_arrays(path: str, parts: Sequence, meta: Optional[dict] = None) -> None:
    """Write a proposals file from consecutive parts, streaming (the parts are not concatenated).

    Args:
        path (str): Output file; written to a temporary file in the same folder, then renamed,
            so a reader (or a killed writer) never sees a half-written file under this name.
        parts (sequence): Each part is a dict with ``paths``, ``offsets``, ``boxes``, ``sizes``,
            ``levels`` as in the module docstring (offsets start at 0 in each part), or a
            zero-argument callable returning one (to open parts one at a time). The parts'
            paths must be sorted and the parts in order, with no path repeated.
        meta (dict, optional): Stored with the format name and version.
    """
    def get(part):
        return part() if callable(part) else part

    # first pass: totals, widest path, box dtype and order checks
    n = m = 0
    width = 1
    float_boxes = False
    last = None
    for part in parts:
        p = get(part)
        paths = p['paths']
        if len(paths):
            if last is not None and not last < paths[0]:
                raise ValueError(f'parts out of order or overlapping at {paths[0].decode()!r}')
            if np.any(paths[1:] <= paths[:-1]):
                raise ValueError('paths of a part are not sorted or not unique')
            last = paths[-1]
        n += len(paths)
        m += len(p['boxes'])
        width = max(width, paths.dtype.itemsize)
        if p['boxes'].dtype != np.uint16 and _boxes_dtype(np.asarray(p['boxes'])) != np.uint16:
            float_boxes = True
    box_dtype = np.dtype(np.float32 if float_boxes else np.uint16)

    meta = dict(meta or {})
    meta.update(format=FORMAT_NAME, version=FORMAT_VERSION, num_images=n, num_boxes=m,
                box_format='x1y1x2y2, original image pixels, x2/y2 exclusive')

    with atomic_write(path, 'wb') as f, \
            zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED, allowZip64=True) as zf:

        starts = {}

        def member(name, dtype, shape, pieces):
            with zf.open(name + '.npy', 'w', force_zip64=True) as out:
                starts[name] = f.tell()  # the zip header is out, the .npy starts here
                header = {'descr': np.lib.format.dtype_to_descr(np.dtype(dtype)),
                          'fortran_order': False, 'shape': tuple(shape)}
                np.lib.format.write_array_header_1_0(out, header)
                for piece in pieces:
                    out.write(np.ascontiguousarray(piece, dtype=dtype).tobytes())

        def each(key):
            for part in parts:
                yield get(part)[key]

        def offsets():
            yield np.zeros(1, np.int64)
            base = 0
            for part in parts:
                off = np.asarray(get(part)['offsets'], dtype=np.int64)
                yield off[1:] - off[0] + base
                base += int(off[-1] - off[0])

        member('paths', f'S{width}', (n,), each('paths'))
        member('offsets', np.int64, (n + 1,), offsets())
        member('boxes', box_dtype, (m, 4), each('boxes'))
        member('sizes', np.int32, (n, 2), each('sizes'))
        member('levels', np.uint8, (n,), each('levels'))
        meta['members'] = starts
        meta_arr = np.frombuffer(json.dumps(meta, sort_keys=True).encode('utf-8'),
                                 dtype=np.uint8)
        member('meta', np.uint8, meta_arr.shape, [meta_arr])


def upgrade(path: str) -> bool:
    """Rewrite a proposals file in the current version (in place, atomically).

    Returns:
        bool: False when the file was already current and mappable (left untouched).
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        store = ProposalStore.load(path)
    if store.mapped and store.meta.get('version') == FORMAT_VERSION:
        return False
    write_arrays(path, [store.arrays()], store.meta)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m data_prep.storage',
        description='Upgrade proposals files to the current, memory-mappable version.')
    parser.add_argument('--upgrade', nargs='+', metavar='FILE', required=True,
                        help='proposals files to rewrite in place (kept as they are when current)')
    args = parser.parse_args(argv)
    for path in args.upgrade:
        try:
            done = upgrade(path)
        except (OSError, ValueError) as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
        print(f'{path}: ' + (f'upgraded to version {FORMAT_VERSION}' if done else
                             'already current'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
