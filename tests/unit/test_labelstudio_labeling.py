"""Whether a project's labeling config is empty, or the one a job asks for."""

from __future__ import annotations

from labelpilot.api.run_config import TaskType
from labelpilot.workforce.labelstudio.interface import labeling_config
from labelpilot.workforce.labelstudio.labeling import is_empty, same

DIGITS = [str(d) for d in range(10)]


def test_only_an_empty_or_the_same_config_takes_the_jobs_tasks():
    ours = labeling_config(TaskType.IMAGE_CLASSIFICATION, DIGITS)
    for empty in ("", "  ", "<View></View>", "<View/>", "<View>\n</View>"):
        assert is_empty(empty)
    assert not is_empty(ours) and not is_empty("<View><Header value='x'/></View>")
    assert not is_empty("not xml <")
    spaced = ours.replace("><", ">\n  <")
    assert same(ours, spaced)
    assert not same(ours, labeling_config(TaskType.IMAGE_CLASSIFICATION, DIGITS[:9]))
    assert not same(ours, "not xml <")
    doctype = '<!DOCTYPE View [<!ENTITY a "b">]><View>&a;</View>'
    assert not same(doctype, doctype) and not is_empty(doctype)
