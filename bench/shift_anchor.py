"""What the Python anchors of bench/shift.ts share: their command line and their one-line JSON answer."""
import json
import resource
import sys
import time


def arguments():
    """FILTERS.npy BY=GROUPS.npy=LABELS_JSON [BY=…] [--bins 70] → (filters path, [(by, groups path, labels)], bins).

    Every grouping is computed from the one loaded array and its one basis, as the notebook computes its drift
    matrices (Task, Training, depth) from one DataFrame.
    """
    argv = sys.argv[1:]
    bins = 70
    if "--bins" in argv:
        i = argv.index("--bins")
        bins = int(argv[i + 1])
        del argv[i : i + 2]
    groupings = []
    for spec in argv[1:]:
        by, path, labels_json = spec.split("=", 2)
        groupings.append((by, path, json.loads(labels_json)))
    return argv[0], groupings, bins


def present_groups(g, labels):
    """The codes of the groups that have filters, in label order."""
    import numpy as np

    return [k for k in range(len(labels)) if np.any(g == k)]


def grouping_answer(by, g, labels, present, matrix):
    """One grouping's part of the answer: its name, groups, counts and matrix."""
    import numpy as np

    return {
        "by": by,
        "groups": [labels[k] for k in present],
        "counts": [int(np.sum(g == k)) for k in present],
        "matrix": matrix,
    }


def drift_all(t0, steps, c, evr, groupings, codes, bins, drift):
    """Every grouping's matrix from the one projection c over its global range (drift: the anchor's own), then
    the answer printed by report()."""
    t1 = time.perf_counter()
    lo, hi = float(c.min()), float(c.max())
    results = []
    for (by, _, labels), g in zip(groupings, codes):
        present, matrix = drift(c, g, labels, evr, lo, hi, bins)
        results.append(grouping_answer(by, g, labels, present, matrix))
    steps["histograms+kl"] = time.perf_counter() - t1
    report(t0, steps, c, lo, hi, evr, results)


def report(t0, steps, c, lo, hi, evr, results):
    """Prints seconds (total since t0 and per step), peak RSS (ru_maxrss), range, EVR and per grouping its answer."""
    total = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": total,
                "steps": steps,
                "peakRssMB": rss_kb / 1024,
                "filters": int(c.shape[0]),
                "range": [lo, hi],
                "explainedVarianceRatio": [float(v) for v in evr],
                "results": results,
            }
        )
    )
