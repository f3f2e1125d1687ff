"""Progress of a proposals run on stderr: tqdm when installed (images/s and ETA), else a line
every few seconds."""
import math
import sys
import time


class Progress:
    """Counts images done and failed; shows them when ``enabled``."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.total, self.n, self.failed = total, initial, 0
        self._bar = None
        self._enabled = enabled
        self._start = time.time()
        self._initial = initial
        self._last = 0.0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, initial=initial, unit='img', desc='proposals',
                         smoothing=0.05, dynamic_ncols=True)

    def update(self, n: int, failed: int) -> None:
        self.n += n
        self.failed += failed
        if self._bar is not None:
            self._bar.update(n)
            if failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.time()
        if self._enabled and (now - self._last > 5 or self.n == self.total):
            self._last = now
            rate = (self.n - self._initial) / max(now - self._start, 1e-9)
            eta = (self.total - self.n) / rate if rate > 0 else float('inf')
            print(f'proposals: {self.n}/{self.total} images, {rate:.1f} img/s, '
                  f'ETA {fmt_seconds(eta)}, {self.failed} failed', file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def fmt_seconds(s: float) -> str:
    """``'1:02:03'`` for 3723 seconds, ``'?'`` when unknown."""
    if not math.isfinite(s):
        return '?'
    s = int(s)
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'
