# Reads settings.ini (nbdev 2's configuration) so that the package metadata lives in one place.
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
carla_requirements = shlex.split(cfg.get('carla_requirements', ''))
extras = {
    'dev': dev_requirements + carla_requirements,    # tests run the backend against the real CARLA client
    'ray': ['ray[default]==2.60.0'],   # the dashboard and job API for clusters; tests need only `ray` (dev)
    'carla': carla_requirements,
    # Table I's online baselines (PPO, SAC, DQN). stable-baselines3 is also a core requirement (settings.ini);
    # the offline ones (BC, CQL, IQL) are written in vlsafe.baselines: every d3rlpy 2.x pins gymnasium==1.0.0,
    # which conflicts with our gymnasium 1.4.0 (highway-env, minari), so d3rlpy is not used.
    'baselines': ['stable-baselines3==2.9.2'],
}
extras['all'] = sorted({r for k in ('dev', 'ray', 'baselines') for r in extras[k]})

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    license='Apache Software License 2.0',
    author=cfg['author'],
    author_email=cfg['author_email'],
    keywords=cfg['keywords'],
    python_requires='>=' + cfg['min_python'],
    packages=setuptools.find_namespace_packages(include=['vlsafe', 'vlsafe.*']),
    include_package_data=True,
    package_data={'vlsafe': ['assets/*.csv']},
    install_requires=requirements,
    extras_require=extras,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"],
    },
    zip_safe=False,
)
