"""Identity under control: the household's name, address and phone reach only the caseworkers
of its own street — on the household page, the visit sheet, the Excel export, the search and
the API — each reveal an audit row with user, household and purpose; managers, data
scientists and admins see none of it anywhere (the role x page x field matrix)."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select
from typer.testing import CliRunner

from assist.cli.app import app as cli_app
from assist.ingest.identity import write_entries
from assist.serving.models import AuditEntry, User, UserJurisdiction, UserSession
from assist.serving.services.users import add_user
from assist.settings import DEV_IDENTITY_INDEX_KEY, DEV_IDENTITY_KEY
from tests.serving.conftest import HOUSEHOLDS, PASSWORD, app_workspace
from tests.serving.test_pages import browser  # noqa: F401 - the page-client fixture

API = "/api/v1"
#: the tiny district's identities: household -> (head, address, phone, head's ID number)
PEOPLE = {
    "hS01a": ("王秀英", "东湖街道梅林路1201弄7号302室", "13912345678", "310101195203041228"),
    "hS01b": ("李建国", "东湖街道樱园路88弄3号101室", None, "310104196811120013"),
    "hS02a": ("张志强", "西林街道秋水路35弄12号604室", "13611112222", "320102197501010019"),
    "hS03a": ("陈丽华", "南苑街道春申路9弄2号203室", "18733334444", "310105198002020026"),
}
#: personal data that must never reach anyone but the household's own caseworker
SECRETS = [v for p in PEOPLE.values() for v in p[:3] if v] + ["王小明"]


def vault_entries() -> pd.DataFrame:
    rows = []
    for h, (name, address, phone, id_number) in PEOPLE.items():
        street, community = HOUSEHOLDS[h][0], HOUSEHOLDS[h][1]
        members = [{"name": name, "relation": "head", "age": 72, "sex": "F", "phone": phone,
                    "id_number": id_number}]
        if h == "hS01a":
            members.append({"name": "王小明", "relation": "grandchild", "age": 9, "sex": "M",
                            "phone": None, "id_number": "310101201701010011"})
        rows.append({"household_id": h, "street_code": street, "community_code": community,
                     "payload": {"head_name": name, "address": address, "phone": phone,
                                 "members": members}})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def lead(app) -> Iterator[str]:
    """A street lead of S01 (assigns its visits; sees no identity); removed after the module."""
    with app.state.sessions() as s:
        add_user(s, username="lead1", password=PASSWORD, role="lead", streets=("S01",))
    yield "lead1"
    with app.state.sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == "lead1"))
        for table in (UserSession, UserJurisdiction):
            s.execute(delete(table).where(table.user_id == uid))
        s.execute(delete(User).where(User.id == uid))
        s.commit()
    app.state.principals.forget()


@pytest.fixture(scope="module")
def vault(app, settings) -> Iterator[None]:
    """The tiny district's identity vault in the app's workspace (removed after the module)."""
    folder = settings.identity_dir
    write_entries(out=folder, entries=vault_entries(), keys=[DEV_IDENTITY_KEY],
                  index_key=DEV_IDENTITY_INDEX_KEY, snapshot="2026-10")
    # an earlier module of the same session may have opened the vault of another workspace
    app.state.identity_vault = None
    yield
    shutil.rmtree(folder, ignore_errors=True)
    app.state.identity_vault = None


def reveals(sessions) -> list[tuple[str, str, str]]:  # noqa: ANN001
    with sessions() as s:
        return [(e.username, e.household_id, e.detail["purpose"]) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "identity.reveal")
            .order_by(AuditEntry.id))]


def _token_headers(client, auth, user: str):  # noqa: ANN001, ANN202
    """``auth`` for the conftest's users; a token of its own for the street lead."""
    if user != "lead1":
        return auth
    r = client.post(f"{API}/auth/token", json={"username": user, "password": PASSWORD})
    token = r.json()["access_token"]
    return lambda _user: {"Authorization": f"Bearer {token}"}


def _leaks(text: str) -> list[str]:
    return [x for x in SECRETS if x in text]


def test_the_vault_holds_no_plaintext(settings, vault):
    raw = b"".join(p.read_bytes() for p in settings.identity_dir.iterdir())
    for secret in [*SECRETS, *(p[3] for p in PEOPLE.values())]:
        assert secret.encode("utf-8") not in raw


def test_the_caseworker_sees_the_identity_on_the_household_page(browser, sessions, vault):  # noqa: F811
    page = browser("cw1").get("/households/hS01a")
    assert page.status_code == 200
    for shown in ("王秀英", "东湖街道梅林路1201弄7号302室", "13912345678", "王小明", "孙子女"):
        assert shown in page.text
    assert "310101195203041228" not in page.text  # ID numbers are only searched, never shown
    assert 'href="/visit-sheet/hS01a"' in page.text
    assert reveals(sessions) == [("cw1", "hS01a", "household_page")]


@pytest.mark.parametrize("user", ["mgr", "ds", "adm", "lead1"])
def test_other_roles_see_no_identity_anywhere(browser, client, auth, sessions, vault, lead,  # noqa: F811
                                              user):
    """The matrix: every page and API answer any role but caseworker can open, for every
    household, holds no name, address or phone; identity routes are refused (a street lead of
    the household's own street included)."""
    c = browser(user)
    auth = _token_headers(client, auth, user)
    seen = []
    for h in PEOPLE:
        for path in (f"/households/{h}", f"/visit-sheet/{h}"):
            r = c.get(path)
            seen.append((path, r.status_code, _leaks(r.text)))
        r = client.get(f"{API}/households/{h}", headers=auth(user))
        seen.append(("api detail", r.status_code, _leaks(r.text)))
        r = client.get(f"{API}/households/{h}/identity", headers=auth(user))
        assert r.status_code == 403, r.text
    for path in ("/referrals", "/search?q=王", "/export/referrals.xlsx", "/visit-sheet?ids=hS01a",
                 "/visit-sheets/allocated"):
        r = c.get(path)
        seen.append((path, r.status_code, _leaks(r.text)))
        assert r.status_code in (200, 403, 303), path
        if path != "/referrals":
            assert r.status_code == 403, path
    r = client.get(f"{API}/identity/search", params={"q": "王秀英"}, headers=auth(user))
    assert r.status_code == 403
    r = client.get(f"{API}/referrals", headers=auth(user))
    seen.append(("api list", r.status_code, _leaks(r.text)))
    assert [s for s in seen if s[2]] == []
    assert reveals(sessions) == []


def test_a_caseworker_sees_only_their_own_streets(browser, client, auth, sessions, vault):  # noqa: F811
    c = browser("cw1")
    assert c.get("/households/hS02a").status_code == 404
    assert c.get("/visit-sheet/hS02a").status_code == 404
    r = client.get(f"{API}/households/hS02a/identity", headers=auth("cw1"))
    assert r.status_code == 404 and _leaks(r.text) == []
    found = client.get(f"{API}/identity/search", params={"q": "张志强"}, headers=auth("cw1"))
    assert found.status_code == 200 and found.json()["items"] == []
    by_id = client.get(f"{API}/identity/search", params={"q": "320102197501010019"},
                       headers=auth("cw1"))
    assert by_id.json() == {"mode": "id_number", "items": [], "truncated": False,
                            "available": True}
    assert reveals(sessions) == []
    r = client.get(f"{API}/households/hS02a/identity", headers=auth("cw2"))
    assert r.status_code == 200 and r.json()["head_name"] == "张志强"
    assert reveals(sessions) == [("cw2", "hS02a", "api")]


@pytest.mark.parametrize(("query", "mode", "found", "matched"), [
    ("310101195203041228", "id_number", ["hS01a"], "id_number"),
    ("3101011952 0304122 8", "id_number", ["hS01a"], "id_number"),  # spaces are ignored
    ("310101201701010011", "id_number", ["hS01a"], "id_number"),  # a member's number
    ("310101195203041229", "id_number", [], None),  # one digit off: nothing
    ("秀英", "fragment", ["hS01a"], "name"),
    ("小明", "fragment", ["hS01a"], "name"),
    ("樱园路", "fragment", ["hS01b"], "address"),
    ("东湖街道", "fragment", ["hS01a", "hS01b"], "address"),
    ("秋水路", "fragment", [], None),  # another street's address
])
def test_search_by_id_number_name_or_address(client, auth, sessions, vault, query, mode, found,
                                             matched):
    r = client.get(f"{API}/identity/search", params={"q": query}, headers=auth("cw1"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == mode
    assert [x["household_id"] for x in body["items"]] == found
    assert all(x["matched"] == matched for x in body["items"])
    assert reveals(sessions) == [("cw1", h, "search") for h in found]
    with sessions() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "identity.search")).one()
    assert row.detail["household_ids"] == found
    assert query not in json.dumps(row.detail, ensure_ascii=False)  # the query is not kept


@pytest.mark.parametrize("query", ["王", " ", "x" * 65])
def test_a_bad_search_is_a_422_naming_the_field(client, auth, vault, query):
    r = client.get(f"{API}/identity/search", params={"q": query}, headers=auth("cw1"))
    assert r.status_code == 422
    assert "q" in r.text


def test_search_page_finds_and_links_to_visit_sheets(browser, sessions, vault):  # noqa: F811
    c = browser("cw1")
    assert "/search" in c.get("/referrals").text  # the navigation link
    page = c.get("/search", params={"q": "310101195203041228"})
    assert page.status_code == 200
    assert "王秀英" in page.text and 'value="hS01a"' in page.text
    assert c.get("/search", params={"q": "王"}).status_code == 422
    assert reveals(sessions) == [("cw1", "hS01a", "search")]


def test_visit_sheets_carry_identity_factors_programmes_and_signature_lines(  # noqa: F811
        browser, sessions, vault):  # noqa: F811
    c = browser("cw1")
    one = c.get("/visit-sheet/hS01a")
    assert one.status_code == 200
    for text in ("走访单", "王秀英", "梅林路1201弄7号302室", "13912345678", "收入低", "医疗支出高", "medical costs are high",
                 "医疗救助：费用", "Medical assistance: costs", "走访社工（签字）", "确有困难"):
        assert text in one.text, text
    batch = c.get("/visit-sheet", params=[("ids", "hS01a"), ("ids", "hS01b")])
    assert batch.status_code == 200
    assert batch.text.count('class="visit-sheet"') == 2 and "李建国" in batch.text
    assert reveals(sessions) == [("cw1", "hS01a", "visit_sheet"), ("cw1", "hS01a", "visit_sheet"),
                                 ("cw1", "hS01b", "visit_sheet")]
    allocated = c.get("/visit-sheets/allocated")  # S01's allocated, undecided visits
    assert allocated.status_code == 200 and allocated.text.count('class="visit-sheet"') == 1
    assert 'id="sheet-hS01a"' in allocated.text
    assert browser("cw2").get("/visit-sheets/allocated").text.count('class="visit-sheet"') == 1
    assert c.get("/visit-sheet", params=[("ids", "hS01a"), ("ids", "hS02a")]).status_code == 404
    assert c.get("/visit-sheet").status_code == 422
    assert c.get("/visit-sheet", params=[("ids", f"h{i:05d}") for i in range(31)]
                 ).status_code == 422


def test_excel_export_has_chinese_headers_own_streets_and_identities(browser, sessions, vault):  # noqa: F811
    r = browser("cw1").get("/export/referrals.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = [list(row) for row in ws.iter_rows(values_only=True)]
    assert rows[0][:6] == ["街道", "社区", "街道内排名", "家庭编号", "户主姓名", "地址"]
    assert rows[1][:6] == ["Street", "Community", "Rank in street", "Household id",
                           "Head's name", "Address"]
    body = rows[2:]
    assert [x[3] for x in body] == ["hS01a"]  # the referred household of S01 only
    assert body[0][4:7] == ["王秀英", "东湖街道梅林路1201弄7号302室", "13912345678"]
    assert reveals(sessions) == [("cw1", "hS01a", "export")]
    with sessions() as s:
        row = s.scalars(select(AuditEntry).where(AuditEntry.action == "referrals.export")).one()
    assert row.detail["household_ids"] == ["hS01a"]


def test_every_reveal_is_in_the_audit_log_export(browser, settings, sessions, vault):  # noqa: F811
    c = browser("cw1")
    c.get("/households/hS01a")
    c.get("/visit-sheet/hS01a")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(settings.workspace),
           "ASSIST_DATABASE_URL": settings.db_url, "COLUMNS": "200"}
    result = CliRunner().invoke(cli_app, ["audit-log", "export", "--household", "hS01a"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    purposes = [(x["username"], x["detail"].get("purpose")) for x in lines
                if x["action"] == "identity.reveal"]
    assert purposes == [("cw1", "household_page"), ("cw1", "visit_sheet")]
    assert _leaks(result.output) == []


def test_without_a_vault_nothing_is_revealed_and_search_says_so(app, client, auth, browser,  # noqa: F811
                                                               sessions, settings, tmp_path):
    app.state.identity_vault = None
    try:
        with app_workspace(app, settings, tmp_path):
            c = browser("cw1")
            page = c.get("/households/hS01a")
            assert page.status_code == 200 and "没有这户家庭的身份信息" in page.text
            r = client.get(f"{API}/identity/search", params={"q": "王秀英"}, headers=auth("cw1"))
            assert r.status_code == 200
            assert r.json() == {"mode": "fragment", "items": [], "truncated": False,
                                "available": False}
            assert "身份信息暂时无法查看" in c.get("/search", params={"q": "王秀英"}).text
    finally:
        app.state.identity_vault = None
    assert reveals(sessions) == []
