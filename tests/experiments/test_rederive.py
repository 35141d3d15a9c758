"""tools/experiments/rederive.py: every committed number is what today's metric code computes from the run's own
test probabilities, and every committed run was trained on the data `make data` builds."""
import json
import shutil

import pytest
from helpers.caffe import REPO

from dscmr.dataset import fingerprint, read_manifest
from tools.experiments import audit, rederive

RESULTS = REPO / "results"


def test_every_committed_record_is_what_its_test_probabilities_give():
    records = rederive.committed_records(RESULTS)
    assert len(records) >= 37          # every finished run committed so far, the replaced ones too
    assert {str(p.relative_to(RESULTS)): rederive.record_differences(p) for p in records
            if rederive.record_differences(p)} == {}


def test_every_run_a_committed_report_lists_re_derives():
    listed, problems = 0, []
    for path in RESULTS.glob("*/*/*/*.json"):
        if path.stem == path.parent.parent.name:            # <dataset>/<experiment>/<budget>/<experiment>.json
            report = json.loads(path.read_text())
            for run in report["runs"]:
                listed += 1
                if why := rederive.why_not(RESULTS, path.stem, report, run):
                    problems.append(f"{path.relative_to(RESULTS)}: {run['run_name']}: {why}")
    assert listed >= 30 and problems == []


def test_a_number_its_probabilities_do_not_give_and_missing_probabilities_are_named(tmp_path):
    source = RESULTS / "synthau" / "table4-5" / "runs" / "cpu-s1" / "resnet18_aus11"
    for suffix in (".json", ".test.npz"):
        shutil.copyfile(source.with_suffix(suffix), tmp_path / f"resnet18_aus11{suffix}")
    path = tmp_path / "resnet18_aus11.json"
    record = json.loads(path.read_text())
    kept = record["evaluations"][-1]["mean"]["f1"]
    record["evaluations"][-1]["mean"]["f1"] = round(kept, 2)                 # a number copied by hand
    path.write_text(json.dumps(record))
    assert rederive.record_differences(path) == [f"mean f1 is {round(kept, 2)} in the record, {kept} from the "
                                                 "probabilities"]
    (tmp_path / "resnet18_aus11.test.npz").unlink()
    assert rederive.record_differences(path) == ["it has no test probabilities (resnet18_aus11.test.npz)"]


@pytest.mark.slow
def test_the_data_make_data_builds_is_the_data_of_every_committed_run(default_data, capsys):
    checked = rederive.data_of_runs(RESULTS, "synthau", default_data)
    assert len(checked) >= 30
    assert [(str(path), recorded, derived) for path, recorded, derived in checked if recorded != derived] == []
    assert audit.data_check(RESULTS) == [f"au-audit: every committed run on synthau was trained on the data "
                                         f"{default_data} holds"]


def test_the_audit_says_in_one_line_that_the_runs_are_not_on_the_data_built_here(default_data, tmp_path,
                                                                                  monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(RESULTS / "synthau" / "fig5" / "cpu", results / "synthau" / "fig5" / "cpu")
    other = tmp_path / "data" / "synthau"                     # another build: its images' mean differs
    shutil.copytree(default_data, other, ignore=shutil.ignore_patterns("images"))
    manifest = read_manifest(other)
    manifest["mean_bgr"][0] += 0.001
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert fingerprint(manifest) != fingerprint(read_manifest(default_data))
    monkeypatch.setattr(audit, "REPO", tmp_path)
    (line,) = audit.data_check(results)
    assert line.startswith(f"au-audit: 5 committed run(s) on synthau were trained on other data than {other}, e.g. "
                           f"{results}/synthau/fig5/runs/cpu-s1/")
    assert line.endswith("(another build of the dataset: docs/data.md); do not compare your runs with them")
