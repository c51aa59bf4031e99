from pathlib import Path

import pytest

from reels_core.libraries import InvalidLibraryKey, normalize_library_key, parse_libraries


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  Family ", "family"),
        ("family", "family"),
        ("ABC_def-9", "abc_def-9"),
        ("\tHolidays2024\n", "holidays2024"),
        ("a" * 64, "a" * 64),
        ("Straße", "strasse"),  # casefold, not lower(): ß folds to ss
    ],
)
def test_normalize_library_key_folds_case_and_space(raw, key):
    assert normalize_library_key(raw) == key


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "a" * 65, "my family", "bad/key", "a.b", "café", "tab\tinside", "emoji🙂", "key=1"],
)
def test_normalize_library_key_rejects_bad_keys(raw):
    with pytest.raises(InvalidLibraryKey):
        normalize_library_key(raw)


def test_invalid_library_key_is_a_value_error_and_names_the_key():
    with pytest.raises(ValueError, match="bad/key"):
        normalize_library_key("bad/key")


def test_normalize_library_key_rejects_non_strings():
    with pytest.raises(InvalidLibraryKey):
        normalize_library_key(None)  # type: ignore[arg-type]  # the wrong type is the point


def test_parse_libraries_normalises_keys_and_keeps_paths():
    libraries = parse_libraries(" Family=/photos/family , work = ~/Pictures/work,")
    assert libraries == {
        "family": Path("/photos/family"),
        "work": Path.home() / "Pictures" / "work",
    }


def test_parse_libraries_empty_spec_is_no_library():
    assert parse_libraries("") == {}
    assert parse_libraries(" , ") == {}


def test_parse_libraries_path_may_contain_equals():
    assert parse_libraries("a=/srv/x=y") == {"a": Path("/srv/x=y")}


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("family=/p,noequals", "noequals"),
        ("family=", "family="),
        ("family=/p,Bad Key=/q", "Bad Key=/q"),
        ("=/p", "=/p"),
    ],
)
def test_parse_libraries_errors_name_the_bad_entry(spec, named):
    with pytest.raises(ValueError) as info:
        parse_libraries(spec)
    assert named in str(info.value)


def test_parse_libraries_bad_key_raises_invalid_library_key():
    with pytest.raises(InvalidLibraryKey, match="entry 2"):
        parse_libraries("ok=/a,no way=/b")


def test_parse_libraries_rejects_keys_that_collide_after_folding():
    with pytest.raises(ValueError, match="twice"):
        parse_libraries("Family=/a,family =/b")
