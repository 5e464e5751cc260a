from pathlib import Path

import pytest

from keystroke.config import Settings, load_settings
from keystroke.errors import ConfigError


def test_defaults_need_nothing() -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.server.host == "127.0.0.1"
    assert settings.engine.model == "default"
    assert settings.limits.max_prefix_bytes == 1_000_000


def test_precedence_is_defaults_file_environment_command_line(tmp_path: Path) -> None:
    config = tmp_path / "keystroke.toml"
    config.write_text('[server]\nport = 9001\nhost = "127.0.0.2"\n[engine]\nn_ctx = 1024\n')
    env = {"KEYSTROKE_SERVER__PORT": "9002", "KEYSTROKE_ENGINE__N_CTX": "4096"}
    settings = load_settings(config, environ=env, overrides={"server.port": 9003, "engine.model": None})
    assert settings.server.port == 9003  # command line beats environment
    assert settings.engine.n_ctx == 4096  # environment beats file
    assert settings.server.host == "127.0.0.2"  # file beats default
    assert settings.engine.model == "default"  # an unset option changes nothing


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "k.toml"
    config.write_text("[completion]\ninline_max_tokens = 12\n")
    assert load_settings(environ={"KEYSTROKE_CONFIG": str(config)}).completion.inline_max_tokens == 12


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEYSTROKE_SERVER__PORT": "seventy"}, "server.port"),
        ({"KEYSTROKE_ENGINE__N_CTX": "12"}, "engine.n_ctx"),
        ({"KEYSTROKE_ENGINE__NO_SUCH": "1"}, "engine.no_such"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "none.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_list_settings_come_from_the_environment_as_json_arrays() -> None:
    env = {"KEYSTROKE_CONTEXT__SOURCES": '["definitions", "retrieval"]', "KEYSTROKE_CONTEXT__EXCLUDE": '["vendor/"]'}
    settings = load_settings(environ=env)
    assert settings.context.sources == ("definitions", "retrieval")
    assert settings.context.exclude == ("vendor/",)
    with pytest.raises(ConfigError, match="JSON array"):
        load_settings(environ={"KEYSTROKE_CONTEXT__EXCLUDE": '["vendor/"'})
    with pytest.raises(ConfigError, match=r"context\.sources"):
        load_settings(environ={"KEYSTROKE_CONTEXT__SOURCES": '["everything"]'})
