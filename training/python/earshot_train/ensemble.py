"""Merges ensemble members trained in separate processes (earshot_train --ensemble N --member K) into
one ONNX graph with the same output as models.Ensemble: log of the mean of the members'
probabilities, so the runtime's softmax gives that mean back. Members train in parallel this way
(`earshot train --jobs N`), and the merged graph is what `earshot_train --ensemble N` would export."""
import copy
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from .export import sha256_file, store_weights
from .metrics import score

# what every member must share for their probabilities to be averaged over the same input
SHARED = ['schema', 'architecture', 'labels', 'frontend', 'featureNames', 'normalization', 'input', 'output', 'window']


def merge_onnx(paths, out_path):
    members = [onnx.load(p) for p in paths]
    first = members[0].graph
    if len(first.input) != 1 or len(first.output) != 1:
        raise SystemExit(f'earshot_train --merge: {paths[0]} has {len(first.input)} inputs / {len(first.output)} outputs; expected 1 / 1')
    if first.output[0].type.tensor_type.elem_type != TensorProto.FLOAT:
        raise SystemExit(f'earshot_train --merge: {paths[0]} does not output float32 logits')
    in_name, out_name = first.input[0].name, first.output[0].name
    nodes, inits, probs = [], [], []
    for k, m in enumerate(members):
        if [i.name for i in m.graph.input] != [in_name] or [o.name for o in m.graph.output] != [out_name]:
            raise SystemExit(f'earshot_train --merge: {paths[k]} does not have the input/output of {paths[0]}')
        p = compose.add_prefix(m, f'm{k + 1}/')
        g = p.graph
        for n in g.node:
            n.input[:] = [in_name if i == g.input[0].name else i for i in n.input]
        nodes += list(g.node)
        inits += list(g.initializer)
        probs.append(f'm{k + 1}/probabilities')
        nodes.append(helper.make_node('Softmax', [g.output[0].name], [probs[-1]], axis=1))
    inits.append(numpy_helper.from_array(np.array(1e-12, np.float32), 'ensemble/eps'))
    nodes += [helper.make_node('Mean', probs, ['ensemble/mean']),
              helper.make_node('Add', ['ensemble/mean', 'ensemble/eps'], ['ensemble/mean_eps']),
              helper.make_node('Log', ['ensemble/mean_eps'], [out_name])]
    graph = helper.make_graph(nodes, 'ensemble', [first.input[0]], [first.output[0]], inits)
    model = helper.make_model(graph, opset_imports=members[0].opset_import, producer_name='earshot train.py --merge')
    model.ir_version = members[0].ir_version
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


def comparable(key, meta):
    """What members must agree on under `key`. Per-utterance CMVN ("utterance") uses neither the
    training mean nor std, so members trained on different clips (e.g. with and without noisy
    copies) still see the same input; the merged metadata keeps the first member's unused figures."""
    v = meta.get(key)
    if key == 'normalization' and v and v.get('mode') == 'utterance':
        return {'mode': 'utterance'}
    return v


def merge(stems, out, name, weights='fp32'):
    """Writes OUT.onnx and OUT.json from member stems (each STEM.onnx + STEM.json)."""
    metas = [json.load(open(f'{s}.json')) for s in stems]
    for s, m in zip(stems[1:], metas[1:]):
        for key in SHARED:
            if comparable(key, m) != comparable(key, metas[0]):
                raise SystemExit(f'earshot_train --merge: {s}.json differs from {stems[0]}.json in "{key}"; members must share it')
        if m['training']['protocol'] != metas[0]['training']['protocol']:
            raise SystemExit(f'earshot_train --merge: {s} was trained on other clips ({m["training"]["protocol"]})')
    onnx_path = out + '.onnx'
    os.makedirs(os.path.dirname(os.path.abspath(onnx_path)), exist_ok=True)
    merge_onnx([f'{s}.onnx' for s in stems], onnx_path)
    store_weights(onnx_path, weights)
    meta = copy.deepcopy(metas[0])
    meta['name'] = name or os.path.basename(out)
    meta['onnx'] = {**meta['onnx'], 'file': os.path.basename(onnx_path), 'sha256': sha256_file(onnx_path),
                    'bytes': os.path.getsize(onnx_path), 'weights': weights}
    meta['parameters'] = sum(m['parameters'] for m in metas)
    meta.pop('streaming', None)
    t = meta['training']
    t['seconds'] = round(sum(m['training'].get('seconds', 0) for m in metas), 1)
    t['options'] = {**{k: v for k, v in t['options'].items() if k != 'member'}, 'ensemble': len(stems), 'weights': weights,
                    'memberSeeds': [m['training']['seed'] for m in metas]}
    # members from other recipes (e.g. clean-only members beside noisy ones): what each changed
    differs = [{k: v for k, v in m['training']['options'].items() if k not in ('member', 'ensemble', 'weights') and t['options'].get(k) != v}
               | ({'epochs': m['training']['epochs']} if m['training']['epochs'] != t['epochs'] else {}) for m in metas]
    if any(differs):
        t['options']['memberOptions'] = differs
    meta['metrics'] = {}
    with open(out + '.json', 'w') as fh:
        json.dump(meta, fh, indent=2)
        fh.write('\n')
    return meta


def merge_reports(stems, path):
    """The ensemble's python-side check from the members' reports (STEM.py.json): the mean of their
    per-clip probabilities, scored as earshot_train scores; the held-out clips must be the same."""
    reports = [json.load(open(f'{s}.py.json')) for s in stems]
    if any(r['heldOut'] != reports[0]['heldOut'] for r in reports):
        raise SystemExit('earshot_train --merge: the members were checked on different held-out clips')
    out = {k: reports[0][k] for k in ('labels', 'protocol', 'measuredBy', 'heldOut')}
    if all('probabilities' in r for r in reports):
        p = np.mean([np.array(r['probabilities']) for r in reports], axis=0)
        y = [out['labels'].index(h['label']) for h in out['heldOut']]
        out.update(score(y, p.argmax(1).tolist(), len(out['labels'])), probabilities=p.tolist())
    with open(path, 'w') as fh:
        json.dump(out, fh, indent=2)
