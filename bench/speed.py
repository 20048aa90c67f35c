"""Seconds per epoch with and without what makes CPU training fast (see bench/README.md).

Usage: .venv/bin/python bench/speed.py [--sizes 64 128] [--bs 16] [--threads 1]

For each image size: one frozen-body epoch and one unfrozen epoch of EfficientNet-Lite0 on the
embedded emotions training styles, with PyTorch's default memory layout and with channels-last
(`course_learner(channels_last=...)`), each measured after a warm-up epoch; then the cached-feature
head's epoch. Prints the machine, torch version and thread count, then a Markdown table.
"""
import argparse
import os
import platform
import time


def epoch_seconds(learn, unfrozen:bool)->float:
    "Seconds of one epoch of `learn`, frozen or unfrozen, after a warm-up epoch"
    if unfrozen: learn.unfreeze()
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-4)  # warm-up: the first epoch allocates and picks kernels
        start = time.time()
        learn.fit(1, 1e-4)
    return time.time() - start


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', type=int, default=[64, 128])
    parser.add_argument('--bs', type=int, default=16)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    import torch
    from fastai.data.transforms import parent_label
    from fastai.torch_core import set_seed
    from finetune_course.data import course_dls
    from finetune_course.styles import style_split
    from finetune_course.datasets import course_data
    from finetune_course.learner import course_learner
    from finetune_course.recipes import cached_head
    torch.set_num_threads(args.threads)
    path = course_data('emotions')
    split = style_split(path)
    print(f'{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads, bs {args.bs}\n')
    print('| size | layout | frozen epoch s | unfrozen epoch s | cached-head epoch s |')
    print('|---|---|---|---|---|')
    for size in args.sizes:
        set_seed(42)
        dls = course_dls(split.train + split.valid, parent_label, path, size=size, bs=args.bs,
                         valid_styles=split.valid_styles, num_workers=0)
        for layout in (False, True):
            frozen = epoch_seconds(course_learner(dls, channels_last=layout), unfrozen=False)
            unfrozen = epoch_seconds(course_learner(dls, channels_last=layout), unfrozen=True)
            learn = course_learner(dls, channels_last=layout)
            with learn.no_bar(), learn.no_logging(): cached_head(learn, 5)
            cached = sum(r['seconds'] for r in learn.epoch_log.rows[1:]) / 4
            name = 'channels-last' if layout else 'default'
            print(f'| {size} | {name} | {frozen:.2f} | {unfrozen:.2f} | {cached:.3f} |', flush=True)
