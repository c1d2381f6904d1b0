"""JUnit XML for CI dashboards: one testsuite per submission and target, one testcase per check.

Failed checks become `<failure>`, errors and timeouts `<error>`, skips `<skipped/>`; a
submission that could not be graded at all gets one `<error>` testcase so it is never
silently missing from the counts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from grader.report.formatting import check_text, printable, shown_message
from grader.results import CheckResult, RunResult, SubmissionResult

_OUTCOME = {"failed": "failure", "error": "error", "timeout": "error", "skipped": "skipped"}
_TAG_KEY = {"failure": "failures", "error": "errors", "skipped": "skipped"}
_KEYS = ("tests", "failures", "errors", "skipped")


def junit_tree(run: RunResult, *, show_hidden: bool = False) -> ET.ElementTree:
    root = ET.Element(
        "testsuites",
        name=printable(run.assignment),
        time=f"{sum(s.duration_s for s in run.submissions):.3f}",
    )
    for sub in run.submissions:
        if sub.status == "error":
            _suite(root, sub, "submission", [_submission_error(sub)])
        targets: dict[str, list[CheckResult]] = {}
        for check in sub.checks:
            targets.setdefault(check.target, []).append(check)
        for target, checks in targets.items():
            _suite(root, sub, target, [_testcase(c, sub, show_hidden) for c in checks])
    _set_counts(root, Counter({k: sum(int(suite.get(k)) for suite in root) for k in _KEYS}))
    return ET.ElementTree(root)


def _suite(root: ET.Element, sub: SubmissionResult, target: str, cases: list[ET.Element]) -> None:
    suite = ET.SubElement(root, "testsuite", name=printable(f"{sub.id}/{target}"))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="submission", value=printable(sub.id))
    suite.extend(cases)
    counts = Counter(_TAG_KEY[outcome.tag] for case in cases for outcome in case)
    _set_counts(suite, counts + Counter(tests=len(cases)))


def _set_counts(element: ET.Element, counts: Counter) -> None:
    for key in _KEYS:
        element.set(key, str(counts[key]))


def _testcase(check: CheckResult, sub: SubmissionResult, show_hidden: bool) -> ET.Element:
    case = ET.Element(
        "testcase", name=printable(check.id), classname=printable(f"{sub.id}.{check.target}")
    )
    tag = _OUTCOME.get(check.status)
    if tag:
        outcome = ET.SubElement(
            case, tag, message=printable(shown_message(check, show_hidden) or check.status)
        )
        if tag != "skipped":
            outcome.set("type", check.status)
            outcome.text = printable(check_text(check, show_hidden))
    return case


def _submission_error(sub: SubmissionResult) -> ET.Element:
    case = ET.Element("testcase", name="grading", classname=printable(f"{sub.id}.submission"))
    error = ET.SubElement(
        case,
        "error",
        message=printable(sub.error or "the submission could not be graded"),
        type="submission",
    )
    error.text = printable(sub.error or "")
    return case


def junit_xml(run: RunResult, *, show_hidden: bool = False) -> str:
    tree = junit_tree(run, show_hidden=show_hidden)
    ET.indent(tree)
    return ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True) + "\n"
