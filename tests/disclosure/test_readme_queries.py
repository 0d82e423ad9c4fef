"""The README's analyst questions run, as written, through the CLI against the sample's tiers."""

from pipelines.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def _analyst_commands() -> list[list[str]]:
    import shlex

    block = README.split("<!-- analyst-queries:begin -->")[1].split("<!-- analyst-queries:end -->")[0]
    lines = [line for line in block.split("```sh")[1].split("```")[0].splitlines() if not line.startswith("#")]
    commands = shlex.split("\n".join(lines), comments=True)
    out, current = [], []
    for word in commands:
        if word == ".venv/bin/survey-pipeline" and current:
            out.append(current)
            current = []
        current.append(word)
    return out + [current]


def test_readme_analyst_queries_run_as_written(sample_warehouse, study, tmp_path, monkeypatch):
    """The README's five questions, run through the CLI on the sample's research and public tiers."""
    from click.testing import CliRunner

    from pipelines.cli import main
    from pipelines.disclosure import release
    from tests.disclosure.conftest import KEY, copy_into_memory

    conn = copy_into_memory(sample_warehouse)
    assert release.write_research_tier(
        conn, tmp_path / "research" / "research_tier.duckdb", {study.study: study}, KEY
    ).written
    release.build_public_tables(conn, {study.study: study}, KEY)
    release.write_public_tier(conn, tmp_path / "public")
    conn.close()
    monkeypatch.setenv("SURVEY_PUBLIC_DIR", str(tmp_path / "public"))
    monkeypatch.setenv("SURVEY_RESEARCH_TIER", str(tmp_path / "research" / "research_tier.duckdb"))
    commands = _analyst_commands()
    assert len(commands) == 5
    for command in commands:
        assert command[0] == ".venv/bin/survey-pipeline" and command[1] == "query"
        result = CliRunner().invoke(main, command[1:])
        assert result.exit_code == 0, (command, result.output)
        data_rows = [line for line in result.output.splitlines() if line.startswith("│")][2:]  # after header, types
        assert data_rows, (command, result.output)
