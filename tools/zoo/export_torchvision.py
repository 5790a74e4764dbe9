#!/usr/bin/python3
"""Exports the model zoo's PyTorch models to ONNX, with their data and PyTorch reference outputs.

Architectures come from Debian's python3-torchvision; no pretrained weights can be downloaded
here, so each model is initialised from a fixed seed and its BatchNorm running statistics are
gathered in train mode on the calibration images (so activations have realistic ranges). The
character-level LSTM/GRU classifiers are trained for a few hundred steps on real text (which
licence a 64-byte window comes from).

For every row NAME at opset V this writes, under OUT:
  NAME-opsetV/model.onnx          dynamic batch (and dynamic height/width for segmentation)
  NAME-opsetV/row.json            {name, opset, model, data, metric, ...} for scripts/zoo.sh
  data/KIND/{calib,eval}.npy      the preprocessed inputs, shared by rows of the same kind
  NAME-opsetV/ref/input_0.npy     a few evaluation samples ...
  NAME-opsetV/ref/output_0.npy    ... and PyTorch's outputs on them

    /usr/bin/python3 tools/zoo/export_torchvision.py --images build/zoo/images --out build/zoo \
        [NAME ...]
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
REFERENCE_SAMPLES = 8


def small_vit():
    # ViT-Tiny's shape (DeiT-Ti: 12 heads of 64 would be 192 wide): 6 layers keep it quick.
    model = torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=6,
                                                 num_heads=3, hidden_dim=192, mlp_dim=768)
    # torchvision starts the classifier at zero (for fine-tuning), which would make a seeded
    # model's output constant; give it the small random weights a trained head would have.
    nn.init.normal_(model.heads.head.weight, std=0.02)
    return model


class SegmentationOut(nn.Module):
    """torchvision's segmentation models return a dict; ONNX export wants the tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class CharRNN(nn.Module):
    """Byte-level text classifier: Embedding -> 2-layer bidirectional LSTM/GRU -> mean -> Linear."""

    def __init__(self, cell, classes):
        super().__init__()
        self.embed = nn.Embedding(256, 48)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(48, 96, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(192, classes)

    def forward(self, tokens):
        h, _ = self.rnn(self.embed(tokens))
        return self.head(h.mean(dim=1))


def tv(name, **kw):
    return lambda: getattr(torchvision.models, name)(weights=None, **kw)


def seg(name):
    return lambda: SegmentationOut(getattr(torchvision.models.segmentation, name)(
        weights=None, weights_backbone=None, aux_loss=None))


# name -> (builder, data kind, opsets)
MODELS = {
    "resnet18": (tv("resnet18"), "image224", [11, 13, 17]),
    "mobilenet_v2": (tv("mobilenet_v2"), "image224", [13]),
    "mobilenet_v3_small": (tv("mobilenet_v3_small"), "image224", [13, 17]),
    "efficientnet_b0": (tv("efficientnet_b0"), "image224", [13]),
    "shufflenet_v2_x1_0": (tv("shufflenet_v2_x1_0"), "image224", [11, 13]),
    "squeezenet1_1": (tv("squeezenet1_1"), "image224", [11, 13]),
    "googlenet": (tv("googlenet", aux_logits=False, init_weights=True), "image224", [13]),
    "densenet121": (tv("densenet121"), "image224", [13]),
    "regnet_y_400mf": (tv("regnet_y_400mf"), "image224", [13]),
    "convnext_tiny": (tv("convnext_tiny"), "image224", [13, 17]),
    "vit_tiny": (small_vit, "image224", [13, 17]),
    "lraspp_mobilenet_v3": (seg("lraspp_mobilenet_v3_large"), "image224", [13]),
    "deeplabv3_mobilenet_v3": (seg("deeplabv3_mobilenet_v3_large"), "image224", [11]),
    "char_lstm": (lambda: CharRNN("lstm", len(glob.glob("/usr/share/common-licenses/*"))),
                  "text64", [13]),
    "char_gru": (lambda: CharRNN("gru", len(glob.glob("/usr/share/common-licenses/*"))),
                 "text64", [13]),
}
SEGMENTATION = {"lraspp_mobilenet_v3", "deeplabv3_mobilenet_v3"}


def log(msg):
    print(f"export: {msg}", flush=True)


# ---- data ---------------------------------------------------------------------------------------

def image_tensor(path):
    """torchvision's evaluation transform: Resize(256), CenterCrop(224), ToTensor, Normalize."""
    import torchvision.transforms as T
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    with Image.open(path) as im:
        return tf(im.convert("RGB"))


def image_data(images_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for split in ("calib", "eval"):
        target = os.path.join(out_dir, f"{split}.npy")
        if os.path.exists(target):
            continue
        files = sorted(glob.glob(os.path.join(images_dir, split, "*.png")))
        if not files:
            sys.exit(f"export: no images under {images_dir}/{split}; run tools/zoo/make_images.py")
        np.save(target, torch.stack([image_tensor(f) for f in files]).numpy())
    return {s: np.load(os.path.join(out_dir, f"{s}.npy")) for s in ("calib", "eval")}


def text_windows(width=64):
    """64-byte windows of Debian's licence texts, labelled with the licence they come from."""
    files = sorted(glob.glob("/usr/share/common-licenses/*"))
    windows, labels = [], []
    for label, path in enumerate(files):
        data = open(path, "rb").read()
        for start in range(0, len(data) - width, width):
            windows.append(np.frombuffer(data[start:start + width], dtype=np.uint8))
            labels.append(label)
    x = np.stack(windows).astype(np.int64)
    y = np.array(labels, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], y[order]


def text_data(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    x, y = text_windows()
    splits = {"eval": (x[:256], y[:256]), "calib": (x[256:384], y[256:384]),
              "train": (x[384:], y[384:])}
    for split, (xs, ys) in splits.items():
        np.save(os.path.join(out_dir, f"{split}.npy"), xs)
        np.save(os.path.join(out_dir, f"{split}_labels.npy"), ys)
    return {s: v[0] for s, v in splits.items()} | {"train_labels": splits["train"][1],
                                                     "eval_labels": splits["eval"][1]}


# ---- models -------------------------------------------------------------------------------------

def gather_batchnorm_statistics(model, calib):
    """Running mean/var as the cumulative average over the calibration images, in train mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for start in range(0, len(calib), 16):
            model(torch.from_numpy(calib[start:start + 16]))
    model.eval()


def train_text_model(model, data, steps=300):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.from_numpy(data["train"]), torch.from_numpy(data["train_labels"])
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(data["eval"])).argmax(1).numpy()
    return float((pred == data["eval_labels"]).mean() * 100)


def build(name, data):
    builder, kind, _ = MODELS[name]
    torch.manual_seed(0)
    model = builder().eval()
    extra = {}
    if kind == "text64":
        extra["trained_top1"] = train_text_model(model, data)
    else:
        gather_batchnorm_statistics(model, data["calib"])
    return model, extra


def export(model, name, kind, opset, sample, path):
    dyn = {0: "batch"}
    if name in SEGMENTATION:
        dyn = {0: "batch", 2: "height", 3: "width"}
    out_dyn = dyn if name in SEGMENTATION else {0: "batch"}
    torch.onnx.export(model, (torch.from_numpy(sample),), path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": dyn, "output": out_dyn}, do_constant_folding=True)


def write_row(out, name, opset, model, data, kind, extra, data_dir):
    row_dir = os.path.join(out, f"{name}-opset{opset}")
    ref_dir = os.path.join(row_dir, "ref")
    os.makedirs(ref_dir, exist_ok=True)
    path = os.path.join(row_dir, "model.onnx")
    ref_in = data["eval"][:REFERENCE_SAMPLES]
    export(model, name, kind, opset, ref_in, path)
    with torch.no_grad():
        ref_out = model(torch.from_numpy(ref_in)).numpy()
    np.save(os.path.join(ref_dir, "input_0.npy"), ref_in)
    np.save(os.path.join(ref_dir, "output_0.npy"), ref_out)
    if name in SEGMENTATION:  # a second spatial size checks the dynamic height/width
        other = os.path.join(row_dir, "ref_other_size")
        os.makedirs(other, exist_ok=True)
        x = torch.nn.functional.interpolate(torch.from_numpy(ref_in[:2]), size=(160, 256),
                                            mode="bilinear", align_corners=False).numpy()
        with torch.no_grad():
            np.save(os.path.join(other, "output_0.npy"), model(torch.from_numpy(x)).numpy())
        np.save(os.path.join(other, "input_0.npy"), x)
    row = {"name": name, "opset": opset, "kind": kind, "model": os.path.abspath(path),
           "data": os.path.abspath(data_dir),
           "source": ("torchvision " + torchvision.__version__ if kind.startswith("image")
                      else "PyTorch " + torch.__version__ + ", trained here")}
    row.update(extra)
    with open(os.path.join(row_dir, "row.json"), "w") as f:
        json.dump(row, f, indent=1)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="folder written by make_images.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("names", nargs="*", help=f"models to export (default all): {' '.join(MODELS)}")
    args = ap.parse_args()
    names = args.names or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"export: unknown model(s) {unknown}; known: {' '.join(MODELS)}")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cache = {}
    for name in names:
        _, kind, opsets = MODELS[name]
        data_dir = os.path.join(args.out, "data", kind)
        if kind not in cache:
            cache[kind] = (image_data(args.images, data_dir) if kind == "image224"
                           else text_data(data_dir))
        data = cache[kind]
        t0 = time.time()
        model, extra = build(name, data)
        for opset in opsets:
            write_row(args.out, name, opset, model, data, kind, extra, data_dir)
            log(f"{name} opset {opset}: {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
