"environment.yml mirrors the pins in settings.ini (one install story for pip and conda users)."
import configparser, re, shlex
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_mirrors_settings_ini():
    cfg = configparser.ConfigParser(); cfg.read(ROOT / 'settings.ini')
    reqs = shlex.split(cfg['DEFAULT']['requirements']) + shlex.split(cfg['DEFAULT']['dev_requirements'])
    env = yaml.safe_load((ROOT / 'environment.yml').read_text())
    pip = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict) and 'pip' in d)
    norm = lambda s: re.sub(r'\s+', '', s).lower()
    missing = sorted(set(map(norm, reqs)) - set(map(norm, pip)))
    assert not missing, f'environment.yml lacks these settings.ini requirements: {missing}'
