"""The pipeline's parallel step: a "model" per store (a linear trend of its
revenue over the weeks, by least squares), one store file per mini-batch."""
import argparse
import csv
import json
import os


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--models", required=True)
    args, _ = parser.parse_known_args()


def run(mini_batch):
    done = []
    for path in mini_batch:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        xs = [float(r["Week"]) for r in rows]
        ys = [float(r[args.target]) for r in rows]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        store = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(args.models, store + ".json"), "w") as f:
            json.dump({"store": store, "rows": n, "slope": round(slope, 3),
                       "intercept": round(my - slope * mx, 3)}, f)
        done.append(store)
    return done
