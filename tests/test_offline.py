"""The online paths, with the network really cut (`unshare -n`): clear errors, no tracebacks."""
from conftest import BIN, run, offline


def python_offline(code, env):
    return run(['unshare', '-n', str(BIN/'python'), '-c', code], env=env)


@offline
def test_public_dataset_offline_names_the_alternative(tmp_path, cache):
    result = python_offline(
        "from finetune_course.datasets import course_data\n"
        "from finetune_course.core import CourseError\n"
        f"try: course_data('hymenoptera', data_dir=r'{tmp_path}')\n"
        "except CourseError as e: print(e)", cache)
    assert "Could not download the 'hymenoptera' dataset" in result.stdout, result.stderr
    assert "course_data('emotions')" in result.stdout


@offline
def test_torchvision_weights_offline_say_what_to_do(cache):
    result = python_offline(
        "from finetune_course.weights import weights_file\n"
        "from finetune_course.core import CourseError\n"
        "try: weights_file('resnet18')\n"
        "except CourseError as e: print(e)", cache)
    assert "No ImageNet weights for 'resnet18'" in result.stdout, result.stderr
    assert 'resnet18.pth' in result.stdout and 'pretrained=False' in result.stdout


@offline
def test_timm_weights_offline_say_what_to_do(cache):
    result = python_offline(
        "from finetune_course.weights import weights_file\n"
        "from finetune_course.core import CourseError\n"
        "try: weights_file('tf_efficientnet_b0')\n"
        "except CourseError as e: print(e)", cache)
    assert "No ImageNet weights for 'tf_efficientnet_b0'" in result.stdout, result.stderr
    assert 'pretrained=False' in result.stdout


@offline
def test_packaged_weights_need_no_network(cache):
    result = python_offline(
        "from finetune_course.weights import load_weights\n"
        "print(len(load_weights('tf_efficientnet_lite0')))", cache)
    assert result.stdout.strip() == '296', result.stderr
