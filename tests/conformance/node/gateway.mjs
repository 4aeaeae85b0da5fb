// What the client scripts share: the gateway's fetch (Node's fetch cannot set Host, which names
// the gateway), the cases' runner, and the input the Python test hands over.
import http from "node:http";
import { Readable } from "node:stream";

export const input = JSON.parse(process.argv[2]);

// A fetch over node:http that sends `host` as the Host header; a body cut mid-way errors the
// response stream, as Node's fetch does.
export function gatewayFetch(host) {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const headers = Object.fromEntries(new Headers(init.headers ?? {}));
      const request = http.request(
        String(url),
        { method: init.method ?? "GET", headers: { ...headers, host } },
        (response) => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            answerHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
          }
          const body = response.statusCode === 204 ? null : Readable.toWeb(response);
          resolve(new Response(body, { status: response.statusCode, headers: answerHeaders }));
        },
      );
      request.on("error", reject);
      init.signal?.addEventListener("abort", () => request.destroy(new Error("aborted")));
      request.end(init.body ?? undefined);
    });
}

// Runs each case, recording its value or the error it raised; prints one JSON document.
export async function run(cases) {
  const results = {};
  for (const [name, perform] of Object.entries(cases)) {
    try {
      results[name] = { value: await perform() };
    } catch (error) {
      results[name] = { raised: error?.constructor?.name ?? "Error", message: String(error?.message ?? error) };
    }
  }
  process.stdout.write(JSON.stringify(results));
}

// The cases of every provider, named `<provider>:<case>`.
export function perProvider(make) {
  const cases = {};
  for (const [provider, spec] of Object.entries(input.providers)) {
    for (const [name, perform] of Object.entries(make(provider, spec))) {
      cases[`${provider}:${name}`] = perform;
    }
  }
  return cases;
}
