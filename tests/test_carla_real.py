"""The CARLA backend against the real `carla` client (the `carla` extra; the dev install includes it): every
`carla.*` name the backend reads exists in the installed module, and the pinned client is the server version the
backend targets. Maps, waypoints, routes, the BEV and the unreachable-server error are tested with the real client
in nbs/09_carla.ipynb; what needs a running server (actors, sensors, ticks, the Traffic Manager) is not."""
import ast, configparser, shlex
from pathlib import Path
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / 'vlsafe' / 'carla_env.py'


def _module_aliases(tree) -> set:
    "Names bound to the carla module: `import carla`, parameters called `carla`, and names assigned from `self.carla`."
    is_module = lambda v: isinstance(v, ast.Attribute) and v.attr == 'carla' and isinstance(v.value, ast.Name) and v.value.id == 'self'
    names = {'carla'}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign): continue
        for target in node.targets:
            pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                     else [(target, node.value)])
            names |= {t.id for t, v in pairs if isinstance(t, ast.Name) and is_module(v)}
    return names


def carla_names(source: str) -> set:
    "Every dotted name the source reads from the carla module, e.g. 'LaneType.Driving' for `C.LaneType.Driving`."
    tree = ast.parse(source)
    aliases, found = _module_aliases(tree), set()
    for node in ast.walk(tree):
        chain, n = [], node
        while isinstance(n, ast.Attribute): chain.append(n.attr); n = n.value
        chain.reverse()
        if isinstance(n, ast.Name) and n.id in aliases and chain: found.add('.'.join(chain))
        elif isinstance(n, ast.Name) and n.id == 'self' and chain[:1] == ['carla'] and len(chain) > 1:
            found.add('.'.join(chain[1:]))
    return {a for a in found if not any(b.startswith(a + '.') for b in found)}     # the longest chains only


def test_carla_names_parser_finds_the_ways_the_backend_reaches_the_module():
    src = "def f(carla): carla.LaneType.Driving\nclass E:\n def g(self):\n  C, x = self.carla, 1\n  C.Location(); self.carla.VehicleControl()\n"
    assert carla_names(src) == {'LaneType.Driving', 'Location', 'VehicleControl'}


def test_every_carla_name_the_backend_uses_exists_in_the_real_module():
    carla = pytest.importorskip('carla', reason="the real CARLA client is not installed: pip install -e '.[carla]'")
    used = carla_names(SOURCE.read_text())
    assert {'Client', 'Location', 'Transform', 'LaneType.Driving', 'VehicleControl'} <= used, used
    missing = []
    for name in sorted(used):
        obj = carla
        for part in name.split('.'):
            if not hasattr(obj, part): missing.append(name); break
            obj = getattr(obj, part)
    assert not missing, (f"vlsafe.carla_env uses {', '.join('carla.' + m for m in missing)}, which the installed "
                        f"client ({carla.__file__}) lacks")


def test_the_pinned_client_is_the_backend_s_server_version():
    from vlsafe.carla_env import CARLA_VERSION
    cfg = configparser.ConfigParser(); cfg.read(ROOT / 'settings.ini')
    pins = shlex.split(cfg['DEFAULT']['carla_requirements'])
    assert len(pins) == 1 and pins[0].startswith(f"carla-{CARLA_VERSION.replace('.', '-')}=="), pins
    env = yaml.safe_load((ROOT / 'environment.yml').read_text())
    pip = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict) and 'pip' in d)
    assert pins[0] in pip, 'environment.yml lacks the carla_requirements pin of settings.ini'
    carla = pytest.importorskip('carla', reason="the real CARLA client is not installed: pip install -e '.[carla]'")
    assert carla.Client('127.0.0.1', 1).get_client_version() == CARLA_VERSION     # no server needed
