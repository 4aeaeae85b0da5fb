// The Node `openai` package through the gateway: every case for every provider.
import OpenAI from "openai";

import { gatewayFetch, input, perProvider, run } from "./gateway.mjs";

const client = new OpenAI({
  baseURL: `${input.base_url}/v1`,
  apiKey: input.key,
  fetch: gatewayFetch(input.host),
  maxRetries: 0,
  timeout: 10000,
});

async function text(stream) {
  let said = "";
  for await (const chunk of stream) said += chunk.choices[0]?.delta?.content ?? "";
  return said;
}

const cases = perProvider((provider, { model }) => ({
  chat: async () => {
    const answer = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "hello" }],
    });
    return { text: answer.choices[0].message.content, usage: answer.usage };
  },
  selected: async () => {
    const { response } = await client.chat.completions
      .create({ model, messages: [{ role: "user", content: "who?" }] })
      .withResponse();
    return response.headers.get("x-selected-provider");
  },
  stream: async () =>
    text(
      await client.chat.completions.create(
        { model, messages: [{ role: "user", content: "flow" }], stream: true },
        { headers: { "X-Request-ID": `conform-node-openai-usage-${provider}` } },
      ),
    ),
  tool: async () => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "weather?" }],
      tools: [input.tool],
      stream: true,
    });
    let name = "";
    const pieces = [];
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
        name += call.function?.name ?? "";
        pieces.push(call.function?.arguments ?? "");
      }
    }
    return { name, arguments: pieces.join("") };
  },
  structured: async () => {
    const answer = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "where?" }],
      response_format: {
        type: "json_schema",
        json_schema: { name: "place", schema: input.schema, strict: true },
      },
    });
    return JSON.parse(answer.choices[0].message.content);
  },
  image: async () => {
    const answer = await client.chat.completions.create({
      model,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is it?" },
            { type: "image_url", image_url: { url: input.png } },
          ],
        },
      ],
    });
    return answer.choices[0].message.content;
  },
  cut: async () =>
    text(
      await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: `please ${input.cut} now` }],
        stream: true,
      }),
    ),
}));

cases.error = async () =>
  client.chat.completions.create({ model: "gpt-9", messages: [{ role: "user", content: "x" }] });

await run(cases);
