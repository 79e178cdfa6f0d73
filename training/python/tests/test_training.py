"""Splits, label masks, corpus balance and normalisation of earshot_train (run by bash scripts/test.sh)."""
import numpy as np
import torch

from earshot_train.__main__ import balanced_probabilities, label_mask, masked_cross_entropy, parse_args
from earshot_train.baseline import sample_weights, speaker_causal
from earshot_train.data import EMOTIONS, normalise, speaker_normalise, split_holdout, split_random, UTTERANCE_VAR_FLOOR


def item(corpus, speaker, label, name=None):
    return {'corpus': corpus, 'speaker': speaker, 'label': label, 'name': name or f'{corpus}-{speaker}-{label}'}


def test_holdout_keeps_whole_speakers_out():
    items = [item('ravdess', s, 'happy', f'r{s}{k}') for s in ('01', '02', '03') for k in range(3)] + [item('nemo', 'EB0', 'sad')]
    train, test = split_holdout(items, {'ravdess:02', 'nemo:EB0'})
    assert {i['speaker'] for i in test} == {'02', 'EB0'}
    assert not {i['speaker'] for i in train} & {'02', 'EB0'}
    assert len(train) + len(test) == len(items)


def test_holdout_of_several_corpora_parses():
    a = parse_args(['--features', 'x', '--out', 'y', '--holdout', 'ravdess:01,02;nemo:EB0'])
    assert a.holdout == 'ravdess:01,02;nemo:EB0'


def test_random_split_is_stratified_and_disjoint():
    items = [item('ravdess', '01', l, f'{l}{k}') for l in ('happy', 'sad') for k in range(10)]
    train, test = split_random(items, 0.2, seed=1)
    assert sorted(i['label'] for i in test) == ['happy', 'happy', 'sad', 'sad']
    assert not {i['name'] for i in train} & {i['name'] for i in test}


def test_label_mask_is_each_corpus_own_labels():
    train = [item('ravdess', '01', l) for l in ('calm', 'happy', 'surprised')] + [item('emodb', '03', l) for l in ('happy', 'disgust')]
    labels = ['calm', 'happy', 'disgust', 'surprised']
    m = label_mask(train, labels)
    assert m[0].tolist() == [True, True, False, True]
    assert m[3].tolist() == [False, True, True, False]


def test_masked_cross_entropy_is_torch_cross_entropy_when_all_allowed_and_ignores_masked_logits():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 1, 0])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    allowed = torch.ones(6, 4, dtype=torch.bool)
    # torch weighs the smoothing term by each class's weight, ours by the label's: equal for uniform
    # weights (--balance corpus) and without smoothing
    ref = torch.nn.CrossEntropyLoss(weight=torch.ones(4), label_smoothing=0.1)(logits, y)
    assert torch.allclose(masked_cross_entropy(logits, y, allowed, torch.ones(4), 0.1), ref, atol=1e-6)
    assert torch.allclose(masked_cross_entropy(logits, y, allowed, w, 0.0), torch.nn.CrossEntropyLoss(weight=w)(logits, y), atol=1e-6)
    allowed[:, 3] = False
    allowed[3, 3] = True  # row 3's label is 3: its corpus has that class
    a = masked_cross_entropy(logits, y, allowed, w, 0.1)
    bumped = logits.clone()
    bumped[[0, 1, 2, 4, 5], 3] += 50  # a class a clip's corpus lacks changes nothing for that clip
    assert torch.allclose(masked_cross_entropy(bumped, y, allowed, w, 0.1), a, atol=1e-5)


def test_balance_draws_corpora_by_sqrt_of_clips_times_speakers_and_classes_equally():
    train = ([item('big', f's{k % 4}', 'happy' if k % 3 else 'sad', f'b{k}') for k in range(900)]
             + [item('small', 's0', l, f's{l}{k}') for l in ('happy', 'sad') for k in range(25)])
    p = balanced_probabilities(train, ['happy', 'sad'])
    assert abs(p.sum() - 1) < 1e-9
    share = {c: p[[i['corpus'] == c for i in train]].sum() for c in ('big', 'small')}
    want = np.sqrt(900 * 4) / (np.sqrt(900 * 4) + np.sqrt(50 * 1))
    assert abs(share['big'] - want) < 1e-9
    big_sad = p[[i['corpus'] == 'big' and i['label'] == 'sad' for i in train]].sum()
    assert abs(big_sad - share['big'] / 2) < 1e-9
    copies = [{**i, 'name': i['name'] + '~snr10', 'source': i['name']} for i in train if i['corpus'] == 'big']
    q = balanced_probabilities(train + copies, ['happy', 'sad'])
    assert abs(q[[i['corpus'] == 'big' for i in train + copies]].sum() - want) < 1e-9, 'noisy copies do not enlarge a corpus'
    w = sample_weights(train)
    assert abs(w[[i['corpus'] == 'small' for i in train]].sum() / w.sum() - (1 - want)) < 1e-9


def test_utterance_and_speaker_normalisation():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (50, 4)).astype(np.float32)
    u = normalise(x, 'utterance', None, None)
    assert np.allclose(u.mean(0), 0, atol=1e-5) and np.allclose(u.std(0), 1 / np.sqrt(1 + UTTERANCE_VAR_FLOOR / x.var(0)), atol=1e-3)
    stats = (np.full(4, 3, np.float32), np.full(4, 0.001, np.float32))
    s = speaker_normalise(x, stats)
    assert s.max() <= 6 and s.min() >= -6  # bounded at SPEAKER_CLIP
    assert np.array_equal(speaker_normalise(x, None), u)


def test_causal_speaker_statistics_use_only_clips_heard_so_far():
    items = [item('c', 'a', 'happy', f'a{k}') for k in range(5)]
    X = np.arange(5, dtype=np.float64)[:, None] * np.ones((1, 2))
    ref = (np.zeros(2), np.ones(2))
    out = speaker_causal(X, items, ref, seed=1)
    order = np.random.default_rng(1).permutation(5)
    first = order[0]
    assert np.allclose(out[first], X[first])  # warming up: against the training statistics
    last = order[-1]
    assert np.allclose(out[last], (X[last] - X.mean(0)) / np.sqrt(X.var(0) + 1e-6))
    assert EMOTIONS[0] == 'neutral'


def test_checkpoint_round_trip_and_key_mismatch(tmp_path):
    from earshot_train.__main__ import load_checkpoint, save_checkpoint
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=10)
    loss = model(torch.randn(4, 3)).sum()
    loss.backward()
    opt.step()
    sched.step()
    rngs = (np.random.default_rng(1), np.random.default_rng(2))
    rngs[0].random(5)
    path = str(tmp_path / 'm.seed1.ckpt.pt')
    save_checkpoint(path, 'k', 3, model, opt, sched, rngs)
    after = rngs[0].random()
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    fresh_sched = torch.optim.lr_scheduler.OneCycleLR(fresh_opt, max_lr=1e-2, total_steps=10)
    fresh_rngs = (np.random.default_rng(9), np.random.default_rng(9))
    assert load_checkpoint(path, 'other arguments', fresh, fresh_opt, fresh_sched, fresh_rngs) == 0
    assert load_checkpoint(path, 'k', fresh, fresh_opt, fresh_sched, fresh_rngs) == 3
    assert torch.equal(fresh.weight, model.weight)
    assert fresh_sched.state_dict()['last_epoch'] == 1
    assert fresh_rngs[0].random() == after, 'the draws go on where they stopped'


ROOM_FRONTEND = {'sampleRate': 16000, 'hopLength': 160, 'melBands': 40, 'fMin': 20, 'fMax': 8000, 'log': 'ln', 'mfcc': 0, 'deltas': 0}
ROOM_NAMES = [f'mel{k}' for k in range(40)] + ['rms', 'zcr', 'f0', 'voicing']


def room_clip(frames=300, peak_band=None):
    """Log-mel at -10 (e^-10 power) with, if given, one band 30 nats louder; f0 2 semitones, voiced on even frames."""
    x = np.full((frames, 44), -10.0, np.float32)
    if peak_band is not None:
        x[:, peak_band] = 20.0
    x[:, 40] = 0.1
    x[:, 42] = 2.0
    x[::2, 43] = 1.0
    return x


def test_room_speed_moves_formants_f0_and_duration_by_alpha():
    from earshot_train.data import RoomAugment
    room = RoomAugment(ROOM_FRONTEND, ROOM_NAMES, 1.0)
    x = room_clip(peak_band=20)
    assert np.allclose(room.speed(x, 1.0), x)
    y = room.speed(x, 1.1)
    assert y.shape[0] == round(300 / 1.1)
    # the peak now sits where 1.1 x its frequency falls on the mel axis
    moved = np.interp(np.log10(1 + 1.1 * room.centre_hz[20] / 700) * 2595, room.centre_mel, np.arange(40))
    assert abs(float(np.average(np.arange(40), weights=np.exp(y[0, :40]))) - moved) < 0.6
    assert np.allclose(y[0, 42], 2.0 + 12 * np.log2(1.1), atol=1e-4)  # frame 0 is voiced
    assert np.isclose(y[1, 42], 2.0 + 12 * np.log2(1.1) / 2, atol=0.1) or y[1, 42] >= 2.0  # interpolated between voiced and unvoiced


def test_room_babble_adds_other_talkers_power_at_the_drawn_snr():
    from earshot_train.data import RoomAugment
    rng = np.random.default_rng(5)
    others = [room_clip(frames=f) + np.float32(s) for f, s in ((50, 3.0), (80, -4.0), (120, 0.5))]
    for o in others:
        o[:, :40] += rng.normal(0, 1, (o.shape[0], 40)).astype(np.float32)  # talkers with spectra of their own
        o[:, 40] = np.sqrt(np.exp(o[:, :40]).sum(1) / 40)
    room = RoomAugment(ROOM_FRONTEND, ROOM_NAMES, 0.0, babble=1.0, pool=others)
    x = room_clip(frames=300, peak_band=20)
    y = room.talkers(x, others, 10.0, np.random.default_rng(1))
    assert y.shape == x.shape
    added = np.exp(y[:, :40].astype(np.float64)) - np.exp(x[:, :40].astype(np.float64))
    assert np.all(added > 0)
    assert np.isclose(10 * np.log10(np.exp(x[:, :40].astype(np.float64)).mean() / added.mean()), 10.0, atol=1e-3)
    assert np.all(y[:, 41:] == x[:, 41:]), 'ZCR, f0 and voicing stay the talker\'s'
    assert np.all(y[:, 40] > x[:, 40])
    # the drawn path: with babble 1 and the room off, every item gets other talkers
    z = room(x)
    assert not np.allclose(z[:, :40], x[:, :40]) and z.shape == x.shape
    off = RoomAugment(ROOM_FRONTEND, ROOM_NAMES, 0.0)
    assert np.array_equal(off(x), x)


def test_room_reverb_tail_decays_60_db_in_rt60_and_has_the_drawn_drr():
    from earshot_train.data import RoomAugment
    room = RoomAugment(ROOM_FRONTEND, ROOM_NAMES, 1.0)
    x = np.full((400, 44), np.log(1e-12), np.float32)
    x[10, :40] = 0.0  # one frame of power 1 in every band
    x[:, 40] = 1e-6
    x[10, 40] = 1.0
    y = x.copy()
    room.reverb(y, 0.5, 6.0)
    power = np.exp(y[:, 0].astype(np.float64))
    assert np.isclose(power[10], 1.0, rtol=1e-4)  # the direct sound is unchanged
    assert np.isclose(10 * np.log10(power[11] / power[61]), 60.0, atol=0.5)  # 50 frames = 0.5 s later: 60 dB down
    assert np.isclose(10 * np.log10(1.0 / power[11:].sum()), 6.0, atol=0.2)  # direct-to-reverberant ratio
    assert power[9] < 1e-11  # nothing before the sound
    assert np.exp(y[:, 39][61]) > power[61] * 0 and np.exp(y[:, 39][61]) < power[61]  # the top band dies faster
    assert y[11, 40] > 1e-3  # RMS has a tail too


def test_room_telephone_band_keeps_the_voice_band_and_drops_the_rest():
    from earshot_train.data import RoomAugment

    class Telephone:
        def integers(self, lo, hi):
            return 0

        def uniform(self, lo, hi):
            return 50.0  # dB of noise floor under the mean band power

        def gamma(self, k, theta, size):
            return np.full(size, k * theta)

    room = RoomAugment(ROOM_FRONTEND, ROOM_NAMES, 1.0)
    x = np.zeros((20, 44), np.float32)  # every band at power 1
    x[:, 40] = 1.0
    room.band(x, Telephone())
    hz = room.centre_hz
    inside = (hz > 600) & (hz < 2500)
    assert np.all(np.abs(x[0, :40][inside]) < 0.1)
    assert np.all(x[0, :40][(hz < 120) | (hz > 6000)] < np.log(1e-3))
    assert 0 < x[0, 40] < 1.0  # RMS loses the dropped bands' share


def test_a_gain_or_eq_is_gone_after_utterance_normalisation():
    """Why RoomAugment draws no gain, tilt or fixed microphone response: --norm utterance removes a constant per band exactly."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 44)).astype(np.float32)
    eq = np.zeros(44, np.float32)
    eq[:40] = np.linspace(-6, 3, 40)
    assert np.allclose(normalise(x + eq, 'utterance', None, None), normalise(x, 'utterance', None, None), atol=1e-4)
