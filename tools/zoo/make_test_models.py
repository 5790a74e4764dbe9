#!/usr/bin/python3
"""Writes the reduced model zoo that the test suite runs without PyTorch (models/zoo/).

Small members of the zoo's families, exported as scripts/zoo.sh exports the full ones:
  mobilenet_v3_small_x0_5   torchvision MobileNetV3-Small at width 0.5, 100 classes (depthwise,
                            squeeze-excitation, HardSwish/HardSigmoid), opset 13
  shufflenet_v2_x0_5        torchvision ShuffleNetV2 x0.5, 100 classes (channel shuffle), opset 11
  char_lstm_small           byte-level LSTM text classifier trained on Debian's licence texts,
                            int64 token input, opset 13
Images are 128x128 crops of python3-skimage's photographs (resize 146, center crop 128), kept as
u8 NHWC so the data YAML's preprocessing (scale, ImageNet mean/std, NHWC->NCHW) is exercised.
For each model: NAME.onnx, and NAME/ref/{input_0,output_0}.npy (PyTorch's outputs).

    /usr/bin/python3 tools/zoo/make_test_models.py --images build/zoo/images --out models/zoo
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.models import mobilenetv3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as zoo  # noqa: E402

SIDE = 128


def u8_images(folder, count):
    import torchvision.transforms as T
    tf = T.Compose([T.Resize(146), T.CenterCrop(SIDE)])
    files = sorted(glob.glob(os.path.join(folder, "*.png")))[:count]
    return np.stack([np.asarray(tf(Image.open(f).convert("RGB")), dtype=np.uint8) for f in files])


def preprocess(u8):
    """What the data YAML says: v/255, ImageNet mean/std per channel, NHWC -> NCHW, in f32."""
    x = u8.astype(np.float32) * np.float32(1 / 255)
    x = (x - np.array(zoo.IMAGENET_MEAN, np.float32)) / np.array(zoo.IMAGENET_STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


def mobilenet_v3_small_x0_5():
    setting, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5)
    return mobilenetv3.MobileNetV3(setting, last, num_classes=100)


def export_image_model(name, model, opset, calib, ref_in, out):
    zoo.gather_batchnorm_statistics(model, calib)
    path = os.path.join(out, f"{name}.onnx")
    zoo.export(model, name, "image", opset, ref_in, path)
    return model


def save_ref(out, name, ref_in, model):
    ref = os.path.join(out, name, "ref")
    os.makedirs(ref, exist_ok=True)
    with torch.no_grad():
        y = model(torch.from_numpy(ref_in)).numpy()
    np.save(os.path.join(ref, "input_0.npy"), ref_in)
    np.save(os.path.join(ref, "output_0.npy"), y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data = os.path.join(args.out, "data")
    os.makedirs(data, exist_ok=True)
    calib_u8 = u8_images(os.path.join(args.images, "calib"), 16)
    eval_u8 = u8_images(os.path.join(args.images, "eval"), 24)
    np.save(os.path.join(data, "images128_calib_u8.npy"), calib_u8)
    np.save(os.path.join(data, "images128_eval_u8.npy"), eval_u8)
    calib, ref_in = preprocess(calib_u8), preprocess(eval_u8[:4])

    torch.manual_seed(0)
    builders = {"mobilenet_v3_small_x0_5": (mobilenet_v3_small_x0_5, 13),
                "shufflenet_v2_x0_5": (lambda: torchvision.models.shufflenet_v2_x0_5(
                    weights=None, num_classes=100), 11)}
    for name, (builder, opset) in builders.items():
        torch.manual_seed(0)
        model = export_image_model(name, builder().eval(), opset, calib, ref_in, args.out)
        save_ref(args.out, name, ref_in, model)

    torch.manual_seed(0)
    text = zoo.text_data(os.path.join(data, "text64_tmp"))
    model = zoo.CharRNN("lstm", int(text["train_labels"].max()) + 1)
    trained = zoo.train_text_model(model, text)
    name = "char_lstm_small"
    zoo.export(model, name, "text64", 13, text["eval"][:4], os.path.join(args.out, f"{name}.onnx"))
    save_ref(args.out, name, text["eval"][:4], model)
    np.save(os.path.join(data, "text64_calib.npy"), text["calib"][:32])
    np.save(os.path.join(data, "text64_eval.npy"), text["eval"][:64])
    np.save(os.path.join(data, "text64_eval_labels.npy"), text["eval_labels"][:64])
    for f in glob.glob(os.path.join(data, "text64_tmp", "*")):
        os.remove(f)
    os.rmdir(os.path.join(data, "text64_tmp"))
    with open(os.path.join(args.out, "char_lstm_small", "trained.json"), "w") as f:
        json.dump({"eval_top1_after_training": trained}, f)
    print(f"make_test_models: wrote {args.out} (char_lstm_small eval top-1 {trained:.1f}%)")


if __name__ == "__main__":
    main()
