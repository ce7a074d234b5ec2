"""What a result's identity holds, and how overrides reach it: typed parsing of `--set`, the config file a cell's notebook reads,
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


# A notebook that reads its config exactly as nbs/experiments/table1.ipynb does (`load_config` of the file that
# `run_notebook` saved beside the cell's results), and reports what its kernel sees.
_PROBE = [
    ("config = ''\nout = ''", ['parameters']),
    ("import json, os\nfrom pathlib import Path\nfrom vlsafe.config import load_config\nfrom vlsafe.evaluate import result_hash\n"
     "from vlsafe.store import Store\ncfg = load_config(config)\n"
     "Path(out).write_text(json.dumps({'lr': cfg.wm.lr, 'beta1': cfg.agent.beta1, 'root': str(Store(cfg.run.home or None).root),"
     " 'hash': result_hash(cfg, 'vlsafe'), 'env_home': os.environ.get('VLSAFE_HOME'), 'cwd': os.getcwd()}))", []),
]


def _probe_notebook(path: Path):
    cells = [{'cell_type': 'code', 'id': f'p{i}', 'execution_count': None, 'metadata': {'tags': tags}, 'outputs': [],
              'source': src} for i, (src, tags) in enumerate(_PROBE)]
    nb = {'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))
    return path


def test_notebook_reads_the_cells_saved_config(tmp_path):
    "The kernel reads the config the sweep planned, from the file saved beside the cell: small floats and the result hash intact."
    pytest.importorskip('papermill')
    from vlsafe.evaluate import result_hash
    from vlsafe.reproduce import plan, run_notebook, cell_out_dir, _cell_cfg
    nbdir = tmp_path / 'nbs'; nbdir.mkdir()
    _probe_notebook(nbdir / 'table1.ipynb')
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'oracle',
                {'wm.lr': 3e-5, 'agent.beta1': '1.5', 'run.home': str(tmp_path / 'store')})[0]   # '1.5': as `--set` gives it
    cell['out'] = str(tmp_path / 'seen.json')    # a key that is not config reaches the notebook as it is
    run_notebook(cell, tmp_path / 'results', nb_dir=nbdir)
    seen = json.loads((tmp_path / 'seen.json').read_text())
    assert seen['lr'] == 3e-5 and seen['beta1'] == 1.5 and seen['hash'] == result_hash(_cell_cfg(cell), 'vlsafe')
    assert (cell_out_dir(cell, tmp_path / 'results') / 'config.yaml').exists()


def _episodes(n=3, ret=50.0, seed0=1000):
    import pandas as pd
    return pd.DataFrame(dict(episode=range(n), seed=[seed0 + i for i in range(n)], steps=[100] * n,
                             **{'return': [ret + i for i in range(n)]}, cost=[1.0] * n, avg_speed=[4.0] * n,
                             waypoints_completed=[10] * n, travel_distance=[40.0] * n, arrived=[1.0] * n,
                             collided=[0.0] * n, collisions=[0] * n, collision_speed=[float('nan')] * n))


def test_code_versions_enter_ids_and_result_hash(monkeypatch):
    "Bumping a stage's code version changes its artifact ids and the results that depend on it, and nothing else."
    from vlsafe import store as st
    from vlsafe.config import get_config
    from vlsafe.evaluate import result_hash
    cfg = get_config('smoke', {'label.scorer': 'oracle'})
    ids = {k: st.Store.make_id(k, {'x': 1}) for k in ('dataset', 'wm', 'baseline')}
    h = {m: result_hash(cfg, m) for m in ('vlsafe', 'bc', 'ppo')}
    monkeypatch.setitem(st.CODE_VERSIONS, 'agent', st.CODE_VERSIONS['agent'] + 1)
    assert result_hash(cfg, 'vlsafe') != h['vlsafe'] and result_hash(cfg, 'bc') == h['bc']
    monkeypatch.setitem(st.CODE_VERSIONS, 'dataset', st.CODE_VERSIONS['dataset'] + 1)
    assert st.Store.make_id('dataset', {'x': 1}) != ids['dataset'] and st.Store.make_id('wm', {'x': 1}) == ids['wm']
    assert result_hash(cfg, 'bc') != h['bc'] and result_hash(cfg, 'ppo') == h['ppo']   # online: no dataset
    monkeypatch.setitem(st.CODE_VERSIONS, 'baseline', st.CODE_VERSIONS['baseline'] + 1)
    assert result_hash(cfg, 'ppo') != h['ppo'] and st.Store.make_id('baseline', {'x': 1}) != ids['baseline']


def test_manifest_records_code_version_and_commit(tmp_path):
    from vlsafe.store import Store, CODE_VERSIONS
    s = Store(tmp_path)
    i = s.build('labels', {'a': 1}, {'dataset': 'dataset-x'}, lambda w: None)
    m = s.manifest('labels', i)
    assert m['code_version'] == CODE_VERSIONS['labels'] and m['git_commit'] not in ('', None)


def _fake_pipeline(monkeypatch, tmp_path, kind='oracle'):
    "run_cell without training: the stages return fixed ids, the policy is never called, evaluation is canned."
    import vlsafe.reproduce as rp, vlsafe.evaluate as ev, vlsafe.agent as ag
    from vlsafe.store import Store
    calls = []
    def stages(cfg, store=None, progress=True):
        calls.append(1)
        return dict(ids={'agent': 'agent-x'}, scorer={'kind': kind}, store=Store(tmp_path / 'store'))
    monkeypatch.setattr(rp, 'run_stages', stages)
    monkeypatch.setattr(ag, 'load_policy', lambda *a, **k: None)
    monkeypatch.setattr(ev, 'evaluate_policy', lambda policy, cfg, progress=True: (_episodes(), None))
    return calls


def test_stale_result_runs_again_instead_of_blocking(tmp_path, monkeypatch):
    "A finished cell made by older stage code is not done: the sweep runs it again (same folder, no error)."
    from vlsafe import store as st
    from vlsafe.reproduce import plan, cell_done, cell_out_dir, run_cell, _cell_cfg
    calls = _fake_pipeline(monkeypatch, tmp_path)
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'oracle')[0]
    res = tmp_path / 'results'
    m = run_cell(_cell_cfg(cell), 'vlsafe', cell_out_dir(cell, res), progress=False)
    assert cell_done(cell, res) and len(calls) == 1 and m['code_versions']['agent'] == st.CODE_VERSIONS['agent']
    monkeypatch.setitem(st.CODE_VERSIONS, 'wm', st.CODE_VERSIONS['wm'] + 1)
    assert not cell_done(cell, res)
    m2 = run_cell(_cell_cfg(cell), 'vlsafe', cell_out_dir(cell, res), progress=False)
    assert len(calls) == 2 and m2['config_hash'] != m['config_hash'] and cell_done(cell, res)


def test_label_source_is_part_of_the_result(tmp_path, monkeypatch):
    """A cell labelled by the oracle because CLIP weights were missing is not done once the weights are there; a
    world-model agent's result names the label source it used, a baseline's does not depend on it."""
    import vlsafe.label as lb
    from vlsafe.evaluate import result_hash, expected_label_source
    from vlsafe.reproduce import plan, cell_done, cell_out_dir, run_cell, _cell_cfg
    monkeypatch.setattr(lb, 'clip_weights_available', lambda cfg: (False, 'no weights here'))
    cell = plan('table1', 'smoke', ('four_lane',), ('vlsafe',), (0,), 'clip')[0]
    cfg = _cell_cfg(cell)
    assert expected_label_source(cfg) == 'oracle'
    h_fallback, h_bc = result_hash(cfg, 'vlsafe'), result_hash(cfg, 'bc')
    _fake_pipeline(monkeypatch, tmp_path, kind='oracle')
    res = tmp_path / 'results'
    run_cell(cfg, 'vlsafe', cell_out_dir(cell, res), progress=False)
    assert cell_done(cell, res)
    monkeypatch.setattr(lb, 'clip_weights_available', lambda cfg: (True, 'cache'))
    assert expected_label_source(cfg) == 'clip' and result_hash(cfg, 'vlsafe') != h_fallback
    assert result_hash(cfg, 'bc') == h_bc
    assert not cell_done(cell, res)


TINY_COLLECT = ['--set', 'data.episodes=4', '--set', 'data.chunk_episodes=2', '--set', 'env.max_steps=30',
                '--set', 'data.workers=1', '--quiet']


def test_two_concurrent_collects_share_one_dataset(tmp_path):
    """Two `vlsafe collect` of one config on one store, started while a third party holds the dataset's build lock
    (so both really wait at once): both succeed, print the same id, and the store holds exactly one dataset."""
    import time
    from vlsafe.config import get_config
    from vlsafe.store import Store
    home = tmp_path / 'store'
    cfg = get_config('smoke', {'data.episodes': 4, 'data.chunk_episodes': 2, 'env.max_steps': 30})
    did = Store.make_id('dataset', {'env': cfg.env, 'data': cfg.data})
    store = Store(home)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    with store.lock('dataset', did):
        procs, errs = [], []
        for k in range(2):
            errs.append(tmp_path / f'err{k}.txt')
            procs.append(subprocess.Popen([str(BIN / 'vlsafe'), '--home', str(home), 'collect', *TINY_COLLECT],
                                          stdout=subprocess.PIPE, stderr=open(errs[-1], 'w'), text=True, env=env))
        deadline = time.time() + 240
        while not all('waiting to reuse' in e.read_text() for e in errs):
            assert time.time() < deadline and all(p.poll() is None for p in procs), [e.read_text()[-2000:] for e in errs]
            time.sleep(0.5)
    outs = [p.communicate(timeout=400)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.read_text()[-2000:] for e in errs]
    assert [o.strip().splitlines()[-1] for o in outs] == [did, did]
    assert [m['id'] for m in store.list('dataset')] == [did]
    assert not (home / 'dataset' / '.partial' / did).exists()
