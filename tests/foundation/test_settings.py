"""Every knob is validated at start and listed in .env.example with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service_kit.settings import Settings, SettingsError, load_settings
from tests.conftest import ROOT


def _documented() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        m = re.match(r"^([A-Z0-9_]+)=(\S*)\s+#\s*\S", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_every_setting_is_in_env_example_with_its_default():
    documented = _documented()
    defaults = Settings.model_validate({})
    for name, field in Settings.model_fields.items():
        var = field.alias or "PREGEN_KEEP_PER_SCOPE"
        assert var in documented, f"{var} missing from .env.example"
        value = getattr(defaults, name)
        shown = documented[var]
        if value is None:
            assert shown == "", var
        elif isinstance(value, bool):
            assert shown in (("1", "true") if value else ("0", "false", "")), var
        elif isinstance(value, list):
            assert shown.split(",") == value, var
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            assert float(shown) == float(value), var
        elif name == "data_dir":
            assert Path(shown) == value, var
        else:
            assert shown == str(value), var


@pytest.mark.parametrize(
    "env, var",
    [
        ({"REEL_PREGEN_HOUR": "25"}, "REEL_PREGEN_HOUR"),
        ({"REEL_TIMEZONE": "Mars/Olympus"}, "REEL_TIMEZONE"),
        ({"REEL_PREGEN_SPANS": "DAY,DECADE"}, "REEL_PREGEN_SPANS"),
        ({"PREGEN_KEEP_PER_SCOPE": "0"}, "PREGEN_KEEP_PER_SCOPE"),
        ({"REEL_RENDER_ADDR": "nowhere"}, "REEL_RENDER_ADDR"),
        ({"REEL_TLS_CERT": "/nonexistent.pem"}, "REEL_TLS"),
        ({"REEL_TODAY": "tomorrow"}, "REEL_TODAY"),
        ({"REEL_TODAY": "2026-02-30"}, "REEL_TODAY"),
    ],
)
def test_bad_values_name_the_variable(env, var):
    with pytest.raises(SettingsError) as err:
        load_settings(env)
    assert var in str(err.value) and "\n" not in str(err.value)
