"""The report's languages: numbers, dates, class names, the catalogue and the figures' words."""

from __future__ import annotations

import datetime
import gettext
import io
import re
import string
from pathlib import Path

import optuna
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import study.report
from lenet import CLASS_NAMES
from study.cli import main
from study.paths import is_study_file
from study.report.figures import SEARCH_PLOTS, best_so_far, search_plot
from study.report.language import LANGUAGES, Language, catalogues, compile_catalogue
from study.report.origin import best_origin
from study.report.write import report_files

NNBSP, NBSP = "\u202f", "\u00a0"  # narrow no-break space (thousands), no-break space (%)


@pytest.mark.parametrize(
    ("value", "spec", "english", "spanish"),
    [
        (0.90158, ".4f", "0.9016", "0,9016"),
        (0.9016, ".2%", "90.16%", f"90,16{NBSP}%"),
        (2 / 3, ".0%", "67%", f"67{NBSP}%"),
        (1.234e-5, ".3g", "1.23e-05", "1,23e-05"),
        (2000, ",d", "2,000", "2000"),  # four digits: no separator in Spanish
        (60000, ",d", "60,000", f"60{NNBSP}000"),
        (1234567.5, ",.1f", "1,234,567.5", f"1{NNBSP}234{NNBSP}567,5"),
        (-1234.5, ",.1f", "-1,234.5", "-1234,5"),
    ],
)
def test_numbers_are_written_the_languages_way(value, spec, english, spanish):
    assert Language("en").number(value, spec) == english
    assert Language("es").number(value, spec) == spanish


def test_dates_and_class_names_in_both_languages():
    day = datetime.date(2026, 12, 7)
    assert Language("en").date(day) == "December 7, 2026"
    assert Language("es").date(day) == "7 de diciembre de 2026"
    assert Language("es").date(datetime.date(2027, 5, 1)) == "1 de mayo de 2027"
    assert Language("en").class_names() == CLASS_NAMES
    assert Language("es").class_names() == (
        "Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo",
        "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín",
    )  # fmt: skip


def test_an_unknown_language_is_refused(capsys):
    with pytest.raises(ValueError, match="unknown report language 'fr'"):
        Language("fr")
    with pytest.raises(SystemExit) as excinfo:
        main(["report", "--lang", "fr"])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--lang" in err and "\n" not in err


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_languages_report_files_are_files_delete_study_removes(lang):
    html_name, pdf_name = report_files(lang)
    assert is_study_file(html_name) and is_study_file(pdf_name)
    assert len({*report_files(lang), *report_files("en")}) == 2 + 2 * (lang != "en")


def _messages(po: Path) -> list:
    with po.open("rb") as source:
        return [m for m in read_po(source) if m.id]


def test_every_language_but_english_has_a_catalogue():
    assert sorted(p.parts[-3] for p in catalogues()) == sorted(set(LANGUAGES) - {"en"})


@pytest.mark.parametrize("po", catalogues(), ids=lambda p: p.parts[-3])
def test_the_committed_mo_says_what_its_po_says(po):
    """Run ``python -m study.report.language`` after editing a .po."""
    committed = gettext.GNUTranslations(po.with_suffix(".mo").open("rb"))
    fresh = gettext.GNUTranslations(io.BytesIO(compile_catalogue(po)))
    for m in _messages(po):
        if isinstance(m.id, tuple):
            for n in (1, 2, 5):
                args = (*m.id, n)
                got = (
                    committed.npgettext(m.context, *args)
                    if m.context
                    else committed.ngettext(*args)
                )
                want = fresh.npgettext(m.context, *args) if m.context else fresh.ngettext(*args)
                assert got == want, m.id
        else:
            got = committed.pgettext(m.context, m.id) if m.context else committed.gettext(m.id)
            want = fresh.pgettext(m.context, m.id) if m.context else fresh.gettext(m.id)
            assert got == want, m.id


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("po", catalogues(), ids=lambda p: p.parts[-3])
def test_the_catalogue_translates_exactly_what_the_code_says(po):
    package = Path(study.report.__file__).parent
    said = {
        (context, message if isinstance(message, str) else message[0])
        for _, _, message, _, context in extract_from_dir(package)
    }
    messages = _messages(po)
    held = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in messages}
    assert said - held == set(), "msgids the code uses that the catalogue lacks"
    assert held - said == set(), "msgids the catalogue holds that the code no longer uses"
    for m in messages:
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        assert all(strings) and not m.fuzzy, f"untranslated: {m.id!r}"
        allowed = set().union(*(_fields(i) for i in ids))
        for text in strings:  # a translation may leave a number out, never invent a field
            assert _fields(text) <= allowed, (m.id, text)
            text.format(**{name: "x" for name in _fields(text)})  # its braces balance


# Words that Optuna's or our figures would show in English if left untranslated.
FIGURE_ENGLISH = {
    "trial", "trials", "value", "objective", "best", "accuracy", "validation", "importance",
    "hyperparameter", "minutes", "since", "first", "started", "sampled", "enqueued", "so", "far",
}  # fmt: skip


def _figure_words(figure) -> set[str]:
    """The words of a figure's titles, axis titles, notes, legend entries and colour bars."""
    texts = [figure.layout.title.text]
    for name in dir(figure.layout):
        if re.fullmatch(r"[xy]axis\d*", name):
            texts.append(getattr(figure.layout, name).title.text)
    texts += [note.text for note in figure.layout.annotations]
    for trace in figure.data:
        texts.append(trace.name)
        marker = getattr(trace, "marker", None)
        if marker is not None and getattr(marker, "colorbar", None) is not None:
            texts.append(marker.colorbar.title.text)
    return {w.lower() for text in texts if text for w in re.findall(r"[^\W\d_]+", text)}


@pytest.fixture(scope="module")
def searched() -> optuna.Study:
    """Four completed trials over a float, an int and a categorical parameter."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(
        lambda trial: (
            trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
            + trial.suggest_int("c1_filters", 4, 16) / 100
            + (trial.suggest_categorical("activation", ["relu", "tanh"]) == "relu") / 10
        ),
        n_trials=4,
    )
    return study


@pytest.mark.parametrize("name", list(SEARCH_PLOTS))
def test_optunas_plots_speak_spanish(searched, name):
    english = _figure_words(search_plot(searched, name, Language("en")))
    spanish = _figure_words(search_plot(searched, name, Language("es")))
    assert english & FIGURE_ENGLISH  # the check would see an English word left behind
    assert not spanish & FIGURE_ENGLISH, spanish & FIGURE_ENGLISH


def test_the_best_so_far_figure_speaks_spanish(searched):
    origin = best_origin(searched)
    assert _figure_words(best_so_far(origin, Language("en"))) & FIGURE_ENGLISH
    spanish = best_so_far(origin, Language("es"))
    assert not _figure_words(spanish) & FIGURE_ENGLISH
    assert spanish.layout.separators == f",{NNBSP}"  # plotly's ticks: 0,85
