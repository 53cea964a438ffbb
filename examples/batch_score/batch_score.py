"""Entry script: scores PGM images with the 'model' in model.json.

The parallelrun / ParallelRunStep contract: init() once per worker process,
run(mini_batch) for each mini-batch (a list of file paths), returning one
element per item that succeeded; shutdown() at the end.
"""
import argparse
import json
import os

from azureml_user.parallel_run import EntryScript

model = None
out = None
args = None


def init():
    global model, out, args
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_path", required=True)
    parser.add_argument("--scored_dataset", required=True)
    parser.add_argument("--threshold", type=float, default=0.5)
    # parse_known_args: the script also sees parallelrun's own flags.
    args, _ = parser.parse_known_args()
    with open(os.path.join(args.model_path, "model.json")) as f:
        model = json.load(f)
    entry = EntryScript()
    os.makedirs(args.scored_dataset, exist_ok=True)
    # "w": a second run replaces this process's scores instead of adding to them.
    out = open(os.path.join(args.scored_dataset, "scores_%s.csv" % entry.agent_name), "w")
    entry.logger.info("model %s loaded, writing to %s", model["name"], out.name)


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5", "not a binary PGM: %s" % path
    return int(width), int(height), int(maxval), pixels


def run(mini_batch):
    results = []
    for path in mini_batch:
        width, height, maxval, pixels = read_pgm(path)
        brightness = sum(pixels) / (len(pixels) * maxval)
        score = model["weight"] * brightness + model["bias"]
        label = "bright" if score > args.threshold else "dark"
        out.write("%s,%.4f,%s\n" % (os.path.basename(path), score, label))
        results.append(label)
    out.flush()
    return results


def shutdown():
    if out:
        out.close()
