"""Read the emoji sets of `emotions_sources.py` from their npm tarballs and draw 64x64 images.

Every image becomes a 64x64 RGBA PNG whose colours are matted on white (see `matte_on_white`),
so a plain `.convert('RGB')` shows the face on white, never on black.
"""

import io
import json
import subprocess
import tarfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

from emotions_emoji import EMOJI, emoji_key
from emotions_sources import OLD_NAMES, FontSet, IconifySet, ImageSet

SIZE = 64


def npm_pack(package: str, version: str, dest: Path) -> Path:
    """Download one npm package tarball into `dest` and return its path."""
    result = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--pack-destination", str(dest), "--json"],
        check=True, capture_output=True, text=True,
    )
    return dest / json.loads(result.stdout)[0]["filename"]


def read_image_set(source: ImageSet, tarball: Path) -> dict[str, bytes]:
    """Return the raster file of each wanted emoji, keyed by `emoji_key`."""
    wanted = {emoji_key(e.code) for e in EMOJI}
    found = {}
    with tarfile.open(tarball) as tar:
        for member in tar:
            name = member.name
            if not (name.startswith(source.image_dir) and name.endswith(source.suffix)):
                continue
            stem = name.removeprefix(source.image_dir).removesuffix(source.suffix)
            if "/" not in stem and emoji_key(stem) in wanted:
                found.setdefault(emoji_key(stem), {})[name] = tar.extractfile(member).read()
    return {key: files[min(files)] for key, files in found.items()}


def icon_svg(icons: dict, name: str) -> str | None:
    """Return icon `name` of an Iconify JSON set as a standalone SVG document, or None."""
    icon = icons["icons"].get(name)
    alias = icons.get("aliases", {}).get(name)
    if icon is None and alias is not None and set(alias) == {"parent"}:
        icon = icons["icons"].get(alias["parent"])
    if icon is None:
        return None
    box = [icon.get(k, icons.get(k, d)) for k, d in
           (("left", 0), ("top", 0), ("width", 16), ("height", 16))]
    return ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{" ".join(map(str, box))}">{icon["body"]}</svg>')


def icon_names(source: IconifySet, code: str, chars: dict) -> list[str]:
    """Return the icon names to try, best first, for one emoji of an Iconify set."""
    if source.only_names:
        return [source.names[code]] if code in source.names else []
    slug = next(e.name for e in EMOJI if e.code == code).replace(" ", "-").replace(":", "")
    names = [source.names.get(code), chars.get(code), chars.get(emoji_key(code)), slug]
    names += OLD_NAMES.get(code, [])
    if "cat" in slug:  # older CLDR names: 'grinning cat face', 'crying cat face', ...
        names += [slug.replace("cat", "cat-face", 1), slug + "-face"]
    names += [n + "-1" for n in names if n]  # sets with several drawings number them
    return [n for n in names if n]


def read_iconify_set(source: IconifySet, tarball: Path) -> tuple[dict[str, str], dict]:
    """Return the SVG of each wanted emoji (keyed by `emoji_key`) and the set's info.json."""
    with tarfile.open(tarball) as tar:
        icons = json.load(tar.extractfile("package/icons.json"))
        info = json.load(tar.extractfile("package/info.json"))
        chars = {code: name for code, name in
                 json.load(tar.extractfile("package/chars.json")).items()}
    if info["license"]["spdx"] != source.licence:
        raise SystemExit(f"{source.package}: licence is {info['license']['spdx']}, "
                         f"expected {source.licence}")
    found = {}
    for emoji in EMOJI:
        for name in icon_names(source, emoji.code, chars):
            svg = icon_svg(icons, name)
            if svg is not None:
                found[emoji_key(emoji.code)] = svg
                break
    return found, info


def parse_ranges(spec: str) -> set[int]:
    """Return the code points of a CSS unicode-range such as 'U+200d,U+1f600-1f644'."""
    points = set()
    for part in spec.split(","):
        first, _, last = part.strip().removeprefix("U+").partition("-")
        points |= set(range(int(first, 16), int(last or first, 16) + 1))
    return points


def draw_glyph(font_data: bytes, text: str) -> bytes:
    """Return a SIZE x SIZE RGBA PNG of `text` drawn in black, centred, filling ~94% of it."""
    font = ImageFont.truetype(io.BytesIO(font_data), 4 * SIZE)
    canvas = Image.new("L", (8 * SIZE, 8 * SIZE), 0)
    ImageDraw.Draw(canvas).text((4 * SIZE, 4 * SIZE), text, font=font, fill=255, anchor="mm")
    left, top, right, bottom = canvas.getbbox()
    side = max(right - left, bottom - top)
    square = Image.new("L", (side, side), 0)
    square.paste(canvas.crop((left, top, right, bottom)),
                 ((side - (right - left)) // 2, (side - (bottom - top)) // 2))
    inner = round(SIZE * 0.94)
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(square.resize((inner, inner), Image.Resampling.LANCZOS), ((SIZE - inner) // 2,) * 2)
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    image.putalpha(mask)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def read_font_set(source: FontSet, tarball: Path) -> dict[str, bytes]:
    """Return a drawing of each wanted emoji the font covers, keyed by `emoji_key`."""
    with tarfile.open(tarball) as tar:
        ranges = json.load(tar.extractfile("package/unicode.json"))
        fonts = {}
        for subset, spec in ranges.items():
            name = f"package/files/{source.package.split('/')[1]}-{subset.strip('[]')}-" \
                   f"{source.weight}-normal.woff"
            fonts[name] = (parse_ranges(spec), tar.extractfile(name).read())
    found = {}
    for emoji in EMOJI:
        points = [int(p, 16) for p in emoji.code.split("-")]
        if 0x200D in points and not features.check("raqm"):
            continue  # without libraqm a ZWJ sequence would be drawn as separate glyphs
        for name in sorted(fonts):
            covered, data = fonts[name]
            if set(points) <= covered:
                found[emoji_key(emoji.code)] = draw_glyph(data, "".join(map(chr, points)))
                break
    return found


def matte_on_white(image: Image.Image) -> Image.Image:
    """Return an RGBA copy whose colours are flattened on white and whose alpha is kept.

    A plain `.convert('RGB')` (what fastai and torchvision loaders do) then shows the face on
    white exactly, with no black background and no dark fringe at the anti-aliased edges.
    """
    rgba = image.convert("RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    flat.putalpha(rgba.getchannel("A"))
    return flat


def render(data: bytes | str) -> Image.Image:
    """Return a SIZE x SIZE RGBA image from raster bytes or an SVG document."""
    if isinstance(data, str):
        import cairosvg  # build-only dependency (tools/requirements-build.txt)

        png = cairosvg.svg2png(bytestring=data.encode(), output_width=SIZE, output_height=SIZE)
        with Image.open(io.BytesIO(png)) as image:
            rgba = image.convert("RGBA")
    else:
        with Image.open(io.BytesIO(data)) as image:
            rgba = image.convert("RGBA")
        if rgba.size != (SIZE, SIZE):
            rgba = rgba.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return matte_on_white(rgba)
