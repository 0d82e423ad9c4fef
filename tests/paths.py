"""Where the tests find the bundled sample and the real exports in ../shared."""

from pipelines.settings import REPO_ROOT

SAMPLE_DIR = REPO_ROOT / "data" / "sample" / "microdose_mood"
REAL_EXPORTS = REPO_ROOT.parent / "shared" / "samples" / "real-exports"
REAL_EXPORTS_ABSENT = (
    "needs ../shared/samples/real-exports (real Qualtrics/REDCap exports, see SOURCES.md there; "
    f"CI has them): absent beside this clone ({REAL_EXPORTS})"
)
STUDY = "microdose_mood"
