"""dscmr.files: a file is replaced whole or not at all."""
import pytest

from dscmr.files import replacing, write_atomically


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with replacing(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_finished_write_replaces_the_file_keeping_the_suffix_for_writers_that_go_by_it(tmp_path):
    path = tmp_path / "curves.png"
    with replacing(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"png")
    write_atomically(tmp_path / "AUDIT.md", "new\n")
    assert path.read_bytes() == b"png" and (tmp_path / "AUDIT.md").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AUDIT.md", "curves.png"]
