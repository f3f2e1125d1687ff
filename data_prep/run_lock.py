"""The lock a proposals run holds on its parts folder, one per part."""
import fcntl
import json
import os
import os.path as osp
import socket
from typing import Optional, Tuple


def lock_name(part: Optional[Tuple[int, int]]) -> str:
    """The lock file's name in the parts folder: ``lock``, or ``lock.part-I-of-N``."""
    return 'lock' if part is None else f'lock.part-{part[0]}-of-{part[1]}'


def take_lock(parts_dir: str, part: Optional[Tuple[int, int]] = None) -> int:
    """Hold ``parts_dir/lock`` (one per part) for this run: an flock, so the check and the
    taking are one step, and the kernel drops it when the process dies, however it dies.

    Returns:
        int: The open file descriptor; closing it releases the lock.
    """
    path = osp.join(parts_dir, lock_name(part))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            other = json.loads(os.read(fd, 4096) or b'{}')
        except ValueError:
            other = {}
        os.close(fd)
        raise RuntimeError(f'another run (pid {other.get("pid", "?")} on '
                           f'{other.get("host", "?")}) is writing {parts_dir}; wait for it or '
                           'stop it first') from None
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # a run that just finished removed the folder under us
        os.close(fd)
        raise RuntimeError(f'{parts_dir} was removed by a run that just finished; run again')
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(dict(pid=os.getpid(), host=socket.gethostname())).encode())
    return fd
