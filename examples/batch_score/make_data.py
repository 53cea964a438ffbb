"""Makes the example's data: N small grey-scale PGM images and a model folder.

    python3 make_data.py [N [DIR]]   (default 2000 into the current folder:
                                      writes DIR/images and DIR/model)
"""
import json
import os
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
here = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
rng = random.Random(42)
for i in range(n):
    folder = os.path.join(here, "images", "batch%02d" % (i // 500))
    os.makedirs(folder, exist_ok=True)
    level = rng.randrange(256)
    pixels = bytes(min(255, max(0, level + rng.randrange(-20, 21))) for _ in range(16 * 16))
    with open(os.path.join(folder, "img%05d.pgm" % i), "wb") as f:
        f.write(b"P5 16 16 255\n" + pixels)
os.makedirs(os.path.join(here, "model"), exist_ok=True)
with open(os.path.join(here, "model", "model.json"), "w") as f:
    json.dump({"name": "brightness-v1", "weight": 1.0, "bias": 0.0}, f)
print("made %d images in %s/images and a model in %s/model" % (n, here, here))
