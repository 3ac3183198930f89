from pathlib import Path

from tweettwin.paths import public_path, workspace


def test_public_path_hides_the_home_folder():
    home = Path.home()
    assert public_path(home / "data" / "x") == "~/data/x"
    assert public_path("relative/data") == "relative/data"
    assert public_path(str(home) + "-other/x") == str(home) + "-other/x"


def test_workspace_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TWEETTWIN_WORKSPACE", str(tmp_path / "ws"))
    assert workspace() == tmp_path / "ws"
    assert workspace("explicit") == Path("explicit")
