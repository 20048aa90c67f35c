"""Render README.md from nbs/index.ipynb, as `nbdev_readme` would without needing Quarto.

Usage: python tools/render_readme.py [--check]
Cells marked `#| hide` are left out, nbdev's `#|` directive lines are dropped, and only text
outputs are kept. With --check, exit 1 if README.md differs from what would be rendered.
"""
import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent
TEXT_OUTPUTS = {'text/plain', 'text/markdown'}


def _directives(cell):
    return [l.replace(' ', '') for l in cell.source.splitlines() if l.startswith('#|')]


def render(nb_path=ROOT/'nbs'/'index.ipynb'):
    "The markdown of the README"
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata['language_info'] = {'name': 'python'}
    cells = []
    for cell in nb.cells:
        if '#|hide' in _directives(cell): continue
        if cell.cell_type == 'code':
            cell.source = '\n'.join(l for l in cell.source.splitlines() if not l.startswith('#|'))
            cell.outputs = [o for o in cell.outputs if o.output_type == 'stream'
                            or TEXT_OUTPUTS & set(o.get('data', {}))]
            for o in cell.outputs:
                if 'data' in o: o.data = {k: v for k, v in o.data.items() if k in TEXT_OUTPUTS}
        cells.append(cell)
    nb.cells = cells
    body, _ = MarkdownExporter().from_notebook_node(nb)
    return body.strip() + '\n'


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help="fail if README.md is out of date")
    args = parser.parse_args()
    readme, text = ROOT/'README.md', render()
    if not args.check: readme.write_text(text)
    elif not readme.exists() or readme.read_text() != text:
        sys.exit("README.md is out of date with nbs/index.ipynb: run `make readme`.")
