"""Which database a study may use: an empty one, or one Optuna's version records prove
Optuna's (``version_info`` holds its one row and ``alembic_version`` a revision of Optuna's
schema); table names alone prove nothing. Everything here reads without writing.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import optuna
import optuna.storages._rdb as optuna_rdb
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy.pool import NullPool

from study.errors import StudyError, UsageError
from study.masking import mask_url, scrub
from study.paths import SQLITE_HEADER

SQLITE_TIMEOUT_SECONDS = 60  # wait this long for another process' write lock
# Every table of Optuna's schema. Optuna creates them, then its version row, then its revision,
# in separate transactions: a database holding only these tables and no version yet may be
# one whose schema another run is creating right now (two runs starting on one new database).
OPTUNA_TABLES = frozenset({
    "alembic_version", "studies", "study_directions", "study_user_attributes",
    "study_system_attributes", "trials", "trial_params", "trial_values",
    "trial_intermediate_values", "trial_user_attributes", "trial_system_attributes",
    "trial_heartbeats", "version_info",
})  # fmt: skip
# How long such a database is watched for its version records before it is refused: creating
# the schema takes milliseconds, so a database still without them is not being created.
CREATION_WAIT_SECONDS = 3.0
_VERSION_COLUMNS = {"version_info_id", "schema_version", "library_version"}


@dataclass(frozen=True)
class Schema:
    """What a database holds, as far as deciding whether it is Optuna's goes."""

    tables: frozenset[str]  # tables and views
    library_version: str | None  # the Optuna version in ``version_info``'s one row, if any
    revision: str | None  # the one revision in ``alembic_version``, if any
    rows: bool = False  # whether a table other than the version tables holds a row

    @property
    def empty(self) -> bool:
        return not self.tables

    @property
    def proven(self) -> bool:
        """Optuna's version row and a revision of Optuna's schema: Optuna made it."""
        return self.library_version is not None and self.revision in known_revisions()

    @property
    def newer_optuna(self) -> bool:
        """Optuna's version row with a revision this Optuna does not know."""
        return self.library_version is not None and self.revision not in (None, *known_revisions())

    @property
    def maybe_being_created(self) -> bool:
        """Only Optuna's tables, all empty, and not yet both of its version records."""
        return (
            bool(self.tables)
            and self.tables <= OPTUNA_TABLES
            and not self.rows
            and (self.library_version is None or self.revision is None)
        )


@cache
def known_revisions() -> tuple[str, ...]:
    """The revisions of Optuna's schema, newest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(Path(optuna_rdb.__file__).parent / "alembic"))
    return tuple(revision.revision for revision in script.walk_revisions())


def head_revision() -> str:
    """The revision of the schema this Optuna writes."""
    return known_revisions()[0]


def _wal_mode(path: Path) -> bool:
    """Whether the SQLite file is in WAL mode (its header's read and write versions are 2)."""
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        return False  # opening it reports the reason
    return header.startswith(SQLITE_HEADER) and header[18:20] == b"\2\2"


def _engine(parsed: sqlalchemy.engine.URL) -> sqlalchemy.engine.Engine:
    """An engine that cannot write: a SQLite file is opened read-only (no journal, no new
    file), other databases are only queried."""
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if parsed.query.get("uri") or str(parsed.database).startswith("file:"):
            # sqlite's own URI syntax (sqlite:///file:x.db?uri=true): made read-only alike.
            return sqlalchemy.create_engine(
                parsed.update_query_dict({"mode": "ro", "uri": "true"}), poolclass=NullPool
            )
        path = Path(str(parsed.database))
        uri = path.absolute().as_uri() + "?mode=ro"
        if _wal_mode(path) and not Path(f"{path}-wal").exists():
            # A WAL database no process has open: a reader would leave -wal and -shm files.
            uri += "&immutable=1"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_SECONDS)

        return sqlalchemy.create_engine("sqlite://", creator=connect, poolclass=NullPool)
    return sqlalchemy.create_engine(parsed, poolclass=NullPool)


def _other_schemas_tables(dialect: str, inspector: sqlalchemy.Inspector) -> frozenset[str]:
    """``schema.table`` for the tables of a PostgreSQL database's other schemas: a database
    whose ``public`` schema is empty is still another program's if it has ``crm.customers``."""
    if dialect != "postgresql":
        return frozenset()  # MySQL's schemas are the server's other databases
    default = inspector.default_schema_name
    return frozenset(
        f"{schema}.{table}"
        for schema in inspector.get_schema_names()
        if schema != default and schema != "information_schema" and not schema.startswith("pg_")
        for table in inspector.get_table_names(schema) + inspector.get_view_names(schema)
    )


def read_schema(parsed: sqlalchemy.engine.URL) -> Schema:
    """Reads the database's tables and Optuna's version records, writing nothing.

    Raises:
        ImportError: the URL's driver is not installed.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or read.
    """
    engine = _engine(parsed)
    try:
        with engine.connect() as connection:
            inspector = sqlalchemy.inspect(connection)
            tables = frozenset(inspector.get_table_names() + inspector.get_view_names())
            tables |= _other_schemas_tables(connection.dialect.name, inspector)
            library_version = revision = None
            if "version_info" in tables:
                columns = {column["name"] for column in inspector.get_columns("version_info")}
                if columns >= _VERSION_COLUMNS:
                    rows = connection.execute(
                        sqlalchemy.text("SELECT library_version FROM version_info")
                    ).all()
                    if len(rows) == 1 and isinstance(rows[0][0], str):
                        library_version = rows[0][0]
            if "alembic_version" in tables:
                columns = {column["name"] for column in inspector.get_columns("alembic_version")}
                if "version_num" in columns:
                    rows = connection.execute(
                        sqlalchemy.text("SELECT version_num FROM alembic_version")
                    ).all()
                    if len(rows) == 1 and isinstance(rows[0][0], str):
                        revision = rows[0][0]
            has_rows = tables <= OPTUNA_TABLES and any(
                connection.execute(
                    sqlalchemy.select(sqlalchemy.literal(1))
                    .select_from(sqlalchemy.table(name))
                    .limit(1)
                ).first()
                for name in tables - {"version_info", "alembic_version"}
            )
            connection.rollback()
    finally:
        engine.dispose()
    return Schema(tables, library_version, revision, has_rows)


def settled_schema(parsed: sqlalchemy.engine.URL) -> Schema:
    """``read_schema``, read again for up to ``CREATION_WAIT_SECONDS`` while the database
    looks like Optuna's schema half created by another process."""
    deadline = time.monotonic() + CREATION_WAIT_SECONDS
    schema = read_schema(parsed)
    while schema.maybe_being_created and time.monotonic() < deadline:
        time.sleep(0.1)
        schema = read_schema(parsed)
    return schema


def parse_storage_url(url: str) -> sqlalchemy.engine.URL:
    """Parses a SQLAlchemy URL.

    Raises:
        UsageError: the URL cannot be parsed; the message shows good ones.
    """
    try:
        return sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UsageError(
            f"cannot parse storage URL {mask_url(url)!r}; "
            "use e.g. sqlite:///results/lenet-study.db "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from None


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for other databases and in-memory SQLite."""
    parsed = parse_storage_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri") or parsed.database.startswith("file:"):
        return None  # sqlite's own URI syntax: not a plain file name
    return Path(parsed.database)


# The pip package that provides each driver module SQLAlchemy imports.
_DRIVER_PACKAGES = {
    "MySQLdb": "mysqlclient", "pymysql": "PyMySQL", "mysql": "mysql-connector-python",
    "mariadb": "mariadb", "aiomysql": "aiomysql", "asyncmy": "asyncmy",
    "psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "pg8000": "pg8000",
    "asyncpg": "asyncpg", "oracledb": "oracledb", "cx_Oracle": "cx-Oracle",
    "pyodbc": "pyodbc", "pymssql": "pymssql", "pysqlcipher3": "sqlcipher3-binary",
}  # fmt: skip


def driver_error(url: str, exc: ImportError) -> StudyError:
    """The error for a URL whose driver is not installed, naming the package to install."""
    module = (exc.name or parse_storage_url(url).get_driver_name()).split(".")[0]
    package = _DRIVER_PACKAGES.get(module, module)
    return StudyError(
        f"storage {mask_url(url)} needs the Python module {module!r}, which is not "
        f"installed: pip install {package}, "
        "or use a sqlite:/// or postgresql+psycopg:// URL"
    )


def check_schema(url: str, must_exist: bool) -> None:
    """Refuses, writing nothing, a database that is neither empty nor provably Optuna's,
    and, with ``must_exist``, an empty or missing one.

    Raises:
        UsageError: the URL cannot be parsed.
        StudyError: the database cannot be used; the message says why and what to do.
    """
    parsed = parse_storage_url(url)
    where = mask_url(url)
    path = sqlite_path(url)
    if path is not None and (not path.exists() or (path.is_file() and not path.stat().st_size)):
        if must_exist:
            raise StudyError(
                f"no storage at {path}; run `lenet-study run` first, or pass the "
                "--storage or --results-dir the study ran with"
                if not path.exists()
                else f"storage {where} is an empty file and holds no studies; "
                "run `lenet-study run` first"
            )
        return  # a new or empty file: Optuna creates its schema
    if path is not None and not path.is_file():  # a folder; a FIFO would block the reader
        raise StudyError(f"cannot use storage {where}: {path} is not a regular file")
    try:
        schema = settled_schema(parsed)
    except ImportError as exc:
        raise driver_error(url, exc) from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StudyError(f"cannot use storage {where}: {first_line(exc, url)}") from None
    if schema.empty:
        if must_exist:
            raise StudyError(f"storage {where} holds no studies; run `lenet-study run` first")
        return
    if schema.proven and schema.revision != head_revision():
        raise StudyError(
            f"storage {where} was made by Optuna {schema.library_version}, whose schema "
            f"({schema.revision}) this Optuna {optuna.__version__} reads only after "
            "`optuna storage upgrade --storage URL`; or pass a new database as --storage"
        )
    if schema.proven and schema.tables >= OPTUNA_TABLES:
        return
    if schema.newer_optuna:
        raise StudyError(
            f"storage {where} was made by Optuna {schema.library_version}, newer than this "
            f"Optuna {optuna.__version__}: pip install -U optuna, or pass another --storage"
        )
    if schema.proven:
        missing = ", ".join(sorted(OPTUNA_TABLES - schema.tables))
        raise StudyError(
            f"storage {where} is an Optuna database that lacks its tables {missing}; "
            "pass another database as --storage"
        )
    shown = ", ".join(sorted(schema.tables)[:3]) + (", ..." if len(schema.tables) > 3 else "")
    raise StudyError(
        f"storage {where} holds tables ({shown}) but not Optuna's version records: it "
        "belongs to another program; pass a new database as --storage"
    )


def first_line(exc: BaseException, url: str | None = None) -> str:
    """The first line of a database error, with the URL's secrets masked."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return scrub(line, url) if url else line
