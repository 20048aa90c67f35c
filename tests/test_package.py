"""What `pip install` gives a learner: the embedded data and its licences, a light import."""
from conftest import BIN, run


def test_import_is_light():
    result = run([str(BIN/'python'), '-c',
                  'import sys, finetune_course; print(finetune_course.__version__, '
                  '"torch" in sys.modules)'])
    version, torch_loaded = result.stdout.split()
    assert version.count('.') == 2 and torch_loaded == 'False'


def test_embedded_data_and_licences_are_installed():
    from finetune_course.datasets import course_data
    path = course_data('emotions')
    assert (path/'ATTRIBUTION.md').exists()
    assert len(list((path/'LICENSES').iterdir())) >= 3
    for split in 'train', 'test':
        classes = sorted(p.name for p in (path/split).iterdir())
        assert classes == ['angry', 'confused', 'disgusted', 'happy', 'sad', 'surprised']
        assert all(len(list((path/split/c).iterdir())) >= 3 for c in classes)
