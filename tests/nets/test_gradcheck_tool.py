"""tools/nets/gradcheck.py: C++ vs Python vs finite differences, and a non-zero exit on a mismatch."""
import numpy as np
import pytest

from tools.nets import gradcheck


def test_every_layer_passes(capsys):
    assert gradcheck.main(["--layer", "all", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for check in ("msr/TRAIN cpp vs py", "admsr/TEST cpp vs fd", "region/TRAIN cpp vs py", "region/TEST cpp vs fd"):
        assert check in out
    assert "MISMATCH" not in out
    passed = int(out.strip().splitlines()[-1].split()[0])
    assert passed >= 30


def test_a_python_layer_with_other_parameters_is_a_mismatch(monkeypatch, capsys):
    cpp, (module, layer, _), shape, phases, n_params = gradcheck.LAYERS["admsr"]
    monkeypatch.setitem(gradcheck.LAYERS, "admsr", (
        cpp, (module, layer, '{"ignore_label": 999, "alpha": 0.2}'), shape, phases, n_params))
    assert gradcheck.main(["--layer", "admsr"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_error_row_is_relative_to_the_blob_magnitude():
    row = gradcheck.error_row("c", "b", np.array([100.0, 1.0]), np.array([100.0, 1.0005]), 1e-5, 1e-8)
    assert np.isclose(row["abs"], 5e-4)
    assert np.isclose(row["rel"], 5e-6) and row["ok"]
    assert not gradcheck.error_row("c", "b", np.array([1.0]), np.array([1.1]), 1e-5, 1e-8)["ok"]


def test_wrong_shape_rank_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        gradcheck.main(["--layer", "region", "--shape", "8,5"])
    assert exit_info.value.code == 2
    assert "needs 4 dimensions" in capsys.readouterr().err
