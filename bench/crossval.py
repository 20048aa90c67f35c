"""Cross-validation over drawing styles: the course's recipes and the PyTorch tutorial's loop.

Usage: .venv/bin/python bench/crossval.py [--folds 5] [--seeds 42 43]
       [--size 128] [--threads 1] [--runs NAME ...] [--out bench/crossval-results.jsonl]
       [--hours 1.3] [--table]

The ten training and validation styles of the emotions data go into `--folds` folds
(`finetune_course.crossval.style_folds`, scikit-learn's `GroupKFold`); each run trains on the
other styles and is scored on the fold's held-out styles and on the two test styles (in no fold).
Every (run, fold, seed) is a fresh process, so each has its own peak RSS, with `--threads` threads.
The course's recipes run through `finetune_course.crossval.cross_validate` (one fold and seed per
process); the probe recipes choose their L2 strength on the fold's training styles; epochs and
learning rates are fixed in advance. The loop is `bench/baseline.py`'s `run_baseline` (it keeps its
best held-out epoch, as a best checkpoint would: that choice is made on the held-out styles, which
flatters it). Each result is appended to `--out` as one JSON line as soon as it ends; a rerun skips
what is there, so a partial run is usable and can be resumed. The runs go in the order of
`PRIORITY` (the default, the probe, the loop and like-for-like `fine_tune` on every fold with the
first seed; then the second seed of the default, the probe and the loop; the other rows last);
`--hours` stops starting new runs after that time. `--table` prints the tables (Markdown) of what
is in `--out`: every recipe's mean and 95 % interval over the folds, its paired difference to
`probe_then_tune`, seconds and peak RSS; the epoch-selection rules of `probe_then_tune`, and where
its validation loss rises above its first epoch's.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from baseline import emotions_split, fresh_process, run_baseline  # noqa: E402

DEFAULT = 'probe_then_tune'
# label: (recipe, epochs, options, DataLoaders options); the loop is run_baseline
RUNS = {
    'probe_then_tune': ('probe_then_tune', 8, {}, {}),
    'probe': ('probe', 1, {}, {}),
    'cached_head': ('cached_head', 30, {}, {}),
    'probe_then_tune, no mirroring': ('probe_then_tune', 8, dict(flip=None), {}),
    'loop': None,
    'fine_tune': ('fine_tune', 9, {}, {}),  # + the frozen epoch: 10, as the loop
    'fine_tune, kept BN stats, mirrored': ('fine_tune', 9, dict(cbs='KeepBnStats'), dict(flip=True)),
}
FIRST, SECOND = (lambda a: a.seeds[:1]), (lambda a: a.seeds[1:])
PRIORITY = [('probe_then_tune', FIRST), ('probe', FIRST), ('loop', FIRST),
            ('fine_tune, kept BN stats, mirrored', FIRST),
            ('probe_then_tune', SECOND), ('probe', SECOND), ('loop', SECOND),
            ('fine_tune', FIRST), ('probe_then_tune, no mirroring', FIRST), ('cached_head', FIRST),
            ('fine_tune, kept BN stats, mirrored', SECOND), ('probe_then_tune, no mirroring', SECOND),
            ('cached_head', SECOND), ('fine_tune', SECOND)]


def test_each_epoch(test_files):
    "A callback of `probe_then_tune`'s inner training: the test accuracy after each epoch (and its own seconds)"
    import torch
    from fastai.callback.core import Callback
    from finetune_course.body import activations, split_body

    class TestEachEpoch(Callback):
        order = 90
        def before_fit(self):
            start, cpu, outer = time.time(), time.process_time(), self.learn.outer
            trunk, _ = split_body(outer)
            self.acts, self.labels = activations(outer, test_files, trunk)
            self.accuracies, self.seconds = [], time.time() - start
            self.cpu_seconds = time.process_time() - cpu
        def after_epoch(self):
            start, cpu = time.time(), time.process_time()
            self.learn.model.eval()
            with torch.no_grad(): predicted = self.learn.model(self.acts).argmax(1)
            self.accuracies.append((predicted == self.labels).float().mean().item())
            self.seconds += time.time() - start
            self.cpu_seconds += time.process_time() - cpu
    return TestEachEpoch()


def run_course(label, held_out, seed, size):
    "One course recipe on one fold and seed through `cross_validate`: its result as a dict"
    from fastai.data.transforms import parent_label
    from fastai.vision.augment import Flip
    from finetune_course.crossval import cross_validate
    from finetune_course.data import course_dls
    from finetune_course.probe import KeepBnStats
    recipe, epochs, options, dls_options = RUNS[label]
    path, train, valid, test = emotions_split()
    files = sorted(train) + sorted(valid)
    def make_dls(held):
        tfms = dict(batch_tfms=[Flip(p=0.5)]) if dls_options.get('flip') else {}
        return course_dls(files, parent_label, path, size=size, bs=16, valid_styles=held,
                          num_workers=0, **tfms)
    options = dict(options)
    if options.get('cbs') == 'KeepBnStats': options['cbs'] = [KeepBnStats()]
    tester = test_each_epoch(test) if recipe == 'probe_then_tune' else None
    if tester: options['cbs'] = [tester]
    cv = cross_validate(make_dls, [held_out], {label: recipe}, seeds=(seed,), epochs=epochs,
                        options={label: options}, test_files=test)
    run = cv.runs.iloc[0]
    extra = tester.seconds if tester else 0.0
    return dict(accuracy=float(run['accuracy']), test_accuracy=float(run['test_accuracy']),
                seconds=round(float(run['seconds']) - extra, 1), scoring_seconds=round(extra, 1),
                scoring_cpu_seconds=round(tester.cpu_seconds, 1) if tester else 0.0,
                threads=int(run['threads']), epochs=int(run['epochs']),
                epoch_accuracy=[float(a) for a in run['accuracies']],
                epoch_valid_loss=[float(v) for v in run['losses']],
                epoch_test_accuracy=tester.accuracies if tester else None,
                n_train=None, n_valid=None)


def run_loop(held_out, seed, size):
    "The tutorial's loop on one fold: its best held-out epoch, as a best checkpoint keeps it"
    import torch
    history, n_train, n_valid = run_baseline(10, size, 16, seed, valid_styles=held_out)
    best = max(history, key=lambda h: h['accuracy'])
    return dict(accuracy=best['accuracy'], test_accuracy=best['test_accuracy'],
                seconds=round(history[-1]['seconds'], 1), seconds_to_best=round(best['seconds'], 1),
                best_epoch=history.index(best) + 1, threads=torch.get_num_threads(), epochs=10,
                epoch_accuracy=[h['accuracy'] for h in history],
                epoch_test_accuracy=[h['test_accuracy'] for h in history],
                n_train=n_train, n_valid=n_valid)


def one(label, fold, held_out, seed, size, threads):
    "Run one (label, fold, seed) in this process; print its result as one JSON line"
    import warnings
    import torch
    warnings.filterwarnings('ignore')
    torch.set_num_threads(threads)
    start, cpu = time.time(), time.process_time()
    result = (run_loop(held_out, seed, size) if label == 'loop'
              else run_course(label, held_out, seed, size))
    # CPU seconds of the run (one thread: what it takes on an idle core, whatever else runs)
    result['cpu_seconds'] = round(time.process_time() - cpu - result.get('scoring_cpu_seconds', 0.0), 1)
    print(json.dumps(dict(run=label, fold=fold, held_out=','.join(held_out), seed=seed, size=size,
                          **result, wall_seconds=round(time.time() - start, 1),
                          torch=torch.__version__, machine=platform.machine())))


def jobs(args, folds):
    "(label, fold, seed) in the order they run: `PRIORITY` first (fold by fold), then the rest"
    order = [(r, f, s) for r, seeds in PRIORITY for s in seeds(args) for f in range(len(folds))
             if r in args.runs]
    order += [(r, f, s) for s in args.seeds for r in args.runs for f in range(len(folds))]
    return list(dict.fromkeys(order))


def read(out):
    "The results in `out`, one dict per run"
    return [json.loads(l) for l in Path(out).read_text().splitlines() if l.strip()] if Path(out).exists() else []


def pm(mean, low, high, scale=1):
    "'mean (low to high)' of an interval"
    return f'{scale * mean:.3f} ({scale * low:.3f} to {scale * high:.3f})' if scale == 1 else \
        f'{scale * mean:+.1f} ({scale * low:+.1f} to {scale * high:+.1f})'


def table(out):
    "Print the Markdown tables of the results in `out`"
    import pandas as pd
    from finetune_course.compare import paired_interval
    from finetune_course.crossval import cv_table, cv_verdict
    results = pd.DataFrame(read(out))
    if results.empty: return print('no results yet')
    results['recipe'] = results['run']
    order = [r for r in RUNS if r in set(results['run'])]
    t = cv_table(results, DEFAULT).set_index('recipe').loc[order]
    rss = results.groupby('run')['peak_rss_mb'].max()
    cpu = results.groupby('run')['cpu_seconds'].mean()  # runs without it (the first three) skipped
    seeds = results.groupby('run')['seed'].apply(lambda s: ' '.join(map(str, sorted(set(s)))))
    print(f"{len(results)} runs; folds (held-out styles): "
          + '; '.join(f"{f}: {h}" for f, h in sorted(set(zip(results['fold'], results['held_out'])))))
    print(f"threads a run: {sorted(set(results['threads']))}, {results['size'].iloc[0]} px\n")
    print('| run | folds × seeds | held-out-style accuracy (95 % interval) | test-style accuracy '
          '(95 % interval) | vs default, held-out (points) | vs default, test (points) | seconds | '
          'CPU seconds | peak RSS MB |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name, r in t.iterrows():
        vs = (('—', '—') if name == DEFAULT else
              (pm(r['vs_baseline'], r['vs_low'], r['vs_high'], 100),
               pm(r['test_vs_baseline'], r['test_vs_low'], r['test_vs_high'], 100)))
        print(f"| {name} | {int(r['folds'])} × {seeds[name]} | {pm(r['accuracy'], r['low'], r['high'])} | "
              f"{pm(r['test_accuracy'], r['test_low'], r['test_high'])} | {vs[0]} | {vs[1]} | "
              f"{r['seconds']:.1f} | {cpu[name]:.1f} | {rss[name]} |")
    print()
    print(cv_verdict(t.reset_index(), DEFAULT))
    if 'loop' in t.index and DEFAULT in t.index:
        loop = results[results['run'] == 'loop']
        for what, col in (('wall', 'seconds'), ('CPU', 'cpu_seconds')):
            whole, mine = loop[col].mean(), cpu[DEFAULT] if col == 'cpu_seconds' else t.loc[DEFAULT, 'seconds']
            to_best = (loop[col] * loop['seconds_to_best'] / loop['seconds']).mean()
            print(f"\n{DEFAULT}: {mine:.1f} {what} seconds a run against the loop's {whole:.1f} "
                  f"({to_best:.1f} to its best epoch): {mine / whole:.2f} of its time "
                  f"({mine / to_best:.2f} of its time to its best epoch).")
    tuned = results[results['run'] == DEFAULT].dropna(subset=['epoch_test_accuracy'])
    if len(tuned):
        print('\nEpoch selection, probe_then_tune (the epoch each rule keeps; its held-out and test '
              'accuracy; paired against the last epoch over the folds, points):\n')
        print('| rule | mean epoch kept | held-out accuracy | test accuracy | test vs last epoch |')
        print('|---|---|---|---|---|')
        rules = {'last epoch': lambda r: len(r['epoch_accuracy']) - 1,
                 'lowest validation loss': lambda r: min(range(len(r['epoch_valid_loss'])),
                                                          key=lambda i: r['epoch_valid_loss'][i]),
                 'highest validation accuracy': lambda r: max(range(len(r['epoch_accuracy'])),
                                                              key=lambda i: r['epoch_accuracy'][i])}
        last = tuned.apply(lambda r: r['epoch_test_accuracy'][-1], axis=1)
        for rule, pick in rules.items():
            kept = tuned.apply(pick, axis=1)
            held = tuned.apply(lambda r: r['epoch_accuracy'][pick(r)], axis=1)
            test = tuned.apply(lambda r: r['epoch_test_accuracy'][pick(r)], axis=1)
            diff = (test - last).groupby(tuned['fold']).mean()
            print(f"| {rule} | {kept.mean() + 1:.1f} | {held.mean():.3f} | {test.mean():.3f} | "
                  f"{pm(*paired_interval(diff), 100)} |")
        bump(tuned)


def bump(tuned):
    "Print where probe_then_tune's validation loss rises above its first epoch's, and what it costs"
    import numpy as np
    losses = np.array(tuned['epoch_valid_loss'].tolist())
    accs, tests = np.array(tuned['epoch_accuracy'].tolist()), np.array(tuned['epoch_test_accuracy'].tolist())
    epochs = losses.shape[1]
    peak = np.argmax(losses[:, 1:], axis=1) + 1  # the highest loss after the first epoch
    rows = np.arange(len(losses))
    rose = losses[rows, peak] > losses[:, 0]
    # fit_one_cycle's default pct_start=0.25: the learning rate peaks a quarter into training
    print(f"\nValidation-loss bump, probe_then_tune ({len(losses)} runs of {epochs} epochs; the "
          f"one-cycle learning rate peaks at the end of epoch {0.25 * epochs:g}): the loss rose above "
          f"its epoch-1 value in {rose.sum()} runs, at epoch {', '.join(map(str, sorted(set(peak[rose] + 1))))} "
          f"(mean height {np.mean(losses[rows, peak][rose] / losses[rose, 0]):.2f} × epoch 1's); "
          f"the last epoch's loss is below epoch 1's in {(losses[:, -1] < losses[:, 0]).sum()} of {len(losses)}. "
          f"Accuracy at the bump against the last epoch: held-out {100 * np.mean(accs[rows, peak] - accs[:, -1]):+.1f}, "
          f"test {100 * np.mean(tests[rows, peak] - tests[:, -1]):+.1f} points.")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', default=list(RUNS), choices=list(RUNS))
    parser.add_argument('--folds', type=int, default=5)
    parser.add_argument('--seeds', type=int, nargs='+', default=[42, 43])
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--hours', type=float, default=1.35, help='start no run after this time')
    parser.add_argument('--out', default=str(Path(__file__).parent/'crossval-results.jsonl'))
    parser.add_argument('--table', action='store_true')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    parser.add_argument('--fold', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--held-out', nargs='+', help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.fold, args.held_out, args.seed, args.size, args.threads)
        sys.exit()
    if args.table:
        table(args.out)
        sys.exit()
    from finetune_course.crossval import style_folds
    _, train, valid, _ = emotions_split()
    folds = style_folds(sorted(train) + sorted(valid), args.folds)
    done = {(r['run'], r['fold'], r['seed']) for r in read(args.out)}
    start = time.time()
    for label, fold, seed in jobs(args, folds):
        if (label, fold, seed) in done: continue
        if time.time() - start > args.hours * 3600: sys.exit('time is up: rerun to go on')
        argv = ['--one', label, '--fold', str(fold), '--held-out', *folds[fold], '--seed', str(seed),
                '--size', str(args.size), '--threads', str(args.threads)]
        try: result = fresh_process(__file__, argv)
        except RuntimeError as e:
            print(f'{label} fold {fold} seed {seed} failed: {e}', file=sys.stderr, flush=True)
            continue
        with open(args.out, 'a') as f: f.write(json.dumps(result) + '\n')
        print(f"{time.strftime('%H:%M:%S')} {label} fold {fold} seed {seed}: {result['accuracy']:.3f} "
              f"/ {result['test_accuracy']:.3f} in {result['seconds']} s", flush=True)
