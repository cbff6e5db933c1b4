"""The scanner on the labelled corpus: what it must keep finding (bench/corpus.py prints it)."""

from __future__ import annotations

from tests.scanner.corpus import score


def test_the_labelled_corpus() -> None:
    services, operations = score()
    assert services.extra == (), "a service found where the labels have none"
    assert services.recall == 1.0, services.missed
    assert operations.extra == (), "an operation found that the code does not call"
    # The one miss by design: an operation whose name is computed (the proxy sees it).
    assert operations.missed == ("py/dynamic.py dynamodb (computed)",), operations.missed
