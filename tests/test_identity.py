"""What a result's identity holds, and how overrides reach it: typed parsing of `--set` and papermill parameters,
code versions, the label source, one absolute store for every kernel."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _vlsafe(*args, env=None, cwd=None, timeout=300):
    e = {**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})}
    return subprocess.run([str(BIN / 'vlsafe'), *args], capture_output=True, text=True, env=e, cwd=cwd, timeout=timeout)


@pytest.mark.parametrize('bad', ['nan', 'inf', '-inf', 'NaN'])
def test_cli_non_finite_override_is_named(bad, tmp_path):
    "`--set wm.lr=nan` ends in one line that says the value is not a finite number (not a type error, no traceback)."
    r = _vlsafe('--home', str(tmp_path), 'train-wm', '--set', f'wm.lr={bad}')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert "'wm.lr'" in r.stderr and 'not a finite number' in r.stderr and 'must be float' not in r.stderr


# A notebook that reads its parameters exactly as nbs/experiments/table1.ipynb does (yaml.safe_load of the JSON
# that `plan` writes, then `cell_config`), and reports what its kernel sees.
_PROBE = [
    ("overrides = '{}'\nout = ''", ['parameters']),
    ("import json, os, yaml\nfrom pathlib import Path\nfrom vlsafe.reproduce import cell_config\nfrom vlsafe.store import Store\n"
     "cfg = cell_config('smoke', 'four_lane', 'vlsafe', 0, 'oracle', -1, yaml.safe_load(overrides) or {})\n"
     "Path(out).write_text(json.dumps({'lr': cfg.wm.lr, 'beta1': cfg.agent.beta1, 'root': str(Store(cfg.run.home or None).root),"
     " 'env_home': os.environ.get('VLSAFE_HOME'), 'cwd': os.getcwd()}))", []),
]


def _probe_notebook(path: Path):
    cells = [{'cell_type': 'code', 'id': f'p{i}', 'execution_count': None, 'metadata': {'tags': tags}, 'outputs': [],
              'source': src} for i, (src, tags) in enumerate(_PROBE)]
    nb = {'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))
    return path


def test_papermill_overrides_keep_small_floats(tmp_path):
    "plan() writes 3e-05 as JSON; the notebook's YAML reads it back as text; the config still gets the float."
    pm = pytest.importorskip('papermill')
    from vlsafe.reproduce import plan
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'oracle', {'wm.lr': 3e-5, 'agent.beta1': 1.5})[0]
    assert '3e-05' in cell['overrides']
    out = tmp_path / 'seen.json'
    pm.execute_notebook(str(_probe_notebook(tmp_path / 'probe.ipynb')), str(tmp_path / 'probe.out.ipynb'),
                        parameters=dict(overrides=cell['overrides'], out=str(out)), kernel_name='python3',
                        progress_bar=False, log_output=False)
    seen = json.loads(out.read_text())
    assert seen['lr'] == 3e-5 and seen['beta1'] == 1.5
