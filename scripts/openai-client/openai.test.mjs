// OpenAI's own npm client (pinned in package.json) against a real
// modelgate demo: run by scripts/openai-client-check.sh, which starts the
// demo and sets MODELGATE_URL (the traffic listener, http://host:port) and
// MODELGATE_KEY. The demo's "chat" versions are internal/llmserver
// stand-ins answering 12 tokens "t0 " … "t11 "; v1 waits 40 ms between
// tokens. "embed" answers 16-dimensional embeddings.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = `${process.env.MODELGATE_URL}/openai/v1`;
const apiKey = process.env.MODELGATE_KEY;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const tokens = Array.from({ length: 12 }, (_, i) => `t${i} `);
const messages = [{ role: "user", content: "hello there" }];

test("non-streaming chat completion", async () => {
  const { data, response } = await client.chat.completions.create({ model: "chat", messages }).withResponse();
  assert.equal(data.object, "chat.completion");
  assert.equal(data.choices[0].message.content, tokens.join(""));
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.deepEqual([data.usage.prompt_tokens, data.usage.completion_tokens], [2, 12]);
  assert.match(response.headers.get("x-modelgate-version"), /^v[12]$/);
});

test("max_tokens caps the answer", async () => {
  const c = await client.chat.completions.create({ model: "chat@v2", messages, max_tokens: 3 });
  assert.equal(c.choices[0].message.content, "t0 t1 t2 ");
  assert.equal(c.choices[0].finish_reason, "length");
});

test("streaming chat arrives event by event", async () => {
  const stream = await client.chat.completions.create({ model: "chat@v1", messages, stream: true });
  const arrivals = [];
  let text = "";
  for await (const chunk of stream) {
    assert.equal(chunk.usage ?? null, null, "a usage chunk the client did not ask for");
    const delta = chunk.choices[0]?.delta?.content;
    if (delta) {
      arrivals.push(performance.now());
      text += delta;
    }
  }
  assert.equal(text, tokens.join(""));
  assert.equal(arrivals.length, 12);
  // v1 waits 40 ms between tokens: events relayed as they come are spaced,
  // not bunched at the end.
  for (let i = 1; i < arrivals.length; i++) {
    assert.ok(arrivals[i] - arrivals[i - 1] >= 20, `token ${i} came ${(arrivals[i] - arrivals[i - 1]).toFixed(1)} ms after token ${i - 1}`);
  }
  assert.ok(arrivals.at(-1) - arrivals[0] >= 11 * 30, "tokens arrived within too short a time");
});

test("streaming chat with include_usage gets the usage chunk", async () => {
  const stream = await client.chat.completions.create({
    model: "chat", messages, stream: true, stream_options: { include_usage: true },
  });
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
  }
  assert.deepEqual([usage?.prompt_tokens, usage?.completion_tokens], [2, 12]);
});

test("embeddings", async () => {
  const e = await client.embeddings.create({ model: "embed", input: ["hello there", "general kenobi"] });
  assert.equal(e.data.length, 2);
  assert.equal(e.data[0].embedding.length, 16);
  const norm = Math.hypot(...e.data[1].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-6, `embedding norm ${norm}`);
  assert.equal(e.usage.prompt_tokens, 4);
});

test("models list is the tenant's models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  for (const want of ["chat", "churn", "embed", "fraud"]) assert.ok(ids.includes(want), `models list ${ids} lacks ${want}`);
});

test("an unknown model is the client's NotFoundError", async () => {
  await assert.rejects(client.chat.completions.create({ model: "nosuch", messages }), (err) => {
    assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}`);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 404);
    assert.equal(err.code, "model_not_found");
    return true;
  });
});

test("a wrong key is the client's AuthenticationError", async () => {
  const bad = new OpenAI({ baseURL, apiKey: "not-a-key", maxRetries: 0 });
  await assert.rejects(bad.embeddings.create({ model: "embed", input: "x" }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`);
    assert.equal(err.status, 401);
    assert.equal(err.code, "invalid_api_key");
    return true;
  });
});
