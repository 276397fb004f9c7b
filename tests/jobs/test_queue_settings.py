"""The queue's settings: MOUNTIE_QUEUE_URL (and its password kept out of logs and errors),
MOUNTIE_SWEEP_INTERVAL, MOUNTIE_RETRY_DELAY and MOUNTIE_GITHUB_THROTTLE."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.settings import SettingsError, load_settings
from bot.jobs.queue import redis_url
from bot.jobs.runner import request_retry_policy
from tests.app.support import app_env


def test_defaults_keep_everything_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(app_env(tmp_path))
    assert settings.queue_url == ""
    assert (settings.sweep_interval, settings.retry_delay, settings.github_throttle) == (60.0, 10.0, True)
    policy = request_retry_policy(settings)
    assert (policy.backoff, policy.max_backoff) == (1.0, 16.0)


def test_a_redis_url_with_a_prefix_and_the_other_settings(tmp_path: Path) -> None:
    url = "redis://:s3cret-pw@redis.internal:6380/2?prefix=staging&socket_keepalive=true"
    settings = load_settings(
        app_env(
            tmp_path,
            MOUNTIE_QUEUE_URL=url,
            MOUNTIE_SWEEP_INTERVAL="15",
            MOUNTIE_RETRY_DELAY="2",
            MOUNTIE_GITHUB_THROTTLE="OFF",
        )
    )
    assert settings.queue_url == url
    assert (settings.sweep_interval, settings.retry_delay, settings.github_throttle) == (15.0, 2.0, False)
    assert "s3cret-pw" in settings.secrets  # the log filter redacts it
    assert "s3cret-pw" not in repr(settings)
    assert redis_url(url) == "redis://:s3cret-pw@redis.internal:6380/2?socket_keepalive=true"
    assert request_retry_policy(settings).backoff == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("variables", "name", "problem"),
    [
        ({"MOUNTIE_QUEUE_URL": "postgres://db/mountie"}, "MOUNTIE_QUEUE_URL", "redis://"),
        ({"MOUNTIE_QUEUE_URL": "redis://:pw@host:notaport/0"}, "MOUNTIE_QUEUE_URL", "not a URL"),
        ({"MOUNTIE_QUEUE_URL": "redis://host/0?prefix=a-b"}, "MOUNTIE_QUEUE_URL", "letters, digits"),
        ({"MOUNTIE_SWEEP_INTERVAL": "0"}, "MOUNTIE_SWEEP_INTERVAL", "above 0"),
        ({"MOUNTIE_SWEEP_INTERVAL": "often"}, "MOUNTIE_SWEEP_INTERVAL", "seconds"),
        ({"MOUNTIE_RETRY_DELAY": "-1"}, "MOUNTIE_RETRY_DELAY", "seconds"),
        ({"MOUNTIE_GITHUB_THROTTLE": "maybe"}, "MOUNTIE_GITHUB_THROTTLE", "on, off"),
    ],
)
def test_mistakes_name_their_variable_and_never_echo_a_password(
    tmp_path: Path, variables: dict[str, str], name: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(app_env(tmp_path, **variables))
    assert caught.value.name == name and problem in str(caught.value)
    assert ":pw@" not in str(caught.value)
