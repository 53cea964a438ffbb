"""Entry script for a table input: run() gets a pandas.DataFrame.

The input is an MLTable read in `direct` mode, so mini_batch_size counts
bytes: each mini-batch is a byte range of one CSV file, cut at whole
records, read into a DataFrame. run() returns each row with a status; with
append_row they are written, space-separated and without a header, to the
output file, in mini-batch order.
"""
import argparse

args = None


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_celsius", type=float, required=True)
    # parse_known_args: the script also sees parallelrun's own flags.
    args, _ = parser.parse_known_args()


def run(mini_batch):
    # One row back per row given: a row that is missing counts as a failed
    # item (error_threshold), as in the original.
    result = mini_batch[["sensor", "minute", "celsius"]].copy()
    result["status"] = ["hot" if c > args.max_celsius else "ok" for c in result["celsius"]]
    return result
