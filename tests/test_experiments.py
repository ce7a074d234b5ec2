"The experiment notebooks run end to end through papermill with tiny parameters."
import json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {'data.episodes': 4, 'data.chunk_episodes': 2, 'env.max_steps': 30, 'wm.steps': 4, 'wm.batch_length': 8,
        'agent.steps': 4, 'agent.batch_length': 8, 'agent.horizon': 4}


def test_table1_notebook_through_papermill(tmp_path, monkeypatch):
    pm = pytest.importorskip('papermill')
    monkeypatch.setenv('VLSAFE_HOME', str(tmp_path / 'store'))
    results = tmp_path / 'results'
    out_nb = tmp_path / 'table1.ipynb'
    pm.execute_notebook(str(ROOT / 'nbs' / 'experiments' / 'table1.ipynb'), str(out_nb), kernel_name='python3',
                        cwd=str(ROOT / 'nbs' / 'experiments'), progress_bar=False,
                        parameters=dict(task='four_lane', method='vlsafe', seed=0, profile='smoke', scorer='oracle',
                                        episodes=1, overrides=json.dumps(TINY), results=str(results)))
    run = results / 'table1' / 'smoke' / 'four_lane' / 'vlsafe' / 'seed0'
    m = json.loads((run / 'metrics.json').read_text())
    assert m['scorer']['kind'] == 'oracle' and m['episodes'] == 1 and m['method'] == 'vlsafe'
    assert set(m['artifacts']) == {'dataset', 'labels', 'world_model', 'agent'}
    assert (run / 'episodes.csv').read_text().count('\n') == 2   # header + one episode
    executed = json.loads(out_nb.read_text())
    assert any('injected-parameters' in c['metadata'].get('tags', []) for c in executed['cells'])
