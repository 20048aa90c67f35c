"""Real DVC 3 experiments on tiny data: `dvc-init`, `dvc repro`, `dvc exp run -S arch=...`,
`dvc exp show --json` and `dvc metrics diff`, with the network cut where that is possible."""
import json
import os

import pytest

pytest.importorskip('dvc')  # in the dev venv (requirements-dev.txt), not in .venv-latest

from conftest import BIN, can_cut_network, run
from finetune_course.testing import tiny_data

OFFLINE = ['unshare', '-n'] if can_cut_network() else []
SETTINGS = dict(data='data', epochs=1, size=64, bs=8, seed=0, quiet=True)


def sh(*args, cwd, env):
    "Run a command in the project, offline where possible; its stdout, after checking it worked"
    result = run([*OFFLINE, *map(str, args)], cwd=cwd, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def project(tmp_path):
    "A git repository holding tiny data, and the environment to run DVC and the course in"
    repo = tmp_path/'project'
    tiny_data(repo/'data')
    env = {'PATH': os.pathsep.join([str(BIN), os.environ['PATH']]), 'DVC_NO_ANALYTICS': '1',
           'FINETUNE_COURSE_WEIGHTS': str(tmp_path/'weights'), 'HF_HOME': str(tmp_path/'hf'),
           'TORCH_HOME': str(tmp_path/'torch'), 'GIT_CONFIG_NOSYSTEM': '1',
           'HOME': str(tmp_path/'home')}
    return repo, env


def committed_stage(repo, env):
    "The `train` stage of `dvc-init` on tiny data, 1 epoch, committed in a new git repository"
    import yaml
    sh('git', 'init', '-q', cwd=repo, env=env)
    sh('git', 'config', 'user.name', 'Course Test', cwd=repo, env=env)
    sh('git', 'config', 'user.email', 'course@example.com', cwd=repo, env=env)
    sh('finetune-course', 'dvc-init', '--data', 'data', cwd=repo, env=env)
    sh('dvc', 'init', '-q', cwd=repo, env=env)
    params = yaml.safe_load((repo/'params.yaml').read_text())
    (repo/'params.yaml').write_text(yaml.safe_dump({**params, **SETTINGS}, sort_keys=False))
    sh('git', 'add', '-A', cwd=repo, env=env)
    sh('git', 'commit', '-qm', 'DVC stage for training', cwd=repo, env=env)


def metrics_of(entry):
    "The numbers of results.json in one row of `dvc exp show --json`"
    files = entry['data']['metrics']
    return files['runs/train/results.json']['data']


def test_dvc_experiments_report_the_numbers_in_results_json(project):
    repo, env = project
    committed_stage(repo, env)

    sh('dvc', 'repro', cwd=repo, env=env)
    first = json.loads((repo/'runs'/'train'/'results.json').read_text())
    assert first['arch'] == 'tf_efficientnet_lite0' and first['epochs'] == 1
    assert 'up to date' in sh('dvc', 'repro', cwd=repo, env=env)  # nothing changed: no rerun
    ignored = (repo/'runs'/'train'/'.gitignore').read_text().split()
    assert sorted(ignored) == ['/model', '/model.pkl']  # the models live in DVC's cache
    sh('git', 'add', '-A', cwd=repo, env=env)
    sh('git', 'commit', '-qm', 'baseline: EfficientNet-Lite0', cwd=repo, env=env)

    sh('dvc', 'exp', 'run', '-S', 'arch=tf_efficientnet_lite1', cwd=repo, env=env)
    second = json.loads((repo/'runs'/'train'/'results.json').read_text())
    assert second['arch'] == 'tf_efficientnet_lite1'
    assert (repo/'runs'/'train'/'.gitignore').exists()  # the run kept DVC's hidden file

    table = json.loads(sh('dvc', 'exp', 'show', '--json', cwd=repo, env=env))
    baseline = next(row for row in table if row['rev'] != 'workspace')
    [experiment] = [rev for exp in baseline['experiments'] for rev in exp['revs']]
    assert experiment['data']['params']['params.yaml']['data']['arch'] == 'tf_efficientnet_lite1'
    numbers = ('accuracy', 'error_rate', 'valid_loss', 'train_loss', 'test_accuracy', 'threads')
    for key in numbers:
        assert metrics_of(baseline)[key] == first[key], key
        assert metrics_of(experiment)[key] == second[key], key

    diff = json.loads(sh('dvc', 'metrics', 'diff', '--json', cwd=repo, env=env))
    changes = diff['runs/train/results.json']
    for key in ('accuracy', 'valid_loss', 'test_accuracy'):
        if key in changes:  # dvc lists only what changed
            assert (changes[key]['old'], changes[key]['new']) == (first[key], second[key])
    assert 'valid_loss' in changes
    plots = sh('dvc', 'plots', 'show', '--json', cwd=repo, env=env)
    assert 'valid_loss' in plots
