"""A job's own Label Studio labeling config: when it fits the job's task type and labels,
where its answers are, and the words for why it does not fit."""

from __future__ import annotations

import pytest

from labelpilot.api.run_config import TaskType
from labelpilot.api.ui_config import MAX_CHARS, Binding, UiConfigError, bind, parse
from labelpilot.workforce.labelstudio.interface import default_binding, labeling_config
from labelpilot.workforce.labelstudio.results import from_result, to_result

LABELS = ["cat", "dog"]


def classify(options: str, *, value: str = "$image", extra: str = "") -> str:
    return (
        f'<View><Header value="Which animal?"/><Image name="photo" value="{value}"/>'
        f'<Choices name="animal" toName="photo">{options}</Choices>{extra}</View>'
    )


CATS_AND_DOGS = '<Choice value="cat"/><Choice value="dog"/>'


@pytest.mark.parametrize("task_type", list(TaskType), ids=str)
def test_labelpilots_own_config_fits_with_its_fixed_names(task_type):
    assert bind(labeling_config(task_type, LABELS), task_type, LABELS) == default_binding(task_type)


def test_a_users_config_binds_its_own_names_and_reads_its_answers():
    config = classify(
        '<View style="display: flex"><Choice value="dog"/><Choice value="cat"/></View>',
        extra='<TextArea name="comment" toName="photo"/>',
    )
    binding = bind(config, TaskType.IMAGE_CLASSIFICATION, LABELS)
    assert binding == Binding("animal", "photo")
    answer = [
        {"from_name": "comment", "to_name": "photo", "type": "textarea", "value": {"text": ["x"]}},
        *to_result(TaskType.IMAGE_CLASSIFICATION, 1, LABELS, binding=binding),
    ]
    assert answer[1]["from_name"] == "animal" and answer[1]["to_name"] == "photo"
    assert from_result(TaskType.IMAGE_CLASSIFICATION, answer, LABELS, binding=binding) == 1
    # LabelPilot's names read nothing of this config's answers
    with pytest.raises(ValueError, match="no class"):
        from_result(TaskType.IMAGE_CLASSIFICATION, answer, LABELS)


@pytest.mark.parametrize(
    ("task_type", "shown"),
    [
        (TaskType.IMAGE_CLASSIFICATION_MULTILABEL, '<Image name="photo" value="$image"/>'),
        (TaskType.TEXT_CLASSIFICATION_MULTILABEL, '<Text name="photo" value="$text"/>'),
    ],
    ids=str,
)
def test_a_multilabel_config_takes_several_choices_of_the_jobs_labels(task_type, shown):
    config = (
        f'<View>{shown}<Choices name="animal" toName="photo" choice="multiple">'
        f"{CATS_AND_DOGS}</Choices></View>"
    )
    binding = bind(config, task_type, LABELS)
    assert binding == Binding("animal", "photo")
    answer = to_result(task_type, [0, 1], LABELS, binding=binding)
    assert from_result(task_type, answer, LABELS, binding=binding) == [0, 1]
    with pytest.raises(UiConfigError, match='the job takes several \\(add choice="multiple"\\)'):
        bind(config.replace(' choice="multiple"', ""), task_type, LABELS)
    with pytest.raises(UiConfigError, match="lacks the job's labels 'dog'"):
        bind(config.replace('<Choice value="dog"/>', ""), task_type, LABELS)
    with pytest.raises(UiConfigError, match="not the job's labels"):
        bind(config.replace("</Choices>", '<Choice value="fish"/></Choices>'), task_type, LABELS)


def test_aliases_are_the_labels_results_carry():
    config = classify('<Choice value="A cat" alias="cat"/><Choice value="A dog" alias="dog"/>')
    assert bind(config, TaskType.IMAGE_CLASSIFICATION, LABELS).control == "animal"


@pytest.mark.parametrize(
    ("task_type", "config", "words"),
    [
        (
            TaskType.IMAGE_CLASSIFICATION,
            classify('<Choice value="cat"/><Choice value="fish"/>'),
            [
                '<Choices name="animal" toName="photo"> lacks the job\'s labels \'dog\'',
                "lists 'fish', which are not the job's labels",
            ],
        ),
        (
            TaskType.IMAGE_CLASSIFICATION,
            classify(CATS_AND_DOGS + '<Choice value="cat"/>'),
            ["lists 'cat' more than once"],
        ),
        (
            TaskType.IMAGE_CLASSIFICATION,
            classify(CATS_AND_DOGS, value="$photo"),
            [
                'no <Image name="..." value="$image"/> shows the task data',
                "the field 'image'",
                'it has <Image name="photo" value="$photo">',
            ],
        ),
        (
            TaskType.IMAGE_CLASSIFICATION,
            classify(CATS_AND_DOGS).replace('toName="photo"', 'choice="multiple" toName="photo"'),
            ['choose several classes; the job takes one (drop choice="multiple")'],
        ),
        (
            TaskType.IMAGE_CLASSIFICATION,
            classify("").replace("<Choices", '<Choices value="$options"'),
            ["takes its options from the task data"],
        ),
        (
            TaskType.TEXT_CLASSIFICATION,
            classify(CATS_AND_DOGS),
            ['no <Text name="..." value="$text"/>', "(the field 'text')"],
        ),
        (
            TaskType.SEMANTIC_SEGMENTATION,
            '<View><Image name="img" value="$image"/>'
            '<BrushLabels name="mask" toName="img"><Label value="cat"/></BrushLabels></View>',
            [
                "no <PolygonLabels> control labels img",
                "semantic-segmentation answers are read from PolygonLabels",
                'it has <BrushLabels name="mask" toName="img">',
            ],
        ),
        (
            TaskType.OBJECT_DETECTION,
            '<View><Image name="img" value="$image"/>'
            '<RectangleLabels name="a" toName="img"><Label value="cat"/><Label value="dog"/>'
            "</RectangleLabels>"
            '<RectangleLabels name="b" toName="img"><Label value="dog"/><Label value="cat"/>'
            "</RectangleLabels></View>",
            ["2 <RectangleLabels> controls list the job's labels", "LabelPilot reads one"],
        ),
    ],
    ids=[
        "other-labels",
        "twice",
        "other-field",
        "multiple",
        "dynamic",
        "text-on-image",
        "brush",
        "two-controls",
    ],
)
def test_a_config_that_does_not_fit_says_what_it_lacks(task_type, config, words):
    with pytest.raises(UiConfigError) as refused:
        bind(config, task_type, LABELS)
    for word in words:
        assert word in str(refused.value)


def test_of_several_controls_the_one_with_the_jobs_labels_is_read():
    config = (
        '<View><Image name="img" value="$image"/>'
        '<Choices name="quality" toName="img"><Choice value="sharp"/><Choice value="blurry"/>'
        "</Choices>"
        '<Choices name="animal" toName="img">' + CATS_AND_DOGS + "</Choices></View>"
    )
    assert bind(config, TaskType.IMAGE_CLASSIFICATION, LABELS) == Binding("animal", "img")


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ("<View><Image", "not well-formed XML"),
        ('<!DOCTYPE View [<!ENTITY a "aaaa">]><View>&a;</View>', "DOCTYPE"),
        (
            '<?xml version="1.0"?><!DOCTYPE View SYSTEM "http://example.com/x.dtd"><View/>',
            "DOCTYPE",
        ),
        ('<Choices name="x"/>', "its root tag is <Choices>"),
        ("<View>" + " " * MAX_CHARS + "</View>", f"at most {MAX_CHARS}"),
    ],
    ids=["broken", "entity", "external", "root", "size"],
)
def test_parsing_refuses_what_is_not_a_plain_config(config, words):
    with pytest.raises(UiConfigError, match=words):
        parse(config)
