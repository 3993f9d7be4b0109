"""seqtk predict's table shows inputs and results as plain text, never as rich markup."""

from __future__ import annotations

from seqtk.cli.infer import _fmt


def test_values_that_look_like_markup_are_shown_as_they_are():
    assert _fmt(["at", "jj"]) == "\\[at, jj]"  # rich would otherwise read [at, jj] as a style and drop it
    assert _fmt("[bold]no[/bold]") == "\\[bold]no\\[/bold]"
    assert _fmt(0.5) == "0.5000"
