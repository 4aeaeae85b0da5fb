// The Vercel AI SDK (`ai` + `@ai-sdk/openai`, chat completions) through the gateway: every
// case for every provider; the `responses-*` cases use its default provider (`gateway(model)`),
// which calls the Responses API.
import { createOpenAI } from "@ai-sdk/openai";
import { Output, generateText, jsonSchema, streamText, tool } from "ai";

import { gatewayFetch, input, perProvider, run } from "./gateway.mjs";

const gateway = createOpenAI({
  baseURL: `${input.base_url}/v1`,
  apiKey: input.key,
  fetch: gatewayFetch(input.host),
});

// The stream's parts, raising the error a part reports (a stream cut mid-way).
async function parts(result) {
  const seen = [];
  for await (const part of result.fullStream) {
    if (part.type === "error") throw part.error;
    seen.push(part);
  }
  return seen;
}

const weather = tool({
  description: input.tool.function.description,
  inputSchema: jsonSchema(input.tool.function.parameters),
});

const cases = perProvider((provider, { model }) => ({
  chat: async () => {
    const answer = await generateText({ model: gateway.chat(model), prompt: "hello", maxRetries: 0 });
    return {
      text: answer.text,
      usage: answer.usage,
      selected: answer.response.headers?.["x-selected-provider"] ?? null,
    };
  },
  stream: async () => {
    const result = streamText({
      model: gateway.chat(model),
      prompt: "flow",
      maxRetries: 0,
      headers: { "X-Request-ID": `conform-node-ai-sdk-usage-${provider}` },
    });
    const seen = await parts(result);
    const text = seen.filter((p) => p.type === "text-delta").map((p) => p.text).join("");
    return { text, usage: await result.totalUsage };
  },
  tool: async () => {
    const result = streamText({
      model: gateway.chat(model),
      prompt: "weather?",
      tools: { get_weather: weather },
      maxRetries: 0,
    });
    const seen = await parts(result);
    const call = seen.find((p) => p.type === "tool-call");
    const deltas = seen.filter((p) => p.type === "tool-input-delta").map((p) => p.delta);
    return { name: call?.toolName, input: call?.input, arguments: deltas.join("") };
  },
  structured: async () => {
    const answer = await generateText({
      model: gateway.chat(model),
      prompt: "where?",
      output: Output.object({ schema: jsonSchema(input.schema) }),
      maxRetries: 0,
    });
    return answer.output;
  },
  image: async () => {
    const answer = await generateText({
      model: gateway.chat(model),
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is it?" },
            { type: "image", image: input.png },
          ],
        },
      ],
      maxRetries: 0,
    });
    return answer.text;
  },
  cut: async () => {
    const result = streamText({
      model: gateway.chat(model),
      prompt: `please ${input.cut} now`,
      maxRetries: 0,
    });
    return (await parts(result)).filter((p) => p.type === "text-delta").length;
  },
  "responses-text": async () => {
    const answer = await generateText({ model: gateway(model), prompt: "hello", maxRetries: 0 });
    return { text: answer.text, usage: answer.usage };
  },
  "responses-stream": async () => {
    const result = streamText({ model: gateway(model), prompt: "flow", maxRetries: 0 });
    const seen = await parts(result);
    const text = seen.filter((p) => p.type === "text-delta").map((p) => p.text).join("");
    return { text, usage: await result.totalUsage };
  },
  "responses-tool": async () => {
    const result = streamText({
      model: gateway(model),
      prompt: "weather?",
      tools: { get_weather: weather },
      maxRetries: 0,
    });
    const call = (await parts(result)).find((p) => p.type === "tool-call");
    return { name: call?.toolName, input: call?.input };
  },
  "responses-structured": async () => {
    const answer = await generateText({
      model: gateway(model),
      prompt: "where?",
      output: Output.object({ schema: jsonSchema(input.schema) }),
      maxRetries: 0,
    });
    return answer.output;
  },
  "responses-cut": async () => {
    const result = streamText({
      model: gateway(model),
      prompt: `please ${input.cut} now`,
      maxRetries: 0,
    });
    return (await parts(result)).filter((p) => p.type === "text-delta").length;
  },
}));

cases.error = async () =>
  generateText({ model: gateway.chat("gpt-9"), prompt: "x", maxRetries: 0 });

await run(cases);
