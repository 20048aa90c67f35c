"""`finetune-course train` end to end on tiny data: the record, bad settings, read-only data,
interrupted runs and reruns with the same seed."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BIN, run
from finetune_course.core import folder_sha256
from finetune_course.datasets import course_data

def cli_command(*args):
    "The command line that runs `finetune-course ARGS`"
    return [str(BIN/'finetune-course'), *map(str, args)]


def cli(*args, **kwargs):
    "Run `finetune-course ARGS`; the CompletedProcess"
    return run(cli_command(*args), **kwargs)


def tiny_data(dest, classes=('angry', 'happy', 'sad'), per_style=4):
    "36 training images (3 classes, 3 styles, openmoji for validation) and 6 test images"
    src = course_data('emotions')
    for split, styles in (('train', ('google', 'twitter', 'openmoji')), ('test', ('fluent3d',))):
        for c in classes:
            (dest/split/c).mkdir(parents=True)
            for style in styles:
                n = per_style if split == 'train' else per_style // 2
                for f in sorted((src/split/c).glob(f'{style}_*'))[:n]:
                    shutil.copy(f, dest/split/c/f.name)
    (dest/'styles.csv').write_text('style,split\ngoogle,train\ntwitter,train\nopenmoji,valid\n'
                                   'fluent3d,test\n')
    return dest


SETTINGS = ['--size', '64', '--bs', '8', '--seed', '0', '--quiet']
NUMBERS = ('accuracy', 'error_rate', 'valid_loss', 'train_loss', 'test_accuracy',
           'test_error_rate', 'best_epoch', 'n_train', 'n_valid', 'n_test', 'threads')


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A folder readable by every user (for the runs as `nobody`), with tiny data in it"
    base = Path(tempfile.mkdtemp(prefix='train-test-'))
    base.chmod(0o755)
    data = tiny_data(base/'data')
    for p in [data, *data.rglob('*')]: p.chmod(0o755 if p.is_dir() else 0o644)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope='module')
def env(work):
    "Weight caches of the test's own, writable by `nobody` too"
    caches = {'FINETUNE_COURSE_WEIGHTS': work/'weights', 'TORCH_HOME': work/'torch',
              'HF_HOME': work/'hf', 'MPLCONFIGDIR': work/'mpl', 'HOME': work/'home'}
    for p in caches.values(): p.mkdir(mode=0o777); p.chmod(0o777)
    return {k: str(v) for k, v in caches.items()}


@pytest.fixture(scope='module')
def first(work, env):
    "A two-epoch run into runs/a, and the hash of the data folder before it"
    before = folder_sha256(work/'data')
    result = cli('train', '--data', 'data', '--epochs', '2', '--out', 'runs/a', *SETTINGS,
                 env=env, cwd=work)
    return result, before


def test_end_to_end(work, first):
    result, data_before = first
    assert result.returncode == 0, result.stderr
    out = work/'runs'/'a'
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ['results.json', 'explanation.txt', 'losses.png', 'model.pkl', 'history.csv', 'model.pth',
         'model'])
    results = json.loads((out/'results.json').read_text())
    for key in NUMBERS: assert type(results[key]) in (int, float), key
    assert (results['n_train'], results['n_valid'], results['n_test']) == (24, 12, 6)
    assert results['epochs'] == 2 and results['valid'] == 'styles'
    best = results['history'][results['best_epoch'] - 1]
    assert results['valid_loss'] == min(r['valid_loss'] for r in results['history'])
    assert (results['accuracy'], results['error_rate']) == (best['accuracy'], best['error_rate'])
    assert abs(results['accuracy'] + results['error_rate'] - 1) < 1e-6
    import fastai, torch
    assert (results['torch'], results['fastai']) == (torch.__version__, fastai.__version__)
    history = (out/'history.csv').read_text().splitlines()
    assert history[0].startswith('epoch,fit,train_loss,valid_loss,error_rate,accuracy')
    assert len(history) == 3
    assert (out/'losses.png').read_bytes()[:4] == b'\x89PNG'
    assert 'Saved results.json' in result.stdout
    assert folder_sha256(work/'data') == data_before, "the run wrote into the data folder"
    assert not (work/'runs'/'a.checkpoint').exists()


def test_checkpoint_is_a_state_dict_with_the_reported_numbers(work, first):
    import torch
    from fastai.metrics import accuracy, error_rate
    from finetune_course.learner import LINEAR_HEAD, course_learner
    from finetune_course.train import train_dls
    out = work/'runs'/'a'
    results = json.loads((out/'results.json').read_text())
    state = torch.load(out/'model.pth', weights_only=True)
    dls = train_dls(work/'data', 'styles', 64, 8, 0)[0]
    assert results['recipe'] == 'probe_then_tune'  # the default: it ends with a linear head
    learn = course_learner(dls, results['arch'], pretrained=False, metrics=[error_rate, accuracy],
                           **LINEAR_HEAD, ps=0.)
    learn.model.load_state_dict(state)
    with learn.no_bar(): valid_loss, _, acc = learn.validate()
    assert abs(valid_loss - results['valid_loss']) < 1e-4 and abs(acc - results['accuracy']) < 1e-6


def test_same_seed_same_numbers_with_or_without_the_results_table(work, first, env):
    assert '█' not in first[0].stdout and 'Epoch 1: best valid_loss so far' in first[0].stdout
    assert 'epoch     train_loss' not in first[0].stdout  # --quiet: no table
    # --quiet: no raw lists of numbers either (fastai's Recorder prints them without the bars)
    assert not re.search(r'^\[\d', first[0].stdout, re.M), first[0].stdout
    again = cli('train', '--data', 'data', '--epochs', '2', '--out', 'runs/b', *SETTINGS[:-1],
                env=env, cwd=work)
    assert again.returncode == 0, again.stderr
    # without --quiet: fastai's table, and (the output is a pipe, not a terminal) no progress bars
    assert 'epoch     train_loss' in again.stdout and '█' not in again.stdout, again.stdout
    a, b = (json.loads((work/'runs'/n/'results.json').read_text()) for n in 'ab')
    for key in NUMBERS: assert a[key] == b[key], key
    strip = lambda h: [{k: v for k, v in r.items() if k != 'seconds'} for r in h]
    assert strip(a['history']) == strip(b['history'])


def bad(args, work, env):
    "Start `finetune-course train ARGS` (all of them at once, to save time)"
    return subprocess.Popen(cli_command('train', *args), cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env, 'PYTHONWARNINGS': 'ignore'})


def test_bad_settings_are_refused_before_training(work, env):
    before = folder_sha256(work/'data')
    (work/'a_file').write_text('mine')
    (work/'typo').mkdir()
    (work/'typo'/'params.yaml').write_text('data: ../data\nepoch: 3\n')
    cases = {
        "Did you mean 'tf_efficientnet_lite0'?": ['--arch', 'tf_efficientnet_lit0'],
        'nowhere does not exist': ['--data', 'nowhere'],
        'epochs must be 1 or more, not 0': ['--epochs', '0'],
        'epochs must be 1 or more, not -2': ['--epochs=-2'],
        'bs must be 1 or more, not 0': ['--bs', '0'],
        'bs=1000 is more than the 24 training images': ['--bs', '1000'],
        'size must be 1 or more, not 0': ['--size', '0'],
        'a_file is a file': ['--out', 'a_file'],
        "Did you mean 'fine_tune'?": ['--recipe', 'finetune'],
        "inside the data folder": ['--out', 'data/runs'],
    }
    procs = {msg: bad(['--data', 'data', '--out', 'runs/bad', *args], work, env)
             for msg, args in cases.items()}
    procs["unknown key 'epoch'. Did you mean 'epochs'?"] = subprocess.Popen(
        cli_command('train'), cwd=work/'typo', stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **env, 'PYTHONWARNINGS': 'ignore'})
    for msg, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, (msg, stderr)
        assert msg in stderr and 'Traceback' not in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert stderr.startswith('finetune-course: error: ')
    assert not (work/'runs'/'bad').exists() and not (work/'data'/'runs').exists()
    assert (work/'a_file').read_text() == 'mine'
    assert folder_sha256(work/'data') == before


NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups']
as_nobody = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('setpriv'),
                               reason='needs root and setpriv to run as nobody')


@as_nobody
def test_read_only_data_and_unwritable_out(work, env):
    data = work/'readonly'
    shutil.copytree(work/'data', data)
    for p in [data, *data.rglob('*')]: p.chmod(0o555 if p.is_dir() else 0o444)
    runs = work/'nobody'
    runs.mkdir(); os.chown(runs, 65534, 65534)
    before = folder_sha256(data)
    env = {**env, 'FINETUNE_COURSE_WEIGHTS': str(runs/'weights')}  # root's files are 0600
    result = run([*NOBODY, *cli_command('train', '--data', data, '--epochs', '1',
                                        '--out', runs/'a', *SETTINGS)], env=env, cwd=runs)
    assert result.returncode == 0, result.stderr
    assert json.loads((runs/'a'/'results.json').read_text())['epochs'] == 1
    assert folder_sha256(data) == before
    result = run([*NOBODY, *cli_command('train', '--data', data, '--out', work/'runs'/'x')],
                 env=env, cwd=runs)
    assert result.returncode == 2 and 'Cannot write in' in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr


def default_sigint():
    "Let Ctrl-C through: a shell without job control starts background jobs ignoring SIGINT"
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_stop(work, env, out, sig):
    "Start a long run into `out` over an earlier record, send `sig` mid-epoch; what is left"
    shutil.copytree(work/'runs'/'a', out)
    before = (out/'results.json').read_bytes()
    proc = subprocess.Popen(cli_command('train', '--data', 'data', '--epochs', '40', '--out', out,
                                        *SETTINGS),
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env, 'PYTHONWARNINGS': 'ignore'},
                            preexec_fn=default_sigint)
    best = Path(f'{out}.checkpoint')/'best.pth'
    deadline = time.time() + 240
    while not best.exists() and time.time() < deadline and proc.poll() is None: time.sleep(0.2)
    assert best.exists(), proc.communicate()
    time.sleep(1.5)  # into a later epoch, perhaps mid-save
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, before, best


def assert_loadable(*files):
    import torch
    for f in files:
        state = torch.load(f, weights_only=True)
        assert state and all(isinstance(v, torch.Tensor) for v in state.values())


def test_ctrl_c_keeps_the_earlier_record_and_says_what_was_saved(work, first, env):
    out = work/'runs'/'interrupted'
    status, stderr, before, best = start_and_stop(work, env, out, signal.SIGINT)
    assert status == 130, stderr
    assert 'still holds the previous complete run' in stderr
    assert f'are in {best}' in stderr and 'Traceback' not in stderr
    assert (out/'results.json').read_bytes() == before
    assert_loadable(best, out/'model.pth')


def test_kill_9_keeps_the_earlier_record_and_the_checkpoint(work, first, env):
    out = work/'runs'/'killed'
    status, _, before, best = start_and_stop(work, env, out, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert json.loads((out/'results.json').read_bytes()) == json.loads(before)
    assert_loadable(best, out/'model.pth')
