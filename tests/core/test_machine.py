"""dscmr/machine.py: the line a training run writes into its log for every `caffe train`."""
from dscmr.machine import cpuinfo, describe

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14
cpu MHz\t\t: 2596.000
flags\t\t: fpu sse avx2 avx512f avx512_bf16
"""


def test_a_cpu_is_described_by_model_family_cores_isa_and_the_users_openblas_coretype():
    info = cpuinfo(ZEN4)
    assert (info["vendor"], info["family"], info["model_number"], info["mhz"]) == ("AuthenticAMD", "25", "17", "2596.000")
    assert describe(info, cores=2, environ={}) == \
        "AMD EPYC 9R14 (family 25, model 17), 2 cores, avx512f, OPENBLAS_CORETYPE=unset"
    older = cpuinfo(ZEN4.replace(" avx512f avx512_bf16", ""))
    assert describe(older, cores=4, environ={"OPENBLAS_CORETYPE": "Haswell"}) == \
        "AMD EPYC 9R14 (family 25, model 17), 4 cores, avx2, OPENBLAS_CORETYPE=Haswell"


def test_a_kernel_that_prints_no_model_still_gives_one_line():
    assert describe(cpuinfo("processor\t: 0\n"), cores=1, environ={}) == \
        "unknown CPU (family ?, model ?), 1 cores, no avx2, OPENBLAS_CORETYPE=unset"
