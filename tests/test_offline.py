"""The online paths, with the network really cut (`unshare -n`): clear errors, no tracebacks."""
from conftest import BIN, run, offline


def offline_error(call, env):
    "Run the Python expression `call` with no network; return the CourseError it printed"
    code = ("from finetune_course.core import CourseError\n"
            "from finetune_course.datasets import course_data\n"
            "from finetune_course.weights import weights_file, load_weights\n"
            f"try: print({call})\n"
            "except CourseError as e: print(e)")
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
    message = offline_error("weights_file('resnet18')", cache)
    assert "No ImageNet weights for 'resnet18'" in message
    assert 'resnet18.pth' in message and 'pretrained=False' in message


@offline
def test_timm_weights_offline_say_what_to_do(cache):
    message = offline_error("weights_file('tf_efficientnet_b0')", cache)
    assert "No ImageNet weights for 'tf_efficientnet_b0'" in message
    assert 'pretrained=False' in message


@offline
def test_packaged_weights_need_no_network(cache):
    assert offline_error("len(load_weights('tf_efficientnet_lite0'))", cache).strip() == '296'
