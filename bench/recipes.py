"""Compare fine-tuning recipes on the embedded emotions data (run by hand; see bench/README.md).

Usage: .venv/bin/python bench/recipes.py [--epochs 10] [--seeds 0 1 2] [--sizes 64 128]
Prints one line per run: recipe, size, seed, validation and test error rate, seconds.
"""
import argparse
import time

from fastai.torch_core import set_seed
from fastai.data.transforms import get_image_files

from finetune_course.data import folder_dls
from finetune_course.datasets import course_data
from finetune_course.learner import course_learner
from finetune_course.recipes import RECIPES


def run(recipe, size, seed, epochs, bs):
    "Train one recipe; return validation error, test error and seconds"
    set_seed(seed)
    path = course_data('emotions')
    dls = folder_dls(path/'train', size=size, bs=bs, num_workers=0)
    learn = course_learner(dls, pretrained=getattr(RECIPES[recipe], 'pretrained', True))
    start = time.time()
    with learn.no_bar(), learn.no_logging(): RECIPES[recipe](learn, epochs)
    seconds = time.time() - start
    valid = learn.validate()[1]
    test_dl = dls.test_dl(get_image_files(path/'test'), with_labels=True)
    test = learn.validate(dl=test_dl)[1]
    return valid, test, seconds


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--recipes', nargs='+', default=list(RECIPES))
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--sizes', type=int, nargs='+', default=[64, 128])
    parser.add_argument('--bs', type=int, default=16)
    args = parser.parse_args()
    print('recipe     size seed valid_err test_err seconds')
    for recipe in args.recipes:
        for size in args.sizes:
            for seed in args.seeds:
                valid, test, seconds = run(recipe, size, seed, args.epochs, args.bs)
                print(f'{recipe:10} {size:4} {seed:4} {valid:9.3f} {test:8.3f} {seconds:7.1f}',
                      flush=True)
