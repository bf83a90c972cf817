"""The report's language: its words from a gettext catalogue, its numbers and dates.

The report's code writes English msgids (``_("test accuracy")``); a language other than
English reads its words from ``locale/<code>/LC_MESSAGES/report.mo``, compiled from the
``report.po`` beside it (``python -m study.report.language`` rebuilds every ``.mo``; a test
checks that the committed ones are up to date). Numbers and dates follow the language's
conventions: Spanish writes ``0,9016``, ``60 000`` (a narrow no-break space from five
digits on, none in ``2000``, as the RAE and ISO 80000 recommend), ``67 %`` and
``7 de diciembre de 2026``.
"""

from __future__ import annotations

import datetime
import gettext
import re
from dataclasses import dataclass
from pathlib import Path

from study.files import write_atomic

DOMAIN = "report"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class NumberStyle:
    """How a language writes numbers."""

    decimal: str  # the decimal mark
    group: str  # between groups of three digits
    group_from: int  # the fewest integer digits that are grouped
    before_percent: str  # between a number and its % sign


STYLES = {
    "en": NumberStyle(".", ",", 4, ""),
    # RAE (Ortografía, 2010) and ISO 80000-1: no point or comma between groups, a space, and
    # none in a four-digit number; the space before % is a no-break one.
    "es": NumberStyle(",", "\u202f", 5, "\u00a0"),
}
LANGUAGES = tuple(STYLES)


def N_(message: str) -> str:
    """Marks an English msgid for extraction where it is translated later, by ``gettext``."""
    return message


class Language:
    """One language of the report: gettext's lookups plus number, date and class names.

    Args:
        code: one of ``LANGUAGES``.

    Raises:
        ValueError: an unknown code.
    """

    def __init__(self, code: str = DEFAULT_LANGUAGE) -> None:
        if code not in STYLES:
            raise ValueError(f"unknown report language {code!r}; choose one of {LANGUAGES}")
        self.code = code
        self.style = STYLES[code]
        self._translations: gettext.NullTranslations = (
            gettext.NullTranslations()
            if code == DEFAULT_LANGUAGE
            else gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])
        )

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self._translations.pgettext(context, message)

    def number(self, value: float, spec: str) -> str:
        """``value`` formatted by a Python format ``spec`` (``".4f"``, ``",d"``, ``".1%"``,
        ``".3g"``), then written with this language's marks."""
        text = format(value, spec)
        if self.style.group_from > 4:  # ungroup numbers of exactly four integer digits
            text = re.sub(r"(?<![\d,])(\d),(\d{3})(?![\d,])", r"\1\2", text)
        marks = {ord("."): self.style.decimal, ord(","): self.style.group}
        text = text.translate(marks)
        if text.endswith("%"):
            text = text[:-1] + self.style.before_percent + "%"
        return text

    def integer(self, value: int) -> str:
        """A count, thousands grouped: ``60,000`` or ``60 000``."""
        return self.number(int(value), ",d")

    def listing(self, items: list[str]) -> str:
        """Items in a row; Spanish separates them by semicolons when they hold decimal commas."""
        return self.pgettext("list of numbers", ", ").join(items)

    def date(self, day: datetime.date) -> str:
        """``December 7, 2026`` or ``7 de diciembre de 2026``."""
        month = self.months()[day.month - 1]
        return self.gettext("{month} {day}, {year}").format(
            month=month, day=day.day, year=day.year
        )

    def months(self) -> tuple[str, ...]:
        return (
            self.pgettext("month", "January"),
            self.pgettext("month", "February"),
            self.pgettext("month", "March"),
            self.pgettext("month", "April"),
            self.pgettext("month", "May"),
            self.pgettext("month", "June"),
            self.pgettext("month", "July"),
            self.pgettext("month", "August"),
            self.pgettext("month", "September"),
            self.pgettext("month", "October"),
            self.pgettext("month", "November"),
            self.pgettext("month", "December"),
        )

    def class_names(self) -> tuple[str, ...]:
        """Fashion-MNIST's ten classes in label order, as ``lenet.CLASS_NAMES`` in English."""
        return (
            self.pgettext("Fashion-MNIST class", "T-shirt/top"),
            self.pgettext("Fashion-MNIST class", "Trouser"),
            self.pgettext("Fashion-MNIST class", "Pullover"),
            self.pgettext("Fashion-MNIST class", "Dress"),
            self.pgettext("Fashion-MNIST class", "Coat"),
            self.pgettext("Fashion-MNIST class", "Sandal"),
            self.pgettext("Fashion-MNIST class", "Shirt"),
            self.pgettext("Fashion-MNIST class", "Sneaker"),
            self.pgettext("Fashion-MNIST class", "Bag"),
            self.pgettext("Fashion-MNIST class", "Ankle boot"),
        )

    def plotly_separators(self) -> str:
        """plotly's ``layout.separators``: the decimal mark, then the thousands separator
        (plotly groups only numbers of five or more digits)."""
        return self.style.decimal + self.style.group


def compile_catalogue(po_path: Path) -> bytes:
    """The ``.mo`` for a ``.po``, by Babel (a development dependency: the report itself reads
    the committed ``.mo`` with the standard library)."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as source:
        catalogue = read_po(source, abort_invalid=True)
    target = io.BytesIO()
    write_mo(target, catalogue)
    return target.getvalue()


def catalogues() -> list[Path]:
    """Every ``report.po`` shipped with the report."""
    return sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def main() -> None:
    """Rebuilds every ``.mo`` from its ``.po``."""
    for po_path in catalogues():
        mo_path = po_path.with_suffix(".mo")
        write_atomic(mo_path, compile_catalogue(po_path))
        print(f"wrote {mo_path}")


if __name__ == "__main__":
    main()
