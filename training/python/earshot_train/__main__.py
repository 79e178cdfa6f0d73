"""Trains an earshot emotion model from feature folders written by `earshot features --corpus`,
exports ONNX (opset 17) and writes the metadata JSON. Run with Debian's /usr/bin/python3 (torch 1.13).

  PYTHONPATH=training/python /usr/bin/python3 -m earshot_train --features build/features/ravdess --arch lstm-attn \\
      --holdout ravdess:01,02,03,04 --out build/folds/lstm-fold1

Protocols: --holdout CORPUS:SPK,... trains on every other speaker (speaker-independent);
--random-split 0.2 holds out a stratified 20% of clips (speaker-DEPENDENT, only for comparison with
papers that use it); neither trains on everything. Test clips are never used for model selection:
training runs a fixed number of epochs. The numbers a model ships with come from `earshot eval`
(TypeScript, onnxruntime-node); the python-side check printed here is for progress only.
"""
import argparse
import json
import os
import random
import sys
import time


def _pin_thread_pools(argv: list[str]) -> None:
    """--threads N also caps OpenMP and OpenBLAS, which torch.set_num_threads does not reach; they
    must be set before torch loads. Debian's OpenBLAS otherwise keeps a helper thread spinning on
    sched_yield: two --threads 1 runs on two cores trained ~25% slower."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--threads')
    n = pre.parse_known_args(argv)[0].threads
    if n is not None:
        for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
            os.environ.setdefault(var, n)


_pin_thread_pools(sys.argv[1:])

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from .data import (EMOTIONS, SPEAKER_MODES, corpus_shares, SpeakerBaselines, speaker_columns, clip_moments, speaker_normalise, speech_segments,  # noqa: E402
                   Augment, LevelColumns, RoomAugment, VocalTractWarp, batches, global_stats, load_feature_dirs, normalise, speaker_key,
                   split_holdout, split_random)
from .export import export_onnx, export_streaming, store_weights, write_metadata  # noqa: E402
from .ensemble import merge, merge_reports  # noqa: E402
from .metrics import score  # noqa: E402
from .models import ARCHITECTURES, Ensemble, build  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--features', nargs='+', default=[], help='feature folders (manifest.json + .npy)')
    p.add_argument('--augment-features', nargs='*', default=[], help='training-only feature folders (noisy copies; items carry "source")')
    p.add_argument('--arch', default='lstm-attn', choices=sorted(ARCHITECTURES))
    p.add_argument('--out', required=True, help='output stem: writes OUT.onnx and OUT.json')
    p.add_argument('--name', help='model name in the metadata (default: basename of --out)')
    p.add_argument('--holdout', default='', help='held-out speakers, e.g. ravdess:01,02,03,04 (several corpora: ravdess:01,02;nemo:EB0)')
    p.add_argument('--random-split', type=float, default=0.0, help='hold out this fraction of clips at random (speaker-dependent)')
    p.add_argument('--epochs', type=int, default=40)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--hidden', type=int, default=96)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--channels', default='', help='(crnn) conv channels per block, e.g. 16,32,48')
    p.add_argument('--side', type=int, default=0, help='(crnn) the last N feature columns (the extras) bypass the convolutions and join before the LSTM')
    p.add_argument('--stack', type=int, default=3, help='(lstm-attn) stack this many frames per LSTM step')
    p.add_argument('--norm', choices=['global', 'utterance', 'cmn', 'level', 'speaker', 'prosody', 'none'], default='global',
                   help=("prosody: log-mel per utterance, the other features (RMS, ZCR, f0, voicing) against the speaker's baseline; speaker: every "
                         "feature against the speaker's baseline (speech frames of the speaker's other clips, drawn per epoch from all, random and "
                         "emotion-skewed subsets, or none = per utterance); held-out clips against all of the speaker's other clips (label-free)"))
    p.add_argument('--extra-test', nargs='*', default=[],
                   help=('feature folders of other corpora to check the model on (python side; shared labels only), e.g. EmoDB and emotiontts-kr'))
    p.add_argument('--vad', action='store_true',
                   help=("train on the clips' VAD speech spans (features from `earshot features --vad`), as the daemon segments a stream; held-out clips are "
                         "scored as the daemon scores a file: duration-weighted mean over its spans"))
    p.add_argument('--no-specaugment', action='store_true')
    p.add_argument('--no-tempo', action='store_true')
    p.add_argument('--no-crop', action='store_true')
    p.add_argument('--no-jitter', action='store_true')
    p.add_argument('--ensemble', type=int, default=1,
                   help=('train this many models (seeds SEED, SEED+1000, ...) and ship the mean of their probabilities as one graph'))
    p.add_argument('--member', type=int, default=0, help='train only member K (1..N) of --ensemble N, exported on its own; merge the N with --merge')
    p.add_argument('--merge', nargs='+', metavar='STEM',
                   help=('no training: merge ensemble members (STEM.onnx + STEM.json, from --member runs) into OUT; with --report, their STEM.py.json '
                         'reports too'))
    p.add_argument('--weights', choices=['fp32', 'fp16', 'int8'], default='fp32',
                   help=('store the exported weights as float32, float16 or int8 (the graph computes in float32; members of --member runs stay fp32 until '
                         '--merge)'))
    p.add_argument('--mixup', type=float, default=0.0, help='mixup (Zhang et al. 2018) with Beta(a, a) weights; 0 = off')
    p.add_argument('--vtlp', type=int, default=0, help='add this many vocal-tract-warped copies of each training clip (alpha in [0.9, 1.1])')
    p.add_argument('--room', type=float, default=0.0,
                   help=('rooms and microphones on the raw features, drawn per training item: speed perturbation, reverberation, band limits, '
                         'each with this probability (data.RoomAugment); 0 = off'))
    p.add_argument('--babble', type=float, default=0.0,
                   help=('other talkers on the raw features, drawn per training item with this probability before the room: 2-8 other training '
                         'spans at 0-20 dB under it, mixed as band powers (data.RoomAugment.talkers); 0 = off'))
    p.add_argument('--max-frames', type=int, default=400, help='truncate training utterances to this many frames')
    p.add_argument('--fixed-frames', type=int, default=0, help='(fixed-window archs) window length in frames')
    p.add_argument('--teacher',
                   help=("knowledge distillation: a teacher file from `earshot train --teacher` ({labels, clips: {name: probabilities}}); each training span "
                         "learns from its clip's teacher probabilities (a noisy copy from its clean source's) beside the label"))
    p.add_argument('--distill-weight', type=float, default=0.7,
                   help=("with --teacher: the distillation term's share of the loss (the rest: cross-entropy on the label)"))
    p.add_argument('--distill-temperature', type=float, default=2.0,
                   help=('with --teacher: both distributions softened by this temperature (the term is scaled by its square, Hinton et al. 2015)'))
    p.add_argument('--balance', choices=['none', 'corpus'], default='none',
                   help="corpus: each epoch draws --epoch-items training items, every corpus's share by corpus_shares() and its classes "
                        "equally, instead of one pass over every item (so the largest corpus does not dominate); the loss is then unweighted")
    p.add_argument('--epoch-items', type=int, default=0, help='with --balance corpus: items drawn per epoch (default: as many as there are)')
    p.add_argument('--no-checkpoint', action='store_true',
                   help='do not keep OUT.seedS.ckpt.pt after each epoch (by default a stopped run resumes there when run again with the same arguments)')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--report', help='write the python-side check of the held-out clips as JSON')
    a = p.parse_args(argv)
    if not a.merge and not a.features:
        p.error('--features is required (or --merge STEM... to merge ensemble members)')
    if (a.room or a.babble) and a.norm in ('speaker', 'prosody'):
        p.error('--room and --babble draw on the raw features, which --norm speaker and prosody normalise once per epoch: '
                'use --norm utterance, cmn, global or level')
    if a.member and not 1 <= a.member <= a.ensemble:
        p.error(f'--member {a.member}: give 1..{a.ensemble} (the member of --ensemble {a.ensemble} to train)')
    return a


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fixed_windows(x, frames):
    """Pads or random-crops to a fixed number of frames (training side of window.fixed models)."""
    if x.shape[0] >= frames:
        return x
    out = np.zeros((frames, x.shape[1]), np.float32)
    out[:x.shape[0]] = x
    return out


def evaluate(model, xs, ys, n_classes, fixed):
    """Held-out check. An item is one array (whole clip) or a list of VAD spans, scored as the
    daemon scores a file: the duration-weighted mean of the spans' probabilities."""
    model.eval()
    out = []

    def probs(x):
        if fixed:
            x = fixed_windows(x, fixed)
            starts = list(range(0, x.shape[0] - fixed + 1, fixed // 2)) or [0]
            return sum(torch.softmax(model(torch.from_numpy(x[s:s + fixed][None])), 1)[0] for s in starts) / len(starts)
        return torch.softmax(model(torch.from_numpy(x[None])), 1)[0]

    with torch.no_grad():
        for x, y in zip(xs, ys):
            p = sum(s.shape[0] * probs(s) for s in x) / sum(s.shape[0] for s in x) if isinstance(x, list) else probs(x)
            out.append([round(float(v), 6) for v in p])
    return {**score(ys, [int(np.argmax(p)) for p in out], n_classes), 'probabilities': out}


def precise_batchnorm(model, xs, batch, max_frames, fixed):
    """BatchNorm's population statistics recomputed over the training inputs (one pass, no
    augmentation, cumulative average) instead of the running average of the last batches. Needed
    under --norm speaker: utterances keep their level relative to the speaker, so a batch's mean
    and spread wander with the emotions in it, and the running average (momentum 0.1) is whatever
    the last ten batches were: the held-out check swung between 22% and 61% from epoch to epoch
    on fold 1 without this. Gradients and weights are untouched."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over every batch of this pass
    model.train()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for x, lengths, _ in batches(xs, [0] * len(xs), batch, rng, max_frames=None if fixed else max_frames):
            model(x, None if fixed else lengths)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def distill_loss(logits, soft, temperature):
    """Hinton et al. 2015: KL(teacher || student), both softened by the temperature, times its
    square (so the gradient's scale does not shrink with it). `soft`: teacher probabilities, rows of
    zeros where a span has no teacher (they add nothing)."""
    has = soft.sum(1) > 0
    if not bool(has.any()):
        return logits.sum() * 0
    t = soft[has] ** (1 / temperature)
    t = t / t.sum(1, keepdim=True)
    logp = torch.log_softmax(logits[has] / temperature, 1)
    return (t * (torch.log(t + 1e-12) - logp)).sum(1).mean() * temperature ** 2 * has.float().mean()


def balanced_probabilities(train, labels):
    """Per-item draw probabilities: corpus shares (corpus_shares, by distinct recordings), then the
    corpus's classes equally, then the items of one corpus and class equally."""
    keys = [(i['corpus'], i['label']) for i in train]
    count = {}
    for k in keys:
        count[k] = count.get(k, 0) + 1
    corpora = sorted({c for c, _ in keys})
    # a corpus's size in distinct recordings: noisy copies and VAD spans of one clip count once
    clips = {c: len({i.get('source', i['name']) for i in train if i['corpus'] == c}) for c in corpora}
    shares = corpus_shares({c: (clips[c], len({i['speaker'] for i in train if i['corpus'] == c})) for c in corpora})
    classes = {c: len({l for cc, l in count if cc == c}) for c in corpora}
    p = np.array([shares[c] / classes[c] / count[(c, l)] for c, l in keys], np.float64)
    print('balance: ' + ', '.join(f'{c} {100 * shares[c]:.0f}%' for c in corpora), flush=True)
    return p / p.sum()


def label_mask(train, labels):
    """[items, classes] bool: the classes the item's corpus has (the loss is taken over those only,
    so an EmoDB clip never teaches that it is not 'surprised', a class EmoDB does not have)."""
    has = {}
    for i in train:
        has.setdefault(i['corpus'], set()).add(i['label'])
    return np.array([[l in has[i['corpus']] for l in labels] for i in train], bool)


def masked_cross_entropy(logits, y, allowed, weight, smoothing):
    """Cross-entropy with label smoothing over each row's allowed classes only (torch's
    CrossEntropyLoss with weight and label_smoothing when every class is allowed)."""
    logp = torch.log_softmax(logits.masked_fill(~allowed, -1e9), 1).masked_fill(~allowed, 0)
    n = allowed.sum(1, keepdim=True).float()
    target = allowed.float() * (smoothing / n)
    target[torch.arange(len(y)), y] += 1 - smoothing
    w = weight[y]
    return (-(target * logp).sum(1) * w).sum() / w.sum()


def checkpoint_key(a, seed):
    """What a checkpoint must have been written with to be resumed: every argument and the seed."""
    return json.dumps({k: v for k, v in sorted(vars(a).items()) if k not in ('no_checkpoint', 'report')} | {'seed': seed}, default=str)


def checkpoint_path(a, seed):
    return None if a.no_checkpoint or a.merge else f'{a.out}.seed{seed}.ckpt.pt'


def save_checkpoint(path, key, epoch, model, opt, sched, rngs):
    """Everything the next epoch depends on, written atomically (a stop mid-write keeps the last one)."""
    state = {'key': key, 'epoch': epoch, 'model': model.state_dict(), 'opt': opt.state_dict(), 'sched': sched.state_dict(),
             'rng': rngs[0].bit_generator.state, 'aug': rngs[1].bit_generator.state, 'np': np.random.get_state(),
             'torch': torch.get_rng_state(), 'random': random.getstate()}
    torch.save(state, path + '.tmp')
    os.replace(path + '.tmp', path)


def load_checkpoint(path, key, model, opt, sched, rngs):
    """The epoch a matching checkpoint ended, its state restored; 0 when there is none (or it was written with other arguments)."""
    if not path or not os.path.exists(path):
        return 0
    state = torch.load(path)
    if state.get('key') != key:
        print(f'{path}: written with other arguments; starting over', flush=True)
        return 0
    model.load_state_dict(state['model'])
    opt.load_state_dict(state['opt'])
    sched.load_state_dict(state['sched'])
    rngs[0].bit_generator.state = state['rng']
    rngs[1].bit_generator.state = state['aug']
    np.random.set_state(state['np'])
    torch.set_rng_state(state['torch'])
    random.setstate(state['random'])
    print(f'resuming from {path} after epoch {state["epoch"]}', flush=True)
    return state['epoch']


def fit(a, seed, n_in, n_classes, xtr, ytr, xte, yte, t0, tag='', renorm=None, soft=None, draw=None, allowed=None, room=None):
    """Trains one model with a fixed number of epochs (no selection on held-out clips). `soft`
    (--teacher): [items, classes] teacher probabilities, zeros where an item has none. `draw`
    (--balance corpus): per-item probabilities, --epoch-items items drawn per epoch. `allowed`:
    [items, classes] label mask (label_mask) when the corpora do not share one label set. `room`
    (--room): (RoomAugment, normalise); xtr are then the raw features, drawn on and normalised per item."""
    seed_everything(seed)
    channels = {'channels': tuple(int(c) for c in a.channels.split(','))} if a.channels else {}
    model, fixed = build(a.arch, n_in, n_classes, {'hidden': a.hidden, 'layers': a.layers, 'stack': a.stack, 'side': a.side, **channels})
    fixed = a.fixed_frames or fixed
    counts = np.bincount(ytr, minlength=n_classes).astype(np.float64)
    weights = torch.tensor(counts.sum() / (n_classes * np.maximum(counts, 1)), dtype=torch.float32)
    if draw is not None:
        weights = torch.ones(n_classes)  # the draw balances the classes
    allowed_t = None if allowed is None or allowed.all() else torch.from_numpy(allowed)
    ce = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.1)

    def loss_fn(logits, y, idx):
        return ce(logits, y) if allowed_t is None else masked_cross_entropy(logits, y, allowed_t[idx], weights, 0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-2)
    per_epoch = (a.epoch_items or len(xtr)) if draw is not None else len(xtr)
    steps = a.epochs * ((per_epoch + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=max(1, steps), pct_start=0.15)
    aug = Augment(specaugment=not a.no_specaugment, tempo=not a.no_tempo, crop=not a.no_crop, jitter=not a.no_jitter, seed=seed)
    if fixed:
        base_aug = aug
        def aug(x):  # noqa: E306
            x = fixed_windows(base_aug(x), fixed)
            s = np.random.randint(0, x.shape[0] - fixed + 1)
            return x[s:s + fixed]
    rngs = (np.random.default_rng(seed), (base_aug if fixed else aug).rng)
    if room:
        draw_room, norm = room
        draw_room.rng = rngs[1]  # one augmentation stream, kept in the checkpoint
        inner = aug
        aug = lambda x: inner(norm(draw_room(x)))  # noqa: E731
    rng = rngs[0]
    xs = xtr
    ytr_t = torch.tensor(ytr)
    soft_t = None if soft is None else torch.from_numpy(soft)
    ckpt, key = checkpoint_path(a, seed), checkpoint_key(a, seed)
    done = load_checkpoint(ckpt, key, model, opt, sched, rngs)
    for epoch in range(done + 1, a.epochs + 1):
        model.train()
        tot, correct, n = 0.0, 0, 0
        if renorm:
            xs = renorm(rng)  # --norm speaker: a new baseline draw per clip and epoch
        # batches of item indices, so a batch finds its labels and its teacher's probabilities
        picked = list(range(len(xs))) if draw is None else [int(k) for k in rng.choice(len(xs), size=per_epoch, p=draw)]
        for x, lengths, idx in batches([xs[k] for k in picked], picked, a.batch, rng, augment=aug, max_frames=None if fixed else a.max_frames):
            y = ytr_t[idx]
            if a.mixup > 0:
                lam = float(np.random.beta(a.mixup, a.mixup))
                perm = torch.randperm(len(y))
                x = lam * x + (1 - lam) * x[perm]
                lengths = torch.maximum(lengths, lengths[perm])
                logits = model(x, None if fixed else lengths)
                loss = lam * loss_fn(logits, y, idx) + (1 - lam) * loss_fn(logits, y[perm], idx[perm])
                if soft_t is not None:
                    mixed = lam * soft_t[idx] + (1 - lam) * soft_t[idx][perm]
                    loss = (1 - a.distill_weight) * loss + a.distill_weight * distill_loss(logits, mixed, a.distill_temperature)
            else:
                logits = model(x, None if fixed else lengths)
                loss = loss_fn(logits, y, idx)
                if soft_t is not None:
                    loss = (1 - a.distill_weight) * loss + a.distill_weight * distill_loss(logits, soft_t[idx], a.distill_temperature)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            n += len(y)
        line = f'{tag}epoch {epoch}/{a.epochs} loss {tot / n:.3f} train-acc {correct / n:.3f}'
        if renorm and (epoch == a.epochs or (xte and epoch % 5 == 0)):
            precise_batchnorm(model, xs, a.batch, a.max_frames, fixed)
        if ckpt:
            save_checkpoint(ckpt, key, epoch, model, opt, sched, rngs)
        if xte and (epoch % 5 == 0 or epoch == a.epochs):
            r = evaluate(model, xte, yte, n_classes, fixed)
            line += f' | held-out (python check) acc {r["accuracy"]:.3f} uar {r["uar"]:.3f}'
        print(f'{line}  [{time.time() - t0:.0f} s]', flush=True)
    return model, fixed


def teacher_targets(path, train, labels):
    """[items, classes] teacher probabilities for the training items (a span or a noisy copy takes
    its clip's, by `source`), in this run's label order; a row of zeros where the teacher has none."""
    with open(path) as fh:
        t = json.load(fh)
    missing = [l for l in labels if l not in t['labels']]
    if missing:
        raise SystemExit(f'earshot_train: --teacher {path} has no probabilities for {", ".join(missing)}; give teachers with the same labels')
    cols = [t['labels'].index(l) for l in labels]
    out = np.zeros((len(train), len(labels)), np.float32)
    found = 0
    for k, i in enumerate(train):
        p = t['clips'].get(i.get('source', i['name'])) if i['corpus'] == 'ravdess' else None
        if p is not None:
            out[k] = np.asarray(p, np.float32)[cols]
            out[k] /= max(float(out[k].sum()), 1e-12)
            found += 1
    print(f'teacher: {", ".join(t["teachers"])}: probabilities for {found} of {len(train)} training spans', flush=True)
    if found == 0:
        raise SystemExit(f'earshot_train: --teacher {path} has no clip of this training set; was it written for another corpus?')
    return out


def extra_test(a, model, fixed, d, labels, norm):
    """The model on another corpus's clips (VAD spans, duration-weighted), scored over the labels
    both have, the prediction restricted to them; --norm speaker uses each speaker's other clips."""
    fs = load_feature_dirs([d], log=lambda s: None)
    shared = [l for l in labels if any(i['label'] == l for i in fs.items)]
    items = [i for i in fs.items if i['label'] in shared]
    hop = fs.frontend['hopLength'] / fs.frontend['sampleRate']
    spans = [(speech_segments(i, hop) if a.vad else []) or [i['x']] for i in items]
    if a.norm in SPEAKER_MODES:
        base = SpeakerBaselines(clip_moments([{**i, 'spans': s} for i, s in zip(items, spans)], lambda c: c['spans']))
        cols = speaker_columns(a.norm, fs.feature_names)
        xs = [[speaker_normalise(x, base.all_others((i['dir'], i['name'])), cols).astype(np.float32) for x in s] for i, s in zip(items, spans)]
    else:
        xs = [[norm(x) for x in s] for s in spans]
    r = evaluate(model, xs, [labels.index(i['label']) for i in items], len(labels), fixed)
    cols = [labels.index(l) for l in shared]
    pred = [shared[int(np.argmax([p[c] for c in cols]))] for p in r['probabilities']]
    out = score([shared.index(i['label']) for i in items], [shared.index(p) for p in pred], len(shared))
    print(f'{d}: {len(items)} clips, {len(shared)} shared labels: acc {out["accuracy"]:.3f} uar {out["uar"]:.3f} (python check)', flush=True)
    return {**out, 'labels': shared, 'truth': [i['label'] for i in items], 'speakers': [i['speaker'] for i in items],
            'probabilities': [[p[c] for c in cols] for p in r['probabilities']]}


def main(argv):
    a = parse_args(argv)
    if a.merge:
        meta = merge(a.merge, a.out, a.name, a.weights)
        if a.report:
            merge_reports(a.merge, a.report)
        print(f'merged {len(a.merge)} members ({meta["parameters"]} parameters) into {a.out}.onnx ({meta["onnx"]["bytes"]} bytes)', flush=True)
        return
    torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    t0 = time.time()
    fs = load_feature_dirs(a.features)
    items = fs.items
    held_out = []
    if a.holdout:
        for part in a.holdout.split(';'):
            corpus, _, spk = part.partition(':')
            held_out += [f'{corpus.strip()}:{s.strip()}' for s in spk.split(',') if s.strip()]
        train, test = split_holdout(items, set(held_out))
        protocol = f'speaker-independent: trained without {", ".join(held_out)}'
        if not test:
            raise SystemExit(f'earshot_train: --holdout {a.holdout} matches no clip (speakers look like {speaker_key(items[0])})')
    elif a.random_split > 0:
        train, test = split_random(items, a.random_split, a.seed)
        protocol = f'speaker-DEPENDENT random {round(100 * (1 - a.random_split))}/{round(100 * a.random_split)} clip split (seed {a.seed})'
    else:
        train, test = items, []
        protocol = 'all clips of the listed corpora'
    if a.augment_features:
        # Copies of held-out clips (same speaker, or same source clip) never reach training.
        test_sources = {(i['corpus'], i['name']) for i in test}
        held = set(held_out)
        extra = [i for i in load_feature_dirs(a.augment_features).items
                 if speaker_key(i) not in held and (i['corpus'], i.get('source', i['name'])) not in test_sources]
        print(f'+ {len(extra)} augmented training copies', flush=True)
        train = train + extra
    if a.vad:
        # Silence trimming by the runtime's own VAD (adaptive energy threshold): each span is a
        # training item; a held-out clip keeps its spans in 'segs'.
        hop = fs.frontend['hopLength'] / fs.frontend['sampleRate']
        before = sum(i['x'].shape[0] for i in train + test)
        train = [{**i, 'x': x} for i in train for x in speech_segments(i, hop)]
        test = [{**i, 'segs': speech_segments(i, hop) or [i['x']]} for i in test]
        kept = sum(i['x'].shape[0] for i in train) + sum(x.shape[0] for i in test for x in i['segs'])
        print(f'vad: {len(train)} training spans, kept {kept / before:.1%} of the frames', flush=True)
    labels = [e for e in EMOTIONS if any(i['label'] == e for i in train)]
    index = {l: k for k, l in enumerate(labels)}
    test = [i for i in test if i['label'] in index]
    if a.vtlp:
        warp = VocalTractWarp(fs.frontend, fs.feature_names)
        if not warp.ok:
            raise SystemExit('earshot_train: --vtlp needs features without deltas or lifter')
        wrng = np.random.default_rng(a.seed + 7)
        train = train + [{**i, 'x': warp(i['x'], wrng.uniform(0.9, 1.1))} for _ in range(a.vtlp) for i in train]
    cols = LevelColumns(fs.frontend, fs.feature_names) if a.norm == 'level' else None
    mean, std = global_stats(train, 'utterance' if a.norm in SPEAKER_MODES else a.norm, cols)
    norm = lambda x: normalise(x, a.norm, mean, std, cols).astype(np.float32)  # noqa: E731
    ytr = [index[i['label']] for i in train]
    draws_raw = bool(a.room or a.babble)
    renorm = None
    scols = speaker_columns(a.norm, fs.feature_names)
    if a.norm in SPEAKER_MODES:
        # the speech frames of each clip: its VAD spans (the training items are spans under --vad)
        clips = {}
        for i in train:
            clips.setdefault((i['dir'], i['name']), {**i, 'spans': []})['spans'].append(i['x'])
        train_base = SpeakerBaselines(clip_moments(list(clips.values()), lambda c: c['spans']))
        test_base = SpeakerBaselines(clip_moments(test, lambda i: i['segs'] if a.vad else [i['x']]))
        raw = [i['x'] for i in train]
        keys = [(i['dir'], i['name']) for i in train]

        def renorm(rng):
            drawn = {}
            for k in keys:
                if k not in drawn:
                    drawn[k] = train_base.draw(k, rng)
            return [speaker_normalise(x, drawn[k], scols).astype(np.float32) for x, k in zip(raw, keys)]
        xtr = renorm(np.random.default_rng(a.seed + 17))
        base_of = lambda i, b=test_base: b.all_others((i['dir'], i['name']))  # noqa: E731
        norm_item = lambda i, x: speaker_normalise(x, base_of(i), scols).astype(np.float32)  # noqa: E731
    else:
        # under --room or --babble the items stay raw: each draw is augmented, then normalised (fit)
        xtr = [i['x'] if draws_raw else norm(i['x']) for i in train]
        norm_item = lambda i, x: norm(x)  # noqa: E731
    # a held-out clip under --vad is its list of spans (scored duration-weighted, as the daemon does)
    xte = [[norm_item(i, x) for x in i['segs']] if a.vad else norm_item(i, i['x']) for i in test]
    yte = [index[i['label']] for i in test]
    n_in = len(fs.feature_names)
    soft = teacher_targets(a.teacher, train, labels) if a.teacher else None
    draw = balanced_probabilities(train, labels) if a.balance == 'corpus' else None
    allowed = label_mask(train, labels)
    if not allowed.all():
        print('label masks: ' + ', '.join(f"{c} {','.join(l for l in labels if allowed[k][labels.index(l)])}"
                                          for c, k in sorted({i['corpus']: n for n, i in enumerate(train)}.items())), flush=True)
    members = []
    # member k (0-based) trains with seed SEED + 1000 k whether all train here or one per process (--member)
    ks = [a.member - 1] if a.member else range(a.ensemble)
    seeds = [a.seed + 1000 * k for k in ks]
    for k, seed in zip(ks, seeds):
        tag = f'[member {k + 1}/{a.ensemble}] ' if a.ensemble > 1 else ''
        room = (RoomAugment(fs.frontend, fs.feature_names, a.room, babble=a.babble, pool=xtr if a.babble else None), norm) if draws_raw else None
        members.append(fit(a, seed, n_in, len(labels), xtr, ytr, xte, yte, t0, tag, renorm, soft, draw, allowed, room))
    fixed = members[0][1]
    model = members[0][0] if len(members) == 1 else Ensemble([m for m, _ in members])
    params = sum(p.numel() for p in model.parameters())
    print(f'{a.arch}: {params} parameters, {len(labels)} classes, {len(train)} train / {len(test)} held-out clips; {protocol}', flush=True)
    # the held-out check of what is exported (a single model's was printed after its last epoch)
    check = evaluate(model, xte, yte, len(labels), fixed) if xte and (len(members) > 1 or a.report) else {}
    if len(members) > 1 and check:
        print(f'ensemble of {a.ensemble}: held-out (python check) acc {check["accuracy"]:.3f} uar {check["uar"]:.3f}', flush=True)
    if a.norm in SPEAKER_MODES and xte:
        # the same held-out clips with a cold baseline (per utterance) and with a baseline from
        # the speaker's other clips of the same emotion only (the worst emotion skew)
        cold = [[speaker_normalise(x, None).astype(np.float32) for x in (i['segs'] if a.vad else [i['x']])] for i in test]
        skew = [[speaker_normalise(x, test_base.same_emotion((i['dir'], i['name']), i['label']), scols).astype(np.float32)
                 for x in (i['segs'] if a.vad else [i['x']])] for i in test]
        for tag, xs in (('no baseline (per utterance)', cold), ('same-emotion baseline', skew)):
            r = evaluate(model, xs, yte, len(labels), fixed)
            check.setdefault('variants', {})[tag] = {k: r[k] for k in ('accuracy', 'uar')}
            print(f'held-out (python check) with {tag}: acc {r["accuracy"]:.3f} uar {r["uar"]:.3f}', flush=True)
    for d in a.extra_test:
        check.setdefault('extraTests', {})[d] = extra_test(a, model, fixed, d, labels, norm)

    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = a.out + '.onnx'
    export_onnx(model, len(fs.feature_names), onnx_path, fixed)
    weights = 'fp32' if a.member else a.weights
    store_weights(onnx_path, weights)
    # Per-utterance CMVN needs the whole window's statistics, so an incremental form would not see
    # the input it was trained on: those models run on sliding windows (metadata `window`) instead.
    streams = a.arch == 'lstm-attn' and a.ensemble == 1 and a.norm in ('global', 'none')
    streaming = export_streaming(model, len(fs.feature_names), a.out + '.stream.onnx') if streams else None
    corpora = sorted({i['corpus'] for i in train})
    options = {k: getattr(a, k) for k in ['batch', 'lr', 'hidden', 'layers', 'stack', 'norm', 'no_specaugment', 'no_tempo', 'no_crop', 'no_jitter',
                                          'vtlp', 'room', 'babble', 'max_frames', 'vad', 'mixup', 'ensemble', 'channels', 'side', 'weights', 'balance',
                                          'epoch_items']}
    if a.teacher:
        with open(a.teacher) as fh:
            options['distillation'] = {'teachers': json.load(fh)['teachers'], 'weight': a.distill_weight, 'temperature': a.distill_temperature}
    if a.member:
        options['member'] = a.member
    options['features'] = [os.path.relpath(d) for d in a.features]
    options['augmentFeatures'] = [os.path.relpath(d) for d in a.augment_features]
    write_metadata(a.out + '.json', name=a.name or os.path.basename(a.out), arch=a.arch, description=ARCHITECTURES[a.arch][2],
                   labels=labels, frontend=fs.frontend, feature_names=fs.feature_names, norm_mode=a.norm, mean=mean, std=std,
                   onnx_path=onnx_path, fixed_frames=fixed, parameters=params, corpora=corpora, protocol=protocol,
                   held_out=held_out, seed=seeds[0], epochs=a.epochs, options=options, seconds=time.time() - t0, streaming=streaming, weights=weights)
    print(f'wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) and {a.out}.json in {time.time() - t0:.0f} s', flush=True)
    for seed in seeds:  # the model is out: its epoch checkpoints are spent
        if checkpoint_path(a, seed) and os.path.exists(checkpoint_path(a, seed)):
            os.remove(checkpoint_path(a, seed))
    if a.report:
        with open(a.report, 'w') as fh:
            json.dump({'labels': labels, 'protocol': protocol, 'measuredBy': 'train.py', **check,
                       'heldOut': [{'corpus': i['corpus'], 'name': i['name'], 'label': i['label']} for i in test]}, fh, indent=2)


if __name__ == '__main__':
    main(sys.argv[1:])
