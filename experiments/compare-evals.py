#!/usr/bin/python3
"""Compare two `earshot eval --json F --predictions` reports of the same clips (e.g. f32 vs Q15):
accuracy and UAR of each (as eval scored them), and the share of clips whose label changes.
usage: experiments/compare-evals.py A.json B.json [A2.json B2.json ...]   (pairs; one line per pair)"""
import json, sys

def load(path):
    r = json.load(open(path))
    return r, {p['name']: p for p in r['predictions']}

args = sys.argv[1:]
if not args or len(args) % 2:
    sys.exit(__doc__)
for a_path, b_path in zip(args[::2], args[1::2]):
    a, pa = load(a_path)
    b, pb = load(b_path)
    names = sorted(set(pa) & set(pb))
    changed = sum(pa[n]['predicted'] != pb[n]['predicted'] for n in names)
    whole = sum(pa[n]['wholeFile'] != pb[n]['wholeFile'] for n in names)
    print(f"{a_path} -> {b_path}: n={len(names)}; accuracy {100*a['accuracy']:.1f} -> {100*b['accuracy']:.1f} "
          f"({100*(b['accuracy']-a['accuracy']):+.1f}); UAR {100*a['uar']:.1f} -> {100*b['uar']:.1f} ({100*(b['uar']-a['uar']):+.1f}); "
          f"label changed on {changed} clips ({100*changed/len(names):.1f}%), whole-file label on {whole} ({100*whole/len(names):.1f}%)")
