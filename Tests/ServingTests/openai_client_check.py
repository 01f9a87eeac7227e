"""Checks a running `ponder serve` with the real `openai` client over loopback.

Run by Tests/ServingTests/OpenAIClientTests.swift as
    python3 openai_client_check.py BASE_URL API_KEY MODEL CONTEXT
against a tiny random checkpoint (its text is noise; what is checked is the protocol, the
arithmetic of usage and log-probabilities, determinism under a seed, stop strings, every error
status, and 32 concurrent clients). Prints one line per check; exits 1 on the first failure.
"""
import json
import sys
import threading
import urllib.error
import urllib.request

import openai

base, key, model, context = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=120)
ask = [{"role": "user", "content": "What is 2 + 3?"}]


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""), flush=True)
    if not ok:
        sys.exit(1)


def still_serving():
    r = client.chat.completions.create(model=model, messages=ask, max_tokens=2, temperature=0)
    check("  and the server still answers", len(r.choices) == 1)


# Models and health.
ids = [m.id for m in client.models.list().data]
check("GET /v1/models lists the model", ids == [model], str(ids))
health = json.load(urllib.request.urlopen(base + "/health"))
check("GET /health", health["status"] == "ok" and health["model"] == model, str(health))

# A plain answer: usage adds up, max_tokens is respected.
r = client.chat.completions.create(model=model, messages=ask, max_tokens=12, temperature=0, seed=1)
c = r.choices[0]
check("one answer", r.object == "chat.completion" and c.index == 0 and c.message.role == "assistant"
      and isinstance(c.message.content, str) and c.finish_reason in ("stop", "length"), repr(c))
u = r.usage
check("usage adds up", u.total_tokens == u.prompt_tokens + u.completion_tokens and 1 <= u.completion_tokens <= 12
      and u.prompt_tokens > 5, str(u))
check("finish_reason length at max_tokens", c.finish_reason == "length" or u.completion_tokens < 12)
greedy = c.message.content

# Greedy is deterministic; a seed makes sampling repeatable; n choices come back indexed.
again = client.chat.completions.create(model=model, messages=ask, max_tokens=12, temperature=0, seed=99)
check("greedy answers repeat", again.choices[0].message.content == greedy)
one = client.chat.completions.create(model=model, messages=ask, max_tokens=10, temperature=1.0, top_p=0.9, n=3, seed=7)
two = client.chat.completions.create(model=model, messages=ask, max_tokens=10, temperature=1.0, top_p=0.9, n=3, seed=7)
check("n=3 gives three indexed choices", [x.index for x in one.choices] == [0, 1, 2])
check("the same seed gives the same samples", [x.message.content for x in one.choices] == [x.message.content for x in two.choices])
check("the choices of one request differ", len({x.message.content for x in one.choices}) > 1,
      str([x.message.content for x in one.choices]))
check("n=3 usage counts every choice", one.usage.completion_tokens > 10)

# Log-probabilities: sorted alternatives, greedy picks the first, probabilities at most 1.
r = client.chat.completions.create(model=model, messages=ask, max_tokens=8, temperature=0, logprobs=True, top_logprobs=5)
content = r.choices[0].logprobs.content
check("one logprob entry per token", 1 <= len(content) <= 8, str(len(content)))
for t in content:
    tops = [a.logprob for a in t.top_logprobs]
    check("five sorted alternatives, all <= 0", len(tops) == 5 and tops == sorted(tops, reverse=True) and tops[0] <= 0, str(tops))
    check("greedy token is the most likely", t.token == t.top_logprobs[0].token and abs(t.logprob - tops[0]) < 1e-5)
    check("alternatives' probability at most 1", sum(2.718281828459045 ** x for x in tops) <= 1 + 1e-4)
    check("bytes spell the token", bytes(t.bytes).decode("utf-8", "replace") == t.token)
sampled = client.chat.completions.create(model=model, messages=ask, max_tokens=8, temperature=1.5, logprobs=True, seed=3)
check("logprobs without top_logprobs", all(t.top_logprobs == [] and t.logprob <= 0 for t in sampled.choices[0].logprobs.content))

# Streaming: the pieces make the same text, one finish per choice, usage when asked, then [DONE].
pieces, finishes, usage, roles = {}, {}, None, 0
stream = client.chat.completions.create(model=model, messages=ask, max_tokens=12, temperature=0, seed=1, stream=True,
                                        n=2, stream_options={"include_usage": True})
for chunk in stream:
    check("chunk object", chunk.object == "chat.completion.chunk")
    if chunk.usage is not None:
        usage = chunk.usage
    for ch in chunk.choices:
        if ch.delta.role == "assistant":
            roles += 1
        pieces[ch.index] = pieces.get(ch.index, "") + (ch.delta.content or "")
        if ch.finish_reason:
            finishes[ch.index] = ch.finish_reason
check("streamed text equals the whole answer", pieces == {0: greedy, 1: greedy}, repr(pieces))
check("each choice finishes once and opens with the role", sorted(finishes) == [0, 1] and roles == 2)
check("usage chunk", usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens)
raw = urllib.request.Request(base + "/v1/chat/completions", method="POST", headers={
    "Authorization": "Bearer " + key, "Content-Type": "application/json"},
    data=json.dumps({"model": model, "messages": ask, "max_tokens": 3, "stream": True}).encode())
body = urllib.request.urlopen(raw).read().decode()
events = [line for line in body.split("\n\n") if line]
check("the event stream ends with data: [DONE]", events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events))

# Stop strings: the text is cut before the first occurrence (the stop string itself is not sent).
if len(greedy) >= 4:
    stop = greedy[2:4]
    cut = client.chat.completions.create(model=model, messages=ask, max_tokens=12, temperature=0, stop=[stop])
    check("stop string cuts the text", cut.choices[0].message.content == greedy[:greedy.index(stop)]
          and cut.choices[0].finish_reason == "stop", repr((stop, cut.choices[0].message.content, greedy)))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in client.chat.completions.create(
        model=model, messages=ask, max_tokens=12, temperature=0, stop=stop, stream=True) if ch.choices)
    check("stop string cuts the stream", streamed == greedy[:greedy.index(stop)], repr(streamed))


# Errors: the API's error object and status; the server keeps serving after each.
def status_of(call):
    try:
        call()
    except openai.APIStatusError as e:
        return e.status_code, e.body
    return 200, None


def post_raw(data, auth=True):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Bearer " + key
    req = urllib.request.Request(base + "/v1/chat/completions", data=data, headers=headers, method="POST")
    try:
        urllib.request.urlopen(req)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    return 200, None


code, err = post_raw(b'{"model": "x", "messages": [')
check("malformed JSON: 400 with an error object", code == 400 and err["error"]["type"] == "invalid_request_error", str(err))
still_serving()
code, err = post_raw(json.dumps({"model": model, "messages": ask, "temperature": "hot"}).encode())
check("wrong type: 400 naming the field", code == 400 and err["error"]["param"] == "temperature", str(err))
still_serving()
code, err = post_raw(json.dumps({"model": model, "messages": "hello"}).encode())
check("messages not a list: 400", code == 400 and err["error"]["param"] == "messages", str(err))
code, err = post_raw(json.dumps({"messages": ask}).encode())
check("missing model: 400", code == 400 and err["error"]["param"] == "model", str(err))
code, err = status_of(lambda: client.chat.completions.create(model=model, messages=ask, temperature=3))
check("temperature out of range: 400", code == 400 and err["param"] == "temperature", str(err))
code, err = status_of(lambda: client.chat.completions.create(model=model, messages=[{"role": "wizard", "content": "hi"}]))
check("unknown role: 400", code == 400, str(err))
code, err = status_of(lambda: client.chat.completions.create(model="gpt-nonexistent", messages=ask))
check("unknown model: 404", code == 404 and err["code"] == "model_not_found", str(err))
still_serving()
long = [{"role": "user", "content": "count " * (context * 2)}]
code, err = status_of(lambda: client.chat.completions.create(model=model, messages=long))
check("prompt longer than the context: 413", code == 413 and err["code"] == "context_length_exceeded", str(err))
still_serving()
bad = openai.OpenAI(base_url=base + "/v1", api_key="wrong-key", max_retries=0)
code, err = status_of(lambda: bad.chat.completions.create(model=model, messages=ask))
check("wrong key: 401", code == 401 and err["code"] == "invalid_api_key", str(err))
code, err = post_raw(json.dumps({"model": model, "messages": ask}).encode(), auth=False)
check("no key: 401", code == 401, str(err))
still_serving()

# 32 concurrent clients, half streaming: every answer arrives whole, and they shared batches.
before = json.load(urllib.request.urlopen(base + "/health"))
results, failures = {}, []


def client_thread(i):
    try:
        c = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=300)
        msgs = [{"role": "user", "content": f"What is {i} + {i}?"}]
        if i % 2:
            text, finish = "", None
            for chunk in c.chat.completions.create(model=model, messages=msgs, max_tokens=16, temperature=0, stream=True):
                for ch in chunk.choices:
                    text += ch.delta.content or ""
                    finish = ch.finish_reason or finish
            results[i] = (text, finish, None)
        else:
            r = c.chat.completions.create(model=model, messages=msgs, max_tokens=16, temperature=0)
            results[i] = (r.choices[0].message.content, r.choices[0].finish_reason, r.usage.completion_tokens)
    except Exception as e:  # noqa: BLE001 - reported below
        failures.append((i, repr(e)))


threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check("32 concurrent clients, no failures", not failures, str(failures[:3]))
check("every answer whole", len(results) == 32 and all(f in ("stop", "length") for _, f, _ in results.values()))
check("non-streamed answers within max_tokens", all(n is None or 1 <= n <= 16 for _, _, n in results.values()))
after = json.load(urllib.request.urlopen(base + "/health"))
check("concurrent requests were batched", after["largest_batch"] > 1 and after["batches"] - before["batches"] < 32,
      f"{before} -> {after}")
# Alone, each request gives the answer it gave in company (greedy; batching must not mix sequences).
same = 0
for i in range(0, 32, 4):
    alone = client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"What is {i} + {i}?"}],
                                           max_tokens=16, temperature=0).choices[0].message.content
    same += alone == results[i][0]
check("answers in a batch equal answers alone", same == 8, f"{same} of 8")
print("all checks passed")
