"""Issue 26: the bench names the machine it measured on, from the processor's own flags."""


def test_the_machine_is_named_from_its_flags_never_its_name():
    from engine.machine import machine_facts, native_bf16, parse_cpuinfo

    text = ("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\n"
            "processor\t: 1\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    name, flags = parse_cpuinfo(text)
    assert name == "AMD EPYC 9R14" and native_bf16(flags)
    assert not native_bf16(parse_cpuinfo("model name: Intel Xeon bf16 edition\nflags: avx2 avx512f\n")[1])
    assert native_bf16(frozenset({"amx_bf16", "amx_tile"}))
    facts = machine_facts()
    assert facts["cpu"] and facts["cores"] >= 1 and set(facts["flags"]) <= {"avx2", "avx512f", "avx512_bf16",
                                                                             "amx_bf16", "amx_tile"}


def test_the_device_is_a_gpu_only_where_there_is_one(monkeypatch):
    import pytest
    import torch

    from engine.machine import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == "cpu"
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="no device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cpu") == "cpu"
