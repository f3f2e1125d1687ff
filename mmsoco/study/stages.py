"""Stage markers: a re-run of the study keeps what finished and redoes what did not.

Each stage of the study (proposals, a pretraining run, a conversion, a fine-tune, an evaluation)
leaves ``<work_dir>/stages/<name>.json`` when, and only when, it finished.  The marker records
the wall-clock seconds of the run that finished the stage, when it finished, a fingerprint of the
settings the stage depends on, and the stage's outputs (paths, metrics).

A killed stage leaves no marker, so the next run starts it again.  The stage itself decides how:
the training stages resume from the last checkpoint their Runner saved (``resume=True``), the
proposal stage keeps its finished shards (``data_prep.generate_proposals``), the short stages
redo their work.  A marker whose fingerprint differs from the current settings stops the run
with the name of the stage, so a changed budget is never mixed with results of another.  An
unfinished stage that was started with other settings (``<name>.started.json``) has its work dir
removed before it starts again: it restarts cleanly instead of resuming someone else's run.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Optional

from data_prep.atomic_write import atomic_write


def fingerprint(settings: Dict[str, Any]) -> str:
    """A short hash of JSON-serialisable settings (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class StageRecord:
    """What a finished stage left behind.

    Attributes:
        name (str): Stage name, e.g. ``'pretrain_soco'``, ``'finetune_byol_seed0'``.
        seconds (float): Wall-clock seconds of the run that finished the stage (a stage resumed
            after a kill counts the resumed part only).
        finished (str): UTC time it finished, ISO 8601.
        fingerprint (str): :func:`fingerprint` of the settings it depends on.
        outputs (dict): Paths and figures it produced.
        kept (bool): True when this run found the marker and did not run the stage.
    """

    name: str
    seconds: float
    finished: str
    fingerprint: str
    outputs: Dict[str, Any] = field(default_factory=dict)
    kept: bool = False


class StageMismatchError(RuntimeError):
    """A finished stage in the work dir was run with other settings."""


class StageBook:
    """Runs stages once and remembers them in ``<work_dir>/stages``.

    Args:
        work_dir (str): The study's work dir.
        log (callable): Where progress lines go. Defaults to ``print``.
    """

    def __init__(self, work_dir: str, log: Callable[[str], None] = print) -> None:
        self.dir = osp.join(work_dir, 'stages')
        os.makedirs(self.dir, exist_ok=True)
        self.log = log
        self.records: Dict[str, StageRecord] = {}

    def _path(self, name: str) -> str:
        return osp.join(self.dir, f'{name}.json')

    def load(self, name: str) -> Optional[StageRecord]:
        """The marker of a finished stage, or None."""
        path = self._path(name)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return StageRecord(**json.load(f))

    def run(self, name: str, settings: Dict[str, Any], fn: Callable[[], Dict[str, Any]],
            work_dir: Optional[str] = None) -> StageRecord:
        """Run ``fn`` unless the stage already finished with the same settings.

        Args:
            name (str): Stage name (a file name: letters, digits, ``_``, ``-``).
            settings (dict): Everything the stage's result depends on (JSON-serialisable).
            fn (callable): Runs the stage; returns its outputs (JSON-serialisable dict).
            work_dir (str, optional): The folder the stage resumes from (its Runner's work dir):
                removed when an unfinished run of the stage had other settings.

        Returns:
            StageRecord

        Raises:
            StageMismatchError: The stage finished earlier with other settings.
        """
        digest = fingerprint(settings)
        done = self.load(name)
        if done is not None:
            if done.fingerprint != digest:
                raise StageMismatchError(
                    f'stage {name!r} finished earlier in {self.dir} with other settings; use a '
                    f'fresh --work-dir, or delete {self._path(name)} (and what depends on it) '
                    'to redo it')
            done.kept = True
            self.records[name] = done
            self.log(f'[{name}] finished earlier ({done.seconds:.1f} s), kept')
            return done
        started = osp.join(self.dir, f'{name}.started.json')
        if osp.isfile(started):
            with open(started) as f:
                before = json.load(f).get('fingerprint')
            if before != digest and work_dir is not None and osp.isdir(work_dir):
                self.log(f'[{name}] {work_dir} holds an unfinished run with other settings: '
                         'removed, the stage starts afresh')
                shutil.rmtree(work_dir)
        with open(started, 'w') as f:
            json.dump(dict(fingerprint=digest), f)
        self.log(f'[{name}] running')
        t0 = time.time()
        outputs = fn() or {}
        record = StageRecord(name, round(time.time() - t0, 2),
                             time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), digest, outputs)
        with atomic_write(self._path(name)) as f:  # a marker is whole or absent
            json.dump(asdict(record), f, indent=1)
        os.remove(started)
        self.records[name] = record
        self.log(f'[{name}] done in {record.seconds:.1f} s')
        return record
