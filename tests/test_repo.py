"Repository-level checks: nbdev settings, clean notebooks, papermill parameters survive nbdev_clean."
import configparser, json, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
EXPERIMENTS = sorted((ROOT / 'nbs' / 'experiments').glob('*.ipynb'))
BIN = Path(sys.executable).parent


def _cells(p): return json.loads(p.read_text())['cells']


def test_settings_keep_tags_for_papermill():
    cfg = configparser.ConfigParser(); cfg.read(ROOT / 'settings.ini')
    assert 'tags' in cfg['DEFAULT']['allowed_cell_metadata_keys'].split()


@pytest.mark.parametrize('nb', NBS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_clean(nb):
    for c in _cells(nb):
        if c['cell_type'] == 'code':
            assert c.get('execution_count') is None and not c.get('outputs'), f'{nb} has outputs: run `make export`'


@pytest.mark.parametrize('nb', EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_notebooks_have_parameters_cell(nb):
    tagged = [c for c in _cells(nb) if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(tagged) == 1, f'{nb.name} needs exactly one cell tagged `parameters` for papermill'


def test_nbdev_clean_keeps_parameters_tag(tmp_path):
    "A notebook run by papermill (outputs, counts, tags) comes out of nbdev_clean with its tag and without outputs."
    nbdir = tmp_path / 'nbs'; nbdir.mkdir()
    shutil.copy(ROOT / 'settings.ini', tmp_path / 'settings.ini')
    nb = {'cells': [
        {'cell_type': 'code', 'id': 'a', 'execution_count': 3, 'metadata': {'tags': ['parameters'], 'papermill': {'x': 1}},
         'outputs': [{'output_type': 'stream', 'name': 'stdout', 'text': ['hi\n']}], 'source': ['task = "four_lane"']},
        {'cell_type': 'code', 'id': 'b', 'execution_count': 4, 'metadata': {'tags': ['injected-parameters']},
         'outputs': [], 'source': ['task = "left_turn"']}],
        'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
        'nbformat': 4, 'nbformat_minor': 5}
    p = nbdir / 'exp.ipynb'; p.write_text(json.dumps(nb))
    # the two steps of `make export`: strip outputs, then nbdev's clean (counts, metadata, ids)
    subprocess.run([str(BIN / 'jupyter'), 'nbconvert', '--clear-output', '--inplace', '--log-level=ERROR', str(p)],
                   cwd=tmp_path, check=True)
    subprocess.run([str(BIN / 'nbdev_clean'), '--fname', str(p)], cwd=tmp_path, check=True)
    cells = _cells(p)
    assert cells[0]['metadata'] == {'tags': ['parameters']}
    assert cells[0]['outputs'] == [] and cells[0]['execution_count'] is None
    assert cells[0]['source'] == 'task = "four_lane"' or ''.join(cells[0]['source']) == 'task = "four_lane"'


def test_readme_has_one_source():
    """README.md is hand-written: settings.ini names no existing notebook as readme_nb, so nbdev_prepare/nbdev_docs
    (which check the readme notebook's time stamp first) never overwrite it."""
    from nbdev.quarto import _doc_mtime_not_older
    cfg = configparser.ConfigParser(); cfg.read(ROOT / 'settings.ini')
    nb = ROOT / 'nbs' / cfg['DEFAULT']['readme_nb']
    assert (ROOT / 'README.md').exists() and not nb.exists()
    assert _doc_mtime_not_older(ROOT / 'README.md', nb)   # True: "up to date", nothing rendered


def test_module_docstrings_are_whole_sentences():
    "nbdev takes a module's docstring from the first line of its notebook's `>` summary: it must end a sentence."
    modules = sorted(p.stem for p in (ROOT / 'vlsafe').glob('*.py') if not p.stem.startswith('_'))
    assert len(modules) >= 15
    for m in modules:
        first = (ROOT / 'vlsafe' / f'{m}.py').read_text().split('\n', 1)[0]
        assert first.startswith('"""') and first.rstrip().endswith('."""'), f'vlsafe/{m}.py: {first}'


def test_notebooks_are_numbered_in_dependency_order():
    "A module's notebook sorts after the notebooks of every vlsafe module it imports at its top: a notebook never uses a module exported by a later one."
    import re
    nb_of = {}
    for p in (ROOT / 'vlsafe').glob('*.py'):
        m = re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', p.read_text())
        if m: nb_of[p.stem] = m.group(1)
    assert len(nb_of) >= 15
    bad = []
    for mod, nb in nb_of.items():
        src = (ROOT / 'vlsafe' / f'{mod}.py').read_text()
        deps = set(re.findall(r'^from \.(\w+) import', src, re.M))
        for dep in deps & nb_of.keys():
            if dep != mod and nb_of[dep] > nb: bad.append(f'{nb} ({mod}) imports {dep} from the later {nb_of[dep]}')
    assert not bad, bad


def test_modules_import_without_cycles():
    "No vlsafe module reaches itself through imports, those inside functions included: the modules form layers."
    import ast
    mods = {p.stem for p in (ROOT / 'vlsafe').glob('*.py') if not p.stem.startswith('_')}
    deps = {}
    for m in mods:
        found = set()
        for n in ast.walk(ast.parse((ROOT / 'vlsafe' / f'{m}.py').read_text())):
            if isinstance(n, ast.ImportFrom):
                parts = (n.module or '').split('.')
                if n.level == 1: found |= {parts[0]} if n.module else {a.name for a in n.names}
                elif parts[0] == 'vlsafe': found |= {parts[1]} if len(parts) > 1 else {a.name for a in n.names}
            elif isinstance(n, ast.Import):
                found |= {a.name.split('.')[1] for a in n.names if a.name.startswith('vlsafe.')}
        deps[m] = (found & mods) - {m}
    cycles = []
    def visit(m, path):
        for d in sorted(deps[m]):
            if d == path[0]: cycles.append(' -> '.join(path + [d]))
            elif d not in path and d > path[0]: visit(d, path + [d])   # each cycle once, from its smallest module
    for m in sorted(mods): visit(m, [m])
    assert not cycles, cycles
