# Root conftest: makes the repository root importable for the test suite.
