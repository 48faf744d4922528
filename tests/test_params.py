"""Parameter validation: every bad value names its parameter and the allowed range."""
import pytest

import refsim
from refsim import ConfigError


@pytest.mark.parametrize("field,value,message", [
    ("tau_m", 0.0, "tau_m = 0.0: allowed tau_m > 0"),
    ("dt", -0.1, "dt = -0.1: allowed dt > 0"),
    ("duration", 100.05, "duration = 100.05: allowed a whole positive multiple of dt"),
    ("p_conn", 1.5, "p_conn = 1.5: allowed 0 <= p_conn <= 1"),
    ("n_exc", -1, "n_exc = -1: allowed n_exc >= 0"),
    ("V_th", float("nan"), "V_th = nan: allowed a finite number"),
    ("reset", "medium", "reset = 'medium': allowed one of 'soft', 'hard'"),
    ("arithmetic", "xla", "arithmetic = 'xla': allowed 'ieee' unless dtype = 'float32'"),
    ("expm1", "xla", "expm1 = 'xla': allowed 'portable' or 'libm' unless dtype = 'float32'"),
    ("expm1", "fast", "expm1 = 'fast': allowed one of 'portable', 'xla', 'libm'"),
])
def test_bad_values_raise_config_error_naming_the_field(field, value, message):
    base = "tutorial-normalized" if field in ("arithmetic", "expm1") else "tutorial"
    with pytest.raises(ConfigError) as e:
        refsim.get_preset(base, **{field: value})
    assert str(e.value).startswith(field)
    if message:
        assert message in str(e.value)


def test_out_degree_larger_than_population_without_replacement():
    with pytest.raises(ConfigError, match="p_conn"):
        refsim.get_preset("tutorial-normalized", n_exc=8, n_inh=2, conn_rng="pcg64",
                          multapses=False, p_conn=1.0, autapses=False)


def test_unknown_preset_suggests_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'brette2007-coba'"):
        refsim.get_preset("brette2007")


def test_presets_have_the_spec_values():
    """docs/model.md, the parameter table."""
    t, n, b = (refsim.get_preset(p) for p in refsim.preset_names())
    assert (t.R_g, n.R_g, b.R_g) == (1e-3, 1.0, 1.0)
    assert (t.dtype, n.dtype, b.dtype) == ("float32", "float64", "float64")
    assert (t.RI_ext, b.RI_ext, b.w_e, b.w_i) == (20.0, 0.0, 0.6, 6.7)
    assert (b.reset, b.integrator, b.threshold_test, b.schedule) == ("hard", "euler", ">", "brette")
    assert int(t.p_conn * t.n_neurons) == 80 and t.n_steps == 10000


def test_config_dicts_of_refsim_01_still_load():
    """Result files of refsim 0.1 store a config with ``fused_update`` and no ``expm1``: they
    load as what 0.1 computed (the machine's own expm1, and v + h*f fused or not)."""
    for preset, fused, arithmetic in (("tutorial", True, "fused-update"),
                                      ("tutorial-normalized", False, "ieee")):
        d = refsim.get_preset(preset).to_dict()
        del d["arithmetic"], d["expm1"]
        d["fused_update"] = fused
        cfg = refsim.Config.from_dict(d)
        assert (cfg.arithmetic, cfg.expm1) == (arithmetic, "libm")
    d["fused_update"] = "maybe"
    with pytest.raises(ConfigError, match="fused_update = 'maybe': allowed"):
        refsim.Config.from_dict(d)


def test_xla_arithmetic_warns_where_xla_would_compile_other_forms():
    """arithmetic='xla' is the tutorial's XLA program (R_g != 1, RI_ext != 0, verified against
    BrainPy); with R_g = 1 or RI_ext = 0 XLA fuses differently (docs/model.md), so a
    ConfigWarning names the constant. The tutorial itself is silent."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refsim.get_preset("tutorial")
    with pytest.warns(refsim.ConfigWarning, match=r"arithmetic = 'xla' with R_g = 1"):
        refsim.get_preset("tutorial", R_g=1.0)
    with pytest.warns(refsim.ConfigWarning, match=r"arithmetic = 'xla' with RI_ext = 0"):
        refsim.get_preset("tutorial", RI_ext=0.0)
