"""`finetune-course train` end to end on tiny data: the record, bad settings, read-only data,
interrupted runs and reruns with the same seed."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, run
from finetune_course.core import folder_sha256
from finetune_course.testing import tiny_data, wait_for_line

def cli_command(*args):
    "The command line that runs `finetune-course ARGS`"
    return [str(BIN/'finetune-course'), *map(str, args)]


def cli(*args, **kwargs):
    "Run `finetune-course ARGS`; the CompletedProcess"
    return run(cli_command(*args), **kwargs)


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
        ['results.json', 'explanation.txt', 'losses.png', 'model.pkl', 'history.csv', 'model'])
    results = json.loads((out/'results.json').read_text())
    for key in NUMBERS: assert type(results[key]) in (int, float), key
    assert (results['n_train'], results['n_valid'], results['n_test']) == (24, 12, 6)
    assert results['epochs'] == 2 and results['valid'] == 'styles'
    best = results['history'][results['best_epoch'] - 1]
    assert results['monitor'] == 'last' and results['best_epoch'] == len(results['history'])
    assert results['valid_loss'] == results['history'][-1]['valid_loss']
    assert results['error_rate'] == best['error_rate'] == results['best']['error_rate']
    assert abs(results['accuracy'] - best['accuracy']) < 1e-6  # ours and fastai's metric agree
    import fastai, torch
    assert (results['torch'], results['fastai']) == (torch.__version__, fastai.__version__)
    history = (out/'history.csv').read_text().splitlines()
    assert history[0].startswith('epoch,fit,train_loss,valid_loss,error_rate,accuracy')
    assert len(history) == 3
    assert (out/'losses.png').read_bytes()[:4] == b'\x89PNG'
    assert 'Saved results.json' in result.stdout
    assert folder_sha256(work/'data') == data_before, "the run wrote into the data folder"
    assert not (work/'runs'/'a.checkpoint').exists()


def test_the_words_agree_with_the_numbers_and_read_back_the_same(work, first, env):
    out = work/'runs'/'a'
    r = json.loads((out/'results.json').read_text())
    words = (out/'explanation.txt').read_text()
    last = r['history'][-1]
    right = round(last['accuracy'] * r['n_valid'])
    assert (f"After the last epoch the error rate on the {r['n_valid']} validation images was "
            f"{last['error_rate']:.3f}: {right} of {r['n_valid']} right") in words, words
    assert r['best'] == {'epoch': r['best_epoch'], 'monitor': r['monitor'],
                         **{k: r[k] for k in ('error_rate', 'accuracy', 'valid_loss',
                                              'train_loss', 'n_valid_right')}}
    assert (f"the one after epoch {r['best_epoch']}, the last: "
            f"it gets {r['n_valid_right']} of the {r['n_valid']} validation images right (error "
            f"rate {r['error_rate']:.3f})") in words, words
    assert (f"on the {r['n_test']} test images, drawn in 1 style the model never trained or "
            f"validated on (fluent3d), the error rate was {r['test_error_rate']:.3f}") in words
    assert (f"wrong {r['chance_error_rate']:.1%} of the time, and always answering the most common "
            f"class ('{r['most_common_class']}') would be wrong {r['majority_error_rate']:.1%}"
            ) in words
    assert f"The model saw {r['n_train']} training images" in words
    explained = cli('explain', out, env=env)
    assert explained.returncode == 0 and explained.stdout == words, explained.stderr


def test_explain_on_a_damaged_or_foreign_record_says_which_file(work, first, env):
    text = (work/'runs'/'a'/'results.json').read_text()
    for name, content in (('cut', text[:len(text) // 3]), ('foreign', '{"hello": 1}')):
        shutil.copytree(work/'runs'/'a', work/'runs'/name)
        (work/'runs'/name/'results.json').write_text(content)
        result = cli('explain', work/'runs'/name, env=env)
        assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        file = work/'runs'/name/'results.json'
        assert result.stderr.startswith(f"finetune-course: error: {file} is "), result.stderr
        assert (work/'runs'/name/'results.json').read_text() == content


def test_quiet_from_params_yaml_and_exclusions_from_the_command_line(work, env):
    folder = work/'from_yaml'
    folder.mkdir()
    (folder/'skip.txt').write_text('train/happy/google_1f600.png\ntrain/sad/twitter_1f613.png\n'
                                   'test/angry/fluent3d_1f620.png\n')
    (folder/'params.yaml').write_text('data: ../data\nquiet: true\nepochs: 1\nsize: 64\nbs: 8\n'
                                      'seed: 0\nout: run\n')
    result = cli('train', '--exclude', 'skip.txt', env=env, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert 'epoch     train_loss' not in result.stdout, result.stdout  # quiet: no table
    r = json.loads((folder/'run'/'results.json').read_text())
    assert (r['n_train'], r['n_valid'], r['n_test'], r['exclude']) == (22, 12, 5, 'skip.txt')


def test_checkpoint_is_a_state_dict_with_the_reported_numbers(work, first):
    import torch
    from fastai.metrics import accuracy, error_rate
    from finetune_course.learner import LINEAR_HEAD, course_learner
    from finetune_course.train import train_dls
    out = work/'runs'/'a'
    results = json.loads((out/'results.json').read_text())
    state = torch.load(out/'model'/'weights.pth', weights_only=True)
    dls = train_dls(work/'data', 'styles', 64, 8, 0)[0]
    assert results['recipe'] == 'probe_then_tune'  # the default: it ends with a linear head
    learn = course_learner(dls, results['arch'], pretrained=False, metrics=[error_rate, accuracy],
                           **LINEAR_HEAD, ps=0.)
    learn.model.load_state_dict(state)
    with learn.no_bar(): valid_loss, _, acc = learn.validate()
    assert abs(valid_loss - results['valid_loss']) < 1e-4 and abs(acc - results['accuracy']) < 1e-6


def test_same_seed_same_numbers_with_or_without_the_results_table(work, first, env):
    assert '█' not in first[0].stdout and 'best valid_loss so far' not in first[0].stdout
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
        'lr must be a number above 0, such as 1e-3, not nan': ['--lr', 'nan'],
        'lr must be a number above 0, such as 1e-3, not inf': ['--lr', 'inf'],
        'lr must be a number above 0, such as 1e-3, not 0.0': ['--lr', '0'],
        'size=20000 with bs=16 needs about': ['--size', '20000'],
        'The exclusion list missing.txt does not exist': ['--exclude', 'missing.txt'],
        "monitor 'last' watches nothing": ['--patience', '2'],
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
    "Start a long run into `out` over an earlier record, send `sig` in epoch 3; what is left"
    shutil.copytree(work/'runs'/'a', out)
    before = (out/'results.json').read_bytes()
    proc = subprocess.Popen(cli_command('train', '--data', 'data', '--epochs', '40', '--out', out,
                                        *SETTINGS[:-1]),  # not --quiet: the table's rows, plainly
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env, 'PYTHONWARNINGS': 'ignore'},
                            preexec_fn=default_sigint)
    wait_for_line(proc, lambda line: line.startswith('1 '), timeout=240)  # 2 epochs done
    proc.send_signal(sig)
    proc.wait(timeout=120)
    best = Path(f'{out}.checkpoint')/'best.pth'  # epoch 1's or 2's, at least
    return proc.returncode, proc.stderr.read(), before, best


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
    assert_loadable(best, out/'model'/'weights.pth')


def test_kill_9_keeps_the_earlier_record_and_the_checkpoint(work, first, env):
    out = work/'runs'/'killed'
    status, _, before, best = start_and_stop(work, env, out, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert json.loads((out/'results.json').read_bytes()) == json.loads(before)
    assert_loadable(best, out/'model'/'weights.pth')


def test_monitor_keeps_the_best_epoch_and_patience_stops(work, env):
    result = cli('train', '--data', 'data', '--epochs', '6', '--out', 'runs/best', '--monitor',
                 'valid_loss', '--patience', '1', *SETTINGS, env=env, cwd=work)
    assert result.returncode == 0, result.stderr
    r = json.loads((work/'runs'/'best'/'results.json').read_text())
    losses = [h['valid_loss'] for h in r['history']]
    assert r['monitor'] == 'valid_loss' and r['best_epoch'] == losses.index(min(losses)) + 1
    assert r['valid_loss'] == min(losses) and r['best']['epoch'] == r['best_epoch']
    assert f"Epoch {r['best_epoch']}: best valid_loss so far" in result.stdout
    # patience 1: the run ends one epoch after its best, or at its last epoch
    assert len(losses) in (r['best_epoch'] + 1, 6), losses
