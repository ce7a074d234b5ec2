"""The faster agent update computes what the straightforward formulation computes.

- Metrics read in one transfer (`to_floats`) equal per-value `.item()` calls: bit-identical.
- The K behaviour actions' look-ahead shares the states' part of the prior step (`RSSM.img_step_shared`): the same
  sums taken in another order, so it equals K separate `img_step` calls up to float rounding (tight `allclose`); the
  random draws are the same (one per action set, in the same order), so the sampled next states are equal.
- With K = 1 (and for dreamerv3, which has no look-ahead) the update takes the original path: bit-identical.
- The look-ahead in blocks of rows (a multiple of 64) equals one pass over all states: bit-identical.
"""
import math
import pytest
import torch
from torch import nn
import vlsafe.agent as A
from vlsafe.config import WorldModelConfig, AgentConfig
from vlsafe.world_model import WorldModel, synthetic_batch

WM = WorldModelConfig(image_size=32, deter=64, units=64, stoch=8, classes=8, layers=2, cnn_depth=8, bins=63)


def reference_lookahead(wm, critic_r, critic_c, traj, a_b, v_r, v_c, gamma, reach=None, mu=0.99, sample=True):
    "The look-ahead as K separate one-action calls, each through `img_step` (the original formulation)."
    kw = dict(sample=sample)
    if a_b.dim() == 3: return ORIGINAL(wm, critic_r, critic_c, traj, a_b, v_r, v_c, gamma, reach, mu, **kw)
    la = [ORIGINAL(wm, critic_r, critic_c, traj, a, v_r, v_c, gamma, reach, mu, **kw) for a in a_b]
    return tuple(None if x[0] is None else torch.stack(x) for x in zip(*la))

ORIGINAL = A.one_step_advantages


def updates(objective='vlsafe', K=4, n=2, seed=0):
    "An agent after `n` updates on a small random world model; its parameters and every update's metrics."
    torch.manual_seed(seed)
    wm = WorldModel(WM, 15).requires_grad_(False).eval()
    ag = A.Agent.for_world_model(AgentConfig(objective=objective, horizon=5, behaviour_samples=K), wm, wm.spec)
    torch.manual_seed(seed + 2)        # heads and the cost critic away from zero, so advantages are not all 0
    for lin in (wm.reward_head.out, wm.cost_head.out, ag.critic_c.net.out): nn.init.normal_(lin.weight, std=0.3)
    ms = []
    for i in range(n):
        data, post = A.prepare(wm, synthetic_batch(B=2, L=6, size=32, seed=seed + i))
        ms.append(ag.update(wm, data, post))
    return {k: v.clone() for k, v in ag.state_dict().items()}, ms


def test_to_floats_equals_item():
    x = torch.randn(7, generator=torch.Generator().manual_seed(0))
    m = dict(a=x.sum(), b=x.max(), c=float('nan'), d=x.std().to(torch.bfloat16), e=torch.tensor(3))
    ref = {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in m.items()}
    got = A.to_floats(m)
    assert list(got) == list(ref) and all(type(v) is float for v in got.values())
    assert all(got[k] == ref[k] or (math.isnan(got[k]) and math.isnan(ref[k])) for k in ref)


def test_img_step_shared_matches_img_step():
    "Same draws, same one-hot samples; deter and logits equal up to float rounding (split sums)."
    torch.manual_seed(0)
    wm = WorldModel(WM, 15).requires_grad_(False)
    rssm = wm.rssm
    st = rssm.img_step(rssm.initial(40), torch.eye(15)[torch.randint(15, (40,))])
    acts = torch.eye(15)[torch.randint(15, (3, 40))]
    torch.manual_seed(1); ref = [rssm.img_step(st, a) for a in acts]
    torch.manual_seed(1)
    shared = rssm.prior_inputs(st)
    new = [rssm.img_step_shared(st, shared, a) for a in acts]
    for r, n in zip(ref, new):
        assert torch.equal(r['stoch'], n['stoch'])
        assert torch.allclose(r['deter'], n['deter'], rtol=1e-5, atol=1e-6)
        assert torch.allclose(r['logit'], n['logit'], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('objective', ['vlsafe', 'fosp'])
def test_shared_lookahead_matches_loop(objective, monkeypatch):
    "Two updates with K = 4: the batched look-ahead against K separate calls (reduction order differs: allclose)."
    sd, ms = updates(objective)
    monkeypatch.setattr(A, 'one_step_advantages', reference_lookahead)
    sd_ref, ms_ref = updates(objective)
    for m, r in zip(ms, ms_ref):
        assert list(m) == list(r)
        for k in r:
            assert m[k] == pytest.approx(r[k], rel=1e-4, abs=1e-6, nan_ok=True), k
    for k in sd_ref:           # measured: at most 4e-8 apart after two updates
        assert torch.allclose(sd[k].float(), sd_ref[k].float(), rtol=1e-5, atol=1e-6), k


@pytest.mark.parametrize('objective,K', [('vlsafe', 1), ('dreamerv3', 4)])
def test_single_action_path_is_bit_identical(objective, K, monkeypatch):
    "K = 1 (and dreamerv3) go through `img_step` exactly as before: parameters and metrics bit for bit."
    sd, ms = updates(objective, K)
    monkeypatch.setattr(A, 'one_step_advantages', reference_lookahead)
    sd_ref, ms_ref = updates(objective, K)
    assert all(torch.equal(sd[k], sd_ref[k]) for k in sd_ref)
    for m, r in zip(ms, ms_ref):
        assert list(m) == list(r) and all(m[k] == r[k] or (math.isnan(m[k]) and math.isnan(r[k])) for k in r)


@pytest.mark.parametrize('K', [1, 3])
def test_lookahead_blocks_are_bit_identical(K):
    "The look-ahead in blocks of rows draws the same numbers and sums every row alike: equal to one pass, bit for bit."
    torch.manual_seed(0)
    wm = WorldModel(WM, 15).requires_grad_(False).eval()
    ag = A.Agent.for_world_model(AgentConfig(horizon=5, objective='fosp'), wm, wm.spec)
    _, post = A.prepare(wm, synthetic_batch(B=4, L=8, size=32))
    with torch.no_grad():
        traj = A.imagine(wm, ag.actor, A.flatten_states(post), 5)
        v_r, v_c = ag.critic_r(traj.sfeat).mean(), ag.critic_c(traj.sfeat).mean()
        a_b = torch.stack([ag.bc(traj.sfeat[:-1]).sample() for _ in range(K)])
        res = []
        for rows in (64 * 10 ** 6, 64):                      # 160 states: one block, or blocks of 64, 64 and 32
            torch.manual_seed(1)
            res.append(A.one_step_advantages(wm, ag.critic_r, ag.critic_c, traj, a_b, v_r, v_c, 0.99, ag.reach, rows=rows))
    assert all(torch.equal(x, y) for x, y in zip(*res)) and res[0][0].shape == (K, 5, 32)
    with pytest.raises(ValueError, match='multiple of 64'):
        A.one_step_advantages(wm, ag.critic_r, ag.critic_c, traj, a_b, v_r, v_c, 0.99, rows=48)
