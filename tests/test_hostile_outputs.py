"""Hostile and careless outputs: dataset folders, temp leftovers, model cards, Hub uploads and
weights files. Nothing of the user's is lost, nothing half-written stays, nothing leaks."""

from __future__ import annotations

import errno
import json
import os
import struct
import tempfile
from pathlib import Path

import pytest

from tests.hostile import assert_error, posts, run, write_jsonl
from tests.test_card import make_model_dir
from tweettwin.errors import ConfigError, ModelError
from tweettwin.ingest.dataset import split_key
from tweettwin.publish import hub
from tweettwin.weights import check_safetensors


@pytest.fixture
def source(tmp_path) -> Path:
    return write_jsonl(tmp_path / "p.jsonl", posts())


# --- dataset folders --------------------------------------------------------------------------


def test_rerunning_prepare_keeps_the_users_own_files(tmp_path, source):
    out = tmp_path / "out"
    assert run("prepare", source, "-o", out).exit_code == 0
    (out / "NOTES.md").write_text("my notes")
    (out / "extra").mkdir()
    (out / "extra" / "deep.txt").write_text("deep notes")
    (out / "link").symlink_to("NOTES.md")
    old_train = (out / "train.jsonl").read_text()
    write_jsonl(source, posts(400, seed=2))
    result = run("prepare", source, "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "NOTES.md").read_text() == "my notes"
    assert (out / "extra" / "deep.txt").read_text() == "deep notes"
    assert os.readlink(out / "link") == "NOTES.md"
    assert (out / "train.jsonl").read_text() != old_train
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_output_under_a_file_is_one_line(tmp_path, source):
    (tmp_path / "afile").write_text("x")
    assert_error(run("prepare", source, "-o", tmp_path / "afile" / "x" / "y"), "is a file")
    assert (tmp_path / "afile").read_text() == "x"


def test_output_name_too_long_is_one_line(tmp_path, source):
    assert_error(run("prepare", source, "-o", tmp_path / ("d" * 300)), "cannot be used")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_full_or_read_only_disk_is_one_line_and_keeps_the_old_dataset(
    tmp_path, source, monkeypatch, code
):
    out = tmp_path / "out"
    assert run("prepare", source, "-o", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from tweettwin.ingest import dataset

    def full(self, *args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(dataset._HashedOut, "write", full)
    assert_error(run("prepare", source, "-o", out), "cannot write the dataset", os.strerror(code))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_long_handles_and_many_sources_make_a_usable_default_name(tmp_path):
    handle = "h" * 300
    rows = posts()
    for row in rows:
        row["author"] = handle
    src = write_jsonl(tmp_path / "long.jsonl", rows)
    result = run("prepare", src)
    assert result.exit_code == 0, result.output
    sources = []
    for i in range(20):
        rows = posts(60, seed=i)
        sources.append(
            write_jsonl(tmp_path / f"author_number_{i:02d}_with_a_long_name.jsonl", rows)
        )
    result = run("prepare", *sources)
    assert result.exit_code == 0, result.output
    names = [p.name for p in (tmp_path / "workspace").iterdir() if (p / "data").is_dir()]
    assert len(names) == 2 and all(len(n.encode()) <= 120 for n in names)


def test_an_empty_training_split_is_an_error_and_writes_nothing(tmp_path):
    post_id = next(str(i) for i in range(1000) if split_key("solo", str(i)) < 2**63)
    text = " ".join(f"word{i}" for i in range(1200))  # past min_chars in one post
    src = write_jsonl(tmp_path / "solo.jsonl", [{"id": post_id, "text": text}])
    assert_error(run("prepare", src, "-o", tmp_path / "out"), "no post is left for training")
    assert not (tmp_path / "out").exists()


def test_stale_temp_folders_of_killed_runs_are_cleaned(tmp_path, source, monkeypatch):
    spool_root = tmp_path / "tmp"
    spool_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_root))
    dead = 2**22 + 12345  # above pid_max on common systems: no such process
    stale_spool = spool_root / f"tweettwin-prepare-{dead}-abc"
    live_spool = spool_root / f"tweettwin-prepare-{os.getpid()}-xyz"
    old_style = spool_root / "tweettwin-prepare-q1w2e3"
    for folder in (stale_spool, live_spool, old_style):
        folder.mkdir()
        (folder / "kept.jsonl").write_text("x" * 1000)
    os.utime(old_style, (0, 0))
    out = tmp_path / "out"
    stale_out = tmp_path / f".out.{dead}-k3j2.tmp"
    stale_out.mkdir()
    (stale_out / "train.jsonl").write_text("half")
    other = tmp_path / ".other.tmp"  # not ours: untouched
    other.mkdir()
    result = run("prepare", source, "-o", out)
    assert result.exit_code == 0, result.output
    assert not stale_spool.exists() and not old_style.exists() and live_spool.exists()
    assert not stale_out.exists() and other.exists()


def test_a_previous_dataset_left_aside_by_a_killed_swap_is_restored(tmp_path, source):
    out = tmp_path / "out"
    assert run("prepare", source, "-o", out).exit_code == 0
    (out / "NOTES.md").write_text("keep me")
    os.replace(out, tmp_path / ".out.old")  # killed between the two renames
    result = run("prepare", source, "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "NOTES.md").read_text() == "keep me"
    assert not (tmp_path / ".out.old").exists()


def test_a_dataset_manifest_that_is_not_an_object_is_one_line(tmp_path):
    for i, bad in enumerate(("[]", '"text"', "3")):
        (tmp_path / str(i)).mkdir()
        model = make_model_dir(tmp_path / str(i))
        (model / "dataset_manifest.json").write_text(bad)
        assert_error(run("card", model), "dataset_manifest.json")


# --- model cards -------------------------------------------------------------------------------


def test_a_hand_written_card_is_not_replaced_without_overwrite(tmp_path):
    model = make_model_dir(tmp_path)
    (model / "README.md").write_text("# My own card\n")
    assert_error(run("card", model), "not written by tweettwin", "--overwrite")
    assert (model / "README.md").read_text() == "# My own card\n"
    assert run("card", model, "--overwrite").exit_code == 0
    text = (model / "README.md").read_text()
    assert "<!-- tweettwin:card" in text
    assert run("card", model).exit_code == 0  # ours now: re-rendered freely


def test_a_hand_written_card_is_checked_before_anything_is_written(tmp_path):
    model = make_model_dir(tmp_path)
    (model / "README.md").write_text("mine")
    assert_error(run("card", model, "--preview-text", "hello there"), "not written by tweettwin")
    assert not (model / "preview.png").exists()


def test_push_never_re_renders_a_hand_written_card(tmp_path):
    model = make_model_dir(tmp_path)
    (model / "README.md").write_text("mine")
    result = hub.push(model, "me/twin", dry_run=True)
    assert any("not written by tweettwin" in note for note in result.notes)
    assert not any("re-rendered" in note for note in result.notes)
    assert (model / "README.md").read_text() == "mine"


# --- Hub uploads -------------------------------------------------------------------------------


def test_push_dry_run_lists_only_model_files(tmp_path):
    model = make_model_dir(tmp_path)
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash")
    (model / "train.jsonl").write_text('{"text": "a raw post"}\n')
    (model / "validation.jsonl").write_text('{"text": "a raw post"}\n')
    (model / "posts.jsonl").write_text("x")
    (model / "NOTES.md").write_text("notes")
    (model / "shadow.json").symlink_to(secret)
    (model / "tokenizer.json").symlink_to(secret)  # an allowed name, but a link
    (model / "extra.safetensors").symlink_to(secret)
    (model / "sub").mkdir()
    (model / "sub" / "model.safetensors").write_bytes(b"x")
    result = run("push", model, "--repo-id", "me/twin", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    listed = [f["path"] for f in data["files"]]
    assert listed == ["config.json", "dataset_manifest.json", "model.safetensors", "training.json"]
    notes = " ".join(data["notes"])
    assert "train.jsonl (posts are never published)" in notes
    assert "tokenizer.json (a symbolic link)" in notes


def test_push_needs_real_weights_not_a_link(tmp_path):
    model = make_model_dir(tmp_path)
    (model / "model.safetensors").unlink()
    (model / "model.safetensors").symlink_to(tmp_path / "elsewhere")
    assert_error(run("push", model, "--repo-id", "me/twin", "--dry-run"), "not a model folder")


@pytest.mark.parametrize(
    "repo_id",
    [
        "..", ".", "a/..", "../a", "a/.", "./a", "a/b/c", "", "/a", "a/", "-a", "a-", ".a",
        "a..b", "a--b", "a" * 97, "a b", "a\nb", "ab\n", "a/b\n", "a/b\x1b[2J", "ü",
    ],
)  # fmt: skip
def test_bad_repo_ids_are_refused(tmp_path, repo_id):
    model = make_model_dir(tmp_path)
    with pytest.raises(ConfigError, match="--repo-id"):
        hub.push(model, repo_id, dry_run=True)


@pytest.mark.parametrize("repo_id", ["me/ada-twin", "ada_twin.v2", "Org-1/m.o_d-e.l", "a"])
def test_good_repo_ids_pass(tmp_path, repo_id):
    model = make_model_dir(tmp_path)
    assert hub.push(model, repo_id, dry_run=True).repo_id == repo_id


# --- weights files -----------------------------------------------------------------------------


def _safetensors(path: Path, n: int = 64) -> Path:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}, "__metadata__": {}}
    ).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * (4 * n))
    return path


def test_a_whole_safetensors_file_passes(tmp_path):
    check_safetensors(_safetensors(tmp_path / "model.safetensors"))


@pytest.mark.parametrize("keep", [0, 4, 8, 20, -1])
def test_a_truncated_safetensors_file_is_one_line(tmp_path, keep):
    path = _safetensors(tmp_path / "model.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(ModelError, match="truncated|damaged") as info:
        check_safetensors(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    "header",
    [b"[]", b"{not json", b'{"w": 5}', b'{"w": {"data_offsets": "x"}}', b"[" * 100_000],
)
def test_a_damaged_safetensors_header_is_one_line(tmp_path, header):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ModelError, match="damaged"):
        check_safetensors(path)


def test_a_header_length_beyond_the_file_is_one_line(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(ModelError, match="damaged or truncated"):
        check_safetensors(path)


# --- what reaches the terminal ------------------------------------------------------------------


def test_markup_and_escapes_in_handles_and_paths_do_not_break_the_output(tmp_path):
    rows = posts()
    for i, row in enumerate(rows):
        row["author"] = "[/x]" if i % 2 else "[bold red]boo\x1b]0;title\x07"
    src = write_jsonl(tmp_path / "m.jsonl", rows)
    result = run("prepare", src, "-o", tmp_path / "out[/y]")
    assert result.exit_code == 0, result.output
    assert "@[/x]" in result.output and "out[/y]" in result.output
    assert "\x1b" not in result.output


def test_push_notes_with_markup_in_file_names(tmp_path):
    model = make_model_dir(tmp_path)
    (model / "[bold]x.txt").write_text("x")
    result = run("push", model, "--repo-id", "me/twin", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "[bold]x.txt (not a model file)" in result.output


def test_thousands_of_authors_give_a_bounded_table(tmp_path):
    rows = posts(3000)
    for i, row in enumerate(rows):
        row["author"] = f"user{i}"
    src = write_jsonl(tmp_path / "many.jsonl", rows)
    result = run("prepare", src, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    top = next(line for line in result.output.splitlines() if line.startswith("┏"))
    assert top.count("┳") == 7  # label, 5 authors, "(2,995 others)", total
    assert "others" in result.output.replace("\n", " ")


def test_a_temp_folder_of_another_host_is_kept_until_it_is_a_day_old(tmp_path, source):
    from tweettwin.atomic import HOST

    other = "0" * 8 if HOST != "0" * 8 else "1" * 8
    fresh = tmp_path / f".out.{2**22 + 3}-{other}-abcd.tmp"  # maybe running elsewhere
    old = tmp_path / f".out.{2**22 + 4}-{other}-efgh.tmp"
    mine = tmp_path / f".out.{2**22 + 5}-{HOST}-ijkl.tmp"  # this host, process gone
    for folder in (fresh, old, mine):
        folder.mkdir()
    os.utime(old, (0, 0))
    assert run("prepare", source, "-o", tmp_path / "out").exit_code == 0
    assert fresh.exists() and not old.exists() and not mine.exists()
