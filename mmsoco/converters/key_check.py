"""One strict key check for every converter: which tensors a converted state dict lacks, which
the target model does not have, and which differ in shape.

``torch.nn.Module.load_state_dict(strict=True)`` checks the same three things, but it stops at
the first size mismatch with a long ``RuntimeError`` and it needs a module; the converters check a
plain state dict against a reference *before* anything is written, and report all three lists in
one line.  Every converter (``from_original``, ``to_mmdet``, ``to_mmseg``, ``init_checkpoint``,
``study.weights``) goes through :func:`compare_state_dicts`.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Sequence, Union

import torch


@dataclass
class KeyReport:
    """The outcome of :func:`compare_state_dicts`.

    Attributes:
        missing: Reference keys (within the checked scopes) the state dict lacks.
        unexpected: State-dict keys the reference does not have.
        mismatched: ``'key (shape) vs (reference shape)'`` for keys present in both.
        matched: Keys present in both with the same shape.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    matched: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, labels: Sequence[str] = ('missing', 'not in the model', 'shape mismatch'),
                 limit: int = 6) -> str:
        """``'missing: a, b ... (12 in all); shape mismatch: c (3,) vs (4,)'`` (empty if ok)."""
        def show(keys):
            more = f' ... ({len(keys)} in all)' if len(keys) > limit else ''
            return ', '.join(keys[:limit]) + more

        return '; '.join(f'{label}: {show(keys)}' for label, keys in
                         zip(labels, (self.missing, self.unexpected, self.mismatched)) if keys)


def compare_state_dicts(state_dict: Mapping[str, torch.Tensor],
                        reference: Union[torch.nn.Module, Mapping[str, torch.Tensor]],
                        scopes: Optional[Sequence[str]] = None,
                        fresh: Optional[Callable[[str], bool]] = None) -> KeyReport:
    """Compare ``state_dict`` with ``reference`` (a module's ``state_dict()`` or a mapping).

    Args:
        state_dict: The converted tensors, by key.
        reference: The model they must load into, or its state dict.
        scopes: Only reference keys starting with one of these prefixes count as ``missing``
            (``None``: all of them).  Unexpected and mismatched keys are always reported.
        fresh: Reference keys for which this returns True stay freshly initialised by design
            and are not ``missing`` (for example a detector's FPN P6/P7 convs).

    Returns:
        KeyReport: The four key lists, each in the order of its source.
    """
    ref = reference.state_dict() if isinstance(reference, torch.nn.Module) else reference
    report = KeyReport()
    for key, value in state_dict.items():
        if key not in ref:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(ref[key].shape):
            report.mismatched.append(
                f'{key} {tuple(value.shape)} vs {tuple(ref[key].shape)}')
        else:
            report.matched.append(key)
    prefixes = tuple(scopes) if scopes is not None else ('', )
    report.missing = [k for k in ref if k.startswith(prefixes) and k not in state_dict
                      and not (fresh is not None and fresh(k))]
    return report
