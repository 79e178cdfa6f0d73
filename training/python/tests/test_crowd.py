import numpy as np
import onnx
import torch

from earshot_train.crowd import CrowdNet, choose_threshold, export, parse_args, prepare_frames, rates

DIM, MELS, RMS = 44, 40, 40


def net():
    torch.manual_seed(0)
    return CrowdNet(np.zeros(DIM), np.ones(DIM), MELS, RMS)


def frames(t=50):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, t, DIM, generator=g) + 0.1
    return x


def test_prepare_removes_the_level_before_standardising_so_a_gain_does_not_move_it():
    torch.manual_seed(0)
    std = np.linspace(0.5, 2.0, DIM)
    n = CrowdNet(np.zeros(DIM), std, MELS, RMS)
    x = frames()
    p = n.prepare(x)
    ln_rms = torch.log(x[..., RMS] + 1e-6)
    assert torch.allclose(p[..., RMS], (ln_rms - ln_rms.mean()) / float(std[RMS]), atol=1e-5)
    louder = x.clone()
    louder[..., :MELS] += 3.0  # a gain of e^1.5: every log-mel moves by 3, the rms is multiplied by e^1.5
    louder[..., RMS] *= np.exp(1.5)
    q = n.prepare(louder)
    assert torch.allclose(q, p, atol=1e-4)
    f = prepare_frames(x[0].numpy(), MELS, RMS)
    assert np.allclose((f - 0) / std, p[0].numpy(), atol=1e-4)


def test_score_is_the_mean_of_frame_logits_so_it_streams():
    n = net()
    x = frames(60)
    with torch.no_grad():
        h, _ = n.gru(n.prepare(x))
        per_frame = n.out(h).squeeze(-1)
        assert torch.allclose(n(x), per_frame.mean(1))


def test_a_padded_batch_scores_each_utterance_as_it_scores_alone():
    from earshot_train.crowd import batch
    n = net()
    frames = np.random.default_rng(0).random((90, DIM), dtype=np.float32) + 0.1
    rows = [{'offset': 0, 'frames': 40}, {'offset': 40, 'frames': 50}]
    with torch.no_grad():
        both = n(*batch(frames, rows))
        alone = [float(n(torch.from_numpy(frames[r['offset']:r['offset'] + r['frames']])[None])) for r in rows]
    assert np.allclose(both.numpy(), alone, atol=1e-5)


def test_threshold_keeps_the_asked_share_of_clean_talkers():
    rows = [{'kind': 'single', 'snr': None, 'split': 'val'}] * 100 + [{'kind': 'babble', 'snr': None, 'split': 'val'}] * 10
    s = np.concatenate([np.linspace(0, 1, 100), np.full(10, -1.0)])
    t = choose_threshold(s, rows, 0.97)
    r = rates(s, rows, t)
    assert r['single']['kept'] >= 0.97 and r['single']['kept'] < 0.99
    assert r['babble']['kept'] == 0.0


def test_export_has_one_features_input_with_a_free_time_axis_and_one_score(tmp_path):
    path = str(tmp_path / 'crowd.onnx')
    export(net(), DIM, path)
    m = onnx.load(path)
    assert [i.name for i in m.graph.input] == ['features']
    assert [o.name for o in m.graph.output] == ['score']
    dims = m.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_param == 'time' and dims[2].dim_value == DIM


def test_defaults():
    a = parse_args(['x.json'])
    assert a.keep == 0.97 and a.threads == 1
