"""A plain PyTorch transfer-learning loop against the course's recipes, in one run (see bench/README.md).

Usage: .venv/bin/python bench/baseline.py [--epochs 10] [--cached-epochs 30] [--tune-epochs 8]
       [--size 128] [--threads 1] [--seeds 42 43 44] [--jobs 2] [--runs NAME ...]

The baseline is written the way PyTorch's transfer-learning tutorial writes it: torchvision
`ImageFolder`, RandomResizedCrop + flip for training and Resize + CenterCrop for validation,
SGD lr 1e-3 momentum 0.9, `StepLR(7, 0.1)`, every layer trained, plain `for` loops. Every run uses
the same split (the training styles against the validation styles of `styles.csv`), the same
EfficientNet-Lite0 ImageNet weights, image size, batch size, seed and thread count. Each run is
a fresh process, so each has its own peak RSS; `--jobs 2` runs two at once (one thread each, so they
do not slow each other on two cores: bench/threads.py). Every run reports its validation accuracy
at its best epoch, and its final model's validation and test accuracy (the loop's test accuracy is
taken at its best validation epoch, as a best checkpoint would keep it); the tables, per run and
mean ± std over the seeds, are printed as Markdown.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

RUNS = ('baseline', 'fine_tune', 'fit_head', 'cached_head', 'probe', 'probe_then_tune')


def emotions_split():
    "(dataset folder, training files, validation files, test files) of the embedded emotions data"
    from finetune_course.styles import style_split
    from finetune_course.datasets import course_data
    path = course_data('emotions')
    split = style_split(path)
    return path, split.train, split.valid, split.test


def loop_model(n_classes, head='linear'):
    "The tutorial's model: Lite0 with ImageNet weights and one `Linear` on average pooling, or fastai's head"
    import timm
    from torch import nn
    from fastai.vision.learner import create_head
    from finetune_course.weights import pretrained_kwargs
    if head == 'linear':
        return timm.create_model('tf_efficientnet_lite0', pretrained=True, num_classes=n_classes,
                                 **pretrained_kwargs('tf_efficientnet_lite0'))
    body = timm.create_model('tf_efficientnet_lite0', pretrained=True, num_classes=0, global_pool='',
                             **pretrained_kwargs('tf_efficientnet_lite0'))
    return nn.Sequential(body, create_head(body.num_features, n_classes))  # concat pool, BN, dropout, 512


def run_baseline(epochs, size, bs, seed, head='linear', bn_eval=False, opt='sgd', step_size=7,
                 zero_head=False, valid_styles=None):
    """The tutorial's loop; per epoch: valid accuracy and seconds since the start of training.
    The ablation's changes: `head='fastai'` (fastai's `create_head`), `bn_eval` (batch norm kept in
    eval mode while training), `opt='adam_one_cycle'` (fastai's Adam and one-cycle defaults),
    `zero_head` (the linear head's weights start at zero: every logit 0, no large first gradients);
    `valid_styles` (the styles validated on, default `styles.csv`'s: bench/crossval.py's folds)."""
    import torch
    from torch import nn
    from torchvision import datasets, transforms
    from finetune_course.styles import default_valid_styles, style_of
    torch.manual_seed(seed)
    path, *_ = emotions_split()
    valid_styles = set(valid_styles or default_valid_styles(path))
    norm = transforms.Normalize([0.5] * 3, [0.5] * 3)  # what the EfficientNet-Lite weights expect
    tfms = {'train': transforms.Compose([transforms.RandomResizedCrop(size),
                                         transforms.RandomHorizontalFlip(),
                                         transforms.ToTensor(), norm]),
            'valid': transforms.Compose([transforms.Resize(size * 256 // 224),
                                         transforms.CenterCrop(size), transforms.ToTensor(), norm])}
    keep = {'train': lambda f: style_of(f) not in valid_styles, 'valid': lambda f: style_of(f) in valid_styles}
    sets = {k: datasets.ImageFolder(path/'train', tfms[k], is_valid_file=keep[k]) for k in tfms}
    sets['test'] = datasets.ImageFolder(path/'test', tfms['valid'])
    loaders = {k: torch.utils.data.DataLoader(sets[k], batch_size=bs, shuffle=k == 'train')
               for k in sets}
    assert sets['test'].classes == sets['train'].classes
    model = loop_model(len(sets['train'].classes), head)
    if zero_head:
        for p in model.get_classifier().parameters(): nn.init.zeros_(p)
    criterion = nn.CrossEntropyLoss()
    if opt == 'sgd':
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.1)
    else:  # fastai's `fit_one_cycle` defaults: Adam(W) with wd 0.01, 25 % warm-up, momentum 0.95-0.85
        assert opt == 'adam_one_cycle', opt
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-5,
                                      weight_decay=0.01)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=1e-3, total_steps=epochs * len(loaders['train']), pct_start=0.25,
            div_factor=25, final_div_factor=1e5, base_momentum=0.85, max_momentum=0.95)
    history, start = [], time.time()
    for epoch in range(epochs):
        accuracy = {}
        for phase in ('train', 'valid', 'test'):
            model.train(phase == 'train')
            if bn_eval:  # the pretrained running statistics are used and kept
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm): m.eval()
            right = 0
            for xb, yb in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == 'train'):
                    out = model(xb)
                    loss = criterion(out, yb)
                    if phase == 'train':
                        loss.backward()
                        optimizer.step()
                        if opt != 'sgd': scheduler.step()  # one-cycle steps every batch
                right += (out.argmax(1) == yb).sum().item()
            if phase == 'train' and opt == 'sgd': scheduler.step()
            accuracy[phase] = right / len(sets[phase])
        history.append(dict(accuracy=accuracy['valid'], test_accuracy=accuracy['test'],
                            seconds=time.time() - start))
    return history, len(sets['train']), len(sets['valid'])


def split_dls(size, bs, seed, **kwargs):
    "(`course_dls` of the style split, the test files); `kwargs` go to `course_dls`"
    from fastai.data.transforms import parent_label
    from fastai.torch_core import set_seed
    from finetune_course.data import course_dls
    from finetune_course.styles import default_valid_styles
    path, train, valid, test = emotions_split()
    set_seed(seed)  # before the DataLoaders: fastai seeds their shuffling when they are made
    dls = course_dls(sorted(train) + sorted(valid), parent_label, path, size=size, bs=bs,
                     valid_styles=default_valid_styles(path), num_workers=0, **kwargs)
    return dls, test


def course_history(learn, seconds, test):
    "(per epoch: accuracy and seconds, the last with the test accuracy; n train; n valid) of a trained `learn`"
    from finetune_course.interpret import test_error_rate
    test_error = test_error_rate(learn, test)
    rows = learn.epoch_log.rows
    # Time outside the epochs (computing a feature cache, making the optimizer) counts from the start.
    overhead = seconds - sum(r['seconds'] for r in rows)
    elapsed = [overhead + sum(r['seconds'] for r in rows[:i + 1]) for i in range(len(rows))]
    history = [dict(accuracy=1 - r['error_rate'], seconds=s) for r, s in zip(rows, elapsed)]
    history[-1]['test_accuracy'] = 1 - float(test_error)
    return history, len(learn.dls.train_ds), len(learn.dls.valid_ds)


def run_course(name, epochs, size, bs, seed):
    "A recipe of `finetune_course.recipes` on the same split; per epoch: accuracy and seconds"
    from finetune_course.learner import course_learner
    from finetune_course.recipes import get_recipe
    recipe = get_recipe(name)
    dls, test = split_dls(size, bs, seed)
    learn = course_learner(dls, pretrained=recipe.pretrained)
    start = time.time()
    with learn.no_bar(), learn.no_logging():
        recipe.fit(learn, epochs - 1 if name == 'fine_tune' else epochs)  # fine_tune adds a frozen epoch
    return course_history(learn, time.time() - start, test)


def one(name, epochs, size, bs, seed, threads):
    "Run `name` in this process; print its result as one JSON line"
    import torch
    torch.set_num_threads(threads)
    runner = run_baseline if name == 'baseline' else lambda *a: run_course(name, *a)
    start = time.time()
    history, n_train, n_valid = runner(epochs, size, bs, seed)
    best = max(history, key=lambda h: h['accuracy'])
    final = best if name == 'baseline' else history[-1]  # the loop keeps its best epoch
    print(json.dumps(dict(run=name, seed=seed, best_accuracy=best['accuracy'],
                          valid_accuracy=final['accuracy'], test_accuracy=final['test_accuracy'],
                          best_epoch=history.index(best) + 1, seconds_to_best=best['seconds'],
                          train_seconds=history[-1]['seconds'], last_accuracy=history[-1]['accuracy'],
                          wall_seconds=time.time() - start, n_train=n_train, n_valid=n_valid,
                          threads=torch.get_num_threads(), torch=torch.__version__)))


EPOCHS = {'cached_head': 'cached_epochs', 'probe_then_tune': 'tune_epochs', 'probe': None}

def fresh_process(script, argv):
    "Run `script` with `argv` in a fresh process; the JSON of its last output line, with its peak RSS in MB"
    proc = subprocess.Popen([sys.executable, str(script), *argv], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status: raise RuntimeError(f'{script} {" ".join(argv)} failed')
    return dict(json.loads(out.strip().splitlines()[-1]), peak_rss_mb=round(usage.ru_maxrss / 1024))


def measure(job):
    "Run one (name, seed) in a fresh process; its result with its peak RSS in MB"
    name, seed, args = job
    key = EPOCHS.get(name, 'epochs')
    epochs = getattr(args, key) if key else 1
    argv = ['--one', name, '--epochs', str(epochs), '--size', str(args.size), '--bs', str(args.bs),
            '--seed', str(seed), '--threads', str(args.threads)]
    try: result = fresh_process(__file__, argv)
    except RuntimeError: sys.exit(f'{name} failed')
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def mean_std(values):
    "'mean ± std' of `values` (std over the seeds, n-1)"
    import statistics
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.3f} ± {sd:.3f}'


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', default=list(RUNS))
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--cached-epochs', type=int, default=30, help="cached_head's epochs")
    parser.add_argument('--tune-epochs', type=int, default=8, help="probe_then_tune's epochs")
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--bs', type=int, default=16)
    parser.add_argument('--seeds', type=int, nargs='+', default=[42, 43, 44])
    parser.add_argument('--seed', type=int, default=42, help=argparse.SUPPRESS)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--jobs', type=int, default=1, help='runs at once, each in its own process')
    parser.add_argument('--one', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.epochs, args.size, args.bs, args.seed, args.threads)
        sys.exit()
    import statistics
    from concurrent.futures import ThreadPoolExecutor
    import torch
    print(f'{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, '
          f'{args.threads} threads a run, {args.jobs} runs at once, {args.epochs} epochs '
          f'({args.cached_epochs} for cached_head, {args.tune_epochs} for probe_then_tune) at '
          f'{args.size} px, bs {args.bs}, seeds {args.seeds}\n')
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(measure, [(n, s, args) for n in args.runs for s in args.seeds]))
    print('| run | seed | valid accuracy | test accuracy | best valid (epoch) | seconds to best | '
          'training seconds | peak RSS MB |')
    print('|---|---|---|---|---|---|---|---|')
    for r in results:
        print(f"| {r['run']} | {r['seed']} | {r['valid_accuracy']:.3f} | {r['test_accuracy']:.3f} | "
              f"{r['best_accuracy']:.3f} ({r['best_epoch']}) | {r['seconds_to_best']:.1f} | "
              f"{r['train_seconds']:.1f} | {r['peak_rss_mb']} |")
    print('\n| run | valid accuracy | test accuracy | seconds to best | training seconds |')
    print('|---|---|---|---|---|')
    by = {n: [r for r in results if r['run'] == n] for n in args.runs}
    mean = lambda n, k: statistics.mean(r[k] for r in by[n])
    for n, rs in by.items():
        print(f"| {n} | {mean_std([r['valid_accuracy'] for r in rs])} | "
              f"{mean_std([r['test_accuracy'] for r in rs])} | {mean(n, 'seconds_to_best'):.1f} | "
              f"{mean(n, 'train_seconds'):.1f} |")
    if 'baseline' in by:
        for n in (n for n in by if n != 'baseline'):
            print(f"{n}: {100 * (mean(n, 'valid_accuracy') - mean('baseline', 'valid_accuracy')):+.1f} "
                  f"points on validation, {100 * (mean(n, 'test_accuracy') - mean('baseline', 'test_accuracy')):+.1f} "
                  f"on test, in {mean(n, 'train_seconds') / mean('baseline', 'seconds_to_best'):.2f} "
                  "of the loop's time to its best epoch")
