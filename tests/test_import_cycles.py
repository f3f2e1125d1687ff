"""No import circle in the mmsoco package.

Every ``import`` and ``from ... import`` of every module is read with :mod:`ast` (nothing is
imported), ``__init__.py`` files included and imports inside functions too: a circle closed by a
function-level import still breaks as soon as the package is imported in another order.  An edge
goes from a module to each mmsoco module it names (``from .x import y`` names ``x``, and ``x.y``
when that is a module).
"""
import ast
import os
import os.path as osp
from typing import Dict, List, Set

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _modules(root: str, package: str) -> Dict[str, str]:
    """``module name -> file`` for every ``.py`` under ``root/package`` (``a/__init__.py`` is
    ``a``)."""
    found = {}
    for folder, _, files in os.walk(osp.join(root, package)):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                parts = osp.relpath(path, root)[:-len('.py')].split(os.sep)
                if parts[-1] == '__init__':
                    parts = parts[:-1]
                found['.'.join(parts)] = path
    return found


def import_graph(root: str, package: str = 'mmsoco') -> Dict[str, Set[str]]:
    """``module -> the package modules it imports`` (anywhere in its file)."""
    modules = _modules(root, package)
    graph = {}
    for module, path in modules.items():
        is_package = path.endswith('__init__.py')
        here = module if is_package else module.rpartition('.')[0]
        edges = set()
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1 if node.level else 0):
                    base = base.rpartition('.')[0]
                target = (f'{base}.{node.module}' if node.module else base) if node.level \
                    else node.module
                names = [target] + [f'{target}.{alias.name}' for alias in node.names]
            else:
                continue
            edges |= {n for n in names if n in modules and n != module}
        graph[module] = edges
    return graph


def import_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One circle per strongly connected group of modules (Tarjan), each as a closed path."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path(graph, set(g)) for g in groups]


def _path(graph, group: Set[str]) -> List[str]:
    """A closed path through a strongly connected group, from its first module."""
    start = min(group)
    path, seen = [start], {start}
    while True:
        nxt = sorted(n for n in graph[path[-1]] if n in group)
        back = [n for n in nxt if n == start]
        if back and len(path) > 1:
            return path + [start]
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return path + [nxt[0]]
        path.append(fresh[0])
        seen.add(fresh[0])


def test_the_package_has_no_import_circle():
    cycles = import_cycles(import_graph(REPO))
    assert not cycles, 'import circles: ' + '; '.join(' -> '.join(c) for c in cycles)


def test_a_circle_through_an_init_and_a_function_level_import_is_found(tmp_path):
    """The shape of the circle the package once had: ``utils/checkpoint.py`` imported
    ``converters/soco_checkpoint.py`` inside a function, which imports ``utils`` (its
    ``__init__.py`` imports ``utils/checkpoint.py``)."""
    pkg = tmp_path / 'pkg'
    for folder in ('utils', 'converters'):
        (pkg / folder).mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'utils' / '__init__.py').write_text('from .checkpoint import publish\n')
    (pkg / 'utils' / 'checkpoint.py').write_text(
        'def publish():\n    from pkg.converters.soco_checkpoint import load\n')
    (pkg / 'converters' / '__init__.py').write_text('')
    (pkg / 'converters' / 'soco_checkpoint.py').write_text(
        'from ..utils import publish\n\n\ndef load():\n    pass\n')
    graph = import_graph(str(tmp_path), 'pkg')
    assert import_cycles(graph) == [['pkg.converters.soco_checkpoint', 'pkg.utils',
                                     'pkg.utils.checkpoint', 'pkg.converters.soco_checkpoint']]
    (pkg / 'utils' / 'checkpoint.py').write_text('def publish():\n    pass\n')
    assert import_cycles(import_graph(str(tmp_path), 'pkg')) == []


def test_the_data_side_does_not_import_the_models():
    """``mmsoco.datasets`` is the data layer: the models may use its geometry and constants, it
    uses nothing of ``mmsoco.models`` (nor do its drawing tools)."""
    graph = import_graph(REPO)
    found = sorted(f'{module} -> {target}' for module, targets in graph.items()
                   if module.startswith('mmsoco.datasets') for target in targets
                   if target.startswith('mmsoco.models'))
    assert not found, 'the data side imports the models: ' + '; '.join(found)
