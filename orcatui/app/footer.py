"""The footer of every screen: Textual's :class:`~textual.widgets.Footer`, recomposed only when
what it shows changes.

Textual's footer recomposes (one ``FooterKey`` widget per binding: mounted, styled, laid out
again) on every ``bindings_updated`` signal of its screen, and a screen publishes one whenever
it is suspended or resumed and whenever the focus moves, even when the keys shown stay the
same. Going back from the problems view to the main screen paid that twice: the main screen's
footer for the same keys, and the problems view's own footer on its way out (its list lost the
focus) — most of the ``escape`` key's time. :class:`KeyFooter` remembers what its last
composition showed and recomposes only when that differs, and not at all on a screen that has
left the screen stack: the same widgets, drawn the same way, with no work when nothing changed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A :class:`~textual.widgets.Footer` that skips recomposing when the keys it would show
    (bindings, enabled or not, tooltips, key displays, the command palette key) are those it
    shows now."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._shown: object = None  # what the last composition showed (None: nothing yet)

    def shown_keys(self) -> object:
        """Everything :meth:`~textual.widgets.Footer.compose` reads to decide what it shows,
        as one comparable value (None while the bindings are not ready: nothing is shown).

        Mirrors Textual 8.2's ``Footer.compose``; ``tests/app/test_footer.py`` checks the keys
        shown against what that composes, so a Textual that reads more shows up there."""
        if not self._bindings_ready:
            return None
        app = self.app
        active = self.screen.active_bindings
        keys = tuple(
            (binding, enabled, tooltip, app.get_key_display(binding))
            for (_node, binding, enabled, tooltip) in active.values()
            if binding.show
        )
        palette = None
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            found = active.get(app.COMMAND_PALETTE_BINDING)
            if found is not None:
                palette = (found.binding, found.enabled, app.get_key_display(found.binding))
        return keys, palette

    def compose(self) -> ComposeResult:
        """Textual's footer keys; remembers what they show."""
        self._shown = self.shown_keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        """The screen's bindings may have changed: recompose after the next refresh if what
        the footer would show is not what it shows."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached or self.screen not in self.app.screen_stack:
            # A screen popped (or switched away) loses its focus on the way out: what it would
            # show then is never seen. Should it be pushed again, its resume brings it up to date.
            return
        if self.shown_keys() != self._shown:
            await self.recompose()
