"""EDGE_* settings: parsing, defaults that fit Lambda, and clear refusals of bad values."""

from __future__ import annotations

import pytest

from handler.settings import LAMBDA_PAYLOAD_LIMIT, Settings, SettingsError


def test_defaults_fit_a_function_url() -> None:
    s = Settings.from_env({})
    assert s.embed_bundle == "artifacts/embed" and s.rerank_bundle == "artifacts/rerank"
    assert s.max_body_bytes == s.max_response_bytes == LAMBDA_PAYLOAD_LIMIT == 6 * 1024 * 1024
    assert s.bundle_cache_dir == "/tmp/edge-bundles"
    assert not s.auth_configured


def test_values_are_parsed_by_type() -> None:
    s = Settings.from_env(
        {
            "EDGE_EMBED_BUNDLE": "/var/task/bundles/embed",
            "EDGE_MAX_INPUTS": "256",
            "EDGE_MAX_TOKENS": "100_000",
            "EDGE_VERIFY_BUNDLES": "false",
            "EDGE_ACCESS_LOG": "0",
            "EDGE_DOCS": "yes",
            "EDGE_API_KEY": "  zq-Secret-77  ",
            "EDGE_UNRELATED": "ignored",
        }
    )
    assert s.embed_bundle == "/var/task/bundles/embed"
    assert (s.max_inputs, s.max_tokens) == (256, 100_000)
    assert (s.verify_bundles, s.access_log, s.docs) == (False, False, True)
    assert s.api_key == "zq-Secret-77" and s.auth_configured
    assert "zq-Secret-77" not in repr(s)  # the key never lands in a log through repr


@pytest.mark.parametrize("value", ["", "none", "off", "false"])
def test_an_empty_bundle_path_turns_the_model_off(value: str) -> None:
    s = Settings.from_env({"EDGE_RERANK_BUNDLE": value})
    assert s.bundle_path("rerank") is None
    assert s.bundle_path("embed") == "artifacts/embed"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"EDGE_MAX_INPUTS": "many"}, "EDGE_MAX_INPUTS"),
        ({"EDGE_MAX_INPUTS": "0"}, "EDGE_MAX_INPUTS"),
        ({"EDGE_WARMUP": "maybe"}, "EDGE_WARMUP"),
        ({"EDGE_MAX_BODY_BYTES": "-1"}, "EDGE_MAX_BODY_BYTES"),
        ({"EDGE_METRICS": "prometheus"}, "EDGE_METRICS"),
        ({"EDGE_BUNDLE_S3_URI": "https://bucket/x"}, "EDGE_BUNDLE_S3_URI"),
        ({"EDGE_LOG_LEVEL": "LOUD"}, "EDGE_LOG_LEVEL"),
        ({"EDGE_RUN_MODE": "parallel"}, "EDGE_RUN_MODE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)


def test_emf_auto_follows_the_lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert not Settings().emf_enabled
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "edge-encoders")
    assert Settings().emf_enabled
    assert not Settings(metrics="off").emf_enabled


@pytest.mark.parametrize("mode", ["auto", "sequential", "concurrent"])
def test_run_mode_is_read(mode: str) -> None:
    assert Settings.from_env({"EDGE_RUN_MODE": mode}).run_mode == mode


def test_an_integer_past_32_bits_is_refused_by_name() -> None:
    """onnxruntime's thread counts and the timers take 32-bit integers: a longer number is a typo, said here."""
    with pytest.raises(SettingsError, match=r"EDGE_THREADS must be at most 2147483647; got '99999999999'"):
        Settings.from_env({"EDGE_THREADS": "99999999999"})
    assert Settings.from_env({"EDGE_MAX_TOKENS": "2147483647"}).max_tokens == 2**31 - 1


def test_unknown_edge_names_are_listed_with_a_guess() -> None:
    env = {
        "EDGE_MAX_BATCHSIZE": "8",  # a typo: ignored by from_env, so named here
        "EDGE_ZZZ": "1",
        "EDGE_MAX_BATCH_SIZE": "8",
        "EDGE_SERVER_HOST": "0.0.0.0",  # read by handler.serve, not a typo
        "EDGE_EXPORT_EMBED": "x",  # read by the build
        "PATH": "/bin",
    }
    assert Settings.unknown_names(env) == ["EDGE_MAX_BATCHSIZE (did you mean EDGE_MAX_BATCH_SIZE?)", "EDGE_ZZZ"]
    assert Settings.from_env(env).max_batch_size == 8


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("EDGE_MAX_BATCH_SIZE", "0", "must be at least 1; got 0"),
        ("EDGE_MAX_QUEUE", "-1", "must not be negative (0 or more); got -1"),
        ("EDGE_LOG_LEVEL", "verbose", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL; got 'verbose'"),
        ("EDGE_BUNDLE_S3_URI", "bucket/prefix", "must look like s3://bucket/prefix; got 'bucket/prefix'"),
        ("EDGE_MAX_QUEUE", "", "must be an integer (unset: 4); got ''"),
    ],
)
def test_refusals_say_what_was_given_and_what_is_allowed(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    assert str(refused.value) == f"{name} {says}"


@pytest.mark.parametrize(
    ("raw", "read"), [("/prod/", "/prod"), ("prod", "/prod"), ("/", "/"), ("", "/"), ("/a/b/", "/a/b")]
)
def test_the_base_path_is_read_as_one_leading_slash_and_no_trailing_one(raw: str, read: str) -> None:
    """Mangum strips the prefix as written: "/prod/" left "embed" of "/prod/embed", a 404 on every route."""
    assert Settings.from_env({"EDGE_API_BASE_PATH": raw}).api_base_path == read
