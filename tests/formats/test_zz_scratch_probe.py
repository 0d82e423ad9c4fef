import csv, yaml
from tests.formats.test_formats_end_to_end import STUDY_SM, SURVEYMONKEY, assert_nothing_identifying

def test_probe_leak_detected(formats_workspace, studies_dir):
    ws = formats_workspace
    path = studies_dir / f"{STUDY_SM}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["fields"]["country"] = {"column": "What else would you like to tell us?"}
    raw["ignored_columns"].remove("What else would you like to tell us?")
    path.write_text(yaml.safe_dump(raw))
    assert ws.ingest(ws.land(SURVEYMONKEY, study=STUDY_SM)).success
    assert ws.publish().success
    print(ws.sql("SELECT country FROM research.responses"))
    assert_nothing_identifying(ws, {"Made-up remark number one"}, source=SURVEYMONKEY)
