"""What the Python anchors of bench/shift.ts share: their command line and their one-line JSON answer."""
import json
import resource
import sys
import time


def arguments():
    """FILTERS.npy GROUPS.npy LABELS_JSON [BINS] → (filters path, groups path, labels, bins)."""
    filters_path, groups_path, labels_json = sys.argv[1:4]
    bins = int(sys.argv[4]) if len(sys.argv) > 4 else 70
    return filters_path, groups_path, json.loads(labels_json), bins


def report(t0, steps, c, g, labels, present, lo, hi, evr, matrix):
    """Prints seconds (total since t0 and per step), peak RSS (ru_maxrss), groups, counts, range, EVR, matrix."""
    import numpy as np

    total = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": total,
                "steps": steps,
                "peakRssMB": rss_kb / 1024,
                "filters": int(c.shape[0]),
                "groups": [labels[k] for k in present],
                "counts": [int(np.sum(g == k)) for k in present],
                "range": [lo, hi],
                "explainedVarianceRatio": [float(v) for v in evr],
                "matrix": matrix,
            }
        )
    )
