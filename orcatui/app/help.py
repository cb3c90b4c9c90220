"""The help screen, generated from the bindings the widgets and screens declare."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, Sequence[BindingType]]


def binding_rows(app: App, bindings: Sequence[BindingType]) -> Iterable[tuple[str, str]]:
    """(keys, description) of each described binding, keys merged for one action."""
    seen: dict[tuple[str, str], list[str]] = {}
    for key, found in BindingsMap(bindings).key_to_bindings.items():
        for b in found:
            if not b.description:
                continue
            shown = app.get_key_display(Binding(key, b.action, b.description))
            seen.setdefault((b.action, b.description), []).append(shown)
    for (_action, description), keys in seen.items():
        yield " ".join(dict.fromkeys(keys)), description


def help_text(app: App, sections: Sequence[Section]) -> Text:
    """Every section's bindings as aligned lines."""
    out = Text()
    for i, (title, bindings) in enumerate(sections):
        if i:
            out.append("\n")
        out.append(f"{title}\n", style="bold underline")
        for keys, description in binding_rows(app, bindings):
            out.append(f"  {keys:>16}  ", style="bold")
            out.append(f"{description}\n")
    return out


class HelpScreen(ModalScreen[None]):
    """Every key binding, grouped by where it works."""

    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close help")]  # noqa: RUF012

    def __init__(self, sections: Sequence[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        """One scrollable list of bindings."""
        with VerticalScroll(id="help"):
            yield Static(help_text(self.app, self.sections), id="help-text")
