# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmark reports share: a median with its range."""

import statistics


def rng(xs, fmt):
    """FMT of the median of XS, then "(min–max)"."""
    xs = sorted(xs)
    return (fmt % statistics.median(xs)) + " (" + (fmt % xs[0]) + "–" + (fmt % xs[-1]) + ")"
