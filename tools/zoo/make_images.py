#!/usr/bin/python3
"""Writes the model zoo's image sets: crops of real photographs shipped by Debian packages.

No ImageNet can be downloaded here, so the calibration and evaluation sets are views of the
sample photographs in python3-skimage (astronaut, coffee, chelsea, rocket, motorcycle, ...):
each image is a random-resized crop (area 30-100%, aspect 3/4-4/3, optional mirror), saved as a
PNG at its natural resolution, so that the zoo's data YAML resizes and crops it the way
torchvision's evaluation transform does.

    /usr/bin/python3 tools/zoo/make_images.py --out build/zoo/images --calib 32 --eval 64
"""
import argparse
import math
import os
import random

from PIL import Image

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
# Photographs (not synthetic test patterns) at least 300 px on the shorter side.
PHOTOS = [
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
    "motorcycle_right.png", "hubble_deep_field.jpg", "ihc.png", "camera.png", "moon.png",
    "coins.png", "grass.png", "gravel.png", "brick.png", "cell.png", "clock_motion.png",
]


def load_photos():
    photos = []
    for name in PHOTOS:
        path = os.path.join(SKIMAGE_DATA, name)
        try:
            im = Image.open(path)
            im.load()
        except OSError as e:  # a truncated sample file is skipped, not fatal
            print(f"make_images: skipping {path}: {e}")
            continue
        photos.append((name.rsplit(".", 1)[0], im.convert("RGB")))
    if len(photos) < 8:
        raise SystemExit(f"make_images: only {len(photos)} photos under {SKIMAGE_DATA}; "
                         "install python3-skimage")
    return photos


def random_resized_crop(im, rng):
    w, h = im.size
    for _ in range(20):
        area = w * h * rng.uniform(0.3, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            crop = im.crop((x, y, x + cw, y + ch))
            return crop.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop
    return im


def write_set(photos, out_dir, count, seed):
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    for i in range(count):
        name, im = photos[i % len(photos)]
        random_resized_crop(im, rng).save(os.path.join(out_dir, f"{i:04d}_{name}.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=64)
    args = ap.parse_args()
    photos = load_photos()
    write_set(photos, os.path.join(args.out, "calib"), args.calib, seed=1)
    write_set(photos, os.path.join(args.out, "eval"), args.eval, seed=2)
    print(f"make_images: {args.calib} calibration and {args.eval} evaluation crops of "
          f"{len(photos)} photos in {args.out}")


if __name__ == "__main__":
    main()
