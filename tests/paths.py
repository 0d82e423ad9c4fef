"""Where the tests find the bundled sample and the real exports in ../shared."""

from pipelines.settings import REPO_ROOT

SAMPLE_DIR = REPO_ROOT / "data" / "sample" / "microdose_mood"
REAL_EXPORTS = REPO_ROOT.parent / "shared" / "samples" / "real-exports"
STUDY = "microdose_mood"
