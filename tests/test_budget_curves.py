"""Closed-loop learning curves end to end on tiny configs: an offline baseline against its gradient steps, and a named
variant of a world-model agent (a p̂ control) against its actor updates, each driven at every snapshot."""
import json
import pandas as pd
import pytest
from vlsafe.budget import budget_curve, budget_table
from vlsafe.mechanism import row_runs

TINY = {'data.episodes': 4, 'data.chunk_episodes': 2, 'env.max_steps': 30, 'eval.episodes': 2, 'baseline.batch_size': 8,
        'wm.steps': 4, 'wm.batch_length': 8, 'agent.batch_length': 8, 'agent.horizon': 4, 'agent.bc_pretrain': 10}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv('VLSAFE_HOME', str(tmp_path / 'store'))
    return tmp_path


def test_offline_baseline_curve_drives_each_snapshot(store):
    res = store / 'results'
    with pytest.raises(ValueError, match='--variant'):         # overrides without a name would mix with the profile's curve
        budget_curve('smoke', 'four_lane', 'bc', 0, 200, res, TINY, progress=False, allow_dirty=True)
    t = budget_curve('smoke', 'four_lane', 'bc', 0, 200, res, TINY, progress=False, allow_dirty=True, variant='tiny')
    assert t['step'].tolist() == [100, 200] and (t['episodes'] == 2).all()
    assert t['kl_pi_b'].isna().all() if 'kl_pi_b' in t else True   # a baseline has no π_b to move from
    run = res / 'agent_budget' / 'smoke' / 'four_lane' / 'bc@tiny' / 'seed0'
    meta = json.loads((run / 'curve.json').read_text())
    assert meta['variant'] == 'tiny' and meta['snapshots'] == [100, 200] and 'baseline' in meta['artifacts']
    assert (run / 'episodes' / 'step100.csv').exists() and (run / 'episodes' / 'step200.csv').exists()
    bt = budget_table('smoke', res)
    assert set(bt['variant']) == {'tiny'} and set(bt['method']) == {'bc'}


def test_wm_agent_variant_curve_keeps_its_control(store):
    res = store / 'results'
    ov = {**TINY, 'agent.p_control': 'shuffled'}
    t = budget_curve('smoke', 'four_lane', 'vlsafe', 0, 100, res, ov, progress=False, allow_dirty=True, variant='shuf')
    assert t['step'].tolist() == [100] and t['kl_pi_b'].notna().all()
    eps, wms, lines = row_runs('smoke', 'four_lane', 'vlsafe@shuf', 100, res)
    assert list(eps) == [0] and len(eps[0]) == 2 and wms[0].startswith('wm-')
    meta = json.loads((res / 'agent_budget' / 'smoke' / 'four_lane' / 'vlsafe@shuf' / 'seed0' / 'curve.json').read_text())
    assert meta['overrides']['agent.p_control'] == 'shuffled'
