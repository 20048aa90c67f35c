"""Check the built emotions dataset against its layout contract and print its numbers.

    python tools/check_emotions.py [--sheets DIR]

Prints image counts per style and class, per split and the total size; fails (exit 1) if a file
name lacks a known style prefix, a test style appears in train/, an image is not 64x64 RGBA or
looks blank or black, the CSV files disagree with the images, two styles are nearly the same
pixel for pixel, two files have the same bytes, or an emoji is drawn nearly the same (perceptual
hash within `NEAR_BITS` bits) in styles on two sides of a split (train, valid, test).
`--sheets DIR` writes one contact sheet per style (PNG) to look at.
"""

import argparse
import csv
import hashlib
import itertools
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import imagehash
import numpy as np
from build_emotions import NEAR_BITS
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent / "finetune_course" / "images" / "emotions"
NAME = re.compile(r"^([a-z0-9]+)_([0-9a-f]+(?:-[0-9a-f]+)*)\.png$")
NEAR_SAME = 20.0  # mean absolute pixel difference (0-255) below which two styles are one


def on_white(path: Path) -> np.ndarray:
    """Return an image as a float RGB array composited on white, 0-255."""
    with Image.open(path) as image:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3:] / 255
    return rgba[..., :3] * alpha + 255 * (1 - alpha)


def read_csv(name: str) -> list[dict]:
    """Return the rows of a CSV file of the dataset."""
    return list(csv.DictReader((ROOT / name).read_text(encoding="utf-8").splitlines()))


def main() -> int:
    """Run the checks, print the numbers, return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=Path, help="folder for one contact sheet per style")
    args = parser.parse_args()
    problems = []
    styles = {r["style"]: r for r in read_csv("styles.csv")}
    emoji = {r["code"]: r for r in read_csv("emoji.csv")}
    files = sorted(ROOT.glob("*/*/*"))
    classes = sorted({p.parent.name for p in files})
    counts, codes, paths = Counter(), defaultdict(set), defaultdict(dict)
    shas, phashes = defaultdict(list), {}
    for path in files:
        folder, emotion = path.parent.parent.name, path.parent.name
        match = NAME.match(path.name)
        if folder not in ("train", "test") or not match or match[1] not in styles:
            problems.append(f"bad name or place: {path.relative_to(ROOT)}")
            continue
        style, code = match.groups()
        expected = "test" if styles[style]["split"] == "test" else "train"
        if folder != expected:
            problems.append(f"{path.relative_to(ROOT)}: style {style} belongs in {expected}/")
        if emoji.get(code, {}).get("emotion") != emotion:
            problems.append(f"{path.relative_to(ROOT)}: emoji.csv says {emoji.get(code)}")
        with Image.open(path) as image:
            if image.size != (64, 64) or image.mode != "RGBA":
                problems.append(f"{path.relative_to(ROOT)}: {image.size} {image.mode}")
            plain = image.convert("RGB")  # as a plain loader sees it
            rgb = np.asarray(plain, dtype=np.float32)
            phashes[path] = imagehash.phash(plain)
        shas[hashlib.sha256(path.read_bytes()).hexdigest()].append(path)
        dark, light = (rgb.max(axis=2) < 40).mean(), (rgb.min(axis=2) > 245).mean()
        if rgb.std() < 20 or dark > 0.8 or light > 0.97:
            problems.append(f"{path.relative_to(ROOT)}: looks blank or black")
        counts[style, emotion] += 1
        codes[folder].add(code)
        paths[style][code] = path

    print("| style | split | " + " | ".join(classes) + " | total |")
    print("|---|---|" + "---:|" * (len(classes) + 1))
    per_split = Counter()
    for style, row in styles.items():
        cells = [counts[style, c] for c in classes]
        per_split[row["split"]] += sum(cells)
        print(f"| {style} | {row['split']} | " + " | ".join(map(str, cells + [sum(cells)])) + " |")
        if int(row["images"]) != sum(cells):
            problems.append(f"styles.csv: {row['images']} images of {style}, found {sum(cells)}")
    for folder in "train", "test":
        cells = [len(list((ROOT / folder / c).glob("*.png"))) for c in classes]
        print(f"| **{folder}/** | | " + " | ".join(map(str, cells + [sum(cells)])) + " |")
    total = sum(per_split.values())
    train_all = per_split["train"] + per_split["valid"]
    print(f"\nper split: train {per_split['train']}, valid {per_split['valid']} "
          f"({per_split['valid'] / train_all:.0%} of train/), test {per_split['test']}; "
          f"{total} images, {len(styles)} styles")
    size = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    print(f"total size of the folder: {size:,} bytes ({size / 2**20:.2f} MiB)")
    named = sum(counts.values())
    print(f"file names: {named} of {len(files)} files are <style>_<code>.png with a style "
          "from styles.csv, all 64x64 RGBA unless listed below")
    both = codes["train"] & codes["test"]
    print(f"emoji codes: {len(codes['train'])} in train/, {len(codes['test'])} in test/, "
          f"{len(both)} in both (drawn by different artists)")
    if set(emoji) != codes["train"] | codes["test"]:
        problems.append("emoji.csv does not list exactly the codes used")
    if sum(r["split"] == "test" for r in styles.values()) < 2:
        problems.append("test/ needs at least two styles")

    print("\nclosest style pairs (mean abs pixel difference on shared emoji, 0-255):")
    pairs = []
    for a, b in itertools.combinations(sorted(paths), 2):
        shared = sorted(set(paths[a]) & set(paths[b]))
        if shared:
            diff = np.mean([np.abs(on_white(paths[a][c]) - on_white(paths[b][c])).mean()
                            for c in shared])
            pairs.append((diff, a, b, len(shared)))
    for diff, a, b, n in sorted(pairs)[:5]:
        print(f"  {a} vs {b}: {diff:.1f} over {n} emoji")
        if diff < NEAR_SAME:
            problems.append(f"{a} and {b} are nearly the same artwork ({diff:.1f})")

    for same in shas.values():
        if len(same) > 1:
            problems.append("exact duplicates (same bytes): "
                            + ", ".join(str(p.relative_to(ROOT)) for p in same))

    split = {style: row["split"] for style, row in styles.items()}
    near = Counter()
    closest = (65, "")
    for a, b in itertools.combinations(sorted(phashes), 2):
        (sa, ca), (sb, cb) = NAME.match(a.name).groups(), NAME.match(b.name).groups()
        bits = int(phashes[a] - phashes[b])
        pair = f"{a.relative_to(ROOT)} and {b.relative_to(ROOT)}"
        if split[sa] != split[sb] and ca == cb:
            closest = min(closest, (bits, pair))
            if bits <= NEAR_BITS:
                problems.append(f"near copy across splits ({bits} of 64 bits): {pair}")
        elif bits <= NEAR_BITS:
            near["within a style" if sa == sb else "same split, other style" if split[sa] ==
                 split[sb] else "across splits, different emoji"] += 1
    print(f"\nperceptual hashes: the same emoji across splits differs by >= {closest[0]} of 64 "
          f"bits ({closest[1]}); must be > {NEAR_BITS}")
    print(f"pairs within {NEAR_BITS} bits allowed (not the same drawing across a split): "
          + (", ".join(f"{k} {n}" for k, n in sorted(near.items())) or "none"))

    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
        order = list(emoji)
        for style, found in paths.items():
            sheet = Image.new("RGB", (66 * 16, 66 * (len(order) // 16 + 1)), (190, 190, 190))
            for i, code in enumerate(c for c in order if c in found):
                with Image.open(found[code]) as image:
                    sheet.paste(image.convert("RGB"), ((i % 16) * 66, (i // 16) * 66))
            sheet.save(args.sheets / f"{style}.png")
        print(f"\ncontact sheets in {args.sheets}")

    for problem in problems:
        print("PROBLEM:", problem)
    print("OK" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
