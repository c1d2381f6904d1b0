"""The assignment file's JSON Schema: generated from the declarations, published, and holding the
built-in files while refusing what the loader refuses."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from grader import assignment_schema
from grader.assignment import assignment_file, builtin_assignments
from grader.cli import main

PUBLISHED = Path(assignment_schema.__file__).with_name("assignment.schema.json")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = assignment_schema.assignment_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_published_schema_is_the_generated_one(capsys):
    assert main(["assignment-schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == PUBLISHED.read_text() == assignment_schema.published()
    assert json.loads(printed)["properties"]["parts"]["properties"]["network"]["default"] == (
        "required"
    )


@pytest.mark.parametrize("name", sorted(builtin_assignments()))
def test_the_builtin_files_fit_the_schema(validator, name):
    data = tomllib.loads(assignment_file(name).read_text())
    assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(
    "old, new, says",
    [
        ('visibility = "hidden"', 'visiblity = "hidden"', "'visiblity' was unexpected"),
        ("num_epochs = 15", "num_epoch = 15", "'num_epoch' was unexpected"),
        ("factor = 0.05", "factor = -0.05", "less than the minimum of 0"),
        ("points = 2", "points = -1", "less than the minimum of 0"),
        ('network = "required"', 'network = "needed"', "is not one of ['required', 'optional']"),
        ("[parts]", "[part]", "'part' was unexpected"),
        ('aspect = "construction"', 'aspect = "construction"\nh = 1e-3', "'h' was unexpected"),
    ],
)
def test_what_the_loader_refuses_the_schema_refuses(validator, old, new, says):
    text = assignment_file().read_text()
    assert old in text
    messages = [e.message for e in validator.iter_errors(tomllib.loads(text.replace(old, new, 1)))]
    assert any(says in m for m in messages), messages
