"""dscmr/paper.py against the paper's own text: every transcribed table row, parsed from the text.
Skipped where the text is not there (DSCMR_PAPER, dscmr/paper.py)."""
import pytest

from dscmr import paper


@pytest.fixture(scope="module")
def rows(paper_text):
    """{first cell: [[numbers of a line], ...]} for every tab-separated table line of the text
    whose other cells are numbers, bold marks "[...]" dropped. Table 2 puts two AUs on a line:
    its "AU12" cells in mid-line are dropped too."""
    out = {}
    for line in paper_text.splitlines():
        cells = [c.strip().strip("[]") for c in line.split("\t") if c.strip()]
        if len(cells) < 3:
            continue
        try:
            numbers = [float(c) for c in cells[1:] if not c.startswith("AU")]
        except ValueError:
            continue
        out.setdefault(cells[0], []).append(numbers)
    return out


def test_the_setting_names_where_the_text_is(tmp_path, monkeypatch):
    monkeypatch.setenv(paper.PAPER_ENV, str(tmp_path / "nowhere.txt"))
    assert paper.text_path() == tmp_path / "nowhere.txt"
    reason = paper.text_missing_reason()
    assert str(tmp_path / "nowhere.txt") in reason and paper.PAPER_ENV in reason
    (tmp_path / "nowhere.txt").write_text("text")
    assert paper.text_missing_reason() is None


def test_table4_and_table5_rows(rows):
    for au in paper.EMOTIONET_AUS:
        train_np = 57.26 if au == 2 else paper.TABLE2_TRAIN_NP[au]  # Table 4 prints 57.26 for AU2
        assert [*paper.TABLE4_F1[au], *paper.TABLE4_AUC[au], train_np, paper.TABLE4_TEST_NP[au],
                paper.TABLE4_VAL_NP[au]] in rows[str(au)], f"Table 4, AU{au}"
    for au in paper.CKPLUS_AUS:
        assert [*paper.TABLE5_F1[au], *paper.TABLE5_AUC[au], *paper.TABLE5_NP[au]] in rows[str(au)], \
            f"Table 5, AU{au}"


def test_table2_rows(rows):
    left = (1, 2, 4, 5, 6, 9)
    right = (12, 17, 20, 25, 26)
    for i, au in enumerate(left):
        expected = [paper.TABLE2_TRAIN_NP[au], paper.TABLE2_MSR_ACCURACY[au], paper.TABLE2_ADMSR_ACCURACY[au]]
        if i < len(right):
            r = right[i]
            expected += [paper.TABLE2_TRAIN_NP[r], paper.TABLE2_MSR_ACCURACY[r], paper.TABLE2_ADMSR_ACCURACY[r]]
        assert rows[f"AU{au}"] == [expected], f"Table 2, AU{au}"


def test_table3_rows(rows):
    for au in paper.EMOTIONET_AUS:
        expected = [v for n in (3, 5, 8, 11) if au in paper.TABLE3_ACCURACY[n] for v in paper.TABLE3_ACCURACY[n][au]]
        assert expected in rows[str(au)], f"Table 3, AU{au}"
    assert rows["Mean"] == [[v for n in (3, 5, 8, 11) for v in paper.TABLE3_MEAN[n]]]
