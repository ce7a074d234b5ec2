"""Does a world model's latent state carry what a driver needs? Fit π_b on its posterior features, then drive.

For each world model given: π_b (`vlsafe.agent.pretrain_behaviour`, as the agents' `agent.bc_pretrain` does) is fitted
on the posterior features of the episodes the model trained on, scored on its held-out episodes (NLL and accuracy of
the logged actions), and driven by its mode in closed loop on the first `--scenarios` evaluation scenarios of the
`small` Four Lane config (the Table I scenario seeds). Results go to `results/wm_quality/latent_policy.json`, one
entry per world model, merged into what is there.

    python benchmarks/latent_policy.py wm-1cf96f824d7f wm-c6f6c9fe5e79 --scenarios 20
"""
from __future__ import annotations
import argparse, json, os, time
from pathlib import Path
import numpy as np, torch

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('wm_ids', nargs='+'); ap.add_argument('--steps', type=int, default=3000)
    ap.add_argument('--scenarios', type=int, default=20); ap.add_argument('--out', default='results/wm_quality/latent_policy.json')
    a = ap.parse_args()
    from vlsafe.config import get_config
    from vlsafe.store import Store, atomic_write_json
    from vlsafe.data import load_episodes
    from vlsafe.world_model import load_world_model, action_spec
    from vlsafe.agent import Agent, pretrain_behaviour, posterior_features, AgentPolicy
    from vlsafe.evaluate import evaluate_policy
    torch.set_num_threads(1)
    cpu = open('/proc/cpuinfo').read() if os.path.exists('/proc/cpuinfo') else ''
    flags = sorted({f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f' {f}' in cpu})
    cfg = get_config('small', {'env.task': 'four_lane', 'eval.workers': 1})
    store, out = Store(), Path(a.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    for wm_id in a.wm_ids:
        t0 = time.time()
        wm = load_world_model(wm_id, store); man = store.manifest('wm', wm_id)
        eps = load_episodes(man['inputs']['dataset'], store); held = set(man['held_out_episodes'])
        train = [e for i, e in enumerate(eps) if i not in held]; test = [e for i, e in enumerate(eps) if i in held]
        torch.manual_seed(0)
        agent = Agent.for_world_model(cfg.agent, wm, action_spec(wm.spec))
        fit = pretrain_behaviour(agent, wm, train, a.steps, seed=0, progress=True)
        f, act = posterior_features(wm, test)
        with torch.no_grad():
            d = agent.bc(f)
            nll, acc = -d.log_prob(act).mean().item(), (d.mode().argmax(-1) == act.argmax(-1)).float().mean().item()
        df, _ = evaluate_policy(AgentPolicy(wm, agent.bc, agent.info, sample=False), cfg, episodes=a.scenarios)
        cols = ['return', 'cost', 'arrived', 'collided', 'travel_distance', 'steps']
        res[wm_id] = dict(wm_steps=man['steps'], fit=fit, heldout_nll=nll, heldout_acc=acc, scenarios=a.scenarios,
                          closed_loop={c: float(df[c].mean()) for c in cols}, cpu_flags=flags,
                          seconds=round(time.time() - t0, 1))
        print(wm_id, json.dumps(res[wm_id]), flush=True)
        atomic_write_json(out, res)

if __name__ == '__main__': main()
