"""FOSP's terms beside its loss leave the agent's update as it was: one FOSP update, parameters and metrics, equals the
update before they moved out of `Agent._update` (kept below as `old_update`, the code of commit c797f7a, only here).
The reachability estimator's step now runs before the critics' step instead of after it: their graphs and
optimisers are disjoint and neither draws random numbers, so the order changes nothing."""
import math
import pytest
import torch
from torch import nn
import vlsafe.agent as A
from vlsafe.agent import *
from vlsafe.agent import TwoHotDist, Bernoulli
from vlsafe.config import WorldModelConfig, AgentConfig
from vlsafe.world_model import WorldModel, synthetic_batch

WM = WorldModelConfig(image_size=32, deter=64, units=64, stoch=8, classes=8, layers=2, cnn_depth=8, bins=63)


def old_update(self, wm, data: dict, post: dict) -> dict[str, float]:
    cfg, info = self.cfg, self.info
    H, gamma, lam = cfg.horizon, cfg.gamma, cfg.lam
    m: dict[str, torch.Tensor | float] = {}      # tensors until the end: one sync reads them all
    backprop = info['kind'] == 'box' and cfg.objective == 'dreamerv3'
    fosp = self.reach is not None
    # 1. behaviour cloning: π_b on posterior features and dataset actions (placeholder at is_last masked)
    feat_post = detached_feat(wm, post)
    a_data = data['action']          # the world model's vector: one-hot, or rescaled to [-1, 1]
    mask = (~data['is_last']).float()
    bc_dist = self.bc(feat_post)
    bc_loss = -(mask * bc_dist.log_prob(a_data)).sum() / mask.sum().clamp(min=1)
    # 2. imagine from every posterior state; terminal states start nothing (weight 0)
    start = flatten_states(post)
    traj = imagine(wm, self.actor, start, H, grad=backprop)
    start_cont = 1.0 - data['is_terminal'].float().reshape(-1)
    weight = torch.cat([start_cont[None], start_cont[None] * torch.cumprod(gamma * traj.cont.detach(), 0)])
    # 3. values, λ-returns and normalised advantages (reward and cost). The critics' forward pass on the detached
    #    features serves both the values here and the critic losses in 6; dynamics backprop needs values that
    #    are differentiable in the features, hence its own pass.
    fdet = traj.sfeat
    dist_r, dist_c = self.critic_r(fdet), self.critic_c(fdet)
    v_r = self.critic_r(traj.feat).mean() if backprop else dist_r.mean().detach()
    v_c = dist_c.mean().detach()
    ret_r = lambda_return(traj.reward, traj.cont, v_r, gamma, lam)
    ret_c = lambda_return(traj.cost.detach(), traj.cont.detach(), v_c, gamma, lam)
    s_r, s_c = self.norm_r.update(ret_r), self.norm_c.update(ret_c)
    adv = (ret_r - v_r[:-1]) / s_r
    # 4. behaviour actions a^b ~ π_b at s_0…s_{H-1}, scored by a one-step look-ahead (AWR objectives only),
    #    normalised (`adv_norm`) over the states the actor learns from
    #    K = `behaviour_samples` actions per state; with K > 1 each is scored against their mean at its state (CRR)
    fs, valid = fdet[:-1], weight[:-1] > 0
    awr = cfg.objective != 'dreamerv3'
    K = cfg.behaviour_samples if awr else 1
    with torch.no_grad():
        d_b = self.bc(fs)
        a_b = torch.stack([d_b.sample() for _ in range(K)])                     # (K, H, N, A)
        reach_b = None
        if awr:
            a_r_b, a_c_b, reach_b = one_step_advantages(wm, self.critic_r, self.critic_c, traj, a_b, v_r.detach(),
                                                        v_c, gamma, self.reach, cfg.ref_discount)
            if K > 1: a_r_b, a_c_b = a_r_b - a_r_b.mean(0), a_c_b - a_c_b.mean(0)
        else: a_r_b = a_c_b = torch.zeros_like(a_b[..., 0])
        valid_k = valid.expand_as(a_r_b)
        adv_r_b = normalise_advantages(a_r_b, s_r, cfg.adv_norm, valid_k)
        adv_c_b = normalise_advantages(a_c_b, s_c, cfg.adv_norm, valid_k)
    # 5. actor
    dist = self.actor(fs)
    q = dict(logp=dist.log_prob(traj.action.detach()), ent=dist.entropy(), adv=adv if backprop else adv.detach(),
             backprop=backprop, logp_b=dist.log_prob(a_b), adv_r_b=adv_r_b, adv_c_b=adv_c_b,
             p=traj.p[:-1].detach(), value_c=v_c[:-1].detach(), weight=weight[:-1], reach_b=reach_b)
    a_loss, am = actor_loss(cfg.objective, q, cfg)
    m['actor_grad_norm'] = self._step(self.opt_actor, a_loss, self.actor.parameters())
    # 6. critics (on detached features and targets) and π_b share one backward: their graphs are disjoint.
    #    FOSP: expectile-weighted targets (reward upper, cost lower) and the dataset terms, then the REF.
    with torch.no_grad(): slow_r, slow_c = self.slow_r(fs).mean(), self.slow_c(fs).mean()
    head = lambda d: TwoHotDist(d.logits[:-1], d.bins)
    tau_r, tau_c = (cfg.expectile, 1 - cfg.expectile) if fosp else (None, None)
    c_loss_r = critic_loss(head(dist_r), ret_r, slow_r, weight[:-1], tau=tau_r)
    c_loss_c = critic_loss(head(dist_c), ret_c, slow_c, weight[:-1], tau=tau_c)
    if fosp:
        B, T = data['is_last'].shape
        at_data = lambda x: x[0].reshape(B, T, *x.shape[2:])      # imagined step 0 = the dataset's posterior states
        for key, dist_x, ret_x, tau in (('reward', dist_r, ret_r, tau_r), ('cost', dist_c, ret_c, tau_c)):
            y, ok = dataset_targets(data[key], data['is_last'], data['is_terminal'], at_data(ret_x).detach(), gamma)
            d0 = TwoHotDist(at_data(dist_x.logits)[:, :-1], dist_x.bins)
            off = -expectile_weight(y, d0.mean().detach(), tau) * d0.log_prob(y)
            off = (off * ok).sum() / ok.sum().clamp(min=1)
            if key == 'reward': c_loss_r = c_loss_r + off
            else: c_loss_c = c_loss_c + off
    self.opt_critic.zero_grad(set_to_none=True); self.opt_bc.zero_grad(set_to_none=True)
    self._backward(c_loss_r + c_loss_c + bc_loss)
    torch.nn.utils.clip_grad_norm_([*self.critic_r.parameters(), *self.critic_c.parameters()], self.grad_clip)
    torch.nn.utils.clip_grad_norm_(self.bc.parameters(), self.grad_clip)
    self.opt_critic.step(); self.opt_bc.step()
    ema_update(self.slow_r, self.critic_r, cfg.slow_critic_fraction)
    ema_update(self.slow_c, self.critic_c, cfg.slow_critic_fraction)
    if fosp: m.update(old_reach_step(self, data, traj, fdet, weight))
    # 7. what to log
    with torch.no_grad():
        w, mix = am['w'], am['mix']
        if w is not None:
            m.update(weight_tensors(w, adv_r_b, adv_c_b, traj.p[:-1].expand_as(w), mix, weight[:-1].expand_as(w)))
        nan = float('nan')
        several = valid_k.sum() > 1
        m.update(actor_loss=a_loss, critic_r_loss=c_loss_r, critic_c_loss=c_loss_c,
                 bc_loss=bc_loss, w_mean=w.mean() if w is not None else nan,
                 w_max=w.max() if w is not None else nan,
                 mix_mean=mix.mean() if mix is not None else nan, p_hat=traj.p.mean(),
                 p_hat_min=traj.p.min(), adv_r=adv.mean(), adv_r_std=adv.std(),
                 adv_r_b=adv_r_b.mean(), adv_c_b=adv_c_b.mean(), entropy=q['ent'].mean(),
                 adv_r_raw_std=a_r_b[valid_k].std() if several else nan,
                 adv_c_raw_std=a_c_b[valid_k].std() if several else nan,
                 ret_r=ret_r.mean(), ret_c=ret_c.mean(), v_c=v_c.mean(),
                 scale_r=s_r, scale_c=s_c, reward_hat=traj.reward.mean(),
                 cost_hat=traj.cost.mean(), feasible=feasible(v_c[:-1], cfg.cost_limit).mean())
        if info['kind'] == 'discrete':
            m['bc_acc'] = ((bc_dist.probs.argmax(-1) == a_data.argmax(-1)).float() * mask).sum()
            m['_mask'] = mask.sum()
    m = to_floats(m)
    if '_mask' in m: m['bc_acc'] /= max(m.pop('_mask'), 1)
    return m

def old_reach_step(self, data: dict, traj: Imagined, fdet, weight: torch.Tensor) -> dict[str, torch.Tensor]:
    """FOSP's REF update: max-backup targets along the imagined rollout (bootstrapped by the slow REF at s_H) and on
    the dataset's own transitions, cross-entropy on soft targets plus the slow-copy regulariser, EMA."""
    cfg, H = self.cfg, self.cfg.horizon
    with torch.no_grad():
        slow = self.slow_reach(fdet).mean()                                          # (H+1, N)
        y = reach_target(violation(traj.cost), traj.cont, slow[-1], cfg.ref_discount)
    dist = self.reach(fdet[:-1])
    loss = (weight[:-1] * (-dist.log_prob(y) - dist.log_prob(slow[:-1]))).mean()
    B, T = data['is_last'].shape
    y_off, ok = dataset_targets(data['cost'], data['is_last'], data['is_terminal'], y[0].reshape(B, T),
                                cfg.ref_discount, 'max')
    d0 = Bernoulli(dist.logits[0].reshape(B, T)[:, :-1])
    loss = loss + (-d0.log_prob(y_off) * ok).sum() / ok.sum().clamp(min=1)
    self.opt_reach.zero_grad(set_to_none=True); self._backward(loss)
    torch.nn.utils.clip_grad_norm_(self.reach.parameters(), self.grad_clip)
    self.opt_reach.step()
    ema_update(self.slow_reach, self.reach, cfg.slow_critic_fraction)
    with torch.no_grad(): p = dist.mean()
    return dict(reach_loss=loss.detach(), reach_mean=p.mean(), reach_target=y.mean(),
                reach_offline_target=(y_off * ok).sum() / ok.sum().clamp(min=1))


def run(objective, K, old: bool, n=2, seed=0, actions=15):
    "An agent after `n` updates on a small random world model (as tests/test_efficiency_identity.py builds it)."
    torch.manual_seed(seed)
    wm = WorldModel(WM, actions).requires_grad_(False).eval()
    ag = A.Agent.for_world_model(AgentConfig(objective=objective, horizon=5, behaviour_samples=K), wm, wm.spec)
    torch.manual_seed(seed + 2)
    for lin in (wm.reward_head.out, wm.cost_head.out, ag.critic_c.net.out): nn.init.normal_(lin.weight, std=0.3)
    if old: ag._update = old_update.__get__(ag)
    ms = []
    for i in range(n):
        data, post = A.prepare(wm, synthetic_batch(B=2, L=6, size=32, seed=seed + i))
        ms.append(ag.update(wm, data, post))
    return ag.state_dict(), ms


@pytest.mark.parametrize('objective,K', [('fosp', 4), ('fosp', 1), ('vlsafe', 4)])
def test_update_equals_the_update_before_fosp_moved_out(objective, K):
    sd, ms = run(objective, K, old=False)
    sd0, ms0 = run(objective, K, old=True)
    assert list(sd) == list(sd0) and all(torch.equal(sd[k], sd0[k]) for k in sd)
    assert [list(m) for m in ms] == [list(m) for m in ms0]          # the same metrics, logged in the same order
    assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for a, b in zip(ms, ms0) for k in b)
