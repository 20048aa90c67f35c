"""DVC 3's queue running a grid of experiments two at a time, offline: `dvc exp run --queue -S ...`,
`dvc queue start --jobs 2`, and every result in `dvc exp show --json`."""
import json
import os
import subprocess
import time
from datetime import datetime

import pytest

pytest.importorskip('dvc')  # in the dev venv (requirements-dev.txt), not in .venv-latest

from conftest import run
from test_dvc import OFFLINE, SETTINGS, committed_stage, metrics_of, project, sh  # noqa: F401 (a fixture)

GRID = [('fit_head', 0), ('fine_tune', 0)]  # (recipe, seed): a 2 x 1 grid


def start_queue(repo, env, jobs=2):
    "`dvc queue start`, its output in a file: its workers keep a captured pipe open until they end"
    with open(repo.parent/'queue.log', 'w') as log:
        started = subprocess.run([*OFFLINE, 'dvc', 'queue', 'start', '--jobs', str(jobs)], cwd=repo,
                                 env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, timeout=120)
    assert started.returncode == 0, (repo.parent/'queue.log').read_text()


def wait_for_queue(repo, env, timeout=900):
    "Poll `dvc queue status` until nothing is queued or running: its last table"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = sh('dvc', 'queue', 'status', cwd=repo, env=env)
        if ' Running' not in status and ' Queued' not in status: return status
        time.sleep(2)  # a poll: the wait ends on the event, whatever the interval
    raise TimeoutError(f"the queue was still busy after {timeout} s:\n{status}")


def span(numbers):
    "(start, end) in seconds of a run, from its record: `started` and `wall_seconds`"
    start = datetime.fromisoformat(numbers['started']).timestamp()
    return start, start + numbers['wall_seconds']


def test_a_grid_runs_two_at_a_time_and_lands_in_exp_show(project):
    repo, env = project
    env = {**env, 'OMP_NUM_THREADS': '1'}  # the queue's workers inherit it: one thread per job
    committed_stage(repo, env)
    for recipe, seed in GRID:
        out = sh('dvc', 'exp', 'run', '--queue', '-S', f'recipe={recipe}', '-S', f'seed={seed}',
                 cwd=repo, env=env)
        assert 'Queued experiment' in out
    assert not (repo/'runs').exists()  # queued, not run
    try:
        start_queue(repo, env)
        status = wait_for_queue(repo, env)
    finally:  # never leave workers behind, even when the wait fails
        run([*OFFLINE, 'dvc', 'queue', 'stop', '--kill'], cwd=repo, env=env)
    assert status.count(' Success') == len(GRID), status

    table = json.loads(sh('dvc', 'exp', 'show', '--json', cwd=repo, env=env))
    baseline = next(row for row in table if row['rev'] != 'workspace')
    revs = [rev for exp in baseline['experiments'] for rev in exp['revs']]
    grid = sorted((rev['data']['params']['params.yaml']['data']['recipe'],
                   rev['data']['params']['params.yaml']['data']['seed']) for rev in revs)
    assert grid == sorted(GRID)
    for rev in revs:
        numbers = metrics_of(rev)
        assert numbers['recipe'] == rev['data']['params']['params.yaml']['data']['recipe']
        assert 0 <= numbers['accuracy'] <= 1 and numbers['epochs'] >= 1
        assert numbers['threads'] == 1  # OMP_NUM_THREADS reached the stage through the queue
    (start_a, end_a), (start_b, end_b) = (span(metrics_of(rev)) for rev in revs)
    assert start_a < end_b and start_b < end_a, (start_a, end_a, start_b, end_b)  # they overlapped
