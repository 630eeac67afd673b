"""The review server's safety and API: a token on every request, case names only from the run's list, small
bodies, a one-line 4xx for a bad request, and a server that goes on after one."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette", reason="the review extra is not installed: pip install 'medsegkit[review]'")
pytest.importorskip("httpx", reason="starlette's test client needs httpx (the test extra)")

from starlette.testclient import TestClient  # noqa: E402

from medsegkit.lesion.review.run import ReviewRun  # noqa: E402
from medsegkit.lesion.review.server import MAX_BODY, create_app  # noqa: E402

TOKEN = "secret-token"


@pytest.fixture
def client(run) -> tuple[TestClient, ReviewRun]:
    review = ReviewRun(run)
    return TestClient(create_app(review, TOKEN), raise_server_exceptions=False), review


@pytest.mark.parametrize("path", ["/", "/api/cases", "/img/x.jpg", "/thumb/x.jpg"])
def test_every_route_needs_the_token(client, path):
    http, _ = client
    for query in ("", "?token=wrong"):
        answer = http.get(path + query)
        assert answer.status_code == 403 and "token" in answer.json()["error"]


def test_the_page_and_the_cases_in_review_order(client):
    http, review = client
    assert "medsegkit review" in http.get(f"/?token={TOKEN}").text
    listed = http.get("/api/cases", headers={"X-Review-Token": TOKEN}).json()
    assert [c["case"] for c in listed["cases"]] == review.order
    assert listed["counts"] == {"total": len(review.order), "blind": len(review.order), "reviewed": 0, "excluded": 0}
    name = review.order[0]
    image = http.get(f"/img/{name}.jpg?token={TOKEN}")
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
    assert http.get(f"/candidate/{name}/1.jpg?token={TOKEN}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("get", "/img/..%2F..%2Fcases%2Fx.jpg", None, 404, ""),
        ("get", "/api/cases/nosuchcase", None, 404, "unknown case"),
        ("get", "/candidate/{name}/99.jpg", None, 400, "candidate(s), not 99"),
        ("post", "/api/cases/{name}", b"not json", 400, "not JSON"),
        ("post", "/api/cases/{name}", b"[1, 2]", 400, "not a JSON object"),
        ("post", "/api/cases/{name}", b'{"action": "paint"}', 422, "expected a decision"),
        ("post", "/api/cases/{name}", b'{"action": "candidate", "candidate": 7}', 400, "candidate(s), not 7"),
        ("post", "/api/cases/{name}", b'{"action": "accept", "x": "' + b"a" * MAX_BODY + b'"}', 413, "over"),
        ("post", "/api/undo", b"{}", 409, "nothing to undo"),
        ("delete", "/api/cases/{name}", None, 405, ""),
    ],
)
def test_a_bad_request_is_a_4xx_with_one_line_and_the_server_goes_on(client, method, path, body, status, message):
    http, review = client
    name = review.order[0]
    url = path.format(name=name) + f"?token={TOKEN}"
    answer = getattr(http, method)(url, content=body) if body is not None else getattr(http, method)(url)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"] and "\n" not in answer.json()["error"]
    assert http.get(f"/api/cases?token={TOKEN}").status_code == 200


def test_a_decision_and_its_undo_through_the_api(client):
    http, review = client
    name = review.order[0]
    answer = http.post(f"/api/cases/{name}?token={TOKEN}", json={"action": "exclude"}).json()
    assert answer["state"]["status"] == "excluded" and answer["counts"]["excluded"] == 1
    undone = http.post(f"/api/undo?token={TOKEN}", json={}).json()
    assert undone["case"] == name and undone["state"]["status"] == "blind"
    assert len((review.root / "review" / "decisions.jsonl").read_text().splitlines()) == 2
