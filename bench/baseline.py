"""A plain PyTorch transfer-learning loop against the course's recipes, in one run (see bench/README.md).

Usage: .venv/bin/python bench/baseline.py [--epochs 10] [--cached-epochs 30] [--size 128] [--threads 1]
       [--seed 42] [--runs NAME ...]

The baseline is written the way PyTorch's transfer-learning tutorial writes it: torchvision
`ImageFolder`, RandomResizedCrop + flip for training and Resize + CenterCrop for validation,
SGD lr 1e-3 momentum 0.9, `StepLR(7, 0.1)`, every layer trained, plain `for` loops. Every run uses
the same split (the training styles against the validation styles of `styles.csv`), the same
EfficientNet-Lite0 ImageNet weights, image size, batch size, seed and thread count. Each run is
a fresh process, so each has its own peak RSS; the table is printed as Markdown.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

RUNS = ('baseline', 'fine_tune', 'fit_head', 'cached_head')


def emotions_split():
    "(dataset folder, training files, validation files, test files) of the embedded emotions data"
    from fastai.data.transforms import get_image_files
    from finetune_course.data import default_valid_styles, style_of
    from finetune_course.datasets import course_data
    path = course_data('emotions')
    valid_styles = set(default_valid_styles(path))
    files = get_image_files(path/'train')
    return (path, [f for f in files if style_of(f) not in valid_styles],
            [f for f in files if style_of(f) in valid_styles], get_image_files(path/'test'))


def run_baseline(epochs, size, bs, seed):
    "The tutorial's loop; per epoch: valid accuracy and seconds since the start of training"
    import timm
    import torch
    from torch import nn
    from torchvision import datasets, transforms
    from finetune_course.data import default_valid_styles, style_of
    from finetune_course.weights import pretrained_kwargs
    torch.manual_seed(seed)
    path, *_ = emotions_split()
    valid_styles = set(default_valid_styles(path))
    norm = transforms.Normalize([0.5] * 3, [0.5] * 3)  # what the EfficientNet-Lite weights expect
    tfms = {'train': transforms.Compose([transforms.RandomResizedCrop(size),
                                         transforms.RandomHorizontalFlip(),
                                         transforms.ToTensor(), norm]),
            'valid': transforms.Compose([transforms.Resize(size * 256 // 224),
                                         transforms.CenterCrop(size), transforms.ToTensor(), norm])}
    keep = {'train': lambda f: style_of(f) not in valid_styles, 'valid': lambda f: style_of(f) in valid_styles}
    sets = {k: datasets.ImageFolder(path/'train', tfms[k], is_valid_file=keep[k]) for k in tfms}
    loaders = {k: torch.utils.data.DataLoader(sets[k], batch_size=bs, shuffle=k == 'train')
               for k in sets}
    model = timm.create_model('tf_efficientnet_lite0', pretrained=True, num_classes=len(sets['train'].classes),
                              **pretrained_kwargs('tf_efficientnet_lite0'))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    history, start = [], time.time()
    for epoch in range(epochs):
        for phase in ('train', 'valid'):
            model.train(phase == 'train')
            right = 0
            for xb, yb in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == 'train'):
                    out = model(xb)
                    loss = criterion(out, yb)
                    if phase == 'train':
                        loss.backward()
                        optimizer.step()
                right += (out.argmax(1) == yb).sum().item()
            if phase == 'train': scheduler.step()
        history.append(dict(accuracy=right / len(sets['valid']), seconds=time.time() - start))
    return history, len(sets['train']), len(sets['valid'])


def run_course(name, epochs, size, bs, seed):
    "A recipe of `finetune_course.recipes` on the same split; per epoch: accuracy and seconds"
    from fastai.data.transforms import parent_label
    from fastai.torch_core import set_seed
    from finetune_course.data import course_dls, default_valid_styles
    from finetune_course.learner import course_learner
    from finetune_course.recipes import get_recipe
    recipe = get_recipe(name)
    path, train, valid, _ = emotions_split()
    set_seed(seed)  # before the DataLoaders: fastai seeds their shuffling when they are made
    dls = course_dls(sorted(train) + sorted(valid), parent_label, path, size=size, bs=bs,
                     valid_styles=default_valid_styles(path), num_workers=0)
    learn = course_learner(dls, pretrained=getattr(recipe, 'pretrained', True))
    start = time.time()
    with learn.no_bar(), learn.no_logging():
        recipe(learn, epochs - 1 if name == 'fine_tune' else epochs)  # fine_tune adds a frozen epoch
    seconds = time.time() - start
    rows = learn.epoch_log.rows
    # Time outside the epochs (computing a feature cache, making the optimizer) counts from the start.
    overhead = seconds - sum(r['seconds'] for r in rows)
    elapsed = [overhead + sum(r['seconds'] for r in rows[:i + 1]) for i in range(len(rows))]
    history = [dict(accuracy=1 - r['error_rate'], seconds=s) for r, s in zip(rows, elapsed)]
    return history, len(dls.train_ds), len(dls.valid_ds)


def one(name, epochs, size, bs, seed, threads):
    "Run `name` in this process; print its result as one JSON line"
    import torch
    torch.set_num_threads(threads)
    runner = run_baseline if name == 'baseline' else lambda *a: run_course(name, *a)
    start = time.time()
    history, n_train, n_valid = runner(epochs, size, bs, seed)
    best = max(history, key=lambda h: h['accuracy'])
    print(json.dumps(dict(run=name, best_accuracy=best['accuracy'],
                          best_epoch=history.index(best) + 1, seconds_to_best=best['seconds'],
                          train_seconds=history[-1]['seconds'], last_accuracy=history[-1]['accuracy'],
                          wall_seconds=time.time() - start, n_train=n_train, n_valid=n_valid,
                          threads=torch.get_num_threads(), torch=torch.__version__)))


def measure(name, args):
    "Run `name` in a fresh process; its result with its peak RSS in MB"
    epochs = args.cached_epochs if name == 'cached_head' else args.epochs  # its epochs are cheap
    cmd = [sys.executable, __file__, '--one', name, '--epochs', str(epochs), '--size',
           str(args.size), '--bs', str(args.bs), '--seed', str(args.seed), '--threads', str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status: sys.exit(f'{name} failed')
    return dict(json.loads(out.strip().splitlines()[-1]), peak_rss_mb=round(usage.ru_maxrss / 1024))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', default=list(RUNS))
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--cached-epochs', type=int, default=30, help="cached_head's epochs")
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--bs', type=int, default=16)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--one', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.epochs, args.size, args.bs, args.seed, args.threads)
        sys.exit()
    import torch
    print(f'{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, '
          f'{args.threads} threads, {args.epochs} epochs ({args.cached_epochs} for cached_head) at '
          f'{args.size} px, bs {args.bs}, seed {args.seed}\n')
    results = [measure(name, args) for name in args.runs]
    print('| run | best valid accuracy | at epoch | seconds to best | training seconds | peak RSS MB |')
    print('|---|---|---|---|---|---|')
    for r in results:
        print(f"| {r['run']} | {r['best_accuracy']:.3f} | {r['best_epoch']} | {r['seconds_to_best']:.1f} "
              f"| {r['train_seconds']:.1f} | {r['peak_rss_mb']} |")
    base = next((r for r in results if r['run'] == 'baseline'), None)
    tune = next((r for r in results if r['run'] == 'fine_tune'), None)
    for r in results:
        if base and r is not base:
            print(f"{r['run']}: {100 * (r['best_accuracy'] - base['best_accuracy']):+.1f} points over "
                  f"the baseline's best, in {r['seconds_to_best'] / base['seconds_to_best']:.2f} of its "
                  f"time to best" + (f", {r['seconds_to_best'] / tune['seconds_to_best']:.2f} of "
                                     "fine_tune's" if tune and r is not tune else ''))
