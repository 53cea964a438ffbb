"""Entry script for a partitioned table: one mini-batch per store.

With partition_keys, run() gets a second argument, mini_batch_context:
partition_key_value says which store this is ({"region": …, "store": …}).
The DataFrame holds all of that store's rows (both years' files), with the
region, store and year columns the MLTable takes from the paths — so a
store's total can be computed in one call. Each row goes back with it (one
row back per row given: a missing row would count as a failed item).
"""


def run(mini_batch, mini_batch_context):
    key = mini_batch_context.partition_key_value
    result = mini_batch[["year", "week", "units"]].copy()
    result["revenue"] = (mini_batch["units"] * mini_batch["price"]).round(2)
    result.insert(0, "store", key["store"])
    result.insert(0, "region", key["region"])
    result["store_total"] = round(float(result["revenue"].sum()), 2)
    return result
