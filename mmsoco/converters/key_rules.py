"""Rename state-dict keys in both directions from one table of name templates.

A rule is a pair of templates, ``('head.shared_fcs.{i}.{p}', 'box_head.fc{i+1}.{p}')``: a field
``{name}`` stands for a number, ``{name+N}``/``{name-N}`` for that number shifted, ``{p}`` for the
rest of the key (one or more dotted parts), and a field listed in ``choices`` for one of its
words.  :meth:`KeyTable.forward` renames from the left side to the right, :meth:`KeyTable.inverse`
back; the first rule whose template matches wins, so a table lists a specific rule
(``bn{k}.{p}``) before a general one (``{p}``) on both sides.  Writing each mapping once keeps the
two directions from drifting apart.
"""
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

_FIELD = re.compile(r'\{(\w+)([+-]\d+)?\}')


class _Template:
    """One side of a rule: a regex that reads the fields and a format that writes them."""

    def __init__(self, text: str, choices: Mapping[str, Sequence[str]]):
        self.text = text
        self.shift: Dict[str, int] = {}
        pattern, pos = '', 0
        for m in _FIELD.finditer(text):
            name, shift = m.group(1), int(m.group(2) or 0)
            pattern += re.escape(text[pos:m.start()])
            if name == 'p':
                pattern += r'(?P<p>.+)'
            elif name in choices:
                pattern += f'(?P<{name}>' + '|'.join(map(re.escape, choices[name])) + ')'
            else:
                pattern += rf'(?P<{name}>\d+)'
                self.shift[name] = shift
            pos = m.end()
        self.regex = re.compile('^' + pattern + re.escape(text[pos:]) + '$')

    def read(self, key: str) -> Optional[Dict[str, object]]:
        """The fields of ``key`` (numbers unshifted), or None if it does not match."""
        m = self.regex.match(key)
        if m is None:
            return None
        fields = {k: int(v) - self.shift[k] if k in self.shift else v
                  for k, v in m.groupdict().items()}
        if any(isinstance(v, int) and v < 0 for v in fields.values()):
            return None   # 'fpn_lateral1', 'head.conv0': below the first index, not a key
        return fields

    def write(self, fields: Mapping[str, object]) -> str:
        def put(m):
            name, shift = m.group(1), int(m.group(2) or 0)
            value = fields[name]
            return str(value + shift) if isinstance(value, int) else str(value)
        return _FIELD.sub(put, self.text)


class KeyTable:
    """Rename keys by a table of ``(left template, right template)`` rules.

    Args:
        rules (Sequence[tuple[str, str]]): The rules, most specific first.
        choices (Mapping[str, Sequence[str]]): Fields that stand for a word, with the words
            allowed (e.g. ``{'net': ('backbone', 'head')}``). A choice field may be left out of
            one side; :meth:`inverse` then needs its value from ``resolve``.
    """

    def __init__(self, rules: Sequence[Tuple[str, str]],
                 choices: Optional[Mapping[str, Sequence[str]]] = None):
        choices = dict(choices or {})
        self.rules = [(_Template(a, choices), _Template(b, choices)) for a, b in rules]

    def forward(self, key: str) -> Optional[str]:
        """The right-side name of a left-side key, or None when no rule matches."""
        return self._rename(key, 0, None)

    def inverse(self, key: str, resolve=None) -> Optional[str]:
        """The left-side name of a right-side key, or None when no rule matches.

        Args:
            key (str): A right-side name.
            resolve (callable, optional): ``resolve(fields) -> dict`` adds the left-only fields
                from the fields read (e.g. ``net`` from the stage number).
        """
        return self._rename(key, 1, resolve)

    def _rename(self, key: str, side: int, resolve) -> Optional[str]:
        for rule in self.rules:
            fields = rule[side].read(key)
            if fields is not None:
                if resolve is not None:
                    fields.update(resolve(fields))
                return rule[1 - side].write(fields)
        return None
