"""Makes the partitions example's data: weekly sales, one folder per store.

    python3 make_data.py [WEEKS [DIR]]   (default 52 weeks into the current
                                          folder: writes DIR/sales)

DIR/sales/data/<region>/<store>/<year>.csv holds one store's weeks; the
MLTable reads them as a table and takes the region and store columns from
the folders (extract_columns_from_partition_format), so that partition_keys
[region, store] give one mini-batch per store.
"""
import os
import random
import sys

weeks = int(sys.argv[1]) if len(sys.argv) > 1 else 52
here = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
stores = {"north": ["n1", "n2", "n3"], "south": ["s1", "s2"], "west": ["w1", "w2", "w3", "w4"]}
rng = random.Random(3)
for region, names in stores.items():
    for store in names:
        folder = os.path.join(here, "sales", "data", region, store)
        os.makedirs(folder, exist_ok=True)
        for year in (2023, 2024):
            with open(os.path.join(folder, "%d.csv" % year), "w") as out:
                out.write("week,units,price\n")
                for w in range(weeks):
                    out.write("%d,%d,%.2f\n" % (w + 1, rng.randrange(20, 200),
                                                rng.choice([1.99, 2.49, 2.99])))
with open(os.path.join(here, "sales", "MLTable"), "w") as out:
    out.write("paths:\n"
              "  - folder: ./data\n"
              "transformations:\n"
              "  - read_delimited:\n"
              "      header: all_files_same_headers\n"
              "  - extract_columns_from_partition_format: 'data/{region}/{store}/{year}.csv'\n")
count = sum(len(v) for v in stores.values())
print("made %d weeks of sales of %d stores in %s/sales" % (weeks, count, here))
