from __future__ import annotations

import pytest
import sqlalchemy
from hypothesis import given
from hypothesis import strategies as st

from study.cli import main
from study.masking import mask_argv, mask_url, scrub

SECRET = "Zq8-hunter2"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            f"postgresql+psycopg://me:{SECRET}@db:5432/lenet",
            "postgresql+psycopg://me:***@db:5432/lenet",
        ),
        (f"postgresql://me@db/lenet?password={SECRET}", "postgresql://me@db/lenet?password=***"),
        (
            f"mysql://me@db/lenet?charset=utf8&passwd={SECRET}",
            "mysql://me@db/lenet?charset=utf8&passwd=***",
        ),
        (f"postgresql://me:{SECRET}@extra@db/lenet", "postgresql://me:***@db/lenet"),  # raw "@"
        (f"no-such-scheme://me:{SECRET}@db/x", "no-such-scheme://me:***@db/x"),
        (f"not a url://me:{SECRET}@db", "not a url://me:***@db"),  # SQLAlchemy cannot parse it
        ("sqlite:///results/a b:c.db", "sqlite:///results/a b:c.db"),  # no secret: as typed
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_the_password_of_a_url_is_masked_and_the_rest_kept(url, masked):
    assert mask_url(url) == masked


@given(
    password=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1),
    in_query=st.booleans(),
)
def test_no_password_survives_masking(password, in_query):
    if in_query:
        url = sqlalchemy.URL.create(
            "postgresql+psycopg", "me", host="db", database="x", query={"password": password}
        )
    else:
        url = sqlalchemy.URL.create("postgresql+psycopg", "me", password, "db", database="x")
    masked = mask_url(url.render_as_string(hide_password=False))
    parsed = sqlalchemy.make_url(masked)
    assert parsed.password in (None, "***")
    assert parsed.query.get("password") in (None, "***")
    assert (parsed.host, parsed.database) == ("db", "x")


def test_a_command_line_is_masked_in_every_spelling_of_the_flag():
    url = f"postgresql://me:{SECRET}@db/lenet"
    argv = ["report", "--storage", url, f"--storage={url}", f"--stor={url}", "--seeds", "3"]
    masked = mask_argv(argv)
    assert SECRET not in " ".join(masked)
    assert masked[0] == "report" and masked[-2:] == ["--seeds", "3"]
    assert masked[2] == "postgresql://me:***@db/lenet"


def test_a_driver_message_loses_the_password_and_the_url():
    url = f"postgresql://me:{SECRET}@db/lenet"
    text = scrub(f'cannot connect to {url}: password "{SECRET}" rejected', url)
    assert SECRET not in text and "postgresql://me:***@db/lenet" in text


def _admin(postgres_url: str, *statements: str) -> None:
    engine = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(sqlalchemy.text(statement))
    engine.dispose()


@pytest.mark.slow
def test_a_password_never_reaches_an_output_or_a_file(postgres_url, tmp_path, capfd):
    password = "Zq8:p@ss/w%rd-Xy"  # ":", "@", "/" and "%" are escaped in a URL
    server = sqlalchemy.make_url(postgres_url)
    _admin(
        postgres_url,
        "DROP DATABASE IF EXISTS lenet_secret",
        "DROP ROLE IF EXISTS lenet_user",
        f"CREATE ROLE lenet_user LOGIN PASSWORD '{password}'",
        "CREATE DATABASE lenet_secret OWNER lenet_user",
    )
    place = {"host": server.host, "port": server.port, "database": "lenet_secret"}
    url = sqlalchemy.URL.create("postgresql+psycopg", "lenet_user", password, **place)
    in_query = sqlalchemy.URL.create(
        "postgresql+psycopg", "lenet_user", query={"password": password}, **place
    )
    wrong = in_query.update_query_dict({"password": password + "-wrong"})
    storage = url.render_as_string(hide_password=False)
    results = ["--results-dir", str(tmp_path / "results")]
    tiny = ["--quick", "--n-trials", "1", "--epochs", "1", "--workers", "1"]
    shrink = ["--seeds", "1", "--epochs", "1", "--train-limit", "500", "--test-limit", "200"]
    commands = [
        (["run", *tiny, "--train-limit", "500", "--val-limit", "200"], 0),
        (["studies"], 0),
        (["trials", "--csv", str(tmp_path / "trials.csv")], 0),
        (["export"], 0),
        (["report", "--no-pdf", "--workers", "1", *shrink], 0),
        (["trials", "--study-name", "nope"], 1),  # the error names the storage
    ]
    for argv, code in commands:
        assert main([*argv, "--storage", storage, *results]) == code, capfd.readouterr()
    assert main(["studies", "--storage", in_query.render_as_string(False)]) == 0
    assert main(["studies", "--storage", wrong.render_as_string(False)]) == 1
    name = "lenet5-fashion-mnist"
    delete = ["delete-study", "--study-name", name, "--yes", "--keep-files"]
    assert main([*delete, "--storage", storage, *results]) == 0
    output = "".join(capfd.readouterr())
    written = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p.name for p in written} >= {"report.html", "best_model.json", "retrain.json"}
    escaped = storage.split("@")[0].split(":")[-1]  # the password as the URL escapes it
    assert escaped != password
    for secret in (password, escaped):
        assert secret not in output
        for path, content in written.items():
            assert secret.encode() not in content, path
    assert "lenet_user:***@" in output  # the header, the hints and the errors name the storage
    assert b"lenet_user:***@" in written[tmp_path / "results" / name / "report.html"]
