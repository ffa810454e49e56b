import re
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import apsw
import pytest
from cats_site_helpers import Site, SiteClient, serve_in_thread

from loadhopper.demo import create_app

TOM = (1, "Tom", 3)  # the one cat of the shared `tom_site`


def _one_line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text.rstrip("\n")


def _count_on_page(client: SiteClient) -> int:
    page = client.get("/")
    assert page.status == 200
    match = re.search(r"Number of cats: (\d+)", page.text)
    assert match is not None, page.text
    return int(match[1])


def _stored_rows(db_path: Path) -> list[tuple[int, str, int]]:
    # apsw, the site's own SQLite library: two libraries in one process do not see each
    # other's file locks.
    with closing(apsw.Connection(str(db_path), flags=apsw.SQLITE_OPEN_READONLY)) as conn:
        return [tuple(row) for row in conn.execute("SELECT id, name, age FROM cat ORDER BY id")]


# --- the seed's routes ---------------------------------------------------------------------


def test_an_empty_site_lists_no_cats(site: Site) -> None:
    page = site.client.get("/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Number of cats: 0" in page.text
    assert "<li>" not in page.text


def test_create_answers_the_new_id_as_text_and_stores_the_cat(site: Site) -> None:
    first = site.client.post("/create", {"name": "Tom", "age": "3"})
    second = site.client.post("/create", {"name": "Felix", "age": "7"})
    assert (first.status, second.status) == (200, 200)
    assert first.headers["content-type"].startswith("text/plain")
    assert first.text.isdigit() and second.text.isdigit()
    assert int(second.text) != int(first.text)
    assert _stored_rows(site.db_path) == [
        (int(first.text), "Tom", 3),
        (int(second.text), "Felix", 7),
    ]


def test_index_lists_every_cat_with_a_link_and_the_count(site: Site) -> None:
    tom = site.client.create("Tom", 3)
    felix = site.client.create("Felix", 7)
    page = site.client.get("/").text
    assert "Number of cats: 2" in page
    assert f'<a href="/{tom}">Tom:3</a>' in page
    assert f'<a href="/{felix}">Felix:7</a>' in page
    assert '<a href="/create">' in page and '<a href="/random">' in page


def test_index_lists_the_first_hundred_cats_and_says_how_many_more(site: Site) -> None:
    ids = [site.client.create(f"cat{i}", 1) for i in range(103)]
    page = site.client.get("/").text
    assert "Number of cats: 103" in page
    assert page.count("<li>") == 100
    assert f'href="/{ids[99]}"' in page and f'href="/{ids[100]}"' not in page
    assert "and 3 more" in page


def test_random_answers_the_id_of_an_existing_cat(site: Site) -> None:
    ids = {site.client.create(f"cat{i}") for i in range(3)}
    answer = site.client.get("/random")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert int(answer.text) in ids


def test_random_on_an_empty_table_is_a_404_with_a_reason(site: Site) -> None:
    answer = site.client.get("/random")
    assert answer.status == 404
    assert "no cats yet" in _one_line(answer.text)


def test_the_create_form_posts_name_and_age_to_create(site: Site) -> None:
    page = site.client.get("/create")
    assert page.status == 200
    assert re.search(r'<form[^>]*method="post"[^>]*action="/create"', page.text)
    assert 'name="name"' in page.text and 'name="age"' in page.text


def test_a_browser_style_multipart_form_creates_a_cat(site: Site) -> None:
    # The site's own form is multipart/form-data (FastHTML's default), as a browser sends it.
    boundary = "cats-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nTom\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="age"\r\n\r\n4\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    answer = site.client.request("POST", "/create", body, headers)
    assert answer.status == 200
    assert _stored_rows(site.db_path) == [(int(answer.text), "Tom", 4)]


def test_a_cat_page_shows_name_age_and_its_links(site: Site) -> None:
    cat = site.client.create("Tom", 3)
    page = site.client.get(f"/{cat}")
    assert page.status == 200
    assert "<h1>Tom</h1>" in page.text and "<p>3</p>" in page.text
    assert f'href="/{cat}/update"' in page.text and f'href="/{cat}/delete"' in page.text


def test_the_update_form_is_filled_with_the_cat(site: Site) -> None:
    cat = site.client.create("Tom", 3)
    page = site.client.get(f"/{cat}/update")
    assert page.status == 200
    assert re.search(rf'<form[^>]*action="/{cat}/update"', page.text)
    assert 'value="Tom"' in page.text and 'value="3"' in page.text


def test_update_changes_the_cat_and_redirects_to_its_page(site: Site) -> None:
    cat = site.client.create("Tom", 3)
    # The seed's locustfile also sends an `id` field; the id in the path is the one used.
    answer = site.client.post(f"/{cat}/update", {"id": "999", "name": "Thomas", "age": "4"})
    assert answer.status == 303
    assert answer.headers["location"] == f"/{cat}"
    assert _stored_rows(site.db_path) == [(cat, "Thomas", 4)]


def test_delete_removes_the_cat_and_redirects_to_the_index(site: Site) -> None:
    keep = site.client.create("Felix")
    cat = site.client.create("Tom")
    answer = site.client.get(f"/{cat}/delete")
    assert answer.status == 303
    assert answer.headers["location"] == "/"
    assert [row[0] for row in _stored_rows(site.db_path)] == [keep]
    assert _count_on_page(site.client) == 1
    assert site.client.get(f"/{cat}").status == 404


# --- bad input: a 4xx with a one-line reason, never a 500 ----------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"age": "3"}, "name is missing"),
        ({"name": "", "age": "3"}, "name is empty"),
        ({"name": "   ", "age": "3"}, "name is empty"),
        ({"name": "x" * 101, "age": "3"}, "name is 101 characters long"),
        ({"name": "Tom"}, "age is missing"),
        ({"name": "Tom", "age": ""}, "age is empty"),
        ({"name": "Tom", "age": "three"}, "is not a whole number"),
        ({"name": "Tom", "age": "3.5"}, "is not a whole number"),
        ({"name": "Tom", "age": "1e3"}, "is not a whole number"),
        ({"name": "Tom", "age": "-1"}, "out of range"),
        ({"name": "Tom", "age": "101"}, "out of range"),
        ({"name": "Tom", "age": "9" * 5000}, "out of range"),
    ],
)
def test_a_bad_create_form_is_a_400_with_a_reason_and_stores_nothing(
    tom_site: Site, fields: dict[str, str], reason: str
) -> None:
    answer = tom_site.client.post("/create", fields)
    assert answer.status == 400
    assert reason in _one_line(answer.text)
    assert _stored_rows(tom_site.db_path) == [TOM]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"age": "3"}, "name is missing"),
        ({"name": "x" * 101, "age": "3"}, "name is 101 characters long"),
        ({"name": "Tom", "age": "old"}, "is not a whole number"),
        ({"name": "Tom", "age": "500"}, "out of range"),
    ],
)
def test_a_bad_update_form_is_a_400_and_leaves_the_cat_alone(
    tom_site: Site, fields: dict[str, str], reason: str
) -> None:
    answer = tom_site.client.post("/1/update", fields)
    assert answer.status == 400
    assert reason in _one_line(answer.text)
    assert _stored_rows(tom_site.db_path) == [TOM]


def test_the_edges_of_the_rules_are_accepted(site: Site) -> None:
    longest = site.client.create("x" * 100, 0)
    oldest = site.client.post("/create", {"name": "  Tom  ", "age": " 100 "})
    assert oldest.status == 200
    assert _stored_rows(site.db_path) == [(longest, "x" * 100, 0), (int(oldest.text), "Tom", 100)]


@pytest.mark.parametrize("cat_id", ["999", "0", "abc", "1.5", "-1", "9" * 40])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/{}"), ("GET", "/{}/update"), ("POST", "/{}/update"), ("GET", "/{}/delete")],
)
def test_an_unknown_id_is_a_404_with_a_reason(
    tom_site: Site, method: str, path: str, cat_id: str
) -> None:
    url = path.format(cat_id)  # only id 1 exists
    if method == "POST":
        answer = tom_site.client.post(url, {"name": "Felix", "age": "2"})
    else:
        answer = tom_site.client.get(url)
    assert answer.status == 404
    assert "there is no cat with id" in _one_line(answer.text)
    assert _stored_rows(tom_site.db_path) == [TOM]


@pytest.mark.parametrize("path", ["/1%0A2", "/1%0A2/update", "/%0A/x/y", "/" + "9" * 500])
def test_what_a_reason_echoes_stays_one_short_line(tom_site: Site, path: str) -> None:
    answer = tom_site.client.get(path)
    assert answer.status == 404
    assert len(_one_line(answer.text)) < 150


def test_an_unknown_page_is_a_404_with_a_reason(tom_site: Site) -> None:
    answer = tom_site.client.get("/1/2/3")
    assert answer.status == 404
    assert "there is no page at /1/2/3" in _one_line(answer.text)


def test_a_wrong_method_is_a_405_that_names_the_right_one(tom_site: Site) -> None:
    answer = tom_site.client.post("/random", {})
    assert answer.status == 405
    assert "GET" in answer.headers["allow"]
    assert "POST is not allowed on /random" in _one_line(answer.text)


# --- hostile text ------------------------------------------------------------------------------

SQL_NAMES = [
    "Robert'); DROP TABLE cat;--",
    "x' OR '1'='1",
    '"; DELETE FROM cat; --',
    "1; UPDATE cat SET name='pwned'",
]


@pytest.mark.parametrize("name", SQL_NAMES)
def test_sql_looking_text_is_stored_verbatim(site: Site, name: str) -> None:
    other = site.client.create("Felix", 2)
    cat = site.client.create(name, 5)
    assert site.client.post(f"/{cat}/update", {"name": name + " II", "age": "6"}).status == 303
    assert _stored_rows(site.db_path) == [(other, "Felix", 2), (cat, name + " II", 6)]


def test_html_in_a_name_is_shown_as_text(site: Site) -> None:
    cat = site.client.create("<script>alert(1)</script>", 1)
    for path in ("/", f"/{cat}", f"/{cat}/update"):
        page = site.client.get(path).text
        assert "<script>" not in page
        assert "&lt;script&gt;" in page


# --- offline: nothing loads from another host -----------------------------------------------


def test_no_page_refers_to_another_host(tom_site: Site) -> None:
    for path in ("/", "/create", "/1", "/1/update"):
        page = tom_site.client.get(path)
        assert page.status == 200
        assert "http://" not in page.text and "https://" not in page.text, path
        for attribute, value in re.findall(r'\b(src|href|action)="([^"]*)"', page.text):
            assert value.startswith("/") and not value.startswith("//"), (path, attribute, value)
        assert "<script" not in page.text  # the pages need no script at all


def test_building_the_app_writes_no_file_but_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastHTML writes a `.sesskey` into the current directory unless given a key.
    monkeypatch.chdir(tmp_path)
    db_path = tmp_path / "data" / "cats.db"
    db_path.parent.mkdir()
    create_app(db_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


# --- another process holding the database ---------------------------------------------------


def test_a_lock_held_by_another_process_is_a_503_then_clears(tmp_path: Path) -> None:
    db_path = tmp_path / "cats.db"
    client, server, thread = serve_in_thread(create_app(db_path, busy_timeout=0))
    # Another process, not this one: POSIX file locks do not separate two SQLite libraries
    # (the stdlib's and apsw's) inside one process.
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_WRITE_LOCK, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        answer = client.post("/create", {"name": "Tom", "age": "3"})
        assert answer.status == 503
        assert "locked by another process" in _one_line(answer.text)
        assert client.get("/").status == 200  # readers go on (WAL)
        holder.communicate("")  # end of stdin: the holder exits and the lock is released
        assert client.post("/create", {"name": "Tom", "age": "3"}).status == 200
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
        server.should_exit = True
        thread.join(timeout=30)


_HOLD_WRITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
"""


# --- ids and existing databases ----------------------------------------------------------------


def test_an_id_is_never_handed_out_again(site: Site) -> None:
    site.client.create("Tom")
    newest = site.client.create("Felix")
    assert site.client.get(f"/{newest}/delete").status == 303
    # Without AUTOINCREMENT SQLite would hand the deleted highest id out again.
    assert site.client.create("Garfield") == newest + 1
    assert site.client.get(f"/{newest}").status == 404


def test_a_database_made_by_the_seeds_cats_py_is_used_as_it_is(tmp_path: Path) -> None:
    db_path = tmp_path / "cats.db"
    # The seed's table: `class Cat: name:str; age:int; id:int`, made by fastlite.
    with closing(apsw.Connection(str(db_path))) as conn:
        conn.execute("CREATE TABLE [cat] ([name] TEXT, [age] INTEGER, [id] INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO cat (name, age) VALUES ('Old Tom', 12)")
    client, server, thread = serve_in_thread(create_app(db_path))
    try:
        assert '<a href="/1">Old Tom:12</a>' in client.get("/").text
        assert client.create("Felix", 2) == 2
        assert client.post("/1/update", {"name": "Older Tom", "age": "13"}).status == 303
        assert _stored_rows(db_path) == [(1, "Older Tom", 13), (2, "Felix", 2)]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
