"""Same seed and thread count, same numbers: two trainings on the CPU give identical logs."""
from fastai.torch_core import set_seed

from finetune_course.data import folder_dls
from finetune_course.datasets import course_data
from finetune_course.learner import course_learner


def train_once(seed):
    "fastai's `fine_tune(1)` at 64 px, seeded before the DataLoaders are made; the epoch log"
    set_seed(seed)
    dls = folder_dls(course_data('emotions')/'train', size=64, bs=16, num_workers=0)
    learn = course_learner(dls)
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    return [{k: row[k] for k in ('train_loss', 'valid_loss', 'error_rate')}
            for row in learn.epoch_log.rows]


def test_same_seed_gives_identical_numbers():
    first, second, other = train_once(0), train_once(0), train_once(1)
    assert first == second
    assert first != other, "a different seed should change the numbers (else this test is idle)"
