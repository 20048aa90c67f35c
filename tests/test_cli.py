"""The `finetune-course` command end to end, as a learner runs it."""
import json
import os
import re
import signal
import subprocess

from conftest import BIN, can_cut_network, offline, run
from finetune_course.testing import wait_for_line


def test_help_is_quick_and_imports_no_torch():
    result = run(['finetune-course', '--help'])
    assert result.returncode == 0
    assert 'demo' in result.stdout
    check = run([str(BIN/'python'), '-c',
                 'import sys, finetune_course.cli; print("torch" in sys.modules)'])
    assert check.stdout.strip() == 'False'


def test_version():
    import finetune_course
    result = run(['finetune-course', '--version'])
    assert result.stdout.strip() == f'finetune-course {finetune_course.__version__}'


def test_demo_end_to_end(tmp_path, cache):
    out = tmp_path/'run'
    result = run(['finetune-course', 'demo', '--epochs', '2', '--size', '64', '--sample', '0.2',
                  '--out', str(out)], env=cache)
    assert result.returncode == 0, result.stderr
    assert 'steps per epoch' in result.stdout and 'error rate' in result.stdout
    results = json.loads((out/'results.json').read_text())
    assert results['epochs'] == 2 and len(results['history']) == 2
    # the default recipe trains on each image and its mirror image: twice the images a step counts
    assert results['steps_per_epoch'] == 2 * results['n_train'] // results['batch_size']
    assert (out/'losses.png').read_bytes()[:4] == b'\x89PNG'
    assert (out/'explanation.txt').read_text().strip() in result.stdout
    # the record alone explains the run: the same words, read back from results.json
    explained = run(['finetune-course', 'explain', str(out)])
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout == (out/'explanation.txt').read_text()
    assert results['best_epoch'] == results['epochs']  # the last epoch's model is kept
    assert f"after epoch {results['epochs']}, the last: " in explained.stdout
    missing = run(['finetune-course', 'explain', str(tmp_path)])
    assert missing.returncode == 2 and 'holds no results.json' in missing.stderr
    # the recorded test error is the saved model's on every test image: the safe export, read by
    # `predict` offline, gets the same share wrong, and the pickled Learner reads images alike
    from finetune_course.datasets import course_data
    from finetune_course.images import image_items
    tests = list(image_items(course_data('emotions')/'test'))
    assert results['n_test'] == len(tests)
    read = run(['finetune-course', 'predict', str(out/'model'), *map(str, tests)])
    assert read.returncode == 0, read.stderr
    said = dict(line.rsplit(': ', 1) for line in read.stdout.splitlines())
    wrong = sum(said[str(f)].split()[0] != f.parent.name for f in tests)
    assert wrong == round(results['test_error_rate'] * len(tests)), (wrong, results['test_error_rate'])
    first = tests[0]
    pickled = run([str(BIN/'python'), '-c', (
        "from pathlib import Path; from fastai.learner import load_learner;"
        f"print(load_learner(r'{out/'model.pkl'}').predict(Path(r'{first}'))[0])")])
    assert pickled.returncode == 0, pickled.stderr
    assert pickled.stdout.strip().splitlines()[-1] == said[str(first)].split()[0]


def test_bad_arguments_get_one_clear_line(tmp_path):
    result = run(['finetune-course', 'demo', '--arch', 'resnt18', '--out', str(tmp_path)])
    assert result.returncode == 2
    assert "Did you mean 'resnet18'?" in result.stderr
    assert 'Traceback' not in result.stderr
    result = run(['finetune-course', 'demo', '--recipe', 'fit-head', '--out', str(tmp_path)])
    assert result.returncode == 2 and "Did you mean 'fit_head'?" in result.stderr
    assert 'Traceback' not in result.stderr
    (tmp_path/'mine.txt').write_text('my notes')
    result = run(['finetune-course', 'demo', '--out', str(tmp_path)])
    assert result.returncode == 2 and 'mine.txt' in result.stderr
    assert (tmp_path/'mine.txt').read_text() == 'my notes'


def record(folder):
    "Every file below `folder` (a run's record) with its bytes"
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob('*') if p.is_file()}


def test_interrupted_run_keeps_earlier_results(tmp_path, cache):
    out = tmp_path/'run'
    first = run(['finetune-course', 'demo', '--epochs', '1', '--size', '64', '--sample', '0.2',
                 '--out', str(out)], env=cache)
    assert first.returncode == 0, first.stderr
    before = record(out)
    # A shell without job control starts background jobs with SIGINT ignored, and the child would
    # inherit that: give it the default handling, as a terminal's Ctrl-C would find it.
    proc = subprocess.Popen([str(BIN/'finetune-course'), 'demo', '--epochs', '30', '--size', '64',
                             '--recipe', 'fit_head', '--out', str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'PYTHONWARNINGS': 'ignore', **cache},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Stop it once its first epoch is done (the results table's row 0: stdout is a pipe, so plain
    # lines), rather than after a fixed time that is too long on a fast machine, too short on a slow.
    wait_for_line(proc, lambda line: line.startswith('0 '), timeout=300)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    stderr = proc.stderr.read()
    assert proc.returncode == 130, stderr
    assert 'interrupted' in stderr
    assert record(out) == before


@offline
def test_demo_runs_with_the_network_cut(tmp_path, cache):
    result = run(['unshare', '-n', str(BIN/'finetune-course'), 'demo', '--epochs', '1',
                  '--size', '64', '--sample', '0.2', '--out', str(tmp_path/'run')], env=cache)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path/'run'/'results.json').read_text())['pretrained'] is True


def _one_step_demo(out):
    "A demo of one epoch of one step (105 images, batches of 64, the last one dropped)"
    return [str(BIN/'finetune-course'), 'demo', '--epochs', '1', '--bs', '64', '--size', '32',
            '--sample', '0.2', '--recipe', 'fit_head', '--out', str(out)]


def test_log_gets_the_table_plainly_no_warning_and_right_plurals(tmp_path, cache):
    "Into a file or a pipe: fastai's table without progress bars, torch's warning hidden"
    env = {**cache, 'PYTHONWARNINGS': 'default', 'OMP_NUM_THREADS': '1'}  # warnings shown
    result = run(_one_step_demo(tmp_path/'run'), env=env)
    assert result.returncode == 0, result.stderr
    assert 'torch.jit.script' not in result.stderr, result.stderr
    assert '\r' not in result.stdout and '█' not in result.stdout, result.stdout[:2000]
    lines = result.stdout.splitlines()
    header = lines.index('epoch     train_loss  valid_loss  error_rate  accuracy  time')
    assert re.match(r'0 +\d+\.\d{6} +\d+\.\d{6} +\d+\.\d{6} +\d+\.\d{6} +\d\d:\d\d$',
                    lines[header + 1])
    for words in ('1 step per epoch', '1 step in 1 epoch.', 'for 1 epoch (', 'on 1 CPU thread.'):
        assert words in result.stdout, words
    for wrong in ('1 steps', '1 epochs', '1 CPU threads'): assert wrong not in result.stdout


def test_a_terminal_still_gets_progress_bars(tmp_path, cache):
    import os
    import pty
    main_fd, terminal = pty.openpty()
    proc = subprocess.Popen(_one_step_demo(tmp_path/'run'), stdout=terminal,
                            stderr=subprocess.DEVNULL, env={**os.environ, **cache,
                                                            'PATH': f"{BIN}:{os.environ['PATH']}"})
    os.close(terminal)
    shown = b''
    while True:
        try: chunk = os.read(main_fd, 65536)
        except OSError: break  # the terminal closed with the command
        if not chunk: break
        shown += chunk
    os.close(main_fd)
    assert proc.wait(timeout=300) == 0
    text = shown.decode()
    assert re.search(r'Epoch 1/1 : \|[█-]+\| +\d', text), text[:2000]  # fastprogress's bar
    assert 'epoch     train_loss' in text


def test_predict_prints_each_images_class_and_why_a_file_is_not_an_image(model_dir, tmp_path):
    "`finetune-course predict MODEL IMAGE...` offline on a safe export, as the web page reads it"
    from finetune_course.datasets import course_data
    from finetune_course.export import load_model
    test = course_data('emotions')/'test'
    images = [sorted((test/c).iterdir())[0] for c in ('happy', 'sad', 'angry')]
    (tmp_path/'notes.txt').write_text('not an image\n')
    offline_prefix = ['unshare', '-n'] if can_cut_network() else []
    result = run([*offline_prefix, 'finetune-course', 'predict', str(model_dir), str(images[0]),
                  str(tmp_path/'notes.txt'), *map(str, images[1:])])
    assert result.returncode == 2, result.stderr
    model = load_model(model_dir)
    preds = [model.predict(f) for f in images]
    assert result.stdout.splitlines() == [f"{f}: {p.label} {p.probs[p.label]:.1%}"
                                          for f, p in zip(images, preds)]
    assert f"{tmp_path/'notes.txt'} is not an image file Pillow can read" in result.stderr
    assert '1 of the 4 files could not be classified' in result.stderr
    assert 'Traceback' not in result.stderr
    top = run(['finetune-course', 'predict', str(model_dir), str(images[0]), '--top', '3'])
    assert top.returncode == 0, top.stderr
    assert top.stdout.count('%') == 3 and top.stdout.startswith(f"{images[0]}: ")
    wrong = run(['finetune-course', 'predict', str(tmp_path), str(images[0])])
    assert wrong.returncode == 2 and 'config.json is missing' in wrong.stderr
    assert 'Traceback' not in wrong.stderr
