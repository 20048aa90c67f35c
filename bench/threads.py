"""What torch's thread count costs when two trainings share the 2 cores (see bench/README.md).

Usage: .venv/bin/python bench/threads.py THREADS [SIZE]

Trains EfficientNet-Lite0 on the emotions data (training styles against the validation styles of
`styles.csv`, batch size 16, seed 42) for one epoch with the body frozen, then one with every layer,
with THREADS torch threads, and prints the seconds of each. Run it alone, and twice at once (`cmd &
cmd; wait`) with 1 and with 2 threads, to see what `nbdev_test`'s two notebooks at a time meet.
"""
import sys
import time

import torch
from fastai.data.transforms import parent_label
from fastai.torch_core import set_seed

from finetune_course.data import course_dls
from finetune_course.styles import style_split
from finetune_course.datasets import course_data
from finetune_course.learner import course_learner

threads, size = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.set_num_threads(threads)
path = course_data('emotions')
set_seed(42)
split = style_split(path)
dls = course_dls(split.train + split.valid, parent_label, path, size=size, bs=16,
                 valid_styles=split.valid_styles, num_workers=0)
learn = course_learner(dls)
start = time.time()
with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-2)
frozen, start = time.time() - start, time.time()
learn.unfreeze()
with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-3)
print(f"threads={threads} size={size} frozen={frozen:.1f}s unfrozen={time.time() - start:.1f}s")
