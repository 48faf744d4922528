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
    ("fused_update", True, None),
])
def test_bad_values_raise_config_error_naming_the_field(field, value, message):
    base = "tutorial-normalized" if field == "fused_update" else "tutorial"
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
    """MODEL.md section 2."""
    t, n, b = (refsim.get_preset(p) for p in refsim.preset_names())
    assert (t.R_g, n.R_g, b.R_g) == (1e-3, 1.0, 1.0)
    assert (t.dtype, n.dtype, b.dtype) == ("float32", "float64", "float64")
    assert (t.RI_ext, b.RI_ext, b.w_e, b.w_i) == (20.0, 0.0, 0.6, 6.7)
    assert (b.reset, b.integrator, b.threshold_test, b.schedule) == ("hard", "euler", ">", "brette")
    assert int(t.p_conn * t.n_neurons) == 80 and t.n_steps == 10000
