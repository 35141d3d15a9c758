"""bench/time_net.py, the worker `make bench` runs per net and framework: it builds the generator's nets
from their Method (bench/caffe_nets.py) and the single-layer nets, and times what it runs."""
import json

import pytest

from bench import time_net
from bench.caffe_nets import train_net_param
from dscmr import methods


@pytest.mark.parametrize("net", ["drml", "region"])
def test_time_net_times_a_generator_net_and_a_layer_net(net, capsys):
    time_net.main(["caffe", net, "--iters", "2", "--warmup", "0", "--batch", "1"])
    out = json.loads(capsys.readouterr().out)
    assert len(out["iter_ms"]) == 2 and all(ms > 0 for ms in out["iter_ms"])


def test_the_bench_net_is_the_generators_with_input_blobs():
    net = train_net_param(methods.get("ldscmr"), 2)
    types = [layer.type for layer in net.layer]
    assert net.name == "ldscmr_bench" and types[:2] == ["Input", "Input"] and "Data" not in types
    assert "Region" in types and types[-1] == "AdMSRLoss"
