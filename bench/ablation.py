"""Why fastai's recipes lose to the tutorial loop here: one factor at a time, over seeds (see bench/README.md).

Usage: .venv/bin/python bench/ablation.py [--epochs 5] [--more-epochs 10] [--size 128]
       [--sizes 160 224] [--threads 1] [--seeds 42 43 44] [--jobs 1] [--runs NAME ...]
       [--results bench/ablation-results.jsonl] [--list]

Three starting points on bench/baseline.py's split (the 8 training styles against the 2 validation
styles of `styles.csv`; the 2 test styles scored once, at the end), weights and batch size:

- `fine_tune`: fastai's `fine_tune` as the course's `fine_tune` recipe runs it (one frozen epoch,
  then `--epochs - 1` unfrozen), on `course_dls` / `course_learner` defaults: fastai's head
  (`create_head`: concat pooling, batch norm, dropout 0.25 / 0.5, a 512 hidden layer), no
  augmentation, transparent pixels as PIL's `convert('RGB')` leaves them, Adam one-cycle, batch
  norm in training mode;
- `fit_head`: the course's `fit_head` recipe (the body frozen, the head alone trained one-cycle at
  1e-2 for `--epochs`), on the same defaults;
- `loop`: PyTorch's transfer-learning tutorial loop of bench/baseline.py (one `Linear` on average
  pooling, RandomResizedCrop + flip, SGD momentum 0.9 at 1e-3 with a x0.1 step after 70 % of the
  epochs), keeping its best validation epoch as baseline.py does.

Each other run changes ONE thing of its start (`--list` prints them). Every (run, seed) is a fresh
process with `--threads` threads; its result is appended as one JSON line to `--results` as soon as
it ends, and runs already there (same run, seed and settings) are not run again. The tables (per
run: mean ± std over the seeds, and the difference of the means against the run's start, in
points) are printed as Markdown from everything in `--results` that matches the settings.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from baseline import course_history, fresh_process, mean_std, run_baseline, split_dls

HERE = Path(__file__).resolve().parent


def runs(args)->dict:
    "name -> (its start, what it changes: settings of `run_fine_tune` or `run_baseline`, in words)"
    step = int(0.7 * args.epochs)
    found = {
        'fine_tune': ('fine_tune', {}, "fastai `fine_tune`, course defaults"),
        'ft linear head': ('fine_tune', dict(head='linear'), "one `Linear` on average pooling (`LINEAR_HEAD`)"),
        **{f'ft {s} px': ('fine_tune', dict(size=s), f"images {s} px") for s in args.sizes},
        'ft alpha on white': ('fine_tune', dict(alpha=(255, 255, 255)), "transparent pixels on white"),
        'ft alpha on black': ('fine_tune', dict(alpha=(0, 0, 0)), "transparent pixels on black"),
        'ft aug_transforms': ('fine_tune', dict(aug='aug_transforms'),
                              "`presize=2*size`: `Resize(2*size)`, `aug_transforms(min_scale=0.75)`"),
        'ft crop + flip': ('fine_tune', dict(aug='crop_flip'),
                           "`RandomResizedCrop(size)` + `FlipItem` (the tutorial's)"),
        'ft SGD step': ('fine_tune', dict(opt='sgd_step'),
                        f"SGD momentum 0.9 at 1e-3, x0.1 after epoch {step} (the tutorial's)"),
        'ft BN eval': ('fine_tune', dict(bn_eval=True), "the body's batch norm in eval mode (`KeepBnStats`)"),
        'ft BN eval, head too': ('fine_tune', dict(bn_eval='all'),
                                 "batch norm in eval mode everywhere, the head's too (`KeepBnStats` as the lessons add it)"),
        'fit_head': ('fit_head', dict(recipe='fit_head'),
                     f"the course's `fit_head`: the body frozen, head one-cycle at 1e-2, {args.epochs} epochs"),
        'fit_head BN eval': ('fit_head', dict(recipe='fit_head', bn_eval=True),
                             "the body's batch norm in eval mode (`KeepBnStats`)"),
        f'ft {args.more_epochs} epochs': ('fine_tune', dict(epochs=args.more_epochs),
                                          f"{args.more_epochs} epochs (1 frozen)"),
        'loop': ('loop', {}, f"the tutorial loop, StepLR after epoch {step}"),
        'loop BN eval': ('loop', dict(bn_eval=True), "batch norm in eval mode"),
        'loop BN eval, zero head': ('loop', dict(bn_eval=True, zero_head=True),
                                    "batch norm in eval mode, the linear head started at zero"),
        'loop fastai head': ('loop', dict(head='fastai'), "fastai's `create_head`"),
        'loop Adam one-cycle': ('loop', dict(opt='adam_one_cycle'),
                                "AdamW wd 0.01, one-cycle 1e-3 (fastai's defaults)"),
    }
    return found


def composited(colour):
    "`finetune_course.data.open_image`, but transparent pixels composited on `colour` first"
    from PIL import Image
    from finetune_course import data
    opened = data.open_image
    def open_on(fn):
        with Image.open(fn) as im:
            if im.mode in ('RGBA', 'LA', 'PA') or (im.mode == 'P' and 'transparency' in im.info):
                image = im.convert('RGBA')
                canvas = Image.new('RGBA', image.size, (*colour, 255))
                canvas.alpha_composite(image)
                return canvas.convert('RGB')
        return opened(fn)
    return open_on


def run_fine_tune(epochs, size, bs, seed, head='fastai', alpha=None, aug=None, opt='adam_one_cycle',
                  bn_eval=False, recipe='fine_tune'):
    "fastai's `fine_tune` (1 frozen epoch, `epochs - 1` unfrozen), or `recipe='fit_head'`, with one thing changed"
    from fastai.callback.training import bn_types
    from fastai.optimizer import SGD
    from fastai.vision.augment import FlipItem, RandomResizedCrop
    from functools import partial
    from finetune_course import data
    from finetune_course.learner import LINEAR_HEAD, course_learner
    from finetune_course.probe import KeepBnStats
    if alpha: data.open_image = composited(alpha)  # what `CourseImage` (and the checks) open with
    dls_kwargs = {None: {}, 'aug_transforms': dict(presize=2 * size),
                  'crop_flip': dict(item_tfms=[RandomResizedCrop(size), FlipItem()])}[aug]
    dls, test = split_dls(size, bs, seed, **dls_kwargs)
    learn_kwargs = dict(LINEAR_HEAD) if head == 'linear' else {}
    if opt == 'sgd_step': learn_kwargs['opt_func'] = partial(SGD, mom=0.9)
    learn = course_learner(dls, **learn_kwargs)

    class KeepBodyBnStats(KeepBnStats):
        "`KeepBnStats` on the body only: the new head's batch norms still learn their statistics"
        def before_train(self):
            for m in self.learn.model[0].modules():
                if isinstance(m, bn_types): m.eval()
    if bn_eval: learn.add_cb(KeepBnStats() if bn_eval == 'all' else KeepBodyBnStats())
    start = time.time()
    with learn.no_bar(), learn.no_logging():
        if opt == 'sgd_step':  # the tutorial's schedule, fine_tune's frozen first epoch kept
            step = int(0.7 * epochs)
            learn.freeze()
            learn.fit(1, 1e-3)
            learn.unfreeze()
            learn.fit(step - 1, 1e-3)
            learn.fit(epochs - step, 1e-4)  # the optimizer (its momentum) carries on
        elif recipe == 'fit_head':
            from finetune_course.recipes import fit_head
            fit_head(learn, epochs)
        else: learn.fine_tune(epochs - 1, 2e-3, freeze_epochs=1)  # as the `fine_tune` recipe
    return course_history(learn, time.time() - start, test)


def one(name, args):
    "Run `name` for `args.seed` in this process; print its result as one JSON line"
    import torch
    torch.set_num_threads(args.threads)
    start_point, changes, _ = runs(args)[name]
    settings = dict(epochs=args.epochs, size=args.size, bs=args.bs) | changes
    if start_point == 'loop':
        history, n_train, n_valid = run_baseline(
            settings.pop('epochs'), settings.pop('size'), settings.pop('bs'), args.seed,
            step_size=int(0.7 * args.epochs), **settings)
    else:
        history, n_train, n_valid = run_fine_tune(
            settings.pop('epochs'), settings.pop('size'), settings.pop('bs'), args.seed, **settings)
    best = max(history, key=lambda h: h['accuracy'])
    final = best if start_point == 'loop' else history[-1]  # the loop keeps its best epoch
    print(json.dumps(dict(run=name, seed=args.seed, best_accuracy=best['accuracy'],
                          valid_accuracy=final['accuracy'], test_accuracy=final['test_accuracy'],
                          best_epoch=history.index(best) + 1, seconds_to_best=best['seconds'],
                          train_seconds=history[-1]['seconds'], last_accuracy=history[-1]['accuracy'],
                          history=[round(h['accuracy'], 4) for h in history], n_train=n_train,
                          n_valid=n_valid, threads=torch.get_num_threads(), torch=torch.__version__)))


def key(args)->dict:
    "The settings a result must share to be reused and tabled"
    return dict(epochs=args.epochs, more_epochs=args.more_epochs, size=args.size, bs=args.bs,
                threads=args.threads)


def done(path)->list:
    "The results already in `path`"
    if not Path(path).exists(): return []
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


def table(results, args):
    "Print the Markdown table of `results`: mean ± std per run and the difference against its start"
    table = runs(args)
    by = {n: [r for r in results if r['run'] == n] for n in table}
    mean = lambda n, k: statistics.mean(r[k] for r in by[n])
    print('| run | change against its start | seeds | valid accuracy | test accuracy | '
          'Δ valid (points) | Δ test (points) | training s | peak RSS MB |')
    print('|---|---|---|---|---|---|---|---|---|')
    for n, (start, _, words) in table.items():
        rs = by[n]
        if not rs: print(f'| {n} | {words} | not run | | | | | | |'); continue
        if n == start or not by[start]: delta = '', ''
        else: delta = tuple(f"{100 * (mean(n, k) - mean(start, k)):+.1f}"
                            for k in ('valid_accuracy', 'test_accuracy'))
        print(f"| {n} | {words} | {len(rs)} | {mean_std([r['valid_accuracy'] for r in rs])} | "
              f"{mean_std([r['test_accuracy'] for r in rs])} | {delta[0]} | {delta[1]} | "
              f"{mean(n, 'train_seconds'):.0f} | {max(r['peak_rss_mb'] for r in rs)} |")


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', help='default: all (see --list)')
    parser.add_argument('--epochs', type=int, default=5, help="every run's epochs but one")
    parser.add_argument('--more-epochs', type=int, default=10, help="the epochs factor's")
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--sizes', type=int, nargs='+', default=[160, 224], help="the size factor's")
    parser.add_argument('--bs', type=int, default=16)
    parser.add_argument('--seeds', type=int, nargs='+', default=[42, 43, 44])
    parser.add_argument('--seed', type=int, default=42, help=argparse.SUPPRESS)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--jobs', type=int, default=1, help='runs at once, each in its own process')
    parser.add_argument('--results', default=str(HERE/'ablation-results.jsonl'))
    parser.add_argument('--list', action='store_true', help='list the runs and stop')
    parser.add_argument('--table', action='store_true', help='print the table of --results and stop')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args)
        sys.exit()
    table_runs = runs(args)
    if args.table:
        table([r for r in done(args.results) if r.get('settings') == key(args)], args)
        sys.exit()
    if args.list:
        for n, (start, changes, words) in table_runs.items(): print(f'{n}: {words} {changes or ""}')
        sys.exit()
    names = args.runs or list(table_runs)
    unknown = [n for n in names if n not in table_runs]
    if unknown: sys.exit(f'unknown runs {unknown}: see --list')
    import threading
    from concurrent.futures import ThreadPoolExecutor
    import torch
    print(f'{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} '
          f'threads a run, {args.jobs} runs at once, {args.epochs} epochs ({args.more_epochs} for the '
          f'epochs factor) at {args.size} px, bs {args.bs}, seeds {args.seeds}\n', flush=True)
    lock = threading.Lock()
    have = {(r['run'], r['seed']) for r in done(args.results) if r.get('settings') == key(args)}

    def measure(job):
        "Run one (name, seed) in a fresh process and append its result to --results"
        name, seed = job
        argv = ['--one', name, '--seed', str(seed)] + [
            a for k, v in key(args).items() for a in (f"--{k.replace('_', '-')}", str(v))] + [
            '--sizes', *map(str, args.sizes)]
        try: result = fresh_process(__file__, argv)
        except RuntimeError as e: print(e, file=sys.stderr, flush=True); return
        result['settings'] = key(args)
        with lock, open(args.results, 'a') as f: f.write(json.dumps(result) + '\n')
        print(f"{name} seed {seed}: valid {result['valid_accuracy']:.3f} test "
              f"{result['test_accuracy']:.3f} in {result['train_seconds']:.0f} s", file=sys.stderr, flush=True)

    todo = [(n, s) for s in args.seeds for n in names if (n, s) not in have]
    print(f'{len(todo)} runs to do, {len(names) * len(args.seeds) - len(todo)} already in {args.results}',
          file=sys.stderr, flush=True)
    with ThreadPoolExecutor(args.jobs) as pool: list(pool.map(measure, todo))
    results = [r for r in done(args.results) if r.get('settings') == key(args) and r['seed'] in args.seeds]
    table(results, args)
