#!/usr/bin/env python3
"""Synthesises a 16 kHz test stream for voice activity detection with known speech segments.

Utterances spoken by espeak-ng (several languages, voices, speeds and pitches) are placed
between stretches of silence and of noise alone, at random levels, over a background of
white and brown noise at a random signal-to-noise ratio. Where the speech is comes from the
clean utterances themselves (10 ms frame energy within 35 dB of the utterance's loudest frame,
pauses shorter than 300 ms bridged, as a listener would mark it), so every sample of the
stream has a ground-truth label.

    /usr/bin/python3 tools/zoo/silero_vad_audio.py OUT_DIR --seconds 60 --seed 1

writes OUT_DIR/stream.npy (float32 [T], 16 kHz, within [-1, 1]) and OUT_DIR/segments.json
({"sample_rate": 16000, "samples": T, "speech": [[start, end), ...]} in samples). Needs
espeak-ng, python3-numpy and python3-scipy (Debian packages).
"""
import argparse
import io
import json
import os
import subprocess
import sys
import wave

import numpy as np
from scipy.signal import resample_poly

RATE = 16000
FRAME = RATE // 100            # 10 ms energy frames for the ground truth
ACTIVE_DB = 35.0               # frames within this of the loudest are speech
BRIDGE = int(0.3 * RATE)       # pauses shorter than this stay inside a segment
MIN_SEGMENT = int(0.1 * RATE)  # shorter blips are not speech

# (espeak-ng voice, sentences); every sentence here was written for this stream.
SENTENCES = [
    ("en-us", [
        "The morning train was late again, so we walked along the river instead.",
        "Please put the blue folder on the second shelf before you leave.",
        "Seven small boats drifted slowly past the old stone harbour.",
        "Could you tell me how far it is to the nearest library?",
        "We planted tomatoes, beans and a row of tall sunflowers this spring.",
        "The meeting starts at half past nine, right after the coffee break.",
        "Turn left at the bakery and keep going until you see the bridge.",
        "Her grandfather repaired clocks in a tiny shop near the market.",
    ]),
    ("en-gb", [
        "It rained all afternoon, and the garden finally looks green again.",
        "Remember to switch off the lights when you close the workshop.",
        "A quiet voice on the radio read out the evening weather forecast.",
        "Forty two people signed up for the cycling trip on Sunday.",
        "The kettle is boiling, would anyone like a cup of tea?",
    ]),
    ("de", [
        "Der Zug nach Hamburg fährt heute von einem anderen Gleis ab.",
        "Wir treffen uns morgen um acht Uhr vor dem Rathaus.",
        "Im Herbst sammeln die Kinder bunte Blätter im Park.",
    ]),
    ("fr-fr", [
        "Le marché du samedi ouvre très tôt sur la place du village.",
        "Nous avons visité un petit musée au bord de la mer.",
        "Il faut arroser les plantes deux fois par semaine.",
    ]),
    ("es", [
        "El autobús número doce pasa cada quince minutos por la plaza.",
        "Mañana vamos a preparar una sopa de verduras para todos.",
    ]),
    ("it", [
        "La biblioteca resta aperta fino alle sette di sera.",
        "Abbiamo comprato il pane fresco dal fornaio all'angolo.",
    ]),
    ("nl", ["De fietsen staan achter het station onder het grote dak."]),
]
VARIANTS = ["", "+m1", "+m3", "+f1", "+f2", "+f4", "+klatt", "+m7"]


def speak(text, voice, speed, pitch):
    """espeak-ng's rendering of `text` as float32 at 16 kHz."""
    try:
        wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                              "--stdout", text], check=True, capture_output=True).stdout
    except FileNotFoundError:
        sys.exit("silero_vad_audio: espeak-ng is not installed (apt-get install espeak-ng)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"silero_vad_audio: espeak-ng -v {voice} failed: {e.stderr.decode().strip()}")
    with wave.open(io.BytesIO(wav)) as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        frames = w.readframes(w.getnframes())
    if width != 2 or channels != 1:
        sys.exit(f"silero_vad_audio: espeak-ng wrote {channels} channel(s) of {8 * width}-bit audio")
    x = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    g = np.gcd(rate, RATE)
    return resample_poly(x, RATE // g, rate // g)


def active_segments(x):
    """[start, end) sample ranges where the clean utterance x is speech."""
    n = len(x) // FRAME
    if n == 0:
        return []
    rms = np.sqrt(np.mean(x[:n * FRAME].reshape(n, FRAME) ** 2, axis=1) + 1e-20)
    active = 20 * np.log10(rms / rms.max()) > -ACTIVE_DB
    segs = []
    for i in np.flatnonzero(active):
        start, end = i * FRAME, (i + 1) * FRAME
        if segs and start - segs[-1][1] < BRIDGE:
            segs[-1][1] = end
        else:
            segs.append([start, end])
    return [s for s in segs if s[1] - s[0] >= MIN_SEGMENT]


def brown_noise(rng, n):
    y = np.cumsum(rng.standard_normal(n))
    y -= np.convolve(y, np.ones(801) / 801, mode="same")  # keep it from wandering off
    return y / (np.std(y) + 1e-12)


def build_stream(seconds, seed):
    rng = np.random.default_rng(seed)
    pieces, speech = [], []
    pos = 0
    total = int(seconds * RATE)
    utterances = [(voice, s) for voice, group in SENTENCES for s in group]
    order = rng.permutation(len(utterances))
    k = 0
    while pos < total:
        # A gap: silence, or noise alone (non-speech the detector must reject).
        gap = int(rng.uniform(0.8, 3.5) * RATE)
        g = np.zeros(gap)
        if rng.random() < 0.4:
            kind = rng.integers(3)
            burst = (rng.standard_normal(gap) if kind == 0 else brown_noise(rng, gap) if kind == 1
                     else np.sin(2 * np.pi * rng.uniform(50, 400) * np.arange(gap) / RATE))
            ramp = np.minimum(1, np.minimum(np.arange(gap), np.arange(gap)[::-1]) / (0.02 * RATE))
            g = burst * ramp * 10 ** (rng.uniform(-40, -18) / 20)
        pieces.append(g)
        pos += gap
        if pos >= total:
            break
        voice, text = utterances[order[k % len(order)]]
        k += 1
        variant = VARIANTS[rng.integers(len(VARIANTS))]
        u = speak(text, voice + variant, int(rng.integers(120, 200)), int(rng.integers(25, 75)))
        u *= rng.uniform(0.15, 0.8) / (np.abs(u).max() + 1e-12)
        for s, e in active_segments(u):
            speech.append([pos + s, pos + e])
        pieces.append(u)
        pos += len(u)
    x = np.concatenate(pieces)[:total]
    speech = [[int(s), int(min(e, total))] for s, e in speech if s < total]
    # Background noise over everything at a random level below the speech.
    speech_rms = np.sqrt(np.mean(np.concatenate([x[s:e] for s, e in speech]) ** 2)) if speech else 0.1
    snr_db = rng.uniform(8, 30)
    noise = 0.5 * rng.standard_normal(total) + 0.5 * brown_noise(rng, total)
    x = x + noise * speech_rms * 10 ** (-snr_db / 20) / (np.std(noise) + 1e-12)
    x /= max(1.0, np.abs(x).max() / 0.99)
    return x.astype(np.float32), speech, snr_db


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.seconds <= 0:
        sys.exit("silero_vad_audio: --seconds must be positive")
    os.makedirs(a.out_dir, exist_ok=True)
    x, speech, snr_db = build_stream(a.seconds, a.seed)
    np.save(os.path.join(a.out_dir, "stream.npy"), x)
    with open(os.path.join(a.out_dir, "segments.json"), "w") as f:
        json.dump({"sample_rate": RATE, "samples": len(x), "seed": a.seed,
                   "snr_db": round(snr_db, 2), "speech": speech}, f)
        f.write("\n")
    share = sum(e - s for s, e in speech) / len(x)
    print(f"{a.out_dir}: {len(x) / RATE:.1f} s, {len(speech)} speech segments "
          f"({100 * share:.0f}% speech), background at {snr_db:.1f} dB SNR")


if __name__ == "__main__":
    main()
