"""Makes the example's data: a sales table of three stores over 52 weeks.

    python3 make_data.py [DIR]   (default the current folder: writes DIR/sales.csv)
"""
import os
import random
import sys

here = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
rng = random.Random(7)
os.makedirs(here, exist_ok=True)
with open(os.path.join(here, "sales.csv"), "w") as f:
    f.write("Store,Week,Revenue\n")
    for week in range(52):
        for store, base in (("north", 1000), ("south", 700), ("east", 1300)):
            f.write("%s,%d,%d\n" % (store, week, base + rng.randrange(-100, 101) + 5 * week))
print("made %s/sales.csv" % here)
