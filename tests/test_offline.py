"""The online paths, with the network really cut (`unshare -n`): clear errors, no tracebacks."""
from conftest import BIN, run, offline

SETUP = ("from functools import partial\n"
         "from finetune_course.core import CourseError\n"
         "from finetune_course.datasets import course_data\n"
         "from finetune_course.learner import course_learner\n"
         "from finetune_course import testing\n"
         "tiny = partial(testing.tiny, size=32, train_pct=0.05, valid_pct=0.05, seed=0)\n")


def offline_error(call, env):
    "Run the Python expression `call` with no network; what it printed, or its CourseError"
    code = SETUP + f"try: print({call})\nexcept CourseError as e: print(e)"
    result = run(['unshare', '-n', str(BIN/'python'), '-c', code], env=env)
    assert 'Traceback' not in result.stderr, result.stderr
    return result.stdout


@offline
def test_public_dataset_offline_names_the_alternative(tmp_path, cache):
    message = offline_error(f"course_data('hymenoptera', data_dir=r'{tmp_path}')", cache)
    assert "Could not download the 'hymenoptera' dataset" in message
    assert "course_data('emotions')" in message


@offline
def test_torchvision_weights_offline_say_what_to_do(cache):
    message = offline_error("course_learner(tiny(), 'resnet18')", cache)
    assert "No ImageNet weights for 'resnet18'" in message
    assert 'resnet18-f37072fd.pth' in message and 'pretrained=False' in message


@offline
def test_timm_weights_offline_say_what_to_do(cache):
    message = offline_error("course_learner(tiny(), 'tf_efficientnet_b0')", cache)
    assert "No ImageNet weights for 'tf_efficientnet_b0'" in message
    assert 'pretrained=False' in message


@offline
def test_packaged_weights_need_no_network(cache):
    assert offline_error("course_learner(tiny()).arch", cache).strip() == 'tf_efficientnet_lite0'
