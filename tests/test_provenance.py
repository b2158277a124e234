"""Provenance records: what a results file says about the run that made it."""



def test_provenance_records_no_path_of_this_machine():
    import tempfile
    from pathlib import Path

    from mcn.provenance import provenance

    root = Path(__file__).resolve().parents[1]
    scratch = Path(tempfile.gettempdir()) / "run" / "last.pt"
    record = provenance(command=f"{root}/mcn/__main__.py eval --checkpoint {scratch}")
    assert record["command"] == "mcn/__main__.py eval --checkpoint $TMPDIR/run/last.pt"
