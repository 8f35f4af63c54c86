"""Tests for twophase.models: shapes, exact split, split location, training signal, errors."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from twophase.models import (
    MODEL_INFO,
    FeatureSplitModel,
    ModelName,
    PlayerKind,
    SplitModel,
    build_model,
    model_names,
)
from twophase.models.base import adapt_conv_stack, nth_relu_end, spatial_out
from twophase.models.dgcnn import edge_features, knn_indices

# (name, kwargs, in_channels, input_size, expected player-layer shape (C, H, W))
IMAGE_CASES = [
    ("lenet", {}, 1, 32, (6, 28, 28)),
    ("lenet", {}, 1, 28, (6, 28, 28)),
    ("lenet", {}, 1, 8, (6, 8, 8)),
    ("lenet", {}, 3, 64, (6, 60, 60)),
    ("vgg11", {"width": 0.125}, 1, 32, (16, 16, 16)),
    ("vgg11", {"width": 0.125}, 1, 8, (16, 4, 4)),
    ("vgg13", {"width": 0.125}, 3, 32, (8, 32, 32)),
    ("vgg16", {"width": 0.125}, 3, 16, (8, 16, 16)),
    ("vgg11", {"width": 0.125, "bn": True}, 3, 16, (16, 8, 8)),
    ("alexnet", {"width": 0.25}, 3, 32, (16, 32, 32)),
    ("alexnet", {"width": 0.125}, 1, 8, (8, 8, 8)),
    ("alexnet", {"width": 0.125}, 3, 64, (8, 15, 15)),
    ("mlp", {"hidden": (32,)}, 1, 8, (1, 8, 8)),
    ("cnn-small", {}, 1, 8, (16, 8, 8)),
    ("cnn-small", {"channels": (4, 8)}, 3, 32, (4, 32, 32)),
]


def _ids(case):
    name, kw, c, s, _ = case
    extra = ",".join(f"{k}={v}" for k, v in kw.items())
    return f"{name}-{c}x{s}x{s}" + (f"-{extra}" if extra else "")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[_ids(c) for c in IMAGE_CASES])
def test_image_model_shapes_and_exact_split(case):
    name, kw, c, s, player_shape = case
    model = build_model(name, num_classes=7, in_channels=c, input_size=s, **kw).eval()
    assert isinstance(model, SplitModel)
    assert model.player_kind is PlayerKind.PATCH and model.player_kind == "patch"
    x = torch.randn(3, c, s, s)
    with torch.no_grad():
        features = model.front(x)
        logits = model.tail(features)
        full = model(x)
    assert features.shape == (3, *player_shape)
    assert logits.shape == (3, 7)
    assert torch.equal(logits, full)
    if isinstance(model, FeatureSplitModel):
        assert model.player_shape(s) == player_shape
        with torch.no_grad():  # the wrapped network's own forward, untouched by the split
            assert torch.equal(model.net(x), full)


@pytest.mark.parametrize(
    ("name", "nth", "kw"),
    [
        ("vgg11", 2, {}),
        ("vgg13", 2, {}),
        ("vgg11", 2, {"bn": True}),
        ("alexnet", 1, {}),
        ("lenet", 1, {}),
        ("cnn-small", 1, {}),
    ],
)
def test_front_is_output_of_the_papers_relu(name, nth, kw):
    """Oracle independent of the split code: forward hooks on every ReLU of the full network."""
    kw = dict(kw)
    if name != "lenet" and name != "cnn-small":
        kw["width"] = 0.125
    model = build_model(name, num_classes=4, in_channels=3, input_size=32, **kw).eval()
    captured = []
    relus = [m for m in model.net.features if isinstance(m, nn.ReLU)]
    handles = [
        r.register_forward_hook(lambda _m, _i, out: captured.append(out.clone())) for r in relus
    ]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.net(x)
        front = model.front(x)
    for h in handles:
        h.remove()
    assert torch.equal(front, captured[nth - 1])
    assert f"{['1st', '2nd'][nth - 1]} ReLU" in model.split_layer


def test_torchvision_head_keeps_torchvision_classes():
    vgg = build_model(
        "vgg11", num_classes=5, in_channels=1, input_size=32, width=0.125, head="torchvision"
    ).eval()
    assert isinstance(vgg.net, torchvision.models.VGG)
    assert isinstance(vgg.net.avgpool, nn.AdaptiveAvgPool2d) and vgg.net.avgpool.output_size == (
        7,
        7,
    )
    assert vgg.net.classifier[0].in_features == 64 * 49
    assert vgg.net.features[0].in_channels == 1
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(vgg(x), torchvision.models.VGG.forward(vgg.net, x))
    alex = build_model("alexnet", num_classes=5, input_size=224, width=0.0625).eval()
    assert isinstance(alex.net, torchvision.models.AlexNet)
    assert alex.net.features[0].kernel_size == (11, 11)  # the original stem at 224
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        feats = alex.front(x)
        assert feats.shape == (1, 4, 55, 55)
        assert torch.equal(alex.tail(feats), torchvision.models.AlexNet.forward(alex.net, x))


def test_vgg_is_batchnorm_free_by_default_and_has_paper_conv_counts():
    for depth, convs in ((11, 8), (13, 10), (16, 13)):
        model = build_model(f"vgg{depth}", num_classes=3, input_size=32, width=0.125)
        layers = list(model.net.features)
        assert sum(isinstance(m, nn.Conv2d) for m in layers) == convs
        assert not any(isinstance(m, nn.BatchNorm2d) for m in layers)
    bn = build_model("vgg11", num_classes=3, input_size=32, width=0.125, bn=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.net.features) == 8


@pytest.mark.parametrize("head", ["compact", "torchvision"])
def test_models_built_on_meta_are_materialised_and_initialised(head):
    """VGG/AlexNet are built on the meta device; check real, finite, torchvision-style weights."""
    vgg = build_model("vgg11", num_classes=3, input_size=32, width=0.25, head=head, bn=True)
    alex = build_model("alexnet", num_classes=3, input_size=32, width=0.25, head=head)
    for model in (vgg, alex):
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            assert t.device.type == "cpu" and torch.isfinite(t.float()).all(), name
    linears = [m for m in vgg.modules() if isinstance(m, nn.Linear)]
    for lin in linears:  # torchvision's VGG init: N(0, 0.01), zero bias
        assert abs(lin.weight.std().item() - 0.01) < 0.002 and torch.all(lin.bias == 0)
    conv = vgg.net.features[0]  # Kaiming normal, fan-out: std = sqrt(2 / (C_out * 9))
    assert abs(conv.weight.std().item() / (2 / (conv.out_channels * 9)) ** 0.5 - 1) < 0.25
    bn_layer = vgg.net.features[1]
    assert torch.all(bn_layer.running_mean == 0) and torch.all(bn_layer.running_var == 1)
    assert torch.all(bn_layer.weight == 1) and torch.all(bn_layer.bias == 0)
    alex_conv = alex.net.features[
        0
    ]  # PyTorch default: kaiming_uniform(a=sqrt(5)) -> |w| <= 1/sqrt(fan_in)
    bound = 1 / (alex_conv.in_channels * 9) ** 0.5
    assert alex_conv.weight.abs().max() <= bound + 1e-6 and alex_conv.weight.abs().max() > bound / 2


@pytest.mark.parametrize(
    ("name", "kw", "c", "s"),
    [
        ("lenet", {}, 1, 16),
        ("vgg11", {"width": 0.125, "dropout": 0.0}, 3, 16),
        ("alexnet", {"width": 0.125, "dropout": 0.0}, 3, 16),
        ("mlp", {}, 1, 8),
        ("cnn-small", {}, 1, 8),
    ],
)
def test_gradients_flow_and_sgd_step_reduces_loss(name, kw, c, s):
    model = build_model(name, num_classes=3, in_channels=c, input_size=s, **kw)
    x = torch.randn(8, c, s, s)
    y = torch.arange(8) % 3
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(model(x), y)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
    first = next(p for p in model.parameters())
    assert first.grad.abs().sum() > 0
    grad_sq = sum((p.grad**2).sum() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=1e-3 / max(grad_sq.sqrt().item(), 1.0))
    opt.step()
    with torch.no_grad():
        new_loss = loss_fn(model(x), y)
    assert new_loss < loss.detach()


def test_dgcnn_shapes_split_and_permutation_invariance():
    model = build_model(
        "dgcnn", num_classes=4, k=6, dims=(8, 8, 16, 16), emb=32, head_dims=(16, 8)
    ).eval()
    assert model.player_kind is PlayerKind.CLUSTER
    pts = torch.randn(3, 40, 3)
    with torch.no_grad():
        assert torch.equal(model.front(pts), pts)
        logits = model(pts)
        perm = torch.randperm(40)
        permuted = model(pts[:, perm])
    assert logits.shape == (3, 4)
    assert torch.allclose(logits, permuted, atol=1e-5)
    # different clouds give different outputs (the net is not constant)
    assert not torch.allclose(logits[0], logits[1])
    # tiny cloud: k is clamped to the number of points
    with torch.no_grad():
        assert model(torch.randn(2, 4, 3)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"\(B, P, 3\)"):
        model.front(torch.randn(2, 3, 40))


def test_dgcnn_trains():
    model = build_model(
        "dgcnn", num_classes=2, k=4, dims=(8, 8, 8, 8), emb=16, head_dims=(8,), dropout=0.0
    )
    pts = torch.randn(6, 16, 3)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    model.train()
    loss = nn.functional.cross_entropy(model(pts), y)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.edge_convs[0].conv.weight.grad.abs().sum() > 0


def test_knn_and_edge_features_match_brute_force():
    x = torch.randn(2, 5, 9)  # (B, C, P)
    idx = knn_indices(x, 3)
    pts = x.transpose(1, 2)
    d = torch.cdist(pts, pts)
    for b in range(2):
        for i in range(9):
            expected = set(torch.argsort(d[b, i])[:3].tolist())
            assert set(idx[b, i].tolist()) == expected
            assert idx[b, i, 0] == i  # nearest is the point itself
    edges = edge_features(x, idx)
    assert edges.shape == (2, 10, 9, 3)
    b, i, j = 1, 4, 2
    nb = idx[b, i, j]
    assert torch.allclose(edges[b, :5, i, j], x[b, :, nb] - x[b, :, i])
    assert torch.allclose(edges[b, 5:, i, j], x[b, :, i])


def test_bert_tiny_forward_mask_and_padding_invariance():
    model = build_model(
        "bert-tiny", num_classes=2, vocab_size=50, max_position_embeddings=32, mask_token_id=4
    ).eval()
    assert model.player_kind is PlayerKind.WORD
    cfg = model.config
    assert (
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.intermediate_size,
    ) == (2, 128, 2, 512)
    assert model.mask_token_id == 4
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    padded = torch.tensor([[2, 10, 11, 12, 3, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        assert torch.equal(model.front(ids), ids)
        plain = model.tail(ids)
        masked_pad = model.tail(padded, attention_mask=mask)
        unmasked_pad = model.tail(padded)
        assert torch.equal(model(padded, attention_mask=mask), masked_pad)
    assert plain.shape == (1, 2)
    assert torch.allclose(plain, masked_pad, atol=1e-5)  # padding is ignored under the mask
    assert not torch.allclose(plain, unmasked_pad, atol=1e-5)  # ... and only because of it
    with pytest.raises(ValueError, match="vocab_size"):
        model.tail(torch.tensor([[2, 50, 3]]))
    with pytest.raises(ValueError, match="integer token ids"):
        model.front(torch.randn(1, 5))
    # trains: gradients reach the embeddings
    model.train()
    loss = nn.functional.cross_entropy(
        model(ids, attention_mask=torch.ones_like(ids)), torch.tensor([1])
    )
    loss.backward()
    assert model.bert.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_bert_medium_sizes():
    model = build_model("bert-medium", num_classes=2, vocab_size=30, max_position_embeddings=16)
    cfg = model.config
    assert (
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.intermediate_size,
    ) == (8, 512, 8, 2048)
    assert cfg._attn_implementation == "eager"
    with torch.no_grad():
        assert model.eval()(torch.tensor([[2, 5, 6, 3]])).shape == (1, 2)
    with pytest.raises(ValueError, match="vocab_size"):
        build_model("bert-tiny", num_classes=2)


def test_every_name_has_info_and_builds():
    assert set(MODEL_INFO) == set(ModelName)
    assert model_names() == [n.value for n in ModelName]
    small = {
        "vgg11": {"width": 0.125},
        "vgg13": {"width": 0.125},
        "vgg16": {"width": 0.125},
        "alexnet": {"width": 0.125},
        "bert-tiny": {"vocab_size": 20},
        "dgcnn": {"emb": 16, "dims": (8, 8, 8, 8)},
    }
    for name in ModelName:
        if name is ModelName.BERT_MEDIUM:
            continue  # built in test_bert_medium_sizes
        model = build_model(
            name, num_classes=3, in_channels=1, input_size=16, **small.get(name.value, {})
        )
        assert model.player_kind == MODEL_INFO[name].player_kind
        assert model.model_name == name.value


def test_bad_name_and_bad_option_errors():
    with pytest.raises(ValueError,
                       match="unknown model name 'resnet50'; valid values: 'lenet', 'vgg11'"):
        build_model("resnet50", num_classes=10)
    assert (
        build_model("CNN_small", num_classes=2, in_channels=1, input_size=8).model_name
        == "cnn-small"
    )
    with pytest.raises(TypeError, match=r"lenet does not accept option\(s\) \['width'\]"):
        build_model("lenet", num_classes=10, width=0.5)
    with pytest.raises(ValueError,
                       match="unknown head 'big'; valid values: 'torchvision', 'compact'"):
        build_model("vgg11", num_classes=10, head="big")
    with pytest.raises(ValueError, match="too small"):
        build_model("alexnet", num_classes=10, input_size=4, small_input_stem=False)
    with pytest.raises(TypeError, match="no auxiliary inputs"):
        build_model("lenet", num_classes=2, in_channels=1, input_size=8).tail(
            torch.zeros(1, 6, 8, 8), attention_mask=torch.ones(1, 3)
        )


def test_spatial_out_matches_torch():
    layers = [
        nn.Conv2d(1, 1, 5),
        nn.Conv2d(1, 1, 11, stride=4, padding=2),
        nn.Conv2d(1, 1, 3, padding=1),
        nn.MaxPool2d(2),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(1, 1, 3, padding="same"),
        nn.ReLU(),
    ]
    for layer in layers:
        for size in (11, 16, 28, 32, 63):
            expected = layer(torch.zeros(1, 1, size, size)).shape[-1]
            assert spatial_out(layer, size) == expected, (layer, size)


def test_adapt_conv_stack_channels_width_and_pools():
    seq = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )
    out, channels, side = adapt_conv_stack(seq, in_channels=1, input_size=2, width=0.5)
    assert len(out) == len(seq)
    assert out[0].in_channels == 1 and out[0].out_channels == 4 and out[3].out_channels == 8
    assert out[4].num_features == 8
    assert isinstance(out[2], nn.MaxPool2d) and isinstance(
        out[6], nn.Identity
    )  # 2 -> 1, then no fit
    assert (channels, side) == (8, 1)
    assert out(torch.zeros(2, 1, 2, 2)).shape == (2, 8, 1, 1)
    same, _, _ = adapt_conv_stack(seq, in_channels=3, input_size=32)
    assert all(a is b for a, b in zip(same, seq, strict=True))  # nothing to adapt: modules reused
    assert nth_relu_end(seq, 2) == 6
    with pytest.raises(ValueError, match="only 2 ReLU"):
        nth_relu_end(seq, 3)
