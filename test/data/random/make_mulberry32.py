#!/usr/bin/env python3
"""Reference outputs of mulberry32 (Tommy Ettinger's 32-bit generator, as src/metrics/random.ts documents it)
for test/mulberry32.test.ts, written from the algorithm's definition with Python integers taken mod 2^32
(not from the TypeScript code). Writes mulberry32.json next to this script:

    python3 test/data/random/make_mulberry32.py
"""
import json
import os

MASK = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & MASK


def mulberry32(seed, count):
    state = seed & MASK
    out = []
    for _ in range(count):
        state = (state + 0x6D2B79F5) & MASK
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & MASK
        out.append(((t ^ (t >> 14)) & MASK) / 4294967296)
    return out


def main():
    # seeds as the TypeScript caller passes them; -1 and 2^32 + 5 wrap to 2^32 − 1 and 5 (seed >>> 0)
    cases = [{'seed': s, 'values': mulberry32(s, 6)} for s in [0, 1, 42, 123456789, -1, 2**32 + 5]]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'mulberry32.json'), 'w') as f:
        json.dump({'generator': 'make_mulberry32.py', 'cases': cases}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
