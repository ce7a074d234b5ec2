"""The tasks beyond Four Lane at `small`: their presets resolve as stated and leave Four Lane alone, the turn variants
hold the traffic they are said to hold, and the data bars are checked with the waiver where it is stated."""
import json
import numpy as np
import pandas as pd
import pytest
from pathlib import Path
from vlsafe.config import TASK_PRESETS, get_config, stable_hash, task_preset
from vlsafe.envs import make_task
from vlsafe.experts import BAR_WAIVERS, DATA_BARS, data_bars, mixture_shares
from vlsafe.reproduce import cell_config

ROOT = Path(__file__).resolve().parents[1]
LANE_MIX = {'expert': 0.15, 'late_braking': 0.3, 'eps_random': 0.25, 'distracted': 0.25, 'aggressive': 0.05}
CROSSING_MIX = {'expert': 0.15, 'late_braking': 0.35, 'eps_random': 0.1, 'distracted': 0.2, 'aggressive': 0.2}


def test_presets_resolve_as_stated():
    small = get_config('small')
    assert get_config('small', {'env.task': 'navigation'}).data.policy_mix == LANE_MIX
    assert get_config('small', {'env.task': 'navigation'}).env.max_steps == small.env.max_steps == 300
    for task in ('left_turn', 'right_turn'):
        simple = get_config('small', {'env.task': task})
        assert (simple.env.max_steps, simple.data.policy_mix) == (300, LANE_MIX)                   # simple: 300 steps
        med = cell_config('small', task, 'vlsafe', 1, overrides={'env.variant': 'medium'})   # as a sweep builds it
        mix = CROSSING_MIX if task == 'right_turn' else small.data.policy_mix
        assert (med.env.max_steps, med.data.policy_mix, med.env.variant, med.agent.seed) == (400, mix, 'medium', 1)
        hard = get_config('small', {'env.task': task, 'env.variant': 'hard'})                    # no preset
        assert (hard.env.max_steps, hard.data.policy_mix) == (300, small.data.policy_mix)
    # an explicit setting wins over the preset, from overrides and from a YAML string alike
    assert get_config('small', {'env.task': 'left_turn', 'env.variant': 'medium', 'env.max_steps': 320}).env.max_steps == 320
    assert get_config('small', {'env': {'task': 'navigation'}, 'data.policy_mix': {'expert': 1.0}}).data.policy_mix == {'expert': 1.0}
    # presets belong to their profile
    assert get_config('smoke', {'env.task': 'navigation'}).data.policy_mix == get_config('smoke').data.policy_mix
    assert get_config('paper', {'env.task': 'left_turn', 'env.variant': 'medium'}).env.max_steps == 500
    assert set(TASK_PRESETS) == {'small'} and task_preset('small', 'four_lane') == {}
    assert set(TASK_PRESETS['small']) == {'left_turn:simple', 'right_turn:simple', 'left_turn:medium',
                                          'right_turn:medium', 'navigation'}


def test_four_lane_ids_are_unchanged():
    "The hashes of Four Lane's configs before task presets existed (commit 2adb919): every committed cell keeps its id."
    pinned = {'smoke': '7de1549ae673', 'small': '9ae8f9e53f0b', 'paper': '94d1a95813d3'}
    for profile, h in pinned.items():
        assert stable_hash(get_config(profile)) == h
        assert stable_hash(get_config(profile, {'env.task': 'four_lane', 'env.variant': 'simple'})) == h
        assert stable_hash(cell_config(profile, 'four_lane', 'vlsafe', 0)) == h


def _crossings(variant: str, seed: int, steps: int = 150) -> int:
    """Steps on which another vehicle stands across the ego's route (within 2 m of it, heading more than 37° off the
    route's direction there; vehicles that follow or lead the ego on its lanes are within 10°) while the ego waits
    behind the stop line."""
    e = make_task('left_turn', variant=variant, image_size=32, vehicles_count=20).unwrapped
    e.reset(seed=seed)
    R, n = e.route, 0
    for _ in range(steps):
        e.step(2)                                      # full brake, wheel straight: the ego stays before the junction
        for v in e.others():
            d = np.linalg.norm(R.points - v.position, axis=1); i = int(d.argmin())
            across = abs(np.cos(v.heading) * R.tangent[i, 0] + np.sin(v.heading) * R.tangent[i, 1]) < 0.8
            if d[i] < 2.0 and across: n += 1; break
    return n


def test_medium_turn_has_traffic_across_the_route_and_simple_none():
    assert min(_crossings('medium', s) for s in (0, 1)) >= 20          # 39 and 28 steps of 150 when written
    assert max(_crossings('simple', s) for s in (0, 1)) == 0


def _tab(collision, cost, success=1.0):
    pols = ['expert', 'late_braking', 'eps_random', 'distracted', 'aggressive']
    return pd.DataFrame(dict(policy=pols, collision_rate=[0.0, collision, 0, 0, 0], steps=[200.0] * 5,
                             cost_step_share=[0.0, 0.0, cost, cost, 0.0], success_rate=[success, 0, 0, 0, 0],
                             arrive_rate=[0.0] * 5))


def test_data_bars_waive_collisions_only_for_the_paper_turns():
    mix = get_config('small').data.policy_mix
    safe = _tab(collision=0.0, cost=0.2)                                     # lane departures, never a crash
    m = mixture_shares(safe, mix)
    assert m['collision'] == 0 and m['cost_steps'] == pytest.approx(0.2 * 0.35) and m['length'] == pytest.approx(200)
    for task in ('left_turn', 'right_turn', 'left_turn:simple'):
        b = data_bars(safe, mix, task)
        assert b['collision']['waived'] and not b['collision']['met'] and b['cost_steps']['met'] and not b['cost_steps']['waived']
    for task in ('left_turn:medium', 'right_turn:medium', 'navigation', 'four_lane'):
        assert not data_bars(safe, mix, task)['collision']['waived']
    assert set(BAR_WAIVERS) == {'left_turn:simple', 'right_turn:simple'} and DATA_BARS['collision'] == 0.15
    # the expert bar reads success (navigation: no failure on its open route), not arrival
    assert data_bars(_tab(0.5, 0.2, success=0.95), mix, 'navigation')['expert_success']['met']
    assert not data_bars(_tab(0.5, 0.2, success=0.85), mix, 'navigation')['expert_success']['met']


def test_committed_probe_meets_the_bars():
    "results/experts/small_tasks_v2_bars.csv (benchmarks/task_data.py): every task's mix passes, the waiver as stated."
    bars = pd.read_csv(ROOT / 'results' / 'experts' / 'small_tasks_v2_bars.csv').set_index('task')
    tab = pd.read_csv(ROOT / 'results' / 'experts' / 'small_tasks_v2.csv')
    for task, row in bars.iterrows():
        name, _, variant = task.partition(':')
        cfg = get_config('small', {'env.task': name, 'env.variant': variant or 'simple'})
        assert row.max_steps == cfg.env.max_steps and json.loads(row.mix) == cfg.data.policy_mix   # measured as configured
        b = data_bars(tab[tab.task == task], cfg.data.policy_mix, task)
        assert all(v['met'] or v['waived'] for v in b.values()), (task, b)
        assert b['collision']['waived'] == (variant in ('', 'simple') and name in ('left_turn', 'right_turn'))
        assert row.passed
