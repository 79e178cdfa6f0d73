"""ONNX export (opset 17, dynamic time axis) and the model metadata JSON that src/runtime/model/metadata.ts
validates. Metrics are added later by `earshot eval` / `earshot train` (TypeScript), because the
numbers a model ships with must come from the runtime that serves it."""
import hashlib
import json
import os
import warnings

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .data import MIN_SPAN_SECONDS

OPSET = 17

LICENCES = {
    'ravdess': 'RAVDESS (Livingstone & Russo 2018): CC BY-NC-SA 4.0',
    'tess': 'TESS (Dupuis & Pichora-Fuller 2010): CC BY-NC-ND 4.0',
    'emodb': 'EmoDB (Burkhardt et al. 2005): free for research use only',
    'emotiontts-kr': 'emotiontts-kr (KAIST / SELVAS AI 2018): CC BY-NC-SA 4.0, research use only',
    'nemo': 'nEMO (Christop 2024): CC BY-NC-SA 4.0',
}


def licence_note(corpora):
    parts = '; '.join(LICENCES[c] for c in sorted(corpora) if c in LICENCES)
    return (f'NON-COMMERCIAL. Weights trained on {parts}. A model inherits the terms of its training data: '
            'use it for research and non-commercial purposes only, with attribution to the corpora.')


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        h.update(fh.read())
    return h.hexdigest()


def export_onnx(model, n_features, path, fixed_frames=None):
    model.eval()
    T = fixed_frames or 200
    dummy = torch.zeros(1, T, n_features)
    dynamic = {'features': {0: 'batch'}, 'logits': {0: 'batch'}}
    if not fixed_frames:
        dynamic['features'][1] = 'time'
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13's exporter warns about shape inference of constants it then handles; the graph is checked below.
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (dummy,), path, opset_version=OPSET, input_names=['features'], output_names=['logits'],
                          dynamic_axes=dynamic, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def store_weights(path, kind):
    """Rewrites the ONNX file at `path` with its float weights stored smaller: 'fp16' (each
    initializer of 64+ values as float16, Cast back to float32 in the graph: relative error 2^-11)
    or 'int8' (symmetric, one scale per tensor, DequantizeLinear in the graph). The graph computes
    in float32 either way; onnxruntime folds the casts at load. 'fp32' leaves the file alone."""
    if kind == 'fp32':
        return
    m = onnx.load(path)
    g = m.graph
    kept, added, nodes = [], [], []
    for t in g.initializer:
        w = numpy_helper.to_array(t)
        if t.data_type != onnx.TensorProto.FLOAT or w.size < 64:
            kept.append(t)
            continue
        if kind == 'fp16':
            added.append(numpy_helper.from_array(w.astype(np.float16), f'{t.name}/fp16'))
            nodes.append(helper.make_node('Cast', [f'{t.name}/fp16'], [t.name], to=onnx.TensorProto.FLOAT))
        else:
            scale = np.float32(max(float(np.abs(w).max()), 1e-12) / 127)
            q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            added += [numpy_helper.from_array(q, f'{t.name}/int8'), numpy_helper.from_array(np.array(scale, np.float32), f'{t.name}/scale'),
                      numpy_helper.from_array(np.array(0, np.int8), f'{t.name}/zero')]
            nodes.append(helper.make_node('DequantizeLinear', [f'{t.name}/int8', f'{t.name}/scale', f'{t.name}/zero'], [t.name]))
    del g.initializer[:]
    g.initializer.extend(kept + added)
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def streaming_state(model):
    """State tensors of LstmAttentionStep: (name, shape, initial value), inputs `<name>_in`, outputs `<name>_out`."""
    L, H = model.layers, model.hidden
    return [('h', [L, 1, H], 0.0), ('c', [L, 1, H], 0.0), ('att_max', [1, 1], -1e4), ('att_den', [1, 1], 0.0), ('att_num', [1, H], 0.0)]


def export_streaming(model, n_features, path):
    """Exports LstmAttentionStep and checks that feeding a random utterance in chunks gives the
    full model's logits (max abs difference < 1e-4)."""
    from .models import LstmAttentionStep
    model.eval()
    step = LstmAttentionStep(model).eval()
    state = streaming_state(model)
    k = model.stack
    init = [torch.full(shape, v) for _, shape, v in state]
    names_in = ['features'] + [f'{n}_in' for n, _, _ in state]
    names_out = ['logits'] + [f'{n}_out' for n, _, _ in state]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(step, (torch.zeros(1, 4 * k, n_features), *init), path, opset_version=OPSET, input_names=names_in,
                          output_names=names_out, dynamic_axes={'features': {1: 'time'}}, do_constant_folding=True)
        onnx.checker.check_model(onnx.load(path))
        g = torch.Generator().manual_seed(0)
        x = torch.randn(1, 40 * k, n_features, generator=g)
        full = model(x)
        st = init
        for s in range(0, x.shape[1], 5 * k):
            logits, *st = step(x[:, s:s + 5 * k], *st)
        diff = float((logits - full).abs().max())
        if diff > 1e-4:
            raise SystemExit(f'streaming export differs from the full model by {diff}; not writing {path}')
    return {'file': os.path.basename(path), 'sha256': sha256_file(path), 'framesPerStep': k,
            'stateInputs': [{'name': f'{n}_in', 'shape': shape, 'init': v} for n, shape, v in state],
            'stateOutputs': [{'name': f'{n}_out', 'shape': shape} for n, shape, _ in state]}


def write_metadata(path, *, name, arch, description, labels, frontend, feature_names, norm_mode, mean, std, onnx_path,
                   fixed_frames, parameters, corpora, protocol, held_out, seed, epochs, options, seconds, streaming=None, weights='fp32'):
    hop = frontend.get('hopLength', 160)
    rate = frontend.get('sampleRate', 16000)
    if fixed_frames:
        window = {'frames': fixed_frames, 'hopFrames': fixed_frames // 2, 'minFrames': fixed_frames // 4, 'fixed': True}
    else:
        # 3 s windows every second on a live stream; anything shorter than MIN_SPAN_SECONDS is not worth a guess.
        window = {'frames': int(round(3.0 * rate / hop)), 'hopFrames': int(round(1.0 * rate / hop)),
                  'minFrames': int(round(MIN_SPAN_SECONDS * rate / hop)), 'fixed': False}
    meta = {
        'schema': 1,
        'name': name,
        'architecture': arch,
        'description': description,
        'labels': labels,
        'frontend': frontend,
        'featureNames': feature_names,
        'normalization': {'mode': norm_mode, 'mean': [float(v) for v in mean], 'std': [float(v) for v in std]},
        'input': {'name': 'features', 'layout': 'batch,time,features'},
        'output': {'name': 'logits', 'kind': 'logits'},
        'window': window,
        'onnx': {'file': os.path.basename(onnx_path), 'sha256': sha256_file(onnx_path), 'opset': OPSET,
                 'bytes': os.path.getsize(onnx_path), 'weights': weights},
        **({'streaming': streaming} if streaming else {}),
        'parameters': int(parameters),
        'training': {'corpora': sorted(corpora), 'protocol': protocol, 'heldOutSpeakers': held_out, 'seed': seed,
                     'epochs': epochs, 'options': options, 'seconds': round(seconds, 1)},
        'metrics': {},
        'licence': licence_note(corpora),
    }
    with open(path, 'w') as fh:
        json.dump(meta, fh, indent=2)
        fh.write('\n')
    return meta
