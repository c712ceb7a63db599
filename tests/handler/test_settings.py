"""``handler.settings``: the ``KUBERAY_APISERVER_*`` environment read into :class:`Settings` and back."""

from __future__ import annotations

import pytest

from handler.settings import RetrySettings, Settings, SettingsError


def test_settings_from_env_and_back() -> None:
    env = {
        "KUBERAY_APISERVER_PORT": "9999",
        "KUBERAY_APISERVER_UPSTREAM": "https://k8s:6443",
        "KUBERAY_APISERVER_IN_CLUSTER": "true",
        "KUBERAY_APISERVER_CORS_ALLOW_ORIGIN": "http://a, http://b",
        "KUBERAY_APISERVER_RETRY_RETRIES": "5",
        "KUBERAY_APISERVER_RETRY_STATUSES": "503,429",
        "KUBERAY_APISERVER_RETRY_BASE_DELAY": "0.25",
    }
    s = Settings.from_env(env)
    assert s.port == 9999 and s.upstream == "https://k8s:6443" and s.in_cluster is True
    assert s.cors_allow_origin == ("http://a", "http://b")
    assert s.retry == RetrySettings(retries=5, base_delay=0.25, statuses=frozenset({429, 503}))
    assert Settings.from_env(s.to_env()) == s
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("var", "value"), [("PORT", "eighty"), ("IN_CLUSTER", "maybe"), ("RETRY_RETRIES", "x")]
)
def test_bad_settings_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"KUBERAY_APISERVER_{var}"):
        Settings.from_env({f"KUBERAY_APISERVER_{var}": value})
