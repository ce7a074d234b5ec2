"""The label study's knobs on the agent (`agent.p_control`, `lookahead`, `adv_norm='state_std'`, `bc_latent`): each
changes what it says and nothing else. Built on the small random world model of tests/test_fosp_identity.py."""
import math
import pytest
import torch
from torch import nn
import vlsafe.agent as A
from vlsafe.config import AgentConfig, ConfigError, get_config
from vlsafe.world_model import WorldModel, synthetic_batch
from test_fosp_identity import WM


def run(n=2, seed=0, **kw):
    "An agent's parameters and metrics after `n` updates with AgentConfig(**kw) on one random world model."
    torch.manual_seed(seed)
    wm = WorldModel(WM, 15).requires_grad_(False).eval()
    ag = A.Agent.for_world_model(AgentConfig(horizon=5, **kw), wm, wm.spec)
    torch.manual_seed(seed + 2)
    for lin in (wm.reward_head.out, wm.cost_head.out, wm.safety_head.out, ag.critic_c.net.out):
        nn.init.normal_(lin.weight, std=0.3)
    ms = []
    for i in range(n):
        data, post = A.prepare(wm, synthetic_batch(B=2, L=6, size=32, seed=seed + i))
        ms.append(ag.update(wm, data, post))
    return ag.state_dict(), ms

def same(a, b): return all(torch.equal(a[k], b[k]) for k in a)

def test_p_control_reaches_vlsafe_and_not_vlsafe_nc():
    base, _ = run(objective='vlsafe')
    for c in ('shuffled', 'inverted'):
        sd, ms = run(objective='vlsafe', p_control=c)
        assert not same(sd, base) and all(math.isfinite(v) for v in ms[-1].values() if not math.isnan(v))
    # VL-SAFE-NC's weight ignores p̂, so its controls cannot change it (shuffling draws from the RNG: not bit-equal)
    nc, _ = run(objective='vlsafe_nc')
    inv, _ = run(objective='vlsafe_nc', p_control='inverted')
    assert same(nc, inv)

@torch.no_grad()
def test_mode_lookahead_scores_actions_without_latent_noise():
    torch.manual_seed(0)
    wm = WorldModel(WM, 15).requires_grad_(False).eval()
    ag = A.Agent.for_world_model(AgentConfig(horizon=3), wm, wm.spec)
    for lin in (wm.reward_head.out, wm.cost_head.out, ag.critic_r.net.out): nn.init.normal_(lin.weight, std=0.3)
    data, post = A.prepare(wm, synthetic_batch(B=2, L=4, size=32, seed=0))
    traj = A.imagine(wm, ag.actor, A.flatten_states(post), 3)
    v = torch.zeros(4, traj.reward.shape[1])
    a_b = torch.stack([ag.bc(traj.sfeat[:-1]).sample()] * 4)        # the same action 4 times at each state
    r, c, _ = A.one_step_advantages(wm, ag.critic_r, ag.critic_c, traj, a_b, v, v, 0.99, sample=False)
    assert torch.equal(r, r[:1].expand_as(r)) and torch.equal(c, c[:1].expand_as(c))   # identical actions, identical scores
    r, c, _ = A.one_step_advantages(wm, ag.critic_r, ag.critic_c, traj, a_b, v, v, 0.99, sample=True)
    assert not torch.equal(r, r[:1].expand_as(r))                   # drawn next states differ between the copies

def test_state_std_changes_the_update_and_needs_several_actions():
    base, _ = run(objective='vlsafe')
    sd, ms = run(objective='vlsafe', adv_norm='state_std')
    assert not same(sd, base) and math.isfinite(ms[-1]['w_mean'])
    with pytest.raises(ConfigError, match='behaviour_samples'):
        get_config('smoke', {'agent.adv_norm': 'state_std', 'agent.behaviour_samples': 1})

def test_new_knobs_keep_default_ids():
    "Each knob enters a config's hash only away from its default, so that no committed cell goes stale."
    from vlsafe.config import stable_hash
    c = get_config('small')
    assert stable_hash(c.agent) == stable_hash(get_config('small', {'agent.p_control': 'none', 'agent.lookahead': 'sample',
                                                                   'agent.bc_latent': 'mode'}).agent)
    assert stable_hash(c.agent) != stable_hash(get_config('small', {'agent.lookahead': 'mode'}).agent)
