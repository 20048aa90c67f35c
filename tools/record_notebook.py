"""Run notebooks in place to record their outputs, skipping the cells `nbdev_test` skips.

Usage: make record NB=NOTEBOOK (one thread, as in the tests), or
       .venv/bin/python tools/record_notebook.py NOTEBOOK [NOTEBOOK ...]

`jupyter nbconvert --execute` runs every cell, including the `#| notest` cells that need the
internet; this runs a notebook the way `nbdev_test` does (same skip flags from settings.ini, in the
notebook's folder), keeps the outputs but drops printed library warnings and messages that name a
temporary folder, keeps of each progress bar only its final table (`--strip` does only that, on
stored notebooks), stops at the first error without writing, and then cleans the notebook
with `nbdev_clean`. Record on an idle machine: the outputs show timings.
"""
import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config

SKIP = set(get_config().tst_flags.split())


def _skipped(cell):
    "True for cells `nbdev_test` does not run: markdown, and code flagged with a skip flag"
    if cell.cell_type != 'code': return True
    flags = {l[2:].strip().split()[0] for l in cell.source.splitlines()
             if l.startswith('#|') and l[2:].strip()}
    if SKIP & flags: cell.outputs = []
    return bool(SKIP & flags)


def _local(output)->bool:
    "True for printed text about this machine: a library warning, or a temporary path"
    text = ''.join(output.get('text', '')) if output.get('output_type') == 'stream' else ''
    return (output.get('name') == 'stderr' and 'Warning' in text) or tempfile.gettempdir() in text


BAR = re.compile(r'^\s*(Epoch \d+/\d+ :|\|[█-]+\|)')  # a progress bar's line


def final_text(text:str)->str:
    "What a terminal shows of `text` once its progress bars have finished: each line's last state"
    lines = []
    for raw in text.split('\n'):
        line = raw.rsplit('\r', 1)[-1].lstrip('█')
        if not BAR.match(line) and (line.strip() or '\r' not in raw): lines.append(line)
    return '\n'.join(lines)


def strip_bars(nb):
    "Keep only the final text of every stream output of `nb` (fastai's bars redraw it with \\r)"
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            if out.get('output_type') == 'stream' and '\r' in ''.join(out.get('text', '')):
                out['text'] = final_text(''.join(out['text']))
        if cell.get('outputs'): cell.outputs = [o for o in cell.outputs if o.get('output_type')
                                                != 'stream' or ''.join(o.get('text', '')).strip()]


def record(path:Path):
    "Execute the notebook at `path` and write it back with its outputs"
    nb, shell, ran = read_nb(path), CaptureShell(path), []
    for cell in nb.cells:  # a cell that now prints nothing must not keep its old output
        if cell.cell_type == 'code': cell.outputs = []
    with working_directory(path.parent):
        try: shell.run_all(nb, exc_stop=True, preproc=_skipped, postproc=ran.append)
        except Exception:
            partial = Path(tempfile.gettempdir())/f'failed_{path.name}'
            write_nb(nb, partial)
            sys.exit(f"{path.name}: cell {ran[-1].get('id')} failed; the notebook is unchanged, the "
                     f"outputs so far are in {partial}:\n{ran[-1].source}\n{shell.prettytb(fname=path)}")
    for cell in nb.cells:  # warnings and messages naming files on this machine stay out of the docs
        if cell.cell_type == 'code': cell.outputs = [o for o in cell.outputs if not _local(o)]
    strip_bars(nb)
    write_nb(nb, path)
    subprocess.run([Path(sys.executable).parent/'nbdev_clean', '--fname', str(path)], check=True)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebooks', nargs='+', type=Path)
    parser.add_argument('--strip', action='store_true', help='only strip progress bars, run nothing')
    args = parser.parse_args()
    for path in args.notebooks:
        if not args.strip: record(path.resolve())
        else: nb = read_nb(path); strip_bars(nb); write_nb(nb, path)
