"""Makes the table example's data: an MLTable folder of CSV sensor readings.

    python3 make_data.py [ROWS [DIR]]   (default 3000 rows into the current
                                         folder: writes DIR/readings)

DIR/readings/MLTable reads DIR/readings/data/*.csv (three files) with
read_delimited, so a `type: mltable, mode: direct` input gets DataFrames.
"""
import os
import random
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
here = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
data = os.path.join(here, "readings", "data")
os.makedirs(data, exist_ok=True)
rng = random.Random(7)
files = 3
for f in range(files):
    with open(os.path.join(data, "day%d.csv" % (f + 1)), "w") as out:
        out.write("sensor,minute,celsius,note\n")
        for i in range(rows // files):
            celsius = round(rng.gauss(22, 5), 1)
            # A quoted field with a comma: cut points are whole records.
            note = '"checked, ok"' if i % 50 == 0 else ""
            out.write("s%02d,%d,%.1f,%s\n" % (rng.randrange(12), f * 1440 + i, celsius, note))
with open(os.path.join(here, "readings", "MLTable"), "w") as out:
    out.write("paths:\n"
              "  - pattern: ./data/*.csv\n"
              "transformations:\n"
              "  - read_delimited:\n"
              "      delimiter: ','\n"
              "      header: all_files_same_headers\n")
print("made %d readings in %s/readings (an MLTable of %d CSV files)" % (rows // files * files,
                                                                        here, files))
