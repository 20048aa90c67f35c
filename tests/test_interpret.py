"""Using a trained model safely: exported weights reload without pickle and predict exactly as the
Learner did, pickles and broken files are refused, and nothing of the user's is changed."""
import json
import shutil
import sys

import pytest
import torch

from conftest import offline, run
from finetune_course.testing import few
from finetune_course.core import CourseError
from finetune_course.export import (CONFIG, WEIGHTS, export_model, export_pickle, load_model,
                                    load_pickle)
from finetune_course.interpret import (CourseInterpretation, propose_cleaning,
                                       write_cleaning_list)


def snapshot(folder):
    "Every file below `folder` with its bytes and modification time"
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob('*') if p.is_file()}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from finetune_course.datasets import course_data
    tmp = tmp_path_factory.mktemp('data')
    return few(course_data('emotions')/'train', tmp/'train', 8), course_data('emotions')/'test'


@pytest.fixture(scope='module')
def learn(data):
    from fastai.callback.schedule import fit_one_cycle  # noqa: F401 (adds Learner.fit_one_cycle)
    from fastai.torch_core import set_seed
    from finetune_course.data import folder_dls
    from finetune_course.learner import course_learner
    set_seed(42)
    learn = course_learner(folder_dls(data[0], size=64))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-2)
    return learn


@pytest.fixture(scope='module')
def model_dir(learn, tmp_path_factory):
    return export_model(learn, tmp_path_factory.mktemp('export')/'model')


def test_reload_predicts_exactly_as_the_learner(learn, model_dir, data):
    model = load_model(model_dir)
    files = sorted(data[1].rglob('*.png'))
    files = files[::len(files) // 12][:12]
    with learn.no_bar(): wanted = [learn.predict(f) for f in files]
    diffs = [(model.probs(f) - want[2]).abs().max().item() for f, want in zip(files, wanted)]
    print(f"max abs difference over {len(files)} images: {max(diffs)}")
    assert max(diffs) < 1e-6
    assert [model.predict(f).label for f in files] == [want[0] for want in wanted]
    config = json.loads((model_dir/CONFIG).read_text())
    assert config['classes'] == list(learn.dls.vocab) and config['mean'] == [0.5, 0.5, 0.5]


@offline
def test_reload_needs_no_network(model_dir, data, learn):
    image = sorted(data[1].rglob('*.png'))[0]
    script = ("import sys; from finetune_course.export import load_model;"
              "print('LABEL', load_model(sys.argv[1]).predict(sys.argv[2]).label)")
    result = run(['unshare', '-n', sys.executable, '-c', script, str(model_dir), str(image)])
    assert result.returncode == 0, result.stderr[-2000:]
    with learn.no_bar(): assert f'LABEL {learn.predict(image)[0]}' in result.stdout


def test_untrusted_pickle_is_refused(learn, tmp_path):
    pkl = export_pickle(learn, tmp_path/'model.pkl')
    before = snapshot(tmp_path)
    with pytest.raises(CourseError, match='runs code stored in the file') as e: load_pickle(pkl)
    assert str(pkl) in str(e.value) and 'trusted=True' in str(e.value)
    with pytest.raises(CourseError, match='is a file, not a model folder'): load_model(pkl)
    assert snapshot(tmp_path) == before
    assert load_pickle(pkl, trusted=True).dls.vocab == learn.dls.vocab


class Boom:
    "An object whose unpickling would leave a mark: proof that loading ran code from the file"
    def __init__(self, mark): self.mark = mark
    def __reduce__(self): return (open, (self.mark, 'w'))


def test_weights_that_are_not_a_state_dict_are_refused(model_dir, learn, tmp_path):
    bad = tmp_path/'bad'
    shutil.copytree(model_dir, bad)
    good = (model_dir/WEIGHTS).read_bytes()
    cases = {'a text file': lambda p: p.write_text('these are not weights'),
             'a truncated file': lambda p: p.write_bytes(good[:len(good) // 2]),
             'a pickled Learner': lambda p: learn.export(p),
             'code that runs when unpickled': lambda p: torch.save(Boom(tmp_path/'mark'), p),
             'a list of tensors': lambda p: torch.save([torch.zeros(1)], p),
             'an empty file': lambda p: p.write_bytes(b'')}
    for what, write in cases.items():
        write(bad/WEIGHTS)
        with pytest.raises(CourseError) as e: load_model(bad)
        message = str(e.value)
        assert str(bad/WEIGHTS) in message, what
        assert 'export_model' in message and 'not a state dict' in message, (what, message)
    assert not (tmp_path/'mark').exists()


def test_changed_weights_and_bad_configs_are_refused(model_dir, tmp_path):
    bad = tmp_path/'bad'
    shutil.copytree(model_dir, bad)
    state = torch.load(bad/WEIGHTS, weights_only=True)
    torch.save({k: v + 1 for k, v in state.items()}, bad/WEIGHTS)
    with pytest.raises(CourseError, match='has changed since it was exported'): load_model(bad)
    shutil.copy(model_dir/WEIGHTS, bad/WEIGHTS)
    config = json.loads((model_dir/CONFIG).read_text())
    for text, message in [('{"arch": ', 'is not valid JSON'), ('[]', 'is not a config written'),
                          (json.dumps({**config, 'format': 'other'}), 'is not a config written'),
                          (json.dumps({**config, 'classes': ['a', 'b']}), 'do not fit')]:
        (bad/CONFIG).write_text(text)
        with pytest.raises(CourseError, match=message): load_model(bad)
    (bad/CONFIG).unlink()
    with pytest.raises(CourseError, match='config.json is missing'): load_model(bad)
    (bad/CONFIG).write_text(json.dumps({**config, 'item_tfms': [['system', {}]]}))
    with pytest.raises(CourseError, match="not one of fastai's"): load_model(bad)


def test_nothing_of_the_users_is_modified(learn, data, tmp_path):
    images = data[0]
    before = snapshot(images)
    mine = tmp_path/'mine'
    mine.mkdir()
    (mine/'notes.txt').write_text('keep me')
    with pytest.raises(CourseError, match='already holds other files'): export_model(learn, mine)
    assert (mine/'notes.txt').read_text() == 'keep me' and len(list(mine.iterdir())) == 1
    first = export_model(learn, tmp_path/'model')
    assert export_model(learn, first) == first  # an earlier export is replaced as a whole
    assert sorted(p.name for p in first.iterdir()) == [CONFIG, WEIGHTS]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]  # no leftovers
    interp = CourseInterpretation.from_learner(learn, ds_idx=0)
    proposals = propose_cleaning(interp, relabel_above=0, exclude_below=1)
    assert len(proposals) > 0
    listed = write_cleaning_list(proposals, tmp_path/'cleaning.csv', root=images)
    lines = listed.read_text().splitlines()
    assert lines[0] == 'file,action,new_label' and len(lines) == len(proposals) + 1
    assert all((images/line.split(',')[0]).is_file() for line in lines[1:])
    with pytest.raises(CourseError, match='is not a cleaning list'):
        write_cleaning_list(proposals, mine/'notes.txt')
    assert (mine/'notes.txt').read_text() == 'keep me'
    assert snapshot(images) == before


def test_export_keeps_training_augmentation_out_of_predictions(data, tmp_path):
    "fastai's aug_transforms stay in the config, and predictions still match the Learner's"
    from fastai.vision.augment import aug_transforms
    from finetune_course.data import folder_dls
    from finetune_course.learner import course_learner
    learn = course_learner(folder_dls(data[0], size=64, batch_tfms=aug_transforms()))
    model = load_model(export_model(learn, tmp_path/'model'))
    image = sorted(data[1].rglob('*.png'))[0]
    with learn.no_bar(): want = learn.predict(image)[2]
    assert (model.probs(image) - want).abs().max().item() < 1e-6
    assert 'Flip' in [name for name, _ in model.config['batch_tfms']]
