"""Write a file whole or not at all: to a temporary name in the same folder, renamed into place.

A reader, or a run that resumes after the writer was killed, never sees a half-written file under
the final name.  The file gets the permissions a plain ``open(path, 'w')`` would give it
(``0o666`` less the umask; ``tempfile.mkstemp``'s private ``0o600`` is not kept), and a file
that is replaced keeps its own, so rewriting a shared ``0o644`` file leaves it readable by others.
"""
import contextlib
import os
import os.path as osp
import tempfile
from typing import IO, Iterator


def _umask() -> int:
    try:  # Linux shows it; reading it elsewhere means setting it for a moment
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'w', **open_kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path``, else it is removed.

    Args:
        path (str): The final file; its folder is created when missing.
        mode (str): ``'w'`` or ``'wb'``. Defaults to ``'w'``.
        **open_kwargs: Passed to :func:`os.fdopen` (``encoding``, ...).

    Yields:
        file: The open temporary file.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        perms = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        perms = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=osp.basename(path) + '.', suffix='.tmp', dir=folder)
    try:
        os.fchmod(fd, perms)
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
