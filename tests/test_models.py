"""Architectures: output shapes for every model and dataset, prunable layers, initialisation."""

import pytest
import torch
from torch import nn

from sparsetopo.data import DATASETS, dataset_info
from sparsetopo.models import MODELS, build_model, prunable_layers

SHAPES = {"mnist5k": (1, 28, 28), "digits": (1, 8, 8), "cifar10": (3, 32, 32), "cifar100": (3, 32, 32),
          "tinyimagenet": (3, 32, 32), "imagenet": (3, 224, 224)}


@pytest.mark.parametrize("dataset", DATASETS.names())
def test_dataset_info_shapes(dataset):
    info = dataset_info(dataset)
    assert info.input_shape == SHAPES[dataset]
    assert info.num_classes == {"cifar100": 100, "tinyimagenet": 200, "imagenet": 1000}.get(dataset, 10)


@pytest.mark.parametrize("model", MODELS.names())
@pytest.mark.parametrize("dataset", ["mnist5k", "digits", "cifar100", "tinyimagenet"])
def test_output_shape_every_model_and_dataset(model, dataset):
    info = dataset_info(dataset)
    if model == "conv6" and info.input_shape[1] < 8:
        pytest.skip("conv6 needs at least 8x8 inputs")
    net = build_model(model, info.input_shape, info.num_classes).eval()
    with torch.no_grad():
        out = net(torch.randn(2, *info.input_shape))
    assert out.shape == (2, info.num_classes)


def test_conv6_rejects_too_small_inputs():
    with pytest.raises(ValueError, match="at least 8x8"):
        build_model("conv6", (1, 6, 6), 10)


@pytest.mark.parametrize("model,count", [("conv6", 9), ("resnet20", 22), ("resnet32", 34), ("wrn28_2", 29)])
def test_prunable_layer_counts_match_the_main_paper(model, count):
    assert len(prunable_layers(build_model(model, (3, 32, 32), 10))) == count


def test_resnet20_parameter_count_and_shortcuts():
    net = build_model("resnet20", (3, 32, 32), 10)
    weights = sum(m.weight.numel() for _, m in prunable_layers(net))
    assert weights == 270_896  # 0.27 M weights in conv/linear layers (He et al. 2016, option B)
    shortcut_convs = [n for n, m in prunable_layers(net) if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert shortcut_convs == ["layer2.0.shortcut.0", "layer3.0.shortcut.0"]


def test_kaiming_normal_init_and_zero_bias():
    torch.manual_seed(0)
    net = build_model("conv6", (3, 32, 32), 10)
    conv = net.features[3]  # 64 -> 64, 3x3: fan-in 576
    std = conv.weight.std().item()
    assert abs(std - (2.0 / 576) ** 0.5) < 0.003
    assert torch.count_nonzero(conv.bias) == 0


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = build_model("resnet20", (3, 32, 32), 10)
    torch.manual_seed(3)
    b = build_model("resnet20", (3, 32, 32), 10)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_unknown_model_lists_known_names():
    with pytest.raises(KeyError, match="known models: conv6, mlp, mobilenet_v2, mobilenetv2, resnet18, resnet20, "
                                      "resnet32, resnet50, wrn28_2"):
        build_model("vgg16", (3, 32, 32), 10)


# torchvision's ImageNet models: parameter counts of torchvision's documentation (1,000 classes)
@pytest.mark.parametrize("model,params,layers", [("resnet18", 11_689_512, 21), ("resnet50", 25_557_032, 54),
                                                 ("mobilenet_v2", 3_504_872, 53)])
def test_torchvision_models_are_torchvisions_own(model, params, layers):
    import torchvision

    net = build_model(model, (3, 224, 224), 1000)
    assert sum(p.numel() for p in net.parameters()) == params
    assert len(prunable_layers(net)) == layers  # every Conv2d (depthwise, 1x1 shortcuts) and the classifier
    ref = getattr(torchvision.models, model)(weights=None)
    assert [n for n, _ in prunable_layers(net)] == [n for n, _ in prunable_layers(ref)]
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2"])
def test_torchvision_models_trace_into_the_multipartite_encoding(model):
    from sparsetopo.encodings import node_count

    net = build_model(model, (3, 32, 32), 10).eval()
    sizes = []
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: sizes.append((name, out[0].numel())))
             for name, m in prunable_layers(net)]
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    # parts: the input and every conv/linear output, except 1x1 shortcut convs (they feed their block's sum)
    shortcut_outputs = {name for name, _ in sizes if "downsample" in name}
    expect = 3 * 32 * 32 + sum(n for name, n in sizes if name not in shortcut_outputs)
    assert node_count(net, (3, 32, 32)) == expect


def test_torchvision_stem_follows_the_input_channels():
    net = build_model("resnet18", (1, 28, 28), 10)
    assert net.conv1.in_channels == 1 and net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    mobile = build_model("mobilenet_v2", (1, 28, 28), 10)
    assert mobile.features[0][0].in_channels == 1 and mobile.features[0][0].out_channels == 32
