"""Bad input: a corpus of broken datasets, built in a temp folder.

For each kind: `check_images` reports it; the DataLoaders and one epoch of training either work on
the good files or stop with one `CourseError` naming the file and the fix (and then work with the
exclusion list the check wrote); and not one byte, permission or timestamp of the dataset changes.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from fastai.callback.schedule import fit_one_cycle  # noqa: F401  (adds Learner.fit_one_cycle)
from fastai.callback.training import ShortEpochCallback
from PIL import Image

from finetune_course.core import CourseError
from finetune_course.data import CourseImage, folder_dls, split_folder_dls
from finetune_course.health import check_images
from finetune_course.learner import course_learner
from finetune_course.testing import fingerprint, noise, png_bomb

SIZE = 32  # image side for the whole corpus: tiny, so one epoch takes about a second


def good(root, classes=('cat', 'dog'), n=4, start=0):
    "`n` good PNG images per class under `root`"
    for c, label in enumerate(classes):
        (root/label).mkdir(parents=True, exist_ok=True)
        for i in range(n): noise(start + 100 * c + i, SIZE).save(root/label/f'{label}_{i}.png')
    return root


def exif_sideways(fn):
    "A JPEG stored 64 wide, 32 high, red on the left, whose EXIF says: turn a quarter clockwise"
    im = Image.new('RGB', (2 * SIZE, SIZE), 'blue')
    im.paste('red', (0, 0, SIZE, SIZE))
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(fn, exif=exif)


# Each case writes its problem into a dataset of good class folders and says what to expect.
@dataclass
class Case:
    make: Callable          # root -> None: add the problem to the good dataset in `root`
    kind: str               # the kind `check_images` must report
    file: str               # the file (relative to root) it must name, '' for the whole dataset
    outcome: str            # 'works': trains as is; 'excluded': the builder names the file and
                            # trains with the exclusion list; 'stops': one message, no training
    layout: str = 'classes' # 'classes': root/<class>/; 'splits': root/train|valid/<class>/


def _corrupt_jpeg(root):
    data = bytearray(Path(_save(noise(1, SIZE), root/'cat'/'corrupt.jpg')).read_bytes())
    garbage = np.random.default_rng(0).integers(0, 256, len(data) - 200, dtype=np.uint8)
    data[200:] = garbage.tobytes()
    (root/'cat'/'corrupt.jpg').write_bytes(bytes(data[:len(data) // 2]))


def _save(im, fn, **kwargs):
    im.save(fn, **kwargs)
    return fn


def _truncated_png(root):
    noise(4, 64).save(root/'cat'/'cut.png')
    (root/'cat'/'cut.png').write_bytes((root/'cat'/'cut.png').read_bytes()[:1500])


def _sixteen_bit(root):
    grey = np.asarray(noise(2, SIZE).convert('L')).astype(np.uint16) * 257
    Image.fromarray(grey).save(root/'cat'/'deep.png')


def _palette(root):
    palette = noise(3, SIZE).convert('P', palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(root/'cat'/'pal.png', transparency=0)


def _symlink_loop(root):
    (root/'cat'/'loop.png').symlink_to('loop2.png')
    (root/'cat'/'loop2.png').symlink_to('loop.png')


def _hidden(root):
    (root/'cat'/'.DS_Store').write_bytes(b'\0\0\0\1Bud1' + bytes(100))
    (root/'dog'/'Thumbs.db').write_bytes(bytes(64))
    (root/'dog'/'._dog_0.png').write_bytes(b'\0\5\26\7' + bytes(60))   # macOS AppleDouble


def _leak(root):
    for split in ('train', 'valid'):
        good(root/split, start=0 if split == 'train' else 1000, n=4 if split == 'train' else 2)
    shutil.copy(root/'train'/'dog'/'dog_0.png', root/'valid'/'dog'/'dog_copy.png')


def _folder_loop(root):
    (root/'dog'/'again').symlink_to('..')


CASES = {
    'corrupt_jpeg': Case(_corrupt_jpeg, 'corrupt', 'cat/corrupt.jpg', 'excluded'),
    'truncated_png': Case(_truncated_png, 'truncated', 'cat/cut.png', 'excluded'),
    'zero_byte': Case(lambda r: (r/'dog'/'empty.png').write_bytes(b''), 'zero_byte',
                      'dog/empty.png', 'excluded'),
    'text_named_jpg': Case(lambda r: (r/'dog'/'page.jpg').write_text('<html>404</html>'),
                           'not_image', 'dog/page.jpg', 'excluded'),
    'cmyk_jpeg': Case(lambda r: noise(5, SIZE).convert('CMYK').save(r/'cat'/'print.jpg'), 'mode',
                      'cat/print.jpg', 'works'),
    'png_16_bit': Case(_sixteen_bit, 'mode', 'cat/deep.png', 'works'),
    'palette_transparency': Case(_palette, 'mode', 'cat/pal.png', 'works'),
    'exif_rotated': Case(lambda r: exif_sideways(r/'cat'/'phone.jpg'), 'exif_rotated',
                         'cat/phone.jpg', 'works'),
    'one_pixel': Case(lambda r: noise(6, 1).save(r/'dog'/'pixel.png'), 'tiny', 'dog/pixel.png',
                      'works'),
    'decompression_bomb': Case(lambda r: png_bomb(r/'dog'/'bomb.png'), 'decompression_bomb',
                               'dog/bomb.png', 'excluded'),
    'empty_class_folder': Case(lambda r: (r/'bird').mkdir(), 'empty_class', 'bird', 'works'),
    'one_class_only': Case(lambda r: shutil.rmtree(r/'dog'), 'single_class', '.', 'stops'),
    'symlink_loop': Case(_symlink_loop, 'symlink_loop', 'cat/loop.png', 'excluded'),
    'broken_symlink': Case(lambda r: (r/'cat'/'gone.png').symlink_to('nowhere.png'),
                           'broken_symlink', 'cat/gone.png', 'excluded'),
    'symlink_duplicate': Case(lambda r: (r/'dog'/'link.png').symlink_to('dog_1.png'),
                              'symlink_duplicate', 'dog/link.png', 'works'),
    'folder_loop': Case(_folder_loop, 'folder_loop', 'dog/again', 'works'),
    'hidden_files': Case(_hidden, 'hidden_file', 'cat/.DS_Store', 'works'),
    'duplicate_across_splits': Case(_leak, 'leak', 'valid/dog/dog_copy.png', 'works', 'splits'),
    'exact_duplicate': Case(lambda r: shutil.copy(r/'cat'/'cat_1.png', r/'cat'/'cat_1 (1).png'),
                            'exact_duplicate', 'cat/cat_1 (1).png', 'works'),
    'uppercase_jpg': Case(lambda r: noise(7, SIZE).save(r/'cat'/'IMG_0001.JPG', format='JPEG'),
                          'odd_extension', 'cat/IMG_0001.JPG', 'works'),
    'png_named_jpg': Case(lambda r: noise(8, SIZE).save(r/'dog'/'photo.jpg', format='PNG'),
                          'wrong_extension', 'dog/photo.jpg', 'works'),
    'heic_from_a_phone': Case(lambda r: (r/'dog'/'IMG_0002.HEIC').write_bytes(
        b'\0\0\0\x18ftypheic' + bytes(200)), 'unsupported_format', 'dog/IMG_0002.HEIC', 'excluded'),
    'grayscale': Case(lambda r: noise(9, SIZE).convert('L').save(r/'dog'/'grey.png'), 'mode',
                      'dog/grey.png', 'works'),
    'rgba': Case(lambda r: noise(10, SIZE).convert('RGBA').save(r/'dog'/'alpha.png'), 'mode',
                 'dog/alpha.png', 'works'),
    'grey_with_alpha': Case(lambda r: noise(11, SIZE).convert('LA').save(r/'dog'/'la.png'), 'mode',
                            'dog/la.png', 'works'),
    'heavy_imbalance': Case(lambda r: good(r, ('bird',), n=1, start=500), 'imbalance', '.',
                            'works'),
}


@pytest.fixture(autouse=True)
def one_thread():
    "Train on one thread: these runs are tiny, and two threads only wait for each other"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(case, root, **kwargs):
    "The DataLoaders a learner would build for this layout"
    if case.layout == 'splits':
        return split_folder_dls(root, size=SIZE, bs=4, num_workers=0, **kwargs)
    return folder_dls(root, size=SIZE, bs=4, valid_pct=0.25, num_workers=0, **kwargs)


def train_one_batch(dls, path):
    "One training and one validation batch of `course_learner` on `dls`, writing only below `path`"
    learn = course_learner(dls, path=path)
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, cbs=ShortEpochCallback(pct=0, short_valid=True))
    assert learn.train_iter == 1  # one optimizer step, on real images of this kind
    return learn


@pytest.mark.parametrize('name', list(CASES))
def test_broken_kind(name, tmp_path):
    case, root = CASES[name], tmp_path/'data'
    if case.layout == 'classes': good(root)
    case.make(root)
    before = fingerprint(root)
    report = check_images(root, size=SIZE, exclusions=tmp_path/'skip.txt', show=False)
    found = report[report['kind'] == case.kind]
    assert case.file in set(found['file']), report[['file', 'kind', 'detail']].to_string()
    try:
        dls = build(case, root)
        assert case.outcome == 'works', f"{name}: expected a CourseError"
    except CourseError as e:
        message = str(e)
        assert case.outcome != 'works', message
        if case.outcome == 'stops':
            assert 'two or more classes' in message and str(root) in message
            assert fingerprint(root) == before
            return
        assert Path(case.file).name in message and "exclude='skip.txt'" in message, message
        dls = build(case, root, exclude=tmp_path/'skip.txt')
    names = {Path(f).name for f in list(dls.train_ds.items) + list(dls.valid_ds.items)}
    if case.outcome == 'excluded':  # the list leaves out every file the report says to
        assert not {Path(f).name for f in report.loc[report['exclude'], 'file']} & names
    elif Path(case.file).suffix:    # an image that works is among the images trained on
        assert Path(case.file).name in names, (name, sorted(names))
    train_one_batch(dls, tmp_path/'run')
    assert fingerprint(root) == before, f"{name}: the dataset changed"


def test_16_bit_png_does_not_turn_white(tmp_path):
    root = good(tmp_path/'data')
    _sixteen_bit(root)
    dls = build(CASES['png_16_bit'], root)
    ds = dls.train_ds if root/'cat'/'deep.png' in dls.train_ds.items else dls.valid_ds
    image = np.asarray(ds[list(ds.items).index(root/'cat'/'deep.png')][0])
    expected = np.asarray(Image.open(root/'cat'/'deep.png')) / 257
    assert abs(image.mean() - expected.mean()) < 2 and image.mean() < 200


def test_exif_rotated_comes_out_upright(tmp_path):
    root = good(tmp_path/'data')
    exif_sideways(root/'cat'/'phone.jpg')
    dls = build(CASES['exif_rotated'], root)
    ds = dls.train_ds if root/'cat'/'phone.jpg' in dls.train_ds.items else dls.valid_ds
    image = ds[list(ds.items).index(root/'cat'/'phone.jpg')][0]
    assert image.size == (SIZE, 2 * SIZE)                                   # portrait: upright
    top = np.asarray(image)[:SIZE // 2].mean(axis=(0, 1))
    assert top.argmax() == 0                                                # red on top
    assert CourseImage.create(root/'cat'/'phone.jpg').size == (SIZE, 2 * SIZE)


@pytest.mark.parametrize('where', ['missing', 'file'])
def test_path_that_is_not_a_folder(where, tmp_path):
    path = tmp_path/'nowhere' if where == 'missing' else _save(noise(0, SIZE), tmp_path/'one.png')
    expected = 'does not exist' if where == 'missing' else 'is a file, not a folder'
    for call in (check_images, folder_dls, split_folder_dls):
        with pytest.raises(CourseError, match=expected) as e: call(path)
        assert str(path) in str(e.value)


def test_no_images_at_all(tmp_path):
    (tmp_path/'data'/'cat').mkdir(parents=True)
    (tmp_path/'data'/'cat'/'notes.txt').write_text('to do: find cats')
    assert check_images(tmp_path/'data', show=False)['kind'].tolist() == ['no_images']
    with pytest.raises(CourseError, match='No images found'): folder_dls(tmp_path/'data')


def test_several_bad_files_one_message(tmp_path):
    root = good(tmp_path/'data')
    for name in ('zero_byte', 'text_named_jpg', 'decompression_bomb', 'symlink_loop'):
        CASES[name].make(root)
    with pytest.raises(CourseError) as e: folder_dls(root, size=SIZE)
    message = str(e.value)
    assert message.startswith('5 of the') and message.count('\n') < 20
    for name in ('empty.png', 'page.jpg', 'bomb.png', 'loop.png'): assert name in message


UID = 61_234  # a throwaway user and group id, in no passwd file: owns nothing but the run's folder


def _as_stranger():
    "The command prefix that runs a command as the unprivileged, throwaway user UID, or None"
    if os.geteuid() != 0 or not shutil.which('setpriv'): return None
    cmd = ['setpriv', f'--reuid={UID}', f'--regid={UID}', '--clear-groups']
    ok = subprocess.run(cmd + [sys.executable, '-c', 'pass'], capture_output=True).returncode == 0
    return cmd if ok else None


READ_ONLY_RUN = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from fastai.callback.schedule import fit_one_cycle
    from finetune_course.data import folder_dls
    from finetune_course.health import check_images
    from finetune_course.learner import course_learner
    data, out = sys.argv[1], sys.argv[2]
    assert os.geteuid() != 0 and not os.access(data, os.W_OK), (os.geteuid(), data)
    try: (Path(data)/'cat'/'new.png').write_bytes(b'')
    except PermissionError: print('cannot write in the data: as it should be')
    report = check_images(data, size=32, exclusions=out + '/skip.txt', show=False)
    dls = folder_dls(data, size=32, bs=4, valid_pct=0.25, num_workers=0, exclude=out + '/skip.txt')
    learn = course_learner(dls, path=out)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1)
    print('kinds', sorted(set(report['kind'])), 'trained on', len(dls.train_ds))
""")


def test_read_only_dataset_as_non_root_user():
    "A dataset the user cannot write to: the check, the DataLoaders and training all work"
    prefix = _as_stranger()
    if prefix is None:
        pytest.skip("needs root and `setpriv` to run as an unprivileged, throwaway user")
    from finetune_course.weights import weights_dir
    top = Path(tempfile.mkdtemp(prefix='read-only-'))
    try:
        top.chmod(0o755)
        data, out = good(top/'data'), top/'out'
        CASES['zero_byte'].make(data)
        out.mkdir()
        weights = out/'weights'
        weights.mkdir()
        cached = weights_dir()/'tf_efficientnet_lite0.pth'
        if cached.exists(): shutil.copy(cached, weights)
        for p in [data, *data.rglob('*')]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        for p in [out, *out.rglob('*')]: os.chown(p, UID, UID)
        before = fingerprint(data)
        env = {**os.environ, 'HOME': str(out), 'OMP_NUM_THREADS': '1',
               'FINETUNE_COURSE_WEIGHTS': str(weights),
               'MPLCONFIGDIR': str(out/'mpl'), 'PYTHONWARNINGS': 'ignore'}
        run = subprocess.run(prefix + [sys.executable, '-c', READ_ONLY_RUN, str(data), str(out)],
                             env=env, capture_output=True, text=True, timeout=300, cwd=out)
        assert run.returncode == 0, run.stderr[-3000:]
        assert 'cannot write in the data' in run.stdout, run.stdout
        assert "'zero_byte'" in run.stdout and 'trained on' in run.stdout, run.stdout
        assert fingerprint(data) == before
        assert stat.S_IMODE((data/'cat').stat().st_mode) == 0o555
    finally:
        for p in [top, *top.rglob('*')]:
            if not p.is_symlink(): p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(top)


# `finetune-course train` on bad labels: the classes are checked before training, through the CLI.
def train_cli(data, out, *args, env=None):
    "Run `finetune-course train` for one quick epoch on `data`; the CompletedProcess"
    from conftest import run
    return run(['finetune-course', 'train', '--data', str(data), '--out', str(out), '--epochs', '1',
                '--size', '64', '--bs', '4', '--recipe', 'fit_head', '--quiet',
                *map(str, args)], env=env)


def seed_holding_out(root, fn, valid_pct=0.2):
    "A seed with which `train`'s random split of `root` puts `fn` in validation"
    from fastai.data.transforms import RandomSplitter
    from finetune_course.data import image_items
    items = list(image_items(root))
    return next(s for s in range(100) if items.index(fn) in RandomSplitter(valid_pct, s)(items)[1])


@pytest.mark.parametrize('how', ['single_image', 'nested_folder'])
def test_class_with_no_training_images(how, tmp_path, cache):
    root = good(tmp_path/'data', n=6)
    folder = root/'bird' if how == 'single_image' else root/'cat'/'closeups'
    folder.mkdir()
    lone = _save(noise(900, SIZE), folder/'only.png')
    result = train_cli(root, tmp_path/'run', '--seed', seed_holding_out(root, lone), env=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"No training images for the class '{folder.name}' (1 image, in {folder})" in \
        result.stderr, result.stderr
    assert 'Add images to that class' in result.stderr and 'move its images up' in result.stderr
    assert 'Traceback' not in result.stderr and 'KeyError' not in result.stderr, result.stderr
    assert not (tmp_path/'run').exists()          # stopped before training: no record


def test_same_picture_in_two_classes_is_named(tmp_path, cache):
    root = good(tmp_path/'data', n=6)
    shutil.copy(root/'cat'/'cat_1.png', root/'dog'/'dog_or_cat.png')
    result = train_cli(root, tmp_path/'run', env=cache)
    assert result.returncode == 0, result.stderr
    assert ("Warning: 1 picture is filed under two classes (the same bytes), so the model is "
            "taught both answers: cat/cat_1.png = dog/dog_or_cat.png.") in result.stderr, \
        result.stderr
    assert 'Traceback' not in result.stderr
    assert (tmp_path/'run'/'results.json').exists()


def test_imbalanced_classes_get_counts_and_the_majority_accuracy(tmp_path, cache):
    root = good(tmp_path/'data', n=16)
    for f in sorted((root/'dog').iterdir())[3:]: f.unlink()
    from fastai.data.transforms import RandomSplitter, parent_label
    from finetune_course.data import image_items
    items = list(image_items(root))
    train_idx, valid_idx = RandomSplitter(0.2, 42)(items)           # train's default split
    n_cat, n_dog = (sum(parent_label(items[i]) == c for i in train_idx) for c in ('cat', 'dog'))
    share = sum(parent_label(items[i]) == 'cat' for i in valid_idx) / len(valid_idx)
    result = train_cli(root, tmp_path/'run', env=cache)
    assert result.returncode == 0, result.stderr
    assert (f"Warning: the classes are imbalanced: cat {n_cat}, dog {n_dog} training images (the "
            "largest, 'cat', has 4 times or more the images of 'dog'). Always answering 'cat' "
            f"gets {share:.1%} of the {len(valid_idx)} validation images right") in result.stderr, \
        result.stderr
    assert 'Traceback' not in result.stderr
    assert (tmp_path/'run'/'results.json').exists()
