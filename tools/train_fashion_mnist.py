#!/usr/bin/python3
"""Train the bundled Fashion-MNIST example models and export them to ONNX.

Produces <out>/{lenet,resnet,vit}.onnx and <out>/reference.json holding the
fp32 accuracy of each model and the accuracy of a PyTorch int8 peer (the
baseline qtune is compared against).

Usage:
    /usr/bin/python3 tools/train_fashion_mnist.py --out models/fashion_mnist
"""

import argparse
import datetime
import gzip
import json
import math
import os
import sys
import time

# Busy-waiting OpenMP workers collapse throughput when the cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530
SEED = 20240601
OPSET = 13
CALIB_IMAGES = 1000

# Exactly the ops the qtune C++ runtime implements.
ALLOWED_OPS = {
    "Conv", "Gemm", "MatMul", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh",
    "Erf", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "MaxPool", "AveragePool",
    "GlobalAveragePool", "BatchNormalization", "LayerNormalization", "Softmax",
    "ReduceMean", "Flatten", "Reshape", "Transpose", "Concat", "Gather",
    "Shape", "Unsqueeze", "Squeeze", "Slice", "Cast", "Constant", "Identity",
    "Where",
}

# Default epochs, sized so each model trains in under ~4 minutes on 2 cores.
DEFAULT_EPOCHS = {"lenet": 8, "resnet": 5, "vit": 8}
LEARNING_RATE = {"lenet": 2e-3, "resnet": 3e-3, "vit": 2e-3}


# ---------------------------------------------------------------- data

def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte payload
        raise ValueError(f"{path}: unsupported IDX magic {magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def preprocess(images_u8):
    # Must match examples/fashion_mnist/*.yaml; computed in float32 throughout.
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(np.ascontiguousarray(x[:, None, :, :]))


def load_split(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return preprocess(images), torch.from_numpy(labels.astype(np.int64))


# ---------------------------------------------------------------- models

class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)    # 24x24 -> pool -> 12x12
        self.conv2 = nn.Conv2d(16, 32, 5)   # 8x8 -> pool -> 4x4
        self.fc1 = nn.Linear(32 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + identity)


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        # Strided stem: a full-resolution stage would triple training time.
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU())
        self.layer1 = BasicBlock(widths[0], widths[0], 1)   # 14x14
        self.layer2 = BasicBlock(widths[0], widths[1], 2)   # 7x7
        self.layer3 = BasicBlock(widths[1], widths[2], 2)   # 4x4
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class Attention(nn.Module):
    def __init__(self, dim, heads, tokens):
        super().__init__()
        self.dim, self.heads, self.tokens = dim, heads, tokens
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        # Fixed token/head sizes with -1 for batch keep Reshape shapes constant
        # (no Shape/ConstantOfShape subgraphs in the export).
        qkv = self.qkv(x).reshape(-1, self.tokens, 3, self.heads, self.head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2)
        out = out.reshape(-1, self.tokens, self.dim)
        return self.proj(out)


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads, mlp, tokens):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, tokens)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.fc2(self.act(self.fc1(self.norm2(x))))
        return x


class TinyViT(nn.Module):
    def __init__(self, dim=64, heads=4, mlp=128, depth=2, patch=7):
        super().__init__()
        self.dim = dim
        self.tokens = (28 // patch) ** 2
        self.patch_embed = nn.Conv2d(1, dim, patch, patch)
        self.pos = nn.Parameter(torch.zeros(1, self.tokens, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(
            *[EncoderBlock(dim, heads, mlp, self.tokens) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch_embed(x)                            # [N, D, 4, 4]
        x = x.reshape(-1, self.dim, self.tokens).transpose(1, 2)
        x = x + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


MODELS = {"lenet": LeNet, "resnet": ResNet, "vit": TinyViT}


# ---------------------------------------------------------------- training

def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            pred = model(x[i:i + batch]).argmax(dim=1)
            correct += int((pred == y[i:i + batch]).sum())
    return correct


def train(name, model, x, y, xt, yt, epochs, batch=128):
    gen = torch.Generator().manual_seed(SEED)
    steps = epochs * math.ceil(len(x) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE[name],
                            weight_decay=0.05 if name == "vit" else 1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=LEARNING_RATE[name], total_steps=steps, pct_start=0.15)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x), generator=gen)
        total_loss = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            # Horizontal flips are label-preserving for clothing images.
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * len(idx)
        acc = 100.0 * evaluate(model, xt, yt) / len(xt)
        print(f"[{name}] epoch {epoch + 1}/{epochs} loss "
              f"{total_loss / len(x):.4f} test {acc:.2f}% "
              f"({time.time() - t0:.1f}s)", flush=True)


# ---------------------------------------------------------------- export

def inline_initializer_identities(m):
    """Replace `Identity(initializer)` nodes with a copy of the initializer.

    The exporter deduplicates equal parameters (e.g. the two BatchNorm biases
    of a residual Add, which get identical gradients) through Identity nodes;
    keeping every weight a plain initializer makes the graph easier to consume.
    """
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            m.graph.initializer.append(copy)
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)


def export_onnx(name, model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    # BatchNormalization must stay a separate op. TrainingMode.EVAL runs a
    # peephole pass that fuses it into Conv even without constant folding;
    # PRESERVE on an eval-mode model exports the same inference graph unfused.
    torch.onnx.export(
        model, dummy, path, opset_version=OPSET,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    inline_initializer_identities(m)
    onnx.save(m, path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    bad = sorted(set(ops) - ALLOWED_OPS)
    if bad:
        raise SystemExit(f"error: {name}.onnx uses unsupported ops: {bad}")
    if name == "resnet" and "BatchNormalization" not in ops:
        raise SystemExit("error: resnet.onnx lost its BatchNormalization nodes")
    if name == "resnet" and not {"GlobalAveragePool", "ReduceMean"} & set(ops):
        raise SystemExit("error: resnet.onnx has no GlobalAveragePool/ReduceMean")
    inp, out = m.graph.input[0], m.graph.output[0]
    assert inp.name == "input" and out.name == "logits"
    assert inp.type.tensor_type.shape.dim[0].dim_param == "N"
    assert out.type.tensor_type.shape.dim[0].dim_param == "N"
    return ops


def _attr(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("grouped/dilated Conv")
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    sh, sw = a.get("strides", [1, 1])
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - kh) // sh + 1
    ow = (wd + pl + pr - kw) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    y = np.tensordot(w.reshape(m, -1), cols.reshape(n, -1, oh * ow), axes=([1], [1]))
    y = y.transpose(1, 0, 2).reshape(n, m, oh, ow)
    return y if b is None else y + b[None, :, None, None]


def run_onnx_numpy(m, x):
    """Tiny reference interpreter for the ops the bundled models use.

    Lets the script confirm the exported graphs reproduce the PyTorch logits
    without depending on an ONNX runtime.
    """
    env = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    env[m.graph.input[0].name] = x
    erf = np.vectorize(math.erf, otypes=[np.float32])
    for node in m.graph.node:
        a, op = _attr(node), node.op_type
        i = [env[n] if n else None for n in node.input]
        if op == "Constant":
            y = onnx.numpy_helper.to_array(a["value"])
        elif op == "Conv":
            y = _conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "Gemm":
            aa = i[0].T if a.get("transA", 0) else i[0]
            bb = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (aa @ bb)
            if len(i) > 2:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            y = np.matmul(i[0], i[1])
        elif op == "BatchNormalization":
            xx, sc, bi, mu, var = i
            shp = (1, -1) + (1,) * (xx.ndim - 2)
            y = (xx - mu.reshape(shp)) / np.sqrt(var.reshape(shp) + a["epsilon"])
            y = y * sc.reshape(shp) + bi.reshape(shp)
        elif op == "MaxPool":
            kh, kw = a["kernel_shape"]
            sh, sw = a.get("strides", [1, 1])
            if any(a.get("pads", [0])):
                raise NotImplementedError("padded MaxPool")
            n, c, h, w = i[0].shape
            oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
            y = np.full((n, c, oh, ow), -np.inf, dtype=i[0].dtype)
            for p in range(kh):
                for q in range(kw):
                    y = np.maximum(y, i[0][:, :, p:p + sh * oh:sh, q:q + sw * ow:sw])
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "ReduceMean":
            y = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1])]
            y = i[0].reshape(shape)
        elif op == "Transpose":
            y = i[0].transpose(a["perm"])
        elif op == "Gather":
            y = np.take(i[0], i[1], axis=a.get("axis", 0))
        elif op == "Softmax":
            e = np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
            y = e / e.sum(axis=a.get("axis", -1), keepdims=True)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Erf":
            y = erf(i[0])
        elif op == "Sqrt":
            y = np.sqrt(i[0])
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide, "Pow": np.power}[op]
            y = f(i[0], i[1])
        elif op == "Identity":
            y = i[0]
        else:
            raise NotImplementedError(op)
        y = np.asarray(y)
        env[node.output[0]] = y.astype(np.float32) if y.dtype == np.float64 else y
    return env[m.graph.output[0].name]


def check_onnx_matches(name, model, path, x):
    with torch.no_grad():
        want = model(x).numpy()
    got = run_onnx_numpy(onnx.load(path), x.numpy())
    err = float(np.abs(got - want).max())
    agree = float((got.argmax(1) == want.argmax(1)).mean())
    if err > 1e-3 or agree < 1.0:
        raise SystemExit(f"error: {name}.onnx disagrees with PyTorch "
                         f"(max |diff| {err:.2e}, top-1 agreement {agree:.3f})")
    return err


# ---------------------------------------------------------------- int8 peer

def pick_engine():
    for engine in ("onednn", "x86", "fbgemm"):
        if engine in torch.backends.quantized.supported_engines:
            return engine
    raise SystemExit("error: no x86 quantized engine available")


def int8_peer(name, model, x_calib, xt, yt):
    import copy
    from torch.ao.quantization import get_default_qconfig_mapping, quantize_dynamic
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    engine = pick_engine()
    torch.backends.quantized.engine = engine
    model = copy.deepcopy(model).eval()
    if name == "vit":
        qmodel = quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        method, calib = "dynamic_linear", 0
    else:
        qmapping = get_default_qconfig_mapping(engine)
        prepared = prepare_fx(model, qmapping, (x_calib[:1],))
        with torch.no_grad():
            for i in range(0, len(x_calib), 100):
                prepared(x_calib[i:i + 100])
        qmodel = convert_fx(prepared)
        method, calib = "static_fx", len(x_calib)
    correct = evaluate(qmodel, xt, yt)
    return {
        "method": method,
        "engine": engine,
        "calibration_images": calib,
        "accuracy": round(100.0 * correct / len(xt), 2),
        "correct": correct,
    }


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="models/fashion_mnist")
    ap.add_argument("--models", default="lenet,resnet,vit")
    ap.add_argument("--epochs", default="",
                    help="N for all models, or name=N,... per model")
    args = ap.parse_args()

    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in MODELS:
            ap.error(f"unknown model {n!r}")
    epochs = dict(DEFAULT_EPOCHS)
    if args.epochs:
        for item in args.epochs.split(","):
            if "=" in item:
                k, v = item.split("=")
                epochs[k] = int(v)
            else:
                epochs = {k: int(item) for k in epochs}

    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    x, y = load_split("train")
    xt, yt = load_split("test")
    x_calib = x[:CALIB_IMAGES]

    ref_path = os.path.join(args.out, "reference.json")
    ref = {}
    if os.path.exists(ref_path):
        with open(ref_path) as f:
            ref = json.load(f)
    ref["dataset"] = "fashion-mnist"
    ref["preprocess"] = {
        "scale": 1.0 / 255.0, "mean": [MEAN], "std": [STD], "layout": "NCHW",
    }
    ref.setdefault("models", {})

    for name in names:
        torch.manual_seed(SEED)
        np.random.seed(SEED)
        model = MODELS[name]()
        t0, c0 = time.time(), time.process_time()
        train(name, model, x, y, xt, yt, epochs[name])
        train_s, train_cpu = time.time() - t0, time.process_time() - c0
        model.eval()
        correct = evaluate(model, xt, yt)
        onnx_path = os.path.join(args.out, f"{name}.onnx")
        ops = export_onnx(name, model, onnx_path)
        onnx_err = check_onnx_matches(name, model, onnx_path, xt[:200])
        peer = int8_peer(name, model, x_calib, xt, yt)
        ref["models"][name] = {
            "file": f"{name}.onnx",
            "accuracy": round(100.0 * correct / len(xt), 2),
            "correct": correct,
            "test_images": len(xt),
            "int8_peer": peer,
            "parameters": sum(p.numel() for p in model.parameters()),
            "epochs": epochs[name],
            "train_seconds": round(train_s, 1),
            "train_cpu_seconds": round(train_cpu, 1),
            "onnx_opset": OPSET,
            "onnx_ops": ops,
            "onnx_vs_torch_max_abs_diff": float(f"{onnx_err:.3g}"),
            "seed": SEED,
        }
        print(f"[{name}] fp32 {ref['models'][name]['accuracy']:.2f}% "
              f"int8 ({peer['method']}, {peer['engine']}) {peer['accuracy']:.2f}% "
              f"ops {ops} train {train_s:.0f}s", flush=True)

    ref["torch_version"] = torch.__version__
    ref["onnx_version"] = onnx.__version__
    ref["date"] = datetime.date.today().isoformat()
    with open(ref_path, "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
