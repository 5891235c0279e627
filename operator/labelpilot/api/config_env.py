"""The run config as one environment variable's value, within what Linux lets one hold.

A variable (name=value) holds at most 128 KiB (MAX_ARG_STRLEN): a job's labels and its
labeling interface can exceed that as JSON, so a config over PLAIN_MAX bytes travels
gzip-compressed and base64-encoded behind a prefix (an interface and label names compress
several times over); one still over MAX after that is refused, naming what makes it large.
"""

from __future__ import annotations

import base64
import gzip

PREFIX = "gzip+base64:"
PLAIN_MAX = 96 * 1024
MAX = 120 * 1024


class ConfigTooLarge(ValueError):
    """The config does not fit one environment variable even compressed."""

    reason = "ConfigTooLarge"


def encode(config_json: str) -> str:
    """The variable's value for `config_json`; raises ConfigTooLarge."""
    data = config_json.encode("utf-8")
    if len(data) <= PLAIN_MAX:
        return config_json
    packed = PREFIX + base64.b64encode(gzip.compress(data, mtime=0)).decode("ascii")
    if len(packed) > MAX:
        raise ConfigTooLarge(
            f"the job's run config is {len(data)} bytes, {len(packed)} compressed, over the "
            f"{MAX} bytes one environment variable of a step Job may hold: shorten "
            "spec.humanTaskConfig.uiConfig or the labels (spec.labels or the label category "
            "file)"
        )
    return packed


def decode(value: str) -> str:
    """The config JSON a variable's value holds, compressed or not."""
    if not value.startswith(PREFIX):
        return value
    return gzip.decompress(base64.b64decode(value[len(PREFIX) :], validate=True)).decode("utf-8")
