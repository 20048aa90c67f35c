"""Outgrowing one process, timed (see bench/README.md and lesson 11): a grid of experiments on DVC's
queue with 1 job against 2, and one training on 1 process against 2 (torchrun, gloo).

Usage: .venv/bin/python bench/scale.py [--epochs 1] [--size 64] [--force]

Both tables use the emotions data (the training styles against the validation styles of
`styles.csv`) and one torch thread per process (OMP_NUM_THREADS=1), as the course runs.
1. The grid: fit_head and fine_tune × seeds 0 and 1, queued with `dvc exp run --queue` in a fresh
   git + DVC project and run with `dvc queue start --jobs J`; the time from start until
   `dvc queue status` shows nothing queued or running.
2. One run: `finetune-course train --recipe fit_head --bs 16` against
   `torchrun --standalone --nproc-per-node 2 --no-python finetune-course train ... --bs 8`
   (the same effective batch of 16): wall time, training time and accuracy from results.json.
It refuses to measure when the 1-minute load average is 1.0 or more (other work would be timed
too) unless given --force. Prints the two tables in Markdown.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from finetune_course.datasets import course_data

BIN = Path(sys.executable).parent
GRID = [(recipe, seed) for recipe in ('fit_head', 'fine_tune') for seed in (0, 1)]
ENV = {**os.environ, 'PATH': f"{BIN}{os.pathsep}{os.environ['PATH']}", 'OMP_NUM_THREADS': '1',
       'DVC_NO_ANALYTICS': '1'}


def sh(command, cwd, quiet=False):
    "Run a shell command in `cwd` with one thread per process; its stdout, after checking it worked"
    result = subprocess.run(command, shell=True, cwd=cwd, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def project(folder, epochs, size):
    "A git + DVC project with the emotions data (no test images) and `train` shortened"
    shutil.copytree(course_data('emotions'), folder/'data', ignore=shutil.ignore_patterns('test'))
    sh('git init -q && git config user.name bench && git config user.email bench@example.com',
       folder)
    sh('finetune-course dvc-init --data data', folder)
    params = yaml.safe_load((folder/'params.yaml').read_text())
    params.update(epochs=epochs, size=size, quiet=True)
    (folder/'params.yaml').write_text(yaml.safe_dump(params, sort_keys=False))
    sh('dvc init -q && git add -A && git commit -qm bench', folder)
    return folder


def grid_seconds(folder, jobs, timeout=3600):
    "Seconds the queue takes to run GRID with `jobs` workers"
    for recipe, seed in GRID: sh(f'dvc exp run --queue -S recipe={recipe} -S seed={seed}', folder)
    start = time.time()
    sh(f'dvc queue start --jobs {jobs} > queue.log 2>&1', folder)  # workers keep a pipe open
    while time.time() - start < timeout:
        status = sh('dvc queue status', folder)
        if ' Running' not in status and ' Queued' not in status: break
        time.sleep(1)
    else:
        sh('dvc queue stop --kill', folder)
        raise TimeoutError(status)
    seconds = time.time() - start
    assert status.count(' Success') == len(GRID), status
    return seconds


def train_record(folder, processes, epochs, size):
    "results.json of `train` (fit_head, seed 0, effective batch 16) on `processes` processes"
    out = folder/f'runs/p{processes}'
    args = (f'train --recipe fit_head --seed 0 --epochs {epochs} --size {size} '
            f'--bs {16 // processes} --out {out}')
    start = time.time()
    if processes == 1: sh(f'finetune-course {args}', folder)
    else: sh(f'torchrun --standalone --nproc-per-node {processes} --no-python finetune-course '
             f'{args}', folder)
    return dict(json.loads((out/'results.json').read_text()), outside=time.time() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=1)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--force', action='store_true', help="measure on a busy machine anyway")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if load >= 1.0 and not args.force:
        sys.exit(f"Load average {load:.2f}: other work would be timed too. Wait for a quiet "
                 "machine, or pass --force.")
    base = Path(tempfile.mkdtemp(prefix='scale-'))
    rows = []
    for jobs in (1, 2):
        folder = project(base/f'jobs{jobs}', args.epochs, args.size)
        rows.append((jobs, grid_seconds(folder, jobs)))
    print(f"Load average before: {load:.2f}; {len(GRID)} experiments, {args.epochs} epoch(s) at "
          f"{args.size} px, 1 thread per job\n")
    print("| jobs | grid wall time (s) |\n|---|---|")
    for jobs, seconds in rows: print(f"| {jobs} | {seconds:.0f} |")
    folder = project(base/'train', args.epochs, args.size)
    runs = [(n, train_record(folder, n, args.epochs, args.size)) for n in (1, 2)]
    print("\n| processes | bs each | command wall time (s) | training (s) | accuracy |\n"
          "|---|---|---|---|---|")
    for n, r in runs:
        print(f"| {n} | {r['batch_size']} | {r['outside']:.0f} | {r['seconds']:.1f} | "
              f"{r['accuracy']:.3f} |")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__': main()
