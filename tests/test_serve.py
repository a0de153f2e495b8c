"""``textrnn serve`` on loopback: the API's contract, batching, limits, the API key, streams, disconnects."""

from __future__ import annotations

import http.client
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REPO
from serving import call, serving

from textrnn import load_classifier, load_generator
from textrnn.inference.classify import Classifier
from textrnn.serve.app import ServeOptions, build_app
from textrnn.serve.schemas import Limits

TEXTS = ["a gripping, beautifully acted film", "dull and lifeless", "", "not bad at all", "the worst film"]
JSON = {"Content-Type": "application/json"}
SMALL = Limits(
    max_texts=4, max_text_chars=50, max_new_chars=300, max_prompt_chars=20, max_samples=2, max_body_bytes=2000
)


@pytest.fixture(scope="module")
def classifier_port():
    with serving(build_app("sst2-bilstm", ServeOptions(batch_timeout_ms=50, limits=SMALL))) as port:
        yield port


@pytest.fixture(scope="module")
def generator_port():
    with serving(build_app("shakespeare-char", ServeOptions(limits=SMALL))) as port:
        yield port


def test_classify_answers_equal_predict(classifier_port):
    status, body = call(classifier_port, "POST", "/v1/classify", {"texts": TEXTS[:4]})
    expected = load_classifier("sst2-bilstm", device="cpu").predict_proba(TEXTS[:4])
    assert status == 200 and len(body["predictions"]) == 4
    for answer, probs in zip(body["predictions"], expected.tolist()):
        assert set(answer) == {"label", "label_id", "probability", "probabilities"}
        assert answer["label_id"] == max(range(2), key=probs.__getitem__)
        assert answer["label"] == ["negative", "positive"][answer["label_id"]]
        assert answer["probabilities"] == pytest.approx(dict(zip(["negative", "positive"], probs)), abs=1e-6)
        assert answer["probability"] == pytest.approx(max(probs), abs=1e-6)


def test_model_health_and_openapi(classifier_port):
    assert call(classifier_port, "GET", "/health") == (200, {"status": "ok", "task": "classification"})
    status, info = call(classifier_port, "GET", "/v1/model")
    assert status == 200 and info["name"] == "sst2-bilstm" and info["limits"]["max_texts"] == 4
    spec = call(classifier_port, "GET", "/openapi.json")[1]
    assert "/v1/classify" in spec["paths"] and "/v1/generate" not in spec["paths"]
    texts = spec["components"]["schemas"]["ClassifyRequest"]["properties"]["texts"]
    assert (texts["minItems"], texts["maxItems"], texts["items"]["maxLength"]) == (1, 4, 50)


def test_concurrent_requests_share_a_batch(classifier_port):
    before = call(classifier_port, "GET", "/v1/stats")[1]["batch_sizes"]
    texts = [f"{word} film" for word in ("good", "bad", "great", "awful", "fine", "boring", "superb", "dull")]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda t: call(classifier_port, "POST", "/v1/classify", {"texts": [t]}), texts))
    expected = load_classifier("sst2-bilstm", device="cpu").predict(texts)
    assert [a[1]["predictions"][0]["label"] for a in answers] == [p.label for p in expected]
    after = call(classifier_port, "GET", "/v1/stats")[1]["batch_sizes"]
    new = {int(size): n - before.get(size, 0) for size, n in after.items() if n > before.get(size, 0)}
    assert sum(size * n for size, n in new.items()) == 8 and max(new) > 1  # 8 texts in fewer than 8 calls


BAD = [  # path, body, status, field named in the error
    ("/v1/classify", b'{"texts": ["a"', 400, None),
    ("/v1/classify", b"[1]", 422, None),
    ("/v1/classify", b'{"texts": "a film"}', 422, "texts"),
    ("/v1/classify", b'{"texts": [1]}', 422, "texts.0"),
    ("/v1/classify", b'{"texts": []}', 422, "texts"),
    ("/v1/classify", json.dumps({"texts": ["a"] * 5}).encode(), 422, "texts"),
    ("/v1/classify", json.dumps({"texts": ["a" * 51]}).encode(), 422, "texts.0"),
    ("/v1/classify", b'{"texts": ["a"], "model": "/etc/passwd"}', 422, "model"),
    ("/v1/classify", json.dumps({"texts": ["a" * 40] * 60}).encode(), 413, None),
    ("/v1/generate", b'{"max_new_chars": -1}', 422, "max_new_chars"),
    ("/v1/generate", b'{"max_new_chars": 301}', 422, "max_new_chars"),
    ("/v1/generate", b'{"max_new_chars": "10"}', 422, "max_new_chars"),
    ("/v1/generate", b'{"temperature": 0}', 422, "temperature"),
    ("/v1/generate", b'{"top_p": 0}', 422, "top_p"),
    ("/v1/generate", b'{"prompt": ""}', 422, "prompt"),
    ("/v1/generate", json.dumps({"prompt": "x" * 21}).encode(), 422, "prompt"),
    ("/v1/generate", json.dumps({"stop": ["a"] * 9}).encode(), 422, "stop"),
    ("/v1/generate", b'{"num_samples": 3}', 422, "num_samples"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), BAD, ids=[f"{b[2]}-{b[3]}" for b in BAD])
def test_bad_requests_get_a_4xx_naming_the_field(classifier_port, generator_port, path, body, status, field):
    port = classifier_port if path == "/v1/classify" else generator_port
    got, answer = call(port, "POST", path, raw=body)
    assert got == status and answer["error"]["status"] == status and answer["error"]["message"]
    assert answer["error"].get("field") == field
    if field:
        assert answer["error"]["message"].startswith(field + ":")
    assert call(port, "GET", "/health")[0] == 200


def test_a_chunked_body_over_the_limit_is_refused(classifier_port):
    conn = http.client.HTTPConnection("127.0.0.1", classifier_port, timeout=10)
    chunks = (b'{"texts": ["' + b"a" * 500 for _ in range(10))  # no Content-Length: chunked
    conn.request("POST", "/v1/classify", body=chunks, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 413 and "2000 bytes" in json.loads(response.read())["error"]["message"]


def test_routing_errors_are_json(classifier_port, generator_port):
    assert call(classifier_port, "GET", "/nowhere")[0] == 404
    status, body = call(classifier_port, "POST", "/v1/generate", {"prompt": "a"})
    assert status == 404 and "classification model" in body["error"]["message"]
    assert call(generator_port, "POST", "/v1/classify", {"texts": ["a"]})[0] == 404
    assert call(classifier_port, "GET", "/v1/classify")[1]["error"]["status"] == 405


def test_an_internal_error_is_a_500_with_the_id_the_log_shows(monkeypatch, caplog):
    def broken(self, texts, batch_size=256):
        if "boom" in texts:
            raise RuntimeError("the model broke")
        return original(self, texts, batch_size)

    original = Classifier.predict_proba
    monkeypatch.setattr(Classifier, "predict_proba", broken)
    with serving(build_app("sst2-bilstm")) as port, caplog.at_level(logging.ERROR, "textrnn.serve"):
        status, body = call(port, "POST", "/v1/classify", {"texts": ["boom"]})
        assert status == 500 and len(body["error"]["id"]) == 12
        assert body["error"]["id"] in caplog.text and "the model broke" in caplog.text
        assert call(port, "POST", "/v1/classify", {"texts": ["fine"]})[0] == 200


def test_the_api_key_guards_v1_only(monkeypatch):
    with serving(build_app("sst2-bilstm", ServeOptions(api_key="s3cret"))) as port:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            status, body = call(port, "POST", "/v1/classify", {"texts": ["a"]}, headers=headers)
            assert status == 401 and "API key" in body["error"]["message"]
        assert call(port, "GET", "/v1/model")[0] == 401
        good = {"Authorization": "Bearer s3cret"}
        assert call(port, "POST", "/v1/classify", {"texts": ["a"]}, headers=good)[0] == 200
        assert call(port, "GET", "/health")[0] == 200 and call(port, "GET", "/")[0] == 200


def test_generate_equals_the_generator(generator_port):
    request = {"prompt": "ROMEO:", "max_new_chars": 120, "seed": 3, "temperature": 0.7, "top_k": 20}
    status, body = call(generator_port, "POST", "/v1/generate", request)
    expected = load_generator("shakespeare-char", device="cpu").generate(
        "ROMEO:", 120, seed=3, temperature=0.7, top_k=20
    )
    assert status == 200 and body == {"texts": expected, "stopped": [False]}
    stop = call(generator_port, "POST", "/v1/generate", request | {"num_samples": 2, "stop": ["\n"]})[1]
    assert stop["stopped"] == [True, True] and all(
        t.endswith("\n") and t.count("\n") == 1 for t in stop["texts"]
    )


def stream_lines(port: int, request: dict):
    """The open connection and an iterator over the NDJSON lines of a streamed generation."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/v1/generate", body=json.dumps(request | {"stream": True}), headers=JSON)
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("content-type") == "application/x-ndjson"
    return conn, (json.loads(line) for line in response)


def test_a_stream_yields_before_it_ends_and_equals_the_whole(generator_port):
    request = {"prompt": "ROMEO:", "max_new_chars": 300, "seed": 5}
    conn, lines = stream_lines(generator_port, request)
    first = next(lines)
    assert len(first["delta"]) == 1 and call(generator_port, "GET", "/v1/stats")[1]["active_streams"] == 1
    rest = list(lines)
    conn.close()
    streamed = first["delta"][0] + "".join(line["delta"][0] for line in rest[:-1])
    whole = call(generator_port, "POST", "/v1/generate", request)[1]["texts"][0]
    assert rest[-1] == {"done": True, "texts": [whole], "stopped": [False]} and streamed == whole


def test_a_client_that_leaves_a_stream_frees_its_work(generator_port):
    conn, lines = stream_lines(generator_port, {"prompt": "ROMEO:", "max_new_chars": 300})
    next(lines)
    start = call(generator_port, "GET", "/v1/stats")[1]["generation_steps"]
    conn.close()
    deadline = time.monotonic() + 10
    while (stats := call(generator_port, "GET", "/v1/stats")[1])["active_streams"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    after = call(generator_port, "GET", "/v1/stats")[1]["generation_steps"]
    assert after == stats["generation_steps"] and after - start < 300  # stopped well before the end


def test_the_api_docs_need_no_network(classifier_port):
    status, page = call(classifier_port, "GET", "/docs")
    assert status == 200 and "swagger-ui-bundle.js" in page and "https://" not in page and "http://" not in page
    conn = http.client.HTTPConnection("127.0.0.1", classifier_port, timeout=10)
    conn.request("GET", page.split('src="')[1].split('"')[0])  # the script the page loads, from this server
    response = conn.getresponse()
    assert response.status == 200 and len(response.read()) > 100_000


def test_the_page_is_self_contained(classifier_port):
    conn = http.client.HTTPConnection("127.0.0.1", classifier_port, timeout=10)
    conn.request("GET", "/")
    page = conn.getresponse().read().decode()
    assert "/v1/classify" in page and "/v1/generate" in page
    assert "http://" not in page and "https://" not in page and "<script src" not in page


def test_serve_command_line(tmp_path):
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    from serve_client import served

    with served("sst2-bilstm") as classify_url, served("shakespeare-char", "--workers", "2") as generate_url:
        port = int(classify_url.rsplit(":", 1)[1])
        status, body = call(port, "POST", "/v1/classify", {"texts": ["a gripping, beautifully acted film"]})
        assert status == 200 and body["predictions"][0]["label"] == "positive"
        port = int(generate_url.rsplit(":", 1)[1])
        status, body = call(port, "POST", "/v1/generate", {"prompt": "ROMEO:", "max_new_chars": 50, "seed": 1})
        expected = load_generator("shakespeare-char", device="cpu").generate(
            "ROMEO:", 50, temperature=0.8, seed=1
        )
        assert status == 200 and body["texts"] == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["no-such-model"],
            "'no-such-model' is neither a file nor a shipped model (shakespeare-char, sst2-bilstm",
        ),
        (
            ["sst2-bilstm", "--api-key-env", "TEXTRNN_NO_SUCH_VARIABLE"],
            "TEXTRNN_NO_SUCH_VARIABLE: that environment",
        ),
        (["sst2-bilstm", "--max-texts", "0"], "--max-texts must be 1 or more, not 0"),
    ],
)
def test_serve_refuses_bad_arguments_in_one_line(argv, message, monkeypatch):
    from textrnn.serve import cli

    monkeypatch.delenv("TEXTRNN_NO_SUCH_VARIABLE", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert str(exit_.value).startswith("textrnn serve: error: ") and message in str(exit_.value)
    assert "\n" not in str(exit_.value)
