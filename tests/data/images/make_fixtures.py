#!/usr/bin/python3
# Writes the image-folder test fixtures in this folder and the PIL/torchvision-style references
# the dataset tests compare against. Needs python3-pil and python3-numpy (Debian); the tests
# themselves only read the committed files. Run from anywhere: /usr/bin/python3 make_fixtures.py
import io
import os

import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
photos = os.path.join(here, "photos")
os.makedirs(os.path.join(photos, "more"), exist_ok=True)
os.makedirs(os.path.join(here, "corrupt"), exist_ok=True)


def scene(w, h, seed):
    """A smooth gradient with a few hard edges, so both resampling and JPEG have work to do."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                    (x + y) * 255 // max(w + h - 2, 1)], axis=-1).astype(np.int32)
    for _ in range(3):
        x0, y0 = rng.integers(0, w - 4), rng.integers(0, h - 4)
        img[y0:y0 + h // 3, x0:x0 + w // 3] = rng.integers(0, 256, 3)
    return img.clip(0, 255).astype(np.uint8)


Image.fromarray(scene(40, 30, 1)).save(os.path.join(photos, "a_landscape.jpg"), quality=90)
Image.fromarray(scene(30, 40, 2)).save(os.path.join(photos, "b_portrait.png"))
Image.fromarray(scene(36, 36, 3)[:, :, 1]).save(os.path.join(photos, "c_gray.jpg"), quality=85)
rgba = np.dstack([scene(33, 27, 4), np.full((27, 33), 128, np.uint8)])
Image.fromarray(rgba, "RGBA").save(os.path.join(photos, "d_alpha.png"))
Image.fromarray(scene(28, 28, 5)).convert("P", palette=Image.ADAPTIVE, colors=16).save(
    os.path.join(photos, "e_palette.PNG"))
Image.fromarray(scene(50, 20, 6)).save(os.path.join(photos, "more", "f_wide.jpeg"), quality=95)
with open(os.path.join(photos, "notes.txt"), "w") as f:
    f.write("not an image: the folder listing skips it\n")
with open(os.path.join(here, "labels.txt"), "w") as f:
    f.write("# file label\nb_portrait.png 1\na_landscape.jpg 0\nc_gray.jpg 2\n"
            "e_palette.PNG 4\nd_alpha.png 3\n")
with open(os.path.join(here, "labels_recursive.txt"), "w") as f:
    f.write("0\n1\n2\n3\n4\n5\n")

# A JPEG cut off in the middle of its entropy-coded data.
buf = io.BytesIO()
Image.fromarray(scene(32, 32, 7)).save(buf, "JPEG", quality=90)
with open(os.path.join(here, "corrupt", "truncated.jpg"), "wb") as f:
    f.write(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])


def resize_shorter(img, size):
    # torchvision.transforms.Resize(size) on a PIL image.
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), Image.BILINEAR)


def center_crop(img, size):
    # torchvision.transforms.CenterCrop(size) on a PIL image (no image here is smaller).
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def reference(mode, resize, crop):
    names = sorted(n for n in os.listdir(photos)
                   if n.lower().endswith((".jpg", ".jpeg", ".png")))
    out = []
    for n in names:
        img = Image.open(os.path.join(photos, n)).convert(mode)
        img = center_crop(resize_shorter(img, resize), crop)
        a = np.asarray(img, dtype=np.uint8)
        out.append(a if a.ndim == 3 else a[:, :, None])
    return np.stack(out)


# The u8 pixels torchvision's Resize(16) + CenterCrop(12) make of each photo (sorted by name),
# [N, 12, 12, C]: what the ToTensor/Normalize steps then turn into the model's input.
np.save(os.path.join(here, "reference_rgb_resize16_crop12.npy"), reference("RGB", 16, 12))
np.save(os.path.join(here, "reference_gray_resize20_crop14.npy"), reference("L", 20, 14))
