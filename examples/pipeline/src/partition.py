"""The pipeline's command step: one CSV file per store of the sales table,
as the many-models partition step does before training a model per store."""
import argparse
import csv
import os

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

groups = {}
with open(args.data, newline="") as f:
    reader = csv.DictReader(f)
    for row in reader:
        groups.setdefault(row[args.key], []).append(row)
os.makedirs(args.out, exist_ok=True)
for key, rows in sorted(groups.items()):
    with open(os.path.join(args.out, "%s.csv" % key), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(rows)
print("wrote %d partitions to %s" % (len(groups), args.out))
